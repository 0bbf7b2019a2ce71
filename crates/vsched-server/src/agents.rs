//! Node agent sessions: registration, heartbeats, and the command channel.
//!
//! An agent opens one stream per node to any peer. A peer that is not the leader
//! answers `Redirect` with the leader's address and closes the stream. The leader
//! commits the node's registration when something about it changed, answers
//! `Registered` with the heartbeat interval, and then records heartbeats in the
//! [`Liveness`](crate::liveness::Liveness) table. When the leader steps down it
//! redirects its agents to the new leader.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};
use vsched_model::types::{NodeStatus, Resources};
use vsched_proto::agent::agent_message::Body as AgentBody;
use vsched_proto::agent::agent_service_server::{AgentService, AgentServiceServer};
use vsched_proto::agent::server_message::Body as ServerBody;
use vsched_proto::agent::{
    Ack, AgentMessage, Redirect, Register, Registered, ServerMessage, Settings,
};
use vsched_state::Action;

use crate::peer::Peer;

type Outbound = mpsc::Sender<Result<ServerMessage, Status>>;

/// The open sessions of this peer, by node UUID.
#[derive(Default)]
pub struct AgentHub {
    sessions: Mutex<HashMap<String, (u64, Outbound)>>,
    next_id: AtomicU64,
}

impl AgentHub {
    fn add(&self, uuid: &str, tx: Outbound) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.sessions.lock().expect("hub lock").insert(uuid.to_string(), (id, tx));
        id
    }

    /// Removes the session, unless a newer one for the same node replaced it.
    fn remove(&self, uuid: &str, id: u64) {
        let mut sessions = self.sessions.lock().expect("hub lock");
        if sessions.get(uuid).is_some_and(|(sid, _)| *sid == id) {
            sessions.remove(uuid);
        }
    }

    pub fn connected(&self) -> usize {
        self.sessions.lock().expect("hub lock").len()
    }

    /// Sends a message to every connected agent, dropping sessions that are gone.
    pub fn broadcast(&self, msg: ServerMessage) {
        let sessions = self.sessions.lock().expect("hub lock");
        for (_, tx) in sessions.values() {
            let _ = tx.try_send(Ok(msg.clone()));
        }
    }
}

/// The gRPC service agents talk to.
pub struct Agents {
    peer: Arc<Peer>,
}

impl Agents {
    pub fn server(peer: Arc<Peer>) -> AgentServiceServer<Agents> {
        AgentServiceServer::new(Agents { peer })
    }
}

#[tonic::async_trait]
impl AgentService for Agents {
    type SessionStream = ReceiverStream<Result<ServerMessage, Status>>;

    async fn session(
        &self,
        req: Request<Streaming<AgentMessage>>,
    ) -> Result<Response<Self::SessionStream>, Status> {
        let inbound = req.into_inner();
        let (tx, rx) = mpsc::channel(64);
        let peer = self.peer.clone();
        tokio::spawn(async move {
            if let Err(e) = run_session(peer, inbound, tx).await {
                tracing::debug!(error = %e, "agent session ended");
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}

fn body(b: ServerBody) -> Result<ServerMessage, Status> {
    Ok(ServerMessage { body: Some(b) })
}

/// A `Redirect` to the leader this peer knows of (empty when it knows none).
fn redirect(peer: &Peer, reason: &str) -> Result<ServerMessage, Status> {
    let leader = peer.leader().filter(|l| *l != peer.id);
    let leader_peer = leader.and_then(|l| peer.member(l)).map(|n| n.peer).unwrap_or_default();
    body(ServerBody::Redirect(Redirect {
        leader_peer,
        leader_id: leader.unwrap_or(0),
        reason: reason.to_string(),
    }))
}

async fn run_session(
    peer: Arc<Peer>,
    mut inbound: Streaming<AgentMessage>,
    tx: Outbound,
) -> anyhow::Result<()> {
    // The first message must be a registration.
    let first = tokio::time::timeout(Duration::from_secs(10), inbound.message()).await??;
    let Some(AgentMessage { body: Some(AgentBody::Register(reg)) }) = first else {
        let _ = tx.send(Err(Status::invalid_argument("the first message must be Register"))).await;
        return Ok(());
    };
    if uuid::Uuid::parse_str(&reg.node_id).is_err() {
        let _ = tx.send(Err(Status::invalid_argument("node_id must be a UUID"))).await;
        return Ok(());
    }
    if !peer.is_leader() {
        let _ = tx.send(redirect(&peer, "not the leader")).await;
        return Ok(());
    }

    let uuid = reg.node_id.clone();
    if let Err(e) = register(&peer, &reg).await {
        tracing::warn!(node = %uuid, error = %e.message, "registration failed");
        let _ = tx.send(redirect(&peer, &e.message)).await;
        return Ok(());
    }
    peer.liveness.heard(&uuid, Instant::now());
    let fleet = fleet_size(&peer);
    let interval = peer.liveness.heartbeat_interval(fleet);
    let term = peer.raft.metrics().borrow().current_term;
    tx.send(body(ServerBody::Registered(Registered {
        heartbeat_interval_ms: interval.as_millis() as u64,
        leader_id: peer.id,
        term,
    })))
    .await?;
    let session = peer.agents.add(&uuid, tx.clone());
    tracing::info!(node = %uuid, hostname = %reg.hostname, "agent connected");

    let result = serve(&peer, &uuid, &mut inbound, &tx).await;
    peer.agents.remove(&uuid, session);
    result
}

/// Reads heartbeats until the stream ends, the agent leaves, or this peer stops
/// leading.
async fn serve(
    peer: &Arc<Peer>,
    uuid: &str,
    inbound: &mut Streaming<AgentMessage>,
    tx: &Outbound,
) -> anyhow::Result<()> {
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        tokio::select! {
            msg = inbound.message() => {
                let Some(msg) = msg? else { return Ok(()) };
                match msg.body {
                    Some(AgentBody::Heartbeat(hb)) => {
                        heartbeat(peer, uuid);
                        if has_quorum(peer) {
                            let ack = ServerBody::Ack(Ack { seq: hb.seq });
                            let _ = tx.send(body(ack)).await;
                        }
                    }
                    Some(AgentBody::Goodbye(bye)) => {
                        tracing::info!(node = %uuid, reason = %bye.reason, "agent leaving");
                        peer.liveness.forget(uuid);
                        let action = Action::SetNodeStatus {
                            uuid: uuid.to_string(),
                            status: NodeStatus::Left,
                        };
                        let _ = peer.propose(vsched_model::Caller::system(), None, action).await;
                        return Ok(());
                    }
                    Some(AgentBody::Result(_)) | Some(AgentBody::Register(_)) | None => {}
                }
            }
            _ = tick.tick() => {
                if !peer.is_leader() {
                    let _ = tx.send(redirect(peer, "leadership moved")).await;
                    return Ok(());
                }
            }
        }
    }
}

/// Whether this leader heard from a quorum recently enough to vouch for the
/// cluster to an agent.
fn has_quorum(peer: &Peer) -> bool {
    let limit = peer.config.raft.election_max_ms * 2;
    peer.is_leader()
        && peer.raft.metrics().borrow().millis_since_quorum_ack.is_some_and(|ms| ms <= limit)
}

/// Records a heartbeat; a node that is not `ready` in the state is made ready.
fn heartbeat(peer: &Arc<Peer>, uuid: &str) {
    peer.liveness.heard(uuid, Instant::now());
    let status = peer.state.read().expect("state lock").state.node(uuid).map(|n| n.status);
    if status == Some(NodeStatus::Ready) || !peer.liveness.begin_transition(uuid) {
        return;
    }
    let peer = peer.clone();
    let uuid = uuid.to_string();
    tokio::spawn(async move {
        let action = Action::SetNodeStatus { uuid: uuid.clone(), status: NodeStatus::Ready };
        match peer.propose(vsched_model::Caller::system(), None, action).await {
            Ok(_) => tracing::info!(node = %uuid, "node ready again"),
            Err(_) => tracing::warn!(node = %uuid, "could not mark node ready"),
        }
        peer.liveness.end_transition(&uuid);
    });
}

/// Commits the registration when the node is new, changed, or not ready.
async fn register(peer: &Arc<Peer>, reg: &Register) -> Result<(), vsched_model::OpError> {
    let capacity = Resources::new(reg.vcpu, reg.vram_mib);
    let mut labels = reg.labels.clone();
    labels.sort();
    labels.dedup();
    let unchanged = {
        let ms = peer.state.read().expect("state lock");
        ms.state.node(&reg.node_id).is_some_and(|n| {
            n.status == NodeStatus::Ready
                && n.hostname == reg.hostname
                && n.address == reg.address
                && n.capacity == capacity
                && n.agent_labels.iter().eq(labels.iter())
                && n.agent_version == reg.agent_version
        })
    };
    if unchanged {
        return Ok(());
    }
    let action = Action::RegisterNode {
        uuid: reg.node_id.clone(),
        hostname: reg.hostname.clone(),
        address: reg.address.clone(),
        capacity,
        labels,
        agent_version: reg.agent_version.clone(),
    };
    match peer.propose(vsched_model::Caller::system(), None, action).await {
        Ok(_) => Ok(()),
        Err(crate::peer::Failure::Op(e)) => Err(e),
        Err(crate::peer::Failure::NotLeader) => {
            Err(vsched_model::OpError::unavailable("not the leader"))
        }
    }
}

fn fleet_size(peer: &Peer) -> usize {
    peer.state.read().expect("state lock").state.nodes().count()
}

/// The leader's liveness loop: isolates quiet nodes and retunes heartbeat
/// intervals as the fleet changes. Runs on every peer; acts only while leading.
pub async fn watch_liveness(peer: Arc<Peer>) {
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let mut leading = false;
    let mut interval_sent = Duration::ZERO;
    loop {
        tick.tick().await;
        let now = Instant::now();
        let is_leader = peer.is_leader();
        if is_leader != leading {
            leading = is_leader;
            if leading {
                tracing::info!(
                    term = peer.raft.metrics().borrow().current_term,
                    "leading; node grace period starts"
                );
                peer.liveness.became_leader(now);
            } else {
                peer.liveness.stepped_down();
            }
        }
        if !leading {
            continue;
        }

        let (ready, fleet): (Vec<String>, usize) = {
            let ms = peer.state.read().expect("state lock");
            let ready = ms
                .state
                .nodes()
                .filter(|n| n.status == NodeStatus::Ready)
                .map(|n| n.uuid.clone())
                .collect();
            (ready, ms.state.nodes().count())
        };
        for uuid in peer.liveness.overdue(ready.iter().map(String::as_str), fleet, now) {
            if !peer.liveness.begin_transition(&uuid) {
                continue;
            }
            let action = Action::SetNodeStatus { uuid: uuid.clone(), status: NodeStatus::Isolated };
            match peer.propose(vsched_model::Caller::system(), None, action).await {
                Ok(_) => {
                    tracing::info!(node = %uuid, "node isolated: no heartbeat within the timeout")
                }
                Err(_) => tracing::warn!(node = %uuid, "could not mark node isolated"),
            }
            peer.liveness.end_transition(&uuid);
        }

        let interval = peer.liveness.heartbeat_interval(fleet);
        if interval != interval_sent {
            interval_sent = interval;
            let ms = interval.as_millis() as u64;
            peer.agents.broadcast(ServerMessage {
                body: Some(ServerBody::Settings(Settings { heartbeat_interval_ms: ms })),
            });
        }
    }
}
