//! Forwarding from a follower to the leader, and the leader's side of it.
//!
//! A follower sends the operation as it arrived (name, data, token, namespace,
//! request id) and the leader runs the whole pipeline, authentication included, so
//! a follower whose state lags never decides anything. A transport failure or a
//! "not the leader" answer makes the follower look for the leader again.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;
use tonic::transport::Channel;
use vsched_model::{Op, OpError, OpResult};
use vsched_proto::raft::raft_service_client::RaftServiceClient;
use vsched_proto::raft::{ForwardReply, ForwardRequest, RaftPayload};
use vsched_raft::service::{ForwardHandler, ProposeReply};
use vsched_raft::{decode, encode};
use vsched_state::{Action, Command};

use crate::peer::{Answer, Call, Failure, Peer};

/// How long a forwarded operation may take on the leader.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(15);

/// Cached gRPC clients to the peers this peer has forwarded to.
#[derive(Default)]
pub struct Forwarder {
    clients: Mutex<HashMap<String, RaftServiceClient<Channel>>>,
}

impl Forwarder {
    fn client(&self, addr: &str) -> Option<RaftServiceClient<Channel>> {
        let mut clients = self.clients.lock().expect("client cache lock");
        if let Some(c) = clients.get(addr) {
            return Some(c.clone());
        }
        let client = vsched_raft::network::raft_client(addr).ok()?;
        clients.insert(addr.to_string(), client.clone());
        Some(client)
    }

    /// Runs `call` on the leader `leader`. `None`: try again (the leader moved or
    /// could not be reached). When the connection fails after the request may have
    /// reached the leader, a call that is not `retry_safe` (a write without a
    /// `request_id`) is answered `UNAVAILABLE` instead of being sent twice.
    pub(crate) async fn forward(
        &self,
        peer: &Peer,
        leader: u64,
        call: &Call,
        retry_safe: bool,
    ) -> Option<Answer> {
        let node = peer.member(leader)?;
        let mut client = self.client(&node.peer)?;
        let mut request = tonic::Request::new(ForwardRequest {
            op: call.op.clone(),
            data_json: call.data.to_string(),
            token: call.token.clone().unwrap_or_default(),
            ns: call.ns.clone().unwrap_or_default(),
            request_id: call.request_id.clone().unwrap_or_default(),
            origin: peer.id,
        });
        request.set_timeout(FORWARD_TIMEOUT);
        let reply = match client.forward(request).await {
            Ok(r) => r.into_inner(),
            Err(status) => {
                tracing::debug!(leader, error = %status.message(), "forward failed");
                if retry_safe || never_sent(&status) {
                    peer.metrics.forwarded.with_label_values(&["retry"]).inc();
                    return None;
                }
                peer.metrics.forwarded.with_label_values(&["lost"]).inc();
                let msg = "lost the leader while it handled the write, which may or may not have \
                           been applied; send writes with a request_id to retry them safely";
                return Some(Answer {
                    result: Err(OpError::unavailable(msg)),
                    index: 0,
                    leader: Some(leader),
                });
            }
        };
        if reply.not_leader {
            peer.metrics.forwarded.with_label_values(&["retry"]).inc();
            return None;
        }
        peer.metrics.forwarded.with_label_values(&["ok"]).inc();
        Some(answer_from(reply))
    }

    /// Proposes a peer-built command on the leader. `None`: try again.
    pub(crate) async fn propose(
        &self,
        peer: &Peer,
        leader: u64,
        action: &Action,
    ) -> Option<OpResult<Value>> {
        let node = peer.member(leader)?;
        let mut client = self.client(&node.peer)?;
        let command = Command {
            at_ms: crate::peer::now_ms(),
            caller: vsched_model::Caller::system(),
            request_id: None,
            action: action.clone(),
        };
        let data = encode(&command).ok()?;
        let reply = client.propose(RaftPayload { data }).await.ok()?.into_inner();
        let reply: ProposeReply = decode(&reply.data).ok()?;
        if reply.not_leader {
            return None;
        }
        Some(outcome_from_json(&reply.outcome_json))
    }
}

/// Whether a failed RPC certainly never reached the peer: the connection itself
/// could not be made.
fn never_sent(status: &tonic::Status) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(status);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::ConnectionRefused {
                return true;
            }
        }
        if e.to_string().contains("tcp connect error") {
            return true;
        }
        source = e.source();
    }
    false
}

fn answer_from(reply: ForwardReply) -> Answer {
    let leader = (reply.leader_id != 0).then_some(reply.leader_id);
    let result = if reply.error_json.is_empty() {
        serde_json::from_str(&reply.data_json)
            .map_err(|e| OpError::internal(format!("leader sent undecodable data: {e}")))
    } else {
        Err(serde_json::from_str(&reply.error_json).unwrap_or_else(|e| {
            OpError::internal(format!("leader sent an undecodable error: {e}"))
        }))
    };
    Answer { result, index: reply.index, leader }
}

fn outcome_to_json(outcome: &OpResult<Value>) -> String {
    match outcome {
        Ok(v) => serde_json::json!({ "ok": v }).to_string(),
        Err(e) => serde_json::json!({ "error": e }).to_string(),
    }
}

fn outcome_from_json(text: &str) -> OpResult<Value> {
    let mut v: Value = serde_json::from_str(text).map_err(|e| OpError::internal(e.to_string()))?;
    if let Some(err) = v.get("error") {
        return Err(
            serde_json::from_value(err.clone()).map_err(|e| OpError::internal(e.to_string()))?
        );
    }
    Ok(v.get_mut("ok").map(Value::take).unwrap_or(Value::Null))
}

#[tonic::async_trait]
impl ForwardHandler for Peer {
    async fn forward(&self, req: ForwardRequest) -> ForwardReply {
        let call = Call {
            op: req.op,
            data: serde_json::from_str(&req.data_json).unwrap_or(Value::Null),
            token: Some(req.token).filter(|t| !t.is_empty()),
            ns: Some(req.ns).filter(|n| !n.is_empty()),
            request_id: Some(req.request_id).filter(|r| !r.is_empty()),
        };
        // The follower checked the operation already; parsing again here costs
        // little and keeps the leader from trusting another peer's parse.
        let op = match Op::parse(&call.op, call.data.clone()) {
            Ok(op) => op,
            Err(e) => {
                let error_json = serde_json::to_string(&e).unwrap_or_default();
                return ForwardReply { error_json, leader_id: self.id, ..Default::default() };
            }
        };
        match self.execute(&call, op).await {
            Ok(answer) => {
                let (data_json, error_json) = match &answer.result {
                    Ok(v) => (v.to_string(), String::new()),
                    Err(e) => (String::new(), serde_json::to_string(e).unwrap_or_default()),
                };
                ForwardReply {
                    data_json,
                    error_json,
                    index: answer.index,
                    leader_id: self.id,
                    not_leader: false,
                }
            }
            Err(()) => ForwardReply {
                leader_id: self.leader().unwrap_or(0),
                not_leader: true,
                ..Default::default()
            },
        }
    }

    async fn propose(&self, command: Command) -> ProposeReply {
        match self.propose(command.caller, command.request_id, command.action).await {
            Ok((v, index)) => {
                ProposeReply { outcome_json: outcome_to_json(&Ok(v)), index, not_leader: false }
            }
            Err(Failure::Op(e)) => {
                ProposeReply { outcome_json: outcome_to_json(&Err(e)), index: 0, not_leader: false }
            }
            Err(Failure::NotLeader) => {
                ProposeReply { outcome_json: String::new(), index: 0, not_leader: true }
            }
        }
    }
}
