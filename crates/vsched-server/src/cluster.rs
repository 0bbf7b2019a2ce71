//! Raft membership and status: `cluster_status`, `cluster_member_add`,
//! `cluster_member_remove`, `/v1/cluster`, and how a peer bootstraps a new
//! cluster or joins an existing one.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use openraft::error::{ClientWriteError, RaftError};
use openraft::ChangeMembers;
use serde_json::{json, Value};
use vsched_model::{Caller, ErrorCode, Op, OpError};
use vsched_raft::PeerNode;
use vsched_state::Action;

use crate::auth;
use crate::peer::{Failure, Peer};

/// Serves the cluster operations on the leader.
pub(crate) async fn handle(
    peer: &Peer,
    _caller: &Caller,
    op: &Op,
) -> Result<(Value, u64), Failure> {
    match op {
        Op::ClusterStatus(_) => {
            peer.linearize().await?;
            Ok((status_json(peer), 0))
        }
        Op::ClusterMemberAdd(p) => {
            member_add(peer, p.id, PeerNode { peer: p.peer.clone(), api: p.api.clone() }).await
        }
        Op::ClusterMemberRemove(p) => member_remove(peer, p.id).await,
        other => {
            Err(OpError::internal(format!("'{}' is not a cluster operation", other.name())).into())
        }
    }
}

/// This peer's view of the cluster: members, leader, term and log positions.
pub fn status_json(peer: &Peer) -> Value {
    let m = peer.raft.metrics().borrow().clone();
    let membership = m.membership_config.membership();
    let voters: BTreeSet<u64> = membership.voter_ids().collect();
    let matched: BTreeMap<u64, Option<u64>> = m
        .replication
        .as_ref()
        .map(|r| r.iter().map(|(id, log)| (*id, log.map(|l| l.index))).collect())
        .unwrap_or_default();
    let members: Vec<Value> = membership
        .nodes()
        .map(|(id, node)| {
            let mut v = json!({
                "id": id,
                "peer": node.peer,
                "api": node.api,
                "role": if voters.contains(id) { "voter" } else { "learner" },
            });
            if let Some(index) = matched.get(id) {
                v["matched_index"] = json!(index);
            }
            v
        })
        .collect();
    let (tables, applied) = {
        let ms = peer.state.read().expect("state lock");
        let tables: BTreeMap<&str, usize> = ms.state.table_sizes().into_iter().collect();
        (tables, ms.last_applied.map(|l| l.index))
    };
    json!({
        "id": peer.id,
        "state": format!("{:?}", m.state),
        "leader": m.current_leader,
        "term": m.current_term,
        "members": members,
        "last_log_index": m.last_log_index,
        "commit_index": peer.log.committed_index(),
        "applied_index": applied,
        "snapshot_index": m.snapshot.map(|l| l.index),
        "purged_index": m.purged.map(|l| l.index),
        "tables": tables,
        "agents_connected": peer.agents.connected(),
    })
}

fn raft_failure(e: RaftError<u64, ClientWriteError<u64, PeerNode>>) -> Failure {
    match e {
        RaftError::APIError(ClientWriteError::ForwardToLeader(_)) => Failure::NotLeader,
        RaftError::APIError(ClientWriteError::ChangeMembershipError(e)) => {
            OpError::precondition(format!("membership change refused: {e}")).into()
        }
        RaftError::Fatal(e) => OpError::unavailable(format!("raft stopped: {e}")).into(),
    }
}

/// Adds a learner, waits until it has caught up, then promotes it to voter.
/// Adding a member that is already there with the same addresses succeeds, so a
/// joining peer can retry.
async fn member_add(peer: &Peer, id: u64, node: PeerNode) -> Result<(Value, u64), Failure> {
    let current = peer.raft.metrics().borrow().membership_config.membership().clone();
    if let Some(existing) = current.get_node(&id) {
        if *existing != node {
            return Err(OpError::already_exists(
                "id",
                format!("peer {id} is already a member with {existing}"),
            )
            .into());
        }
    }

    peer.raft.add_learner(id, node.clone(), true).await.map_err(raft_failure)?;
    let resp = peer
        .raft
        .change_membership(ChangeMembers::AddVoterIds(BTreeSet::from([id])), false)
        .await
        .map_err(raft_failure)?;
    tracing::info!(member = id, %node, "peer added as voter");
    Ok((json!({"id": id, "peer": node.peer, "api": node.api, "role": "voter"}), resp.log_id.index))
}

/// Removes a voter or learner. The last voter cannot be removed.
async fn member_remove(peer: &Peer, id: u64) -> Result<(Value, u64), Failure> {
    let current = peer.raft.metrics().borrow().membership_config.membership().clone();
    if current.get_node(&id).is_none() {
        return Err(OpError::not_found("id", format!("peer {id} is not a member")).into());
    }
    let voters: BTreeSet<u64> = current.voter_ids().collect();
    let change = if voters.contains(&id) {
        if voters.len() == 1 {
            return Err(OpError::precondition("cannot remove the last voter")
                .with_field("id")
                .into());
        }
        ChangeMembers::RemoveVoters(BTreeSet::from([id]))
    } else {
        ChangeMembers::RemoveNodes(BTreeSet::from([id]))
    };
    let resp = peer.raft.change_membership(change, false).await.map_err(raft_failure)?;
    tracing::info!(member = id, "peer removed");
    Ok((json!({"id": id, "removed": true}), resp.log_id.index))
}

/// Initializes a new cluster from `--bootstrap` (once: a peer whose data directory
/// already holds a cluster ignores it), then stores the first admin token. The
/// token is printed when it was generated here.
pub async fn bootstrap(peer: Arc<Peer>) -> anyhow::Result<()> {
    let members = &peer.config.bootstrap;
    if peer.raft.is_initialized().await? {
        tracing::info!("data directory already holds a cluster; --bootstrap ignored");
    } else {
        let nodes: BTreeMap<u64, PeerNode> = members
            .iter()
            .map(|m| (m.id, PeerNode { peer: m.peer.clone(), api: m.api.clone() }))
            .collect();
        peer.raft.initialize(nodes).await?;
        tracing::info!(members = members.len(), "cluster initialized");
    }

    let (token, generated) = match &peer.config.admin_token {
        Some(t) => (auth::given_token(t), false),
        None => (auth::new_token(), true),
    };
    let action = Action::BootstrapAdmin {
        token_id: token.token_id.clone(),
        login: "admin".into(),
        hash: token.hash.clone(),
    };
    loop {
        match peer.propose_anywhere(action.clone()).await {
            Ok(v) if v["created"] == json!(true) => {
                if generated {
                    println!("admin token: {}", token.token);
                    tracing::info!(
                        "admin token generated and printed on stdout; it is not shown again"
                    );
                } else {
                    tracing::info!("admin token from --admin-token stored");
                }
                return Ok(());
            }
            Ok(_) => {
                tracing::info!("cluster already has an admin token");
                return Ok(());
            }
            Err(e) if e.code == ErrorCode::Unavailable => {
                tokio::time::sleep(Duration::from_millis(200)).await
            }
            Err(e) => anyhow::bail!("store the admin token: {}", e.message),
        }
    }
}

/// Asks the cluster at `api` to add this peer, retrying until it is a voter.
pub async fn join(peer: Arc<Peer>, api: String, token: Option<String>) -> anyhow::Result<()> {
    let me = peer.id;
    let is_voter = |peer: &Peer| {
        peer.raft.metrics().borrow().membership_config.membership().voter_ids().any(|v| v == me)
    };
    if is_voter(&peer) {
        tracing::info!("already a voter; --join ignored");
        return Ok(());
    }
    let token = token.ok_or_else(|| anyhow::anyhow!("--join needs an admin token"))?;
    let client = reqwest::Client::builder().timeout(Duration::from_secs(120)).build()?;
    let body = json!({
        "context": {"op": "cluster_member_add", "request_id": uuid::Uuid::new_v4().to_string()},
        "data": {"id": me, "peer": peer.config.public_peer(), "api": peer.config.public_api()},
    });
    let url = format!("http://{api}/rpc");
    loop {
        match client.post(&url).bearer_auth(&token).json(&body).send().await {
            Ok(resp) => {
                let status = resp.status();
                let reply: Value = resp.json().await.unwrap_or(Value::Null);
                if status.is_success() {
                    tracing::info!(via = %api, "joined the cluster");
                    return Ok(());
                }
                let code = reply["error"]["code"].as_str().unwrap_or("");
                if matches!(
                    code,
                    "UNAUTHENTICATED" | "PERMISSION_DENIED" | "ALREADY_EXISTS" | "INVALID_ARGUMENT"
                ) {
                    anyhow::bail!("join refused: {}", reply["error"]);
                }
                tracing::warn!(%status, error = %reply["error"], "join not done yet; retrying");
            }
            Err(e) => tracing::warn!(error = %e, "cannot reach {api} to join; retrying"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        if is_voter(&peer) {
            return Ok(());
        }
    }
}
