//! The operation pipeline of a peer.
//!
//! Any peer accepts any operation. [`Peer::handle`] first checks what needs no
//! leader (the operation exists, its fields parse, a token is present), then runs
//! the operation on the leader: locally when this peer leads, otherwise by
//! forwarding it over gRPC. On the leader, [`Peer::execute`] authenticates the
//! token, checks the role, and either proposes a command through Raft (writes),
//! answers from the state after confirming leadership (reads), or acts on Raft
//! membership (cluster operations).
//!
//! A write is retried inside the cluster only when it certainly did not happen
//! (the peer asked was not the leader, or could not be connected to), or when it
//! carries a `request_id`, which makes a retry return the first outcome.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use openraft::error::{CheckIsLeaderError, RaftError};
use openraft::ServerState;
use serde_json::Value;
use vsched_model::ops::Access;
use vsched_model::types::{Role, DEFAULT_NS};
use vsched_model::{names, Caller, ErrorCode, Op, OpError, OpResult, OpSpec};
use vsched_raft::log_store::LogStore;
use vsched_raft::{PeerNode, Raft, RaftNode, SharedState};
use vsched_state::{Action, Command};

use crate::agents::AgentHub;
use crate::auth;
use crate::config::ServerConfig;
use crate::forward::Forwarder;
use crate::liveness::Liveness;
use crate::metrics::Metrics;
use crate::proposer::{Proposed, Proposer};

/// How long a write may wait for commit before the client is told to retry.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a read may wait to confirm leadership.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// One operation as a client sent it, envelope stripped.
#[derive(Debug, Clone)]
pub struct Call {
    pub op: String,
    pub data: Value,
    pub token: Option<String>,
    /// The namespace named in the request context, if any.
    pub ns: Option<String>,
    pub request_id: Option<String>,
}

/// The answer to one operation.
#[derive(Debug, Clone)]
pub struct Answer {
    pub result: OpResult<Value>,
    /// Log index of a write; 0 for reads and errors.
    pub index: u64,
    pub leader: Option<u64>,
}

impl Answer {
    fn error(e: OpError, leader: Option<u64>) -> Answer {
        Answer { result: Err(e), index: 0, leader }
    }

    /// The result code as metrics and logs name it.
    pub fn code(&self) -> &'static str {
        match &self.result {
            Ok(_) => "OK",
            Err(e) => e.code.as_str(),
        }
    }
}

/// Why the leader-side pipeline stopped.
pub(crate) enum Failure {
    /// The operation failed; this is the answer.
    Op(OpError),
    /// This peer is not the leader (any more); the caller should ask the leader.
    NotLeader,
}

impl From<OpError> for Failure {
    fn from(e: OpError) -> Self {
        Failure::Op(e)
    }
}

/// A running peer.
pub struct Peer {
    pub id: u64,
    pub raft: Raft,
    pub state: SharedState,
    pub log: LogStore,
    pub config: ServerConfig,
    pub metrics: Metrics,
    pub liveness: Liveness,
    pub agents: AgentHub,
    pub(crate) forwarder: Forwarder,
    proposer: Proposer,
}

/// Milliseconds since the Unix epoch: the timestamp the leader puts in commands.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

impl Peer {
    pub fn new(node: RaftNode, config: ServerConfig) -> Arc<Peer> {
        let liveness = Liveness::new(config.isolation_timeout);
        let proposer = Proposer::start(node.raft.clone());
        Arc::new(Peer {
            id: node.id,
            raft: node.raft,
            state: node.state,
            log: node.log,
            config,
            metrics: Metrics::new(),
            liveness,
            agents: AgentHub::default(),
            forwarder: Forwarder::default(),
            proposer,
        })
    }

    /// The leader this peer knows of.
    pub fn leader(&self) -> Option<u64> {
        self.raft.metrics().borrow().current_leader
    }

    pub fn is_leader(&self) -> bool {
        let m = self.raft.metrics();
        let m = m.borrow();
        m.state == ServerState::Leader && m.current_leader == Some(self.id)
    }

    /// The addresses of member `id`, from the membership this peer knows.
    pub fn member(&self, id: u64) -> Option<PeerNode> {
        self.raft.metrics().borrow().membership_config.membership().get_node(&id).cloned()
    }

    /// Answers one client operation, from any peer.
    pub async fn handle(&self, call: Call) -> Answer {
        let started = Instant::now();
        let op_label = vsched_model::ops::spec_of(&call.op).map(|s| s.name).unwrap_or("unknown");
        let answer = self.route(&call).await;
        self.metrics.observe(op_label, answer.code(), started.elapsed());
        if let Err(e) = &answer.result {
            if e.code == ErrorCode::Internal {
                let rid = call.request_id.as_deref().unwrap_or("-");
                tracing::error!(
                    op = %call.op, request_id = rid, error = %e.message, "internal error"
                );
            }
        }
        answer
    }

    async fn route(&self, call: &Call) -> Answer {
        // What needs no leader is checked first, so bad input is refused even while
        // the cluster has no leader.
        let op = match Op::parse(&call.op, call.data.clone()) {
            Ok(op) => op,
            Err(e) => return Answer::error(e, self.leader()),
        };
        let spec = op.spec();
        if call.token.as_deref().is_none_or(str::is_empty) {
            return Answer::error(unauthenticated("missing token"), self.leader());
        }
        let retry_safe = spec.access != Access::Write || call.request_id.is_some();

        let deadline = Instant::now() + self.config.leader_wait;
        loop {
            match self.leader() {
                Some(id) if id == self.id => {
                    if let Ok(answer) = self.execute(call, op.clone()).await {
                        return answer;
                    }
                }
                Some(id) => {
                    if let Some(answer) = self.forwarder.forward(self, id, call, retry_safe).await {
                        return answer;
                    }
                }
                None => {}
            }
            if Instant::now() >= deadline {
                let msg = "no leader reachable right now; retry with the same request_id";
                return Answer::error(OpError::unavailable(msg), self.leader());
            }
            self.pause_for_leader(deadline).await;
        }
    }

    /// Waits a little for the leader to change, at most until `deadline`.
    async fn pause_for_leader(&self, deadline: Instant) {
        let left = deadline.saturating_duration_since(Instant::now());
        let mut rx = self.raft.metrics();
        let wait = left.min(Duration::from_millis(100));
        let _ = tokio::time::timeout(wait, rx.changed()).await;
        tokio::time::sleep(Duration::from_millis(20).min(left)).await;
    }

    /// Runs an operation on this peer as the leader. `Err(())` means this peer is
    /// not the leader and the operation did nothing.
    pub(crate) async fn execute(&self, call: &Call, op: Op) -> Result<Answer, ()> {
        let leader = Some(self.id);
        let outcome = self.execute_inner(call, op).await;
        match outcome {
            Ok((value, index)) => Ok(Answer { result: Ok(value), index, leader }),
            Err(Failure::Op(e)) => Ok(Answer::error(e, leader)),
            Err(Failure::NotLeader) => Err(()),
        }
    }

    async fn execute_inner(&self, call: &Call, op: Op) -> Result<(Value, u64), Failure> {
        let caller = self.authenticate(call).await?;
        authorize(&caller, op.spec())?;
        match op.spec().access {
            Access::Write => self.write_op(caller, call.request_id.clone(), op).await,
            Access::Read => Ok((self.read_op(&caller, &op).await?, 0)),
            Access::Cluster => crate::cluster::handle(self, &caller, &op).await,
        }
    }

    /// Finds the caller behind the token and the namespace it acts in. A token not
    /// found locally is looked up again after catching up with the log, so a
    /// token issued a moment ago through the previous leader works at once.
    async fn authenticate(&self, call: &Call) -> Result<Caller, Failure> {
        let token = call.token.as_deref().unwrap_or_default();
        let hash = auth::hash(token);
        let lookup = || {
            let ms = self.state.read().expect("state lock");
            ms.state.token_by_hash(&hash).map(|t| (t.login.clone(), t.ns.clone(), t.role))
        };
        let found = match lookup() {
            Some(t) => Some(t),
            None => {
                self.linearize().await?;
                lookup()
            }
        };
        let (login, token_ns, role) = found.ok_or_else(|| unauthenticated("unknown token"))?;

        let ns = match (&call.ns, role) {
            (Some(ns), Role::Admin) => {
                names::check_name(ns, names::NameKind::Object)
                    .map_err(|e| OpError::invalid("ns", format!("field 'ns': {e}")))?;
                ns.clone()
            }
            (None, Role::Admin) => DEFAULT_NS.to_string(),
            (Some(ns), _) if *ns != token_ns => {
                return Err(OpError::denied(format!(
                    "a token of namespace '{token_ns}' cannot act in namespace '{ns}'"
                ))
                .with_field("ns")
                .into())
            }
            (_, _) => token_ns,
        };
        Ok(Caller { login, ns, role })
    }

    async fn write_op(
        &self,
        caller: Caller,
        request_id: Option<String>,
        op: Op,
    ) -> Result<(Value, u64), Failure> {
        let Op::TokenAdd(p) = op else {
            return self.propose(caller, request_id, Action::Op(op)).await;
        };
        // The secret never enters the log: only its hash does.
        let new = auth::new_token();
        let action = Action::IssueToken {
            token_id: new.token_id.clone(),
            login: p.login,
            ns: p.ns,
            role: p.role,
            hash: new.hash,
        };
        let (mut value, index) = self.propose(caller, request_id, action).await?;
        // A retry answered from the idempotency table names the token issued the
        // first time; the secret made for this attempt was never stored.
        if value["token_id"] == Value::String(new.token_id.clone()) {
            value["token"] = Value::String(new.token);
        } else {
            value["token"] = Value::Null;
            value["note"] = Value::String(
                "this retry repeats an earlier token_add; its secret was shown only in the first \
                 reply"
                    .into(),
            );
        }
        Ok((value, index))
    }

    /// Proposes a command and waits until it is committed and applied here.
    pub(crate) async fn propose(
        &self,
        caller: Caller,
        request_id: Option<String>,
        action: Action,
    ) -> Result<(Value, u64), Failure> {
        let command = Command { at_ms: now_ms(), caller, request_id, action };
        match tokio::time::timeout(WRITE_TIMEOUT, self.proposer.propose(command)).await {
            Err(_) => Err(OpError::unavailable(
                "the write was not confirmed in time; retry with the same request_id",
            )
            .into()),
            Ok(Proposed::Applied(Ok(v), index)) => Ok((v, index)),
            Ok(Proposed::Applied(Err(e), _)) => Err(e.into()),
            Ok(Proposed::NotLeader) => Err(Failure::NotLeader),
            Ok(Proposed::Failed(e)) => Err(e.into()),
        }
    }

    async fn read_op(&self, caller: &Caller, op: &Op) -> Result<Value, Failure> {
        self.linearize().await?;
        let mut value = {
            let ms = self.state.read().expect("state lock");
            match op {
                Op::PlanDrain(_) | Op::PlanRebalance(_) | Op::CapacityCheck(_) => {
                    crate::planning::handle(&ms.state, caller, op)?
                }
                _ => ms.state.query(caller, op)?,
            }
        };
        match op {
            Op::NodeList(_) => {
                if let Some(nodes) = value.get_mut("nodes").and_then(Value::as_array_mut) {
                    nodes.iter_mut().for_each(|n| self.liveness.annotate(n));
                }
            }
            Op::NodeShow(_) => self.liveness.annotate(&mut value),
            _ => {}
        }
        Ok(value)
    }

    /// Confirms leadership with a quorum and waits until everything committed
    /// before the read is applied here.
    pub(crate) async fn linearize(&self) -> Result<(), Failure> {
        match tokio::time::timeout(READ_TIMEOUT, self.raft.ensure_linearizable()).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(RaftError::APIError(CheckIsLeaderError::ForwardToLeader(_)))) => {
                Err(Failure::NotLeader)
            }
            Ok(Err(e)) => {
                Err(OpError::unavailable(format!("cannot confirm leadership: {e}")).into())
            }
            Err(_) => Err(OpError::unavailable("cannot confirm leadership in time").into()),
        }
    }

    /// Proposes a command built by this peer itself, on whichever peer leads.
    pub async fn propose_anywhere(&self, action: Action) -> OpResult<Value> {
        let deadline = Instant::now() + self.config.leader_wait;
        loop {
            match self.leader() {
                Some(id) if id == self.id => {
                    match self.propose(Caller::system(), None, action.clone()).await {
                        Ok((v, _)) => return Ok(v),
                        Err(Failure::Op(e)) => return Err(e),
                        Err(Failure::NotLeader) => {}
                    }
                }
                Some(id) => {
                    if let Some(result) = self.forwarder.propose(self, id, &action).await {
                        return result;
                    }
                }
                None => {}
            }
            if Instant::now() >= deadline {
                return Err(OpError::unavailable("no leader reachable"));
            }
            self.pause_for_leader(deadline).await;
        }
    }
}

fn unauthenticated(msg: &str) -> OpError {
    OpError::new(ErrorCode::Unauthenticated, msg)
}

/// Checks the caller's role against the operation's.
fn authorize(caller: &Caller, spec: &OpSpec) -> Result<(), Failure> {
    if caller.role < spec.role {
        return Err(OpError::denied(format!(
            "'{}' needs role {}; the token has role {}",
            spec.name, spec.role, caller.role
        ))
        .into());
    }
    Ok(())
}
