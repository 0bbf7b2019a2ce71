//! The HTTP surface: both envelopes, batches, malformed bodies, idempotent
//! retries, and the health, readiness, metrics and cluster endpoints. Malformed
//! requests must get the documented error and change nothing.

use chaos_tests::{Cluster, ClusterOpts, Reply};
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_vsched");

/// Row counts of every state table and the vclusters themselves: anything
/// applied would change them. (Log positions are no good: an election under load
/// appends an entry of its own.)
async fn fingerprint(cluster: &Cluster) -> (Value, Value) {
    let s = cluster.call_any("cluster_status", Value::Null).await;
    let v = cluster.call_any("vcluster_list", Value::Null).await;
    (s.data()["tables"].clone(), v.data()["vclusters"].clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_bodies_get_the_documented_errors_and_change_nothing() {
    let cluster = Cluster::start(BIN, ClusterOpts::default()).await;
    let token = Some(cluster.token.as_str());
    cluster.call_any("vcluster_add", json!({"name": "keep", "labels": []})).await;
    let before = fingerprint(&cluster).await;

    // Not JSON at all.
    let r = cluster.post_bytes(1, token, b"vcluster_add please".to_vec()).await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (400, Some("INVALID_ARGUMENT")),
        "{:?}",
        r.body
    );

    // Broken JSON that says it is JSON-RPC: a JSON-RPC parse error.
    let r = cluster.post_bytes(1, token, br#"{"jsonrpc": "2.0", "method": "#.to_vec()).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["error"]["code"], -32700, "{:?}", r.body);
    assert_eq!(r.body["id"], Value::Null);

    // Neither envelope.
    let r = cluster.post(0, token, &json!({"op": "vcluster_add", "name": "x"})).await;
    assert_eq!((r.status, r.code()), (400, "INVALID_ARGUMENT"));
    assert_eq!(r.body["error"]["field"], "context");
    let r = cluster.post(0, token, &json!({"context": "vcluster_add"})).await;
    assert_eq!(r.body["error"]["field"], "context");
    let r = cluster.post(0, token, &json!({"context": {"data": {}}})).await;
    assert_eq!((r.status, r.code()), (400, "INVALID_ARGUMENT"));
    assert_eq!(r.body["error"]["field"], "op");
    let r = cluster.post(0, token, &json!(42)).await;
    assert_eq!((r.status, r.code()), (400, "INVALID_ARGUMENT"));

    // Unknown operation, in both envelopes.
    let r = cluster.post(2, token, &json!({"context": {"op": "vcluster_fly"}, "data": {}})).await;
    assert_eq!((r.status, r.code()), (400, "UNKNOWN_OP"));
    let r =
        cluster.post(2, token, &json!({"jsonrpc": "2.0", "id": 1, "method": "vcluster_fly"})).await;
    assert_eq!(r.body["error"]["code"], -32601, "{:?}", r.body);

    // A 2 MiB body, declared and streamed.
    let big = format!(
        concat!(
            r#"{{"context": {{"op": "vcluster_add"}}, "#,
            r#""data": {{"name": "big", "labels": [], "descr": "{}"}}}}"#
        ),
        "x".repeat(2 << 20)
    );
    let r = cluster.post_bytes(0, token, big.clone().into_bytes()).await;
    assert_eq!((r.status, r.code()), (413, "PAYLOAD_TOO_LARGE"), "{:?}", r.body);
    let chunks = futures_chunks(big.into_bytes());
    let url = format!("http://{}/rpc", cluster.peers[0].api);
    let resp = reqwest::Client::new()
        .post(url)
        .bearer_auth(&cluster.token)
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 413);

    // Deeply nested JSON.
    let deep = format!(
        concat!(
            r#"{{"context": {{"op": "vcluster_add"}}, "#,
            r#""data": {{"name": "deep", "labels": [], "descr": {}}}}}"#
        ),
        "[".repeat(10_000) + &"]".repeat(10_000)
    );
    let r = cluster.post_bytes(1, token, deep.into_bytes()).await;
    assert_eq!((r.status, r.code()), (400, "INVALID_ARGUMENT"), "{:?}", r.body);

    // Data of the wrong shape.
    let r = cluster
        .post(0, token, &json!({"context": {"op": "vcluster_add"}, "data": "name=web"}))
        .await;
    assert_eq!((r.status, r.code()), (400, "INVALID_ARGUMENT"));
    assert_eq!(r.body["error"]["field"], "data");

    assert_eq!(fingerprint(&cluster).await, before, "malformed requests must not change the state");
}

/// A JSON-RPC 2.0 request.
fn rpc(id: Value, method: &str, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

fn futures_chunks(body: Vec<u8>) -> impl futures::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        body.chunks(64 * 1024).map(|c| Ok(c.to_vec())).collect();
    futures::stream::iter(chunks)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_rpc_requests_notifications_and_batches() {
    let cluster = Cluster::start(BIN, ClusterOpts::default()).await;
    let token = Some(cluster.token.as_str());

    let add_rpc = json!({"name": "rpc", "labels": []});
    let r = cluster.post(1, token, &rpc(json!("a"), "vcluster_add", add_rpc.clone())).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["id"], "a");
    assert_eq!(r.body["result"]["name"], "rpc", "{:?}", r.body);

    // Errors carry the vsched code in `data`.
    let r = cluster.post(1, token, &rpc(json!(2), "vcluster_add", add_rpc)).await;
    assert_eq!(r.status, 409);
    assert_eq!(r.body["error"]["code"], -32000);
    assert_eq!(r.body["error"]["data"]["code"], "ALREADY_EXISTS");
    assert_eq!(r.body["error"]["data"]["field"], "name");
    let r = cluster
        .post(
            1,
            token,
            &json!({"jsonrpc": "2.0", "id": 3, "method": "vcluster_add", "params": {"labels": []}}),
        )
        .await;
    assert_eq!((r.status, &r.body["error"]["code"]), (400, &json!(-32602)));
    let r = cluster
        .post(
            1,
            token,
            &json!({"jsonrpc": "2.0", "id": 4, "method": "vcluster_show", "params": ["rpc"]}),
        )
        .await;
    assert_eq!(r.body["error"]["code"], -32602);
    let r = cluster
        .post(1, token, &json!({"jsonrpc": "1.0", "id": 5, "method": "vcluster_show"}))
        .await;
    assert_eq!(r.body["error"]["code"], -32600);
    let r =
        cluster.post(1, None, &json!({"jsonrpc": "2.0", "id": 6, "method": "vcluster_list"})).await;
    assert_eq!((r.status, &r.body["error"]["data"]["code"]), (401, &json!("UNAUTHENTICATED")));

    // A notification is carried out and answered with nothing.
    let note = json!({"jsonrpc": "2.0", "method": "vcluster_add",
                      "params": {"name": "quiet", "labels": []}});
    let r = cluster.post(2, token, &note).await;
    assert_eq!(r.status, 204);
    let r = cluster.call_any("vcluster_show", json!({"name": "quiet"})).await;
    assert!(r.ok(), "the notification must have been applied: {:?}", r.body);

    // A batch mixes envelopes; notifications leave no reply.
    let batch = json!([
        {"jsonrpc": "2.0", "id": 1, "method": "vcluster_show", "params": {"name": "rpc"}},
        {"jsonrpc": "2.0", "method": "vcluster_update", "params": {"name": "rpc", "descr": "n"}},
        {"context": {"op": "vcluster_show"}, "data": {"name": "nope"}},
        {"jsonrpc": "2.0", "id": 2, "method": "no_such_op"}
    ]);
    let r = cluster.post(0, token, &batch).await;
    assert_eq!(r.status, 200);
    let replies = r.body.as_array().expect("a batch reply is a list");
    assert_eq!(replies.len(), 3, "{replies:?}");
    assert_eq!(replies[0]["result"]["name"], "rpc");
    assert_eq!(replies[1]["error"]["code"], "NOT_FOUND");
    assert_eq!(replies[2]["error"]["code"], -32601);
    let r = cluster.post(0, token, &json!([])).await;
    assert_eq!(r.body["error"]["code"], -32600);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_write_with_the_same_request_id_applies_once() {
    let cluster = Cluster::start(BIN, ClusterOpts::default()).await;
    let token = Some(cluster.token.as_str());
    let body = json!({"context": {"op": "vcluster_add", "request_id": "retry-1"},
                      "data": {"name": "once", "labels": []}});

    let first = cluster.post(0, token, &body).await;
    assert!(first.ok(), "{:?}", first.body);
    // The retry goes to another peer and gets the first outcome, not ALREADY_EXISTS.
    let again: Reply = cluster.post(2, token, &body).await;
    assert!(again.ok(), "{:?}", again.body);
    assert_eq!(again.body["context"]["request_id"], "retry-1");
    assert_eq!(again.data()["created_at"], first.data()["created_at"]);

    // The same id for another operation is refused.
    let other = json!({"context": {"op": "vcluster_del", "request_id": "retry-1"},
                       "data": {"name": "once"}});
    let r = cluster.post(1, token, &other).await;
    assert_eq!(r.code(), "INVALID_ARGUMENT");
    assert_eq!(r.body["error"]["field"], "request_id");
    let r = cluster.call_any("vcluster_show", json!({"name": "once"})).await;
    assert!(r.ok());

    // An Idempotency-Key header on a batch keys each item on its own.
    let batch = json!([
        {"context": {"op": "vcluster_add"}, "data": {"name": "b0", "labels": []}},
        {"context": {"op": "vcluster_add"}, "data": {"name": "b1", "labels": []}},
    ])
    .to_string()
    .into_bytes();
    let headers = [("idempotency-key", "batch-7")];
    for attempt in 0..2 {
        let r = cluster.post_with_headers(attempt, token, batch.clone(), &headers).await;
        let replies = r.body.as_array().unwrap_or_else(|| panic!("{:?}", r.body));
        for (i, reply) in replies.iter().enumerate() {
            assert_eq!(reply["context"]["status"], "ok", "attempt {attempt}: {reply}");
            assert_eq!(reply["context"]["request_id"], format!("batch-7/{i}"));
        }
    }

    // A retried token_add names the first token and shows no new secret.
    let add = json!({"context": {"op": "token_add", "request_id": "tok-1"},
                     "data": {"login": "ann", "ns": "team", "role": "user"}});
    let first = cluster.post(0, token, &add).await;
    let secret =
        first.data()["token"].as_str().expect("the first reply shows the secret").to_string();
    let again = cluster.post(1, token, &add).await;
    assert_eq!(again.data()["token_id"], first.data()["token_id"]);
    assert_eq!(again.data()["token"], Value::Null, "{:?}", again.body);
    let who = cluster.call_with(2, Some(&secret), "whoami", Value::Null).await;
    assert_eq!(who.data()["login"], "ann");
    let tokens = cluster.call_any("token_list", json!({"ns": "team"})).await;
    assert_eq!(tokens.data()["tokens"].as_array().map(Vec::len), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_metrics_and_cluster_endpoints() {
    let cluster = Cluster::start(BIN, ClusterOpts::default()).await;
    cluster.call_any("vcluster_add", json!({"name": "m", "labels": []})).await;
    cluster.call_any("vcluster_show", json!({"name": "nope"})).await;

    for i in 0..3 {
        let h = cluster.get(i, "/healthz").await;
        assert_eq!(h.status, 200);
        assert!(
            h.body["raft_state"].is_string() && h.body["term"].as_u64() >= Some(1),
            "{:?}",
            h.body
        );
        assert!(h.body["leader_id"].is_u64());
        let r = cluster.get(i, "/readyz").await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let c = cluster.get(i, "/v1/cluster").await;
        assert_eq!(c.status, 200);
        assert_eq!(c.body["members"].as_array().map(Vec::len), Some(3));
        assert!(c.body["commit_index"].as_u64() >= Some(1));
    }

    let mut metrics = String::new();
    for i in 0..3 {
        metrics.push_str(cluster.get(i, "/metrics").await.body.as_str().unwrap_or_default());
    }
    assert!(metrics.contains(r#"vsched_requests_total{code="OK",op="vcluster_add"}"#), "{metrics}");
    assert!(metrics.contains(r#"vsched_requests_total{code="NOT_FOUND",op="vcluster_show"}"#));
    assert!(metrics.contains("vsched_request_duration_seconds_bucket"));
    for what in ["term", "leader_id", "commit_index", "applied_index", "is_leader"] {
        assert!(metrics.contains(&format!(r#"vsched_raft{{what="{what}"}}"#)), "missing {what}");
    }
}
