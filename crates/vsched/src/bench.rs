//! `vsched bench`: durable write throughput and latency through the JSON-RPC API.
//!
//! N concurrent clients each update their own vcluster in a loop
//! (`vcluster_update`, a replicated write acknowledged only after a majority has
//! fsynced it). Without `--addr` the benchmark starts its own 3-peer cluster in a
//! temporary directory. Clients are spread over all peers by default, so most
//! writes are forwarded to the leader as real traffic would be; `--leader-only`
//! sends them straight to the leader.

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use hdrhistogram::Histogram;
use serde_json::{json, Value};

use crate::client::{normalise_addr, CallError, Client};
use crate::launcher::{ClusterSpec, LocalCluster};

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// API addresses of an existing cluster (default: start a local 3-peer cluster).
    #[arg(long)]
    pub addr: Option<String>,
    /// Admin token of the existing cluster [env: VSCHED_TOKEN].
    #[arg(long)]
    pub token: Option<String>,
    /// Concurrent clients.
    #[arg(long, default_value_t = 64)]
    pub clients: usize,
    /// Measured seconds.
    #[arg(long, default_value_t = 20)]
    pub duration: u64,
    /// Seconds of load before measuring.
    #[arg(long, default_value_t = 3)]
    pub warmup: u64,
    /// Peers of the local cluster.
    #[arg(long, default_value_t = 3)]
    pub peers: usize,
    /// Base port of the local cluster.
    #[arg(long, default_value_t = 7370)]
    pub base_port: u16,
    /// Send every write to the leader instead of spreading clients over peers.
    #[arg(long)]
    pub leader_only: bool,
    /// Give every write a unique request_id, as the CLI does, so it is kept in the
    /// idempotency table.
    #[arg(long)]
    pub request_ids: bool,
    /// Output: table or json.
    #[arg(short = 'o', long = "output", default_value = "table", value_parser = ["table", "json"])]
    pub output: String,
}

struct ClientResult {
    ok: u64,
    errors: u64,
    latency_us: Histogram<u64>,
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.clients > 0, "--clients must be at least 1");

    // The cluster under test: given, or started here.
    let mut local = None;
    let (addrs, token) = match &args.addr {
        Some(a) => {
            let token = args.token.clone().or_else(|| std::env::var("VSCHED_TOKEN").ok());
            let token = token
                .ok_or_else(|| anyhow::anyhow!("--token or VSCHED_TOKEN is needed with --addr"))?;
            (a.split(',').map(normalise_addr).collect::<Vec<_>>(), token)
        }
        None => {
            let spec = ClusterSpec {
                peers: args.peers,
                nodes: 0,
                base_port: args.base_port,
                data_dir: None,
                node_vcpu: 64,
                node_vram: "256G".into(),
                server_args: vec![],
            };
            let mut cluster = LocalCluster::start(&spec)?;
            cluster.wait_ready(0, Duration::from_secs(60)).await?;
            let addrs = cluster.api_addrs.iter().map(|a| normalise_addr(a)).collect();
            let token = cluster.token.clone();
            local = Some(cluster);
            (addrs, token)
        }
    };
    let client = Client::with_addrs(addrs.clone(), Some(token.clone()));

    // One vcluster per client.
    for i in 0..args.clients {
        match client
            .call("vcluster_add", json!({"name": format!("bench-{i}"), "labels": []}), None)
            .await
        {
            Ok(_) => {}
            Err(CallError::Op { code, .. }) if code == "ALREADY_EXISTS" => {}
            Err(e) => anyhow::bail!("create vcluster bench-{i}: {e:?}"),
        }
    }
    let targets = if args.leader_only { vec![leader_api(&client).await?] } else { addrs.clone() };

    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.clients)
        .tcp_nodelay(true)
        .build()?;
    let start = Instant::now();
    let measure_from = start + Duration::from_secs(args.warmup);
    let end = measure_from + Duration::from_secs(args.duration);
    let token = Arc::new(token);
    let mut tasks = Vec::new();
    for i in 0..args.clients {
        let url = format!("{}/rpc", targets[i % targets.len()]);
        let http = http.clone();
        let token = token.clone();
        let ids = args.request_ids;
        tasks.push(tokio::spawn(async move {
            client_loop(i, http, url, token, ids, measure_from, end).await
        }));
    }
    let mut total = ClientResult { ok: 0, errors: 0, latency_us: Histogram::new(3)? };
    for t in tasks {
        let r = t.await?;
        total.ok += r.ok;
        total.errors += r.errors;
        total.latency_us.add(&r.latency_us)?;
    }
    if let Some(mut c) = local.take() {
        c.stop();
    }
    print_report(&args, &total);
    Ok(())
}

/// The API address of the current leader.
async fn leader_api(client: &Client) -> anyhow::Result<String> {
    let status = client
        .call("cluster_status", Value::Null, None)
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let leader = status["leader"].as_u64().ok_or_else(|| anyhow::anyhow!("no leader"))?;
    let api = status["members"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["id"] == leader))
        .and_then(|m| m["api"].as_str())
        .ok_or_else(|| anyhow::anyhow!("leader {leader} has no API address"))?;
    Ok(normalise_addr(api))
}

async fn client_loop(
    i: usize,
    http: reqwest::Client,
    url: String,
    token: Arc<String>,
    request_ids: bool,
    measure_from: Instant,
    end: Instant,
) -> ClientResult {
    let mut r =
        ClientResult { ok: 0, errors: 0, latency_us: Histogram::new(3).expect("histogram") };
    let name = format!("bench-{i}");
    let mut n = 0u64;
    while Instant::now() < end {
        n += 1;
        let mut body = json!({
            "context": {"op": "vcluster_update"},
            "data": {"name": name, "descr": format!("update {n}")},
        });
        if request_ids {
            body["context"]["request_id"] = json!(format!("bench-{i}-{n}"));
        }
        let sent = Instant::now();
        let ok = match http.post(&url).bearer_auth(token.as_str()).json(&body).send().await {
            Ok(resp) => resp.status().is_success() && resp.bytes().await.is_ok(),
            Err(_) => false,
        };
        if sent < measure_from {
            continue;
        }
        if ok {
            r.ok += 1;
            let _ = r.latency_us.record(sent.elapsed().as_micros() as u64);
        } else {
            r.errors += 1;
        }
    }
    r
}

fn print_report(args: &BenchArgs, total: &ClientResult) {
    let secs = args.duration as f64;
    let h = &total.latency_us;
    let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    let report = json!({
        "clients": args.clients,
        "seconds": args.duration,
        "target": if args.leader_only { "leader" } else { "all peers" },
        "request_ids": args.request_ids,
        "writes_ok": total.ok,
        "errors": total.errors,
        "writes_per_sec": (total.ok as f64 / secs).round(),
        "p50_ms": ms(0.50),
        "p90_ms": ms(0.90),
        "p99_ms": ms(0.99),
        "max_ms": h.max() as f64 / 1000.0,
    });
    if args.output == "json" {
        println!("{report}");
        return;
    }
    println!(
        "vcluster_update writes, {} clients, {} s measured after {} s warm-up, target: {}",
        args.clients,
        args.duration,
        args.warmup,
        report["target"].as_str().unwrap_or("")
    );
    println!("writes ok     {}", total.ok);
    println!("errors        {}", total.errors);
    println!("writes/s      {}", report["writes_per_sec"]);
    println!("latency p50   {:.2} ms", ms(0.50));
    println!("latency p90   {:.2} ms", ms(0.90));
    println!("latency p99   {:.2} ms", ms(0.99));
    println!("latency max   {:.2} ms", h.max() as f64 / 1000.0);
}
