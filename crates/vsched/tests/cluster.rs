//! The replicated control plane under failure, with real processes: leader
//! loss, restarts, joining peers (through a snapshot), membership changes, and
//! node liveness.

use std::time::Duration;

use chaos_tests::{Cluster, ClusterOpts};
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_vsched");

/// Cluster options with these server flags (the default isolation timeout is
/// dropped when the flags set their own).
fn opts(extra: &[&str]) -> ClusterOpts {
    let mut o = ClusterOpts::default();
    if extra.contains(&"--isolation-timeout") {
        o.server_args.clear();
    }
    o.server_args.extend(extra.iter().map(|s| s.to_string()));
    o
}

/// This peer's own applied view, from `/v1/cluster` (no forwarding involved).
async fn local_view(cluster: &Cluster, index: usize) -> Value {
    cluster.get(index, "/v1/cluster").await.body
}

async fn node_status(cluster: &Cluster, node: &str) -> Option<String> {
    let r = cluster.call_any("node_show", json!({"uuid": node})).await;
    r.data()["status"].as_str().map(String::from)
}

async fn ready_nodes(cluster: &Cluster) -> usize {
    let r = cluster.call_any("node_list", json!({"status": "ready"})).await;
    r.data()["nodes"].as_array().map(Vec::len).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acknowledged_write_survives_the_leader_being_killed() {
    let mut cluster = Cluster::start(BIN, ClusterOpts::default()).await;
    let leader = cluster.wait_leader(Duration::from_secs(10)).await;
    let follower = cluster.peers.iter().position(|p| p.id != leader).unwrap();

    // Written through a follower, so it is forwarded to the leader.
    let r = cluster.call(follower, "vcluster_add", json!({"name": "survivor", "labels": []})).await;
    assert!(r.ok(), "{:?}", r.body);
    assert_eq!(r.body["context"]["leader"], json!(leader));
    assert_eq!(r.body["context"]["served_by"], json!(cluster.peers[follower].id));

    cluster.peer(leader).proc.kill();
    let new_leader = cluster.wait_leader(Duration::from_secs(20)).await;
    assert_ne!(new_leader, leader);

    let r = cluster.call_any("vcluster_show", json!({"name": "survivor"})).await;
    assert!(r.ok(), "{:?}", r.body);
    assert_eq!(r.body["context"]["leader"], json!(new_leader));

    // The old leader comes back as a follower and catches up.
    cluster.peer(leader).proc.start();
    let index = cluster.index_of(leader);
    let expected =
        cluster.call_any("cluster_status", Value::Null).await.data()["commit_index"].clone();
    cluster
        .eventually("the old leader to catch up", Duration::from_secs(20), || async {
            let v = local_view(&cluster, index).await;
            (v["applied_index"].as_u64() >= expected.as_u64()
                && v["tables"]["vclusters"] == json!(1))
            .then_some(())
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_peer_catches_up_from_its_data_dir() {
    let mut cluster = Cluster::start(BIN, ClusterOpts::default()).await;
    let leader = cluster.wait_leader(Duration::from_secs(10)).await;
    let follower_id = cluster.peers.iter().find(|p| p.id != leader).unwrap().id;

    cluster.call_any("vcluster_add", json!({"name": "before", "labels": []})).await;
    cluster.peer(follower_id).proc.kill();
    for i in 0..20 {
        let r = cluster
            .call_any("vcluster_add", json!({"name": format!("while-down-{i}"), "labels": []}))
            .await;
        assert!(r.ok(), "{:?}", r.body);
    }
    cluster.peer(follower_id).proc.start();

    let index = cluster.index_of(follower_id);
    cluster
        .eventually(
            "the restarted peer to apply all 21 vclusters",
            Duration::from_secs(20),
            || async {
                let v = local_view(&cluster, index).await;
                (v["tables"]["vclusters"] == json!(21)).then_some(())
            },
        )
        .await;
    // It serves requests again.
    let r = cluster.call(index, "vcluster_show", json!({"name": "while-down-19"})).await;
    assert!(r.ok(), "{:?}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_cluster_restarts_from_its_data_dirs() {
    let mut cluster = Cluster::start(BIN, ClusterOpts::default()).await;
    cluster.call_any("labels_add", json!({"labels": "ssd", "nodes": []})).await;
    let r = cluster
        .call_any("token_add", json!({"login": "ann", "ns": "team", "role": "operator"}))
        .await;
    let ann = r.data()["token"].as_str().unwrap().to_string();

    for p in &mut cluster.peers {
        p.proc.stop();
    }
    for p in &mut cluster.peers {
        p.proc.start();
    }
    cluster.wait_leader(Duration::from_secs(30)).await;

    // The bootstrap flag of peer 1 was ignored; state and tokens are back.
    let r = cluster.call_any("labels_list", Value::Null).await;
    assert_eq!(r.data()["labels"][0]["name"], "ssd", "{:?}", r.body);
    let r = cluster.call_with(0, Some(&ann), "whoami", Value::Null).await;
    assert_eq!(r.data()["login"], "ann", "{:?}", r.body);
    let status = cluster.call_any("cluster_status", Value::Null).await;
    assert_eq!(status.data()["members"].as_array().unwrap().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_joining_peer_receives_the_state_through_a_snapshot() {
    // Snapshots every 20 entries, keeping 5: the log a new peer would need is gone.
    let mut cluster =
        Cluster::start(BIN, opts(&["--snapshot-every", "20", "--keep-logs", "5"])).await;
    for i in 0..60 {
        let r = cluster
            .call_any("vcluster_add", json!({"name": format!("vc-{i}"), "labels": []}))
            .await;
        assert!(r.ok(), "{:?}", r.body);
    }
    let leader = cluster.wait_leader(Duration::from_secs(10)).await;
    let leader_index = cluster.index_of(leader);
    cluster
        .eventually("the leader to purge its log", Duration::from_secs(20), || async {
            let v = local_view(&cluster, leader_index).await;
            (v["purged_index"].as_u64().unwrap_or(0) > 20).then_some(())
        })
        .await;

    // The harness gives every peer the admin token, which --join uses.
    cluster.join_peer(4, leader_index, &[]);
    let new_index = cluster.index_of(4);
    cluster
        .eventually("peer 4 to become a voter", Duration::from_secs(30), || async {
            let s = cluster.call_any("cluster_status", Value::Null).await;
            let members = s.data()["members"].as_array().cloned().unwrap_or_default();
            members.iter().any(|m| m["id"] == 4 && m["role"] == "voter").then_some(())
        })
        .await;
    cluster
        .eventually("peer 4 to hold every vcluster", Duration::from_secs(30), || async {
            let v = local_view(&cluster, new_index).await;
            (v["tables"]["vclusters"] == json!(60)).then_some(())
        })
        .await;
    let log = std::fs::read_to_string(cluster.peers[new_index].proc.log_path()).unwrap();
    assert!(log.contains("snapshot installed"), "peer 4 should have installed a snapshot");

    // The new peer serves requests like any other.
    let r = cluster.call(new_index, "vcluster_show", json!({"name": "vc-59"})).await;
    assert!(r.ok(), "{:?}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_can_be_removed_and_the_rest_keep_serving() {
    let mut cluster = Cluster::start(BIN, ClusterOpts::default()).await;
    let leader = cluster.wait_leader(Duration::from_secs(10)).await;
    let victim = cluster.peers.iter().find(|p| p.id != leader).unwrap().id;

    let r = cluster.call_any("cluster_member_remove", json!({"id": victim})).await;
    assert!(r.ok(), "{:?}", r.body);
    cluster.peer(victim).proc.kill();

    let s = cluster.call_any("cluster_status", Value::Null).await;
    let ids: Vec<u64> =
        s.data()["members"].as_array().unwrap().iter().map(|m| m["id"].as_u64().unwrap()).collect();
    assert!(!ids.contains(&victim), "{ids:?}");
    // Two voters remain and still form a quorum for writes.
    let r = cluster.call_any("vcluster_add", json!({"name": "after", "labels": []})).await;
    assert!(r.ok(), "{:?}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_stops_heartbeating_is_isolated_and_comes_back() {
    let mut cluster = Cluster::start(BIN, opts(&["--isolation-timeout", "2"])).await;
    let node = "cccccccc-cccc-4ccc-8ccc-cccccccccccc";
    let agent = cluster.start_agent("agent-c", &["--node-id", node, "--fence-timeout", "1"]);
    cluster
        .eventually("the node to be ready", Duration::from_secs(20), || async {
            (node_status(&cluster, node).await.as_deref() == Some("ready")).then_some(())
        })
        .await;

    // Frozen: its sockets stay open but no heartbeat arrives.
    cluster.agents[agent].pause(true);
    cluster
        .eventually("the node to be isolated", Duration::from_secs(20), || async {
            (node_status(&cluster, node).await.as_deref() == Some("isolated")).then_some(())
        })
        .await;

    cluster.agents[agent].pause(false);
    cluster
        .eventually("the node to be ready again", Duration::from_secs(20), || async {
            (node_status(&cluster, node).await.as_deref() == Some("ready")).then_some(())
        })
        .await;

    // An agent that stops for good says goodbye; the node leaves and can be forgotten.
    cluster.agents[agent].stop();
    cluster
        .eventually("the node to have left", Duration::from_secs(20), || async {
            (node_status(&cluster, node).await.as_deref() == Some("left")).then_some(())
        })
        .await;
    let r = cluster.call_any("node_forget", json!({"uuid": node})).await;
    assert!(r.ok(), "{:?}", r.body);
    let r = cluster.call_any("node_show", json!({"uuid": node})).await;
    assert_eq!(r.code(), "NOT_FOUND");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_follow_the_leader_and_nodes_survive_an_election() {
    let mut cluster = Cluster::start(BIN, opts(&["--isolation-timeout", "3"])).await;
    cluster.start_agent("agents", &["--sim-nodes", "3"]);
    cluster
        .eventually("3 ready nodes", Duration::from_secs(20), || async {
            (ready_nodes(&cluster).await == 3).then_some(())
        })
        .await;

    let leader = cluster.wait_leader(Duration::from_secs(10)).await;
    cluster.peer(leader).proc.kill();
    cluster.wait_leader(Duration::from_secs(20)).await;

    // The new leader gives every node a grace period; the agents reconnect to it in
    // time, so no node is ever isolated.
    let deadline = std::time::Instant::now() + Duration::from_secs(8);
    while std::time::Instant::now() < deadline {
        let r = cluster.call_any("node_list", json!({"status": "isolated"})).await;
        assert_eq!(r.data()["nodes"].as_array().map(Vec::len), Some(0), "{:?}", r.body);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let s = cluster.call_any("cluster_status", Value::Null).await;
    assert_eq!(s.data()["agents_connected"], json!(3), "{:?}", s.body);
}
