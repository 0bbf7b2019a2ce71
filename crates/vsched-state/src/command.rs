//! What goes into the Raft log: a command stamped by the leader, and what applying
//! it returns.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use vsched_model::types::{NodeStatus, Resources, Role};
use vsched_model::{Caller, Op, OpError};

/// One replicated write. The leader stamps `at_ms` with its wall clock before
/// proposing, so applying never reads a clock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Command {
    pub at_ms: i64,
    pub caller: Caller,
    /// Idempotency key: a retry with the same `(login, request_id)` returns the first
    /// outcome instead of applying again.
    #[serde(default)]
    pub request_id: Option<String>,
    pub action: Action,
}

/// The change a command asks for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// A client write operation, already parsed and authorized.
    Op(Op),
    /// `token_add`, with the secret already turned into its hash by the server.
    IssueToken { token_id: String, login: String, ns: String, role: Role, hash: String },
    /// The first admin token of a new cluster; ignored when an admin token exists.
    BootstrapAdmin { token_id: String, login: String, hash: String },
    /// An agent registered, or re-registered with changed facts.
    RegisterNode {
        uuid: String,
        hostname: String,
        address: String,
        capacity: Resources,
        labels: Vec<String>,
        agent_version: String,
    },
    /// The leader's liveness tracker saw a node go quiet, or come back.
    SetNodeStatus { uuid: String, status: NodeStatus },
    /// Does nothing; used to commit an entry of the current term.
    Noop,
}

impl Action {
    /// The operation name used in replies, metrics and the idempotency table.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Op(op) => op.name(),
            Action::IssueToken { .. } => "token_add",
            Action::BootstrapAdmin { .. } => "bootstrap_admin",
            Action::RegisterNode { .. } => "node_register",
            Action::SetNodeStatus { .. } => "node_status",
            Action::Noop => "noop",
        }
    }
}

/// What applying a command returned: the reply data or the error.
pub type Outcome = Result<Value, OpError>;

/// One Raft entry: the commands the leader gathered while earlier entries were in
/// flight. They are applied in order, each atomically on its own; batching them
/// saves a log append, a replication message and an fsync per command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Proposal {
    pub commands: Vec<Command>,
}

/// Most commands in one proposal. Command positions inside an entry must fit in
/// the low bits of [`command_seq`].
pub const MAX_PROPOSAL: usize = 4096;

/// A number that orders every command ever applied: the entry's log index and the
/// command's position in it.
pub fn command_seq(index: u64, position: usize) -> u64 {
    debug_assert!(position < MAX_PROPOSAL);
    (index << 12) | position as u64
}

/// The Raft response type: the outcome of each command of one entry, in order.
/// Membership and blank entries carry no outcomes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Applied {
    pub outcomes: Vec<Outcome>,
}
