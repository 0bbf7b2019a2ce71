//! The command line as a user meets it: exit codes, output forms, failover
//! between addresses, and `vsched dev` starting and stopping a whole cluster.

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use chaos_tests::{free_port, Cluster, ClusterOpts};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_vsched");

fn vsched(addr: &str, token: &str, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("VSCHED_ADDR", addr)
        .env("VSCHED_TOKEN", token)
        .output()
        .expect("run vsched")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_codes_and_output_forms() {
    let cluster = Cluster::start(BIN, ClusterOpts::default()).await;
    // A dead address first: the client fails over to the live peers.
    let dead = format!("127.0.0.1:{}", free_port());
    let addrs: Vec<String> = std::iter::once(dead.clone())
        .chain(cluster.peers.iter().map(|p| format!("http://{}", p.api)))
        .collect();
    let addr = addrs.join(",");
    let token = cluster.token.clone();

    let out = vsched(&addr, &token, &["vcluster", "add", "web", "--labels", "", "--vcpu", "8"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("web"));

    let out = vsched(&addr, &token, &["vcluster", "list"]);
    assert_eq!(out.status.code(), Some(0));
    let table = text(&out.stdout);
    assert!(table.starts_with("NAME"), "a table for people: {table}");

    let out = vsched(&addr, &token, &["vcluster", "show", "web", "-o", "json"]);
    let json: Value = serde_json::from_slice(&out.stdout).expect("-o json prints JSON");
    assert_eq!(json["vcpu"], 8);

    let out = vsched(&addr, &token, &["call", "vcluster_show", r#"{"name": "web"}"#, "-o", "json"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(serde_json::from_slice::<Value>(&out.stdout).unwrap()["name"], "web");

    // An operation error: code 1 and the code on stderr.
    let out = vsched(&addr, &token, &["vcluster", "show", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("NOT_FOUND"), "{}", text(&out.stderr));

    // Usage errors: code 2.
    for args in [
        vec!["vcluster", "explode"],
        vec!["call", "vcluster_show", "{not json"],
        vec!["vcluster", "show", "a", "b"],
    ] {
        let out = vsched(&addr, &token, &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out.stderr));
    }

    // Nothing answers: code 3.
    let out = vsched(&dead, &token, &["node", "list"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
}

/// A base port whose API and peer ports (base+1.., base+101..) are free now.
fn free_base(peers: u16) -> u16 {
    loop {
        let base = 20_000 + (free_port() % 20_000);
        let ports = (1..=peers).flat_map(|i| [base + i, base + 100 + i]);
        if ports.into_iter().all(|p| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok()) {
            return base;
        }
    }
}

#[test]
fn dev_starts_a_cluster_and_ctrl_c_stops_it() {
    let base = free_base(3);
    let mut dev = Command::new(BIN)
        .args(["dev", "--nodes", "2", "--base-port", &base.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start vsched dev");
    let mut lines = BufReader::new(dev.stdout.take().unwrap()).lines();
    let ready = lines.next().expect("a line").expect("readable");
    assert!(ready.starts_with("ready api=http://127.0.0.1:"), "{ready}");
    let api = ready.split_whitespace().nth(1).unwrap().trim_start_matches("api=").to_string();
    let token = ready.split_whitespace().nth(2).unwrap().trim_start_matches("token=").to_string();
    assert_eq!(api.split(',').count(), 3);

    let out = vsched(&api, &token, &["node", "list", "-o", "json"]);
    let nodes: Value = serde_json::from_slice(&out.stdout).unwrap();
    let nodes = nodes["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 2);
    assert!(nodes.iter().all(|n| n["status"] == "ready" && n["capacity"]["vcpu"] == 64));

    // SIGINT, as Ctrl-C sends: every child stops and the ports close.
    // SAFETY: signalling our own child.
    unsafe { libc::kill(dev.id() as i32, libc::SIGINT) };
    let deadline = Instant::now() + Duration::from_secs(20);
    while dev.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "vsched dev did not stop");
        std::thread::sleep(Duration::from_millis(100));
    }
    let first_api = format!("127.0.0.1:{}", base + 1);
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(&first_api).is_ok() {
        assert!(Instant::now() < deadline, "a peer kept running after vsched dev stopped");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_server_refuses_to_start_on_contradictory_flags() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d").display().to_string();
    let cases: [(&[&str], &str); 4] = [
        (&["server", "--data-dir", &data], "--id is required"),
        (&["server", "--id", "2", "--data-dir", &data, "--bootstrap", "1=h:1@h:2"], "own id 2"),
        (&["server", "--id", "2", "--data-dir", &data, "--join", "127.0.0.1:1"], "admin token"),
        (
            &[
                "server",
                "--id",
                "2",
                "--data-dir",
                &data,
                "--bootstrap",
                "2=h:1@h:2",
                "--join",
                "h:3",
            ],
            "together",
        ),
    ];
    for (args, expect) in cases {
        let out = Command::new(BIN)
            .args(args)
            .env_remove("VSCHED_TOKEN")
            .env_remove("VSCHED_ADMIN_TOKEN")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(text(&out.stderr).contains(expect), "{args:?}: {}", text(&out.stderr));
    }
}
