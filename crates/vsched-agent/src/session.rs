//! One node's link to the cluster.
//!
//! The node connects to a peer and registers. A `Redirect` sends it to the leader
//! (or, with no leader known, to the next peer after a pause). Once registered it
//! heartbeats at the interval the leader sets, with the observed state of its VMs,
//! carries out commands, and reports their results. The leader acks heartbeats only
//! while it hears from a quorum; when no ack has come for the fence timeout, the
//! node stops the VMs that would be recreated elsewhere, so a VM never runs twice.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;
use vsched_proto::agent::agent_message::Body as AgentBody;
use vsched_proto::agent::agent_service_client::AgentServiceClient;
use vsched_proto::agent::server_message::Body as ServerBody;
use vsched_proto::agent::{AgentMessage, CommandResult, Goodbye, Heartbeat, Register};

use crate::config::AgentConfig;
use crate::hypervisor::Hypervisor;

/// How a session ended.
enum Ended {
    /// Go to this leader next (`None`: no leader known yet).
    Redirect(Option<String>),
    /// The stream closed or failed; try again.
    Lost,
    /// The agent is stopping.
    Stopped,
}

/// The node's contact with the cluster, shared across sessions.
struct Contact {
    /// When the leader last acked a heartbeat (or registered us).
    last_ack: Instant,
    fenced: bool,
}

/// Runs one node until the agent stops.
pub async fn run_node(
    config: Arc<AgentConfig>,
    node_id: String,
    hv: Arc<dyn Hypervisor>,
    mut stop: watch::Receiver<bool>,
) {
    let mut contact = Contact { last_ack: Instant::now(), fenced: false };
    let mut next_server = 0usize;
    let mut target: Option<String> = None;
    let mut backoff = Duration::from_millis(100);
    loop {
        let addr = target.take().unwrap_or_else(|| {
            let a = config.servers[next_server % config.servers.len()].clone();
            next_server += 1;
            a
        });
        let ended = session(&config, &node_id, hv.as_ref(), &addr, &mut contact, &mut stop).await;
        match ended {
            Ok(Ended::Stopped) => return,
            Ok(Ended::Redirect(Some(leader))) => {
                tracing::debug!(node = %node_id, %leader, "redirected to the leader");
                target = Some(leader);
                backoff = Duration::from_millis(100);
                continue;
            }
            Ok(Ended::Redirect(None)) => tracing::debug!(node = %node_id, "no leader known yet"),
            Ok(Ended::Lost) => tracing::debug!(node = %node_id, server = %addr, "session closed"),
            Err(e) => {
                tracing::debug!(node = %node_id, server = %addr, error = %e, "session failed")
            }
        }
        check_fence(&config, hv.as_ref(), &mut contact);
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = stopped(&mut stop) => return,
        }
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}

/// Fences once the leader has been silent for the fence timeout.
fn check_fence(config: &AgentConfig, hv: &dyn Hypervisor, contact: &mut Contact) {
    if contact.fenced || contact.last_ack.elapsed() < config.fence_timeout {
        return;
    }
    contact.fenced = true;
    let stopped = hv.fence();
    tracing::warn!(
        stopped,
        "no contact with a cluster quorum for the fence timeout; fenced VMs stopped"
    );
}

/// Completes when the agent is asked to stop.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

fn msg(body: AgentBody) -> AgentMessage {
    AgentMessage { body: Some(body) }
}

async fn session(
    config: &AgentConfig,
    node_id: &str,
    hv: &dyn Hypervisor,
    addr: &str,
    contact: &mut Contact,
    stop: &mut watch::Receiver<bool>,
) -> anyhow::Result<Ended> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))?
        .connect_timeout(Duration::from_secs(2))
        .tcp_nodelay(true)
        .connect()
        .await
        .with_context(|| format!("connect to {addr}"))?;
    let mut client = AgentServiceClient::new(channel);

    let facts = hv.facts();
    let (tx, rx) = mpsc::channel(64);
    tx.send(msg(AgentBody::Register(Register {
        node_id: node_id.to_string(),
        hostname: facts.hostname.clone(),
        address: config.address(),
        vcpu: facts.vcpu,
        vram_mib: facts.vram_mib,
        labels: config.labels.clone(),
        agent_version: env!("CARGO_PKG_VERSION").to_string(),
        hypervisor: hv.kind().to_string(),
        vms: hv.list(),
    })))
    .await?;
    let mut inbound = client.session(ReceiverStream::new(rx)).await?.into_inner();

    let first = tokio::time::timeout(Duration::from_secs(15), inbound.message())
        .await
        .context("no answer to registration")??;
    let mut interval = match first.and_then(|m| m.body) {
        Some(ServerBody::Registered(r)) => Duration::from_millis(r.heartbeat_interval_ms.max(50)),
        Some(ServerBody::Redirect(r)) => {
            return Ok(Ended::Redirect(Some(r.leader_peer).filter(|p| !p.is_empty())));
        }
        _ => return Ok(Ended::Lost),
    };
    contact.last_ack = Instant::now();
    contact.fenced = false;
    tracing::info!(node = %node_id, leader = %addr, "registered");

    let mut seq = 0u64;
    let mut next_beat = Instant::now() + interval;
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(next_beat) => {
                seq += 1;
                tx.send(msg(AgentBody::Heartbeat(Heartbeat { seq, vms: hv.list() }))).await?;
                next_beat = Instant::now() + interval;
                check_fence(config, hv, contact);
            }
            incoming = inbound.message() => {
                let Some(m) = incoming? else { return Ok(Ended::Lost) };
                match m.body {
                    Some(ServerBody::Ack(_)) => {
                        contact.last_ack = Instant::now();
                        contact.fenced = false;
                    }
                    Some(ServerBody::Settings(s)) => {
                        interval = Duration::from_millis(s.heartbeat_interval_ms.max(50));
                        next_beat = next_beat.min(Instant::now() + interval);
                    }
                    Some(ServerBody::Redirect(r)) => {
                        return Ok(Ended::Redirect(Some(r.leader_peer).filter(|p| !p.is_empty())));
                    }
                    Some(ServerBody::Command(cmd)) => {
                        let result = match cmd.action.as_ref() {
                            Some(action) => hv.execute(action),
                            None => Err("command without an action".to_string()),
                        };
                        let (ok, error, detail_json) = match result {
                            Ok(v) => (true, String::new(), v.to_string()),
                            Err(e) => (false, e, String::new()),
                        };
                        let result = CommandResult { op_id: cmd.op_id, ok, error, detail_json };
                        tx.send(msg(AgentBody::Result(result))).await?;
                    }
                    Some(ServerBody::Registered(_)) | None => {}
                }
            }
            _ = stopped(stop) => {
                let bye = Goodbye { reason: "agent stopping".into() };
                let _ = tx.send(msg(AgentBody::Goodbye(bye))).await;
                // Give the leader a moment to read the goodbye before the stream closes.
                let _ = tokio::time::timeout(Duration::from_millis(500), inbound.message()).await;
                return Ok(Ended::Stopped);
            }
        }
    }
}
