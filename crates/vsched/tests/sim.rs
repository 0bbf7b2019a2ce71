//! `vsched sim` on small workloads written by the test: the `.vbp` and summary
//! formats, both output forms, and the trace replay with departures.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_vsched");

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn sim(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN).arg("sim").args(args).output().unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

#[test]
fn vbp_packs_instances_and_compares_with_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    let set = dir.path().join("Demo");
    // Ten items that pair up perfectly in two dimensions: 5 bins are optimal,
    // and arrival order interleaves them badly.
    let mut pairs = String::from("2\n100 100\n2\n60 10 5\n40 90 5\n");
    write(&set.join("class1/pairs.vbp"), &pairs);
    pairs = String::from("3\n10 10 10\n1\n5 5 5 4\n");
    write(&set.join("class1/halves.vbp"), &pairs);
    write(
        &dir.path().join("Demo_summary_known.csv"),
        "instance_name\tLB\tOPT\tbest_overall\tbest_IC\npairs\t5\t5\t5\t6\nhalves\t2\t2\t2\t2\n",
    );

    let (code, out, err) = sim(&["vbp", set.to_str().unwrap(), "-o", "json"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 4, "one line per instance and mode: {out}");
    for line in &lines {
        for key in ["instance", "mode", "bins", "lb", "opt", "best_known", "ms"] {
            assert!(line.get(key).is_some(), "{key} missing in {line}");
        }
    }
    let batch = |name: &str| {
        lines.iter().find(|l| l["instance"] == name && l["mode"] == "batch").unwrap().clone()
    };
    assert_eq!(batch("pairs")["bins"], 5);
    assert_eq!(batch("pairs")["opt"], 5);
    assert_eq!(batch("halves")["bins"], 2);

    let (code, out, _) = sim(&["vbp", set.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(out.lines().any(|l| l.starts_with("Demo ")), "{out}");
    assert!(out.contains("0.00%"), "batch reaches the optimum: {out}");
}

#[test]
fn vbp_refuses_a_bad_file_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("bad.vbp");
    write(&f, "2\n100 x\n");
    let (code, _, err) = sim(&["vbp", f.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("line 2"), "{err}");
}

#[test]
fn trace_replays_arrivals_and_departures() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(&d.join("flav_map.txt"), "2,4 a\n4,8 b\n");
    write(&d.join("v1.interval_map.txt"), "0 0\n300 1\n600 2\n");
    // Step 1: two small VMs (one leaves within 300 s) and one large one that
    // stays. Step 2: a large VM fits only because the small one left.
    write(&d.join("v1.dev.txt"), "300 a,a,|,b\n600 b\n");
    write(&d.join("v1.dev.c2100000.txt"), "300 U0,C2,|,C2\n600 C2\n");

    let (code, out, err) =
        sim(&["trace", d.to_str().unwrap(), "--nodes", "1", "--node-size", "10,20G", "-o", "json"]);
    assert_eq!(code, 0, "{err}");
    let r: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(r["vms"], 4);
    assert_eq!(r["accepted"], 4, "{r}");
    assert_eq!(r["rejected"], 0);
    assert_eq!(r["util_peak_vcpu_pct"], 100.0);

    // Without the departure there is no room for the last VM.
    write(&d.join("v1.dev.c2100000.txt"), "300 C2,C2,|,C2\n600 C2\n");
    let (_, out, _) =
        sim(&["trace", d.to_str().unwrap(), "--nodes", "1", "--node-size", "10,20G", "-o", "json"]);
    let r: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(r["rejected"], 1, "{r}");
}
