//! Every operation of the control plane, driven by `cases/ops.jsonl` against a
//! real 3-peer cluster with two simulated nodes.
//!
//! Each line of the case file is one call: who makes it (`as`: a saved token, or
//! `admin`, `none`, `bogus`), the operation and its data, the expected code (and
//! `field`), and optionally a `check` that the reply data must match. Calls rotate
//! over the peers, so every operation is served through leader and followers
//! alike. `save` keeps values of a reply (a new token, say) for later lines, and
//! `${name}` in the data refers to them.
//!
//! Matching: objects match when every expected key matches, lists when they have
//! the same length and each element matches; `{"$len": n}` checks a
//! list's length, `{"$contains": x}` / `{"$not_contains": x}` whether some element
//! matches `x`; other values must be equal.

use std::collections::HashMap;
use std::time::Duration;

use chaos_tests::{Cluster, ClusterOpts};
use serde_json::{json, Value};

const NODE_A: &str = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa";
const NODE_B: &str = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb";

fn status_of(code: &str) -> u16 {
    match code {
        "OK" => 200,
        "INVALID_ARGUMENT" | "UNKNOWN_OP" => 400,
        "UNAUTHENTICATED" => 401,
        "PERMISSION_DENIED" => 403,
        "NOT_FOUND" => 404,
        "ALREADY_EXISTS" | "FAILED_PRECONDITION" => 409,
        "PAYLOAD_TOO_LARGE" => 413,
        "RESOURCE_EXHAUSTED" => 422,
        "UNAVAILABLE" => 503,
        _ => 500,
    }
}

/// Checks `actual` against `expected`; the error names the path that differs.
fn matches(expected: &Value, actual: &Value, path: &str) -> Result<(), String> {
    if let Value::Object(exp) = expected {
        if let Some(n) = exp.get("$len") {
            let len = actual.as_array().map(Vec::len);
            return if len.map(|l| json!(l)) == Some(n.clone()) {
                Ok(())
            } else {
                Err(format!("{path}: expected length {n}, got {actual}"))
            };
        }
        if let Some(x) = exp.get("$contains") {
            let items = actual
                .as_array()
                .ok_or_else(|| format!("{path}: expected a list, got {actual}"))?;
            return if items.iter().any(|i| matches(x, i, path).is_ok()) {
                Ok(())
            } else {
                Err(format!("{path}: no element matches {x} in {actual}"))
            };
        }
        if let Some(x) = exp.get("$not_contains") {
            let items = actual
                .as_array()
                .ok_or_else(|| format!("{path}: expected a list, got {actual}"))?;
            return if items.iter().any(|i| matches(x, i, path).is_ok()) {
                Err(format!("{path}: an element matches {x} in {actual}"))
            } else {
                Ok(())
            };
        }
        for (k, v) in exp {
            matches(v, actual.get(k).unwrap_or(&Value::Null), &format!("{path}.{k}"))?;
        }
        return Ok(());
    }
    if let (Value::Array(exp), Value::Array(act)) = (expected, actual) {
        if exp.len() != act.len() {
            return Err(format!("{path}: expected {expected}, got {actual}"));
        }
        for (i, (e, a)) in exp.iter().zip(act).enumerate() {
            matches(e, a, &format!("{path}[{i}]"))?;
        }
        return Ok(());
    }
    if expected == actual || (expected.is_number() && expected.as_f64() == actual.as_f64()) {
        Ok(())
    } else {
        Err(format!("{path}: expected {expected}, got {actual}"))
    }
}

/// Replaces `${name}` strings with saved values.
fn substitute(v: &Value, vars: &HashMap<String, Value>) -> Value {
    match v {
        Value::String(s) if s.starts_with("${") && s.ends_with('}') => {
            vars.get(&s[2..s.len() - 1]).cloned().unwrap_or_else(|| panic!("unknown variable {s}"))
        }
        Value::Array(items) => Value::Array(items.iter().map(|i| substitute(i, vars)).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let key = substitute(&Value::String(k.clone()), vars);
                    (key.as_str().unwrap_or(k).to_string(), substitute(v, vars))
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_through_any_peer() {
    let mut cluster = Cluster::start(env!("CARGO_BIN_EXE_vsched"), ClusterOpts::default()).await;
    for (name, id) in [("agent-a", NODE_A), ("agent-b", NODE_B)] {
        cluster.start_agent(
            name,
            &["--node-id", id, "--sim-vcpu", "32", "--sim-vram", "64G", "--labels", "rack1"],
        );
    }
    cluster
        .eventually("two ready nodes", Duration::from_secs(30), || async {
            let r = cluster.call_any("node_list", json!({"status": "ready"})).await;
            (r.data()["nodes"].as_array().map(Vec::len) == Some(2)).then_some(())
        })
        .await;

    let mut vars: HashMap<String, Value> = HashMap::new();
    vars.insert("A".into(), json!(NODE_A));
    vars.insert("B".into(), json!(NODE_B));
    let mut tokens: HashMap<String, Option<String>> = HashMap::new();
    tokens.insert("admin".into(), Some(cluster.token.clone()));
    tokens.insert("none".into(), None);
    tokens.insert("bogus".into(), Some("vst_000000000000_nope".into()));

    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cases/ops.jsonl"))
            .unwrap();
    let mut failures = Vec::new();
    let mut count = 0;
    for (lineno, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with("//") {
            continue;
        }
        let case: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("line {}: {e}", lineno + 1));
        let name = case["case"].as_str().unwrap_or("?").to_string();
        let who = case["as"].as_str().unwrap_or("admin");
        let token =
            tokens.get(who).unwrap_or_else(|| panic!("line {}: unknown token '{who}'", lineno + 1));
        let op = case["op"].as_str().expect("op");
        let data = substitute(&case["data"], &vars);
        let mut context = json!({"op": op});
        if let Some(ns) = case.get("ns") {
            context["ns"] = ns.clone();
        }
        let index = count % cluster.peers.len();
        count += 1;
        let reply =
            cluster.post(index, token.as_deref(), &json!({"context": context, "data": data})).await;

        let expect = case["expect"].as_str().unwrap_or("OK");
        let mut problems = Vec::new();
        if reply.code() != expect {
            problems.push(format!("expected {expect}, got {} {}", reply.code(), reply.body));
        }
        if reply.status != status_of(expect) && reply.code() == expect {
            problems.push(format!("HTTP status {} for {expect}", reply.status));
        }
        if let Some(field) = case.get("field") {
            if &reply.body["error"]["field"] != field {
                problems.push(format!("expected field {field}, got {}", reply.body["error"]));
            }
        }
        if let Some(check) = case.get("check") {
            let check = substitute(check, &vars);
            if let Err(e) = matches(&check, reply.data(), "data") {
                problems.push(e);
            }
        }
        if let Some(Value::Object(save)) = case.get("save") {
            for (var, path) in save {
                let value =
                    path.as_str().unwrap().split('.').fold(reply.data(), |v, k| &v[k]).clone();
                if let Some(name) = var.strip_prefix("token:") {
                    tokens.insert(name.to_string(), value.as_str().map(String::from));
                } else {
                    vars.insert(var.clone(), value);
                }
            }
        }
        if !problems.is_empty() {
            failures.push(format!(
                "line {} ({name}) via peer {}: {}",
                lineno + 1,
                index + 1,
                problems.join("; ")
            ));
        }
    }
    assert!(count > 150, "the case file should cover every operation, ran {count}");
    if !failures.is_empty() {
        let dir = cluster.keep_dir();
        panic!(
            "{} of {count} cases failed (logs in {}):\n{}",
            failures.len(),
            dir.display(),
            failures.join("\n")
        );
    }
}
