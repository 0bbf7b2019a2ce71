//! The state as a whole: its tables, how a command is applied atomically, how reads
//! are dispatched, and how the state is loaded, snapshotted and written through.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use vsched_model::records::{Label, Node, Request, Token, UserParams, Vcluster, Vm};
use vsched_model::{Caller, Op, OpError, OpResult};

use crate::command::{Action, Command, Outcome};
use crate::ops;
use crate::recent::Recent;
use crate::table::{Record, RowChange, Table};

impl Record for Node {
    type Key = String;
    fn key(&self) -> String {
        self.uuid.clone()
    }
}

impl Record for Label {
    type Key = String;
    fn key(&self) -> String {
        self.name.clone()
    }
}

impl Record for Vcluster {
    type Key = (String, String);
    fn key(&self) -> Self::Key {
        (self.ns.clone(), self.name.clone())
    }
}

impl Record for UserParams {
    type Key = (String, String, String);
    fn key(&self) -> Self::Key {
        (self.ns.clone(), self.vcluster.clone(), self.login.clone())
    }
}

impl Record for Token {
    type Key = String;
    fn key(&self) -> String {
        self.token_id.clone()
    }
}

impl Record for Request {
    type Key = (String, String, String, String);
    fn key(&self) -> Self::Key {
        (self.ns.clone(), self.vcluster.clone(), self.kind.clone(), self.name.clone())
    }
}

impl Record for Vm {
    type Key = String;
    fn key(&self) -> String {
        self.uuid.clone()
    }
}

/// The replicated state. Tables are `pub(crate)`: everything outside goes through
/// commands and queries.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    #[serde(default)]
    pub(crate) nodes: Table<Node>,
    #[serde(default)]
    pub(crate) labels: Table<Label>,
    #[serde(default)]
    pub(crate) vclusters: Table<Vcluster>,
    #[serde(default)]
    pub(crate) user_params: Table<UserParams>,
    #[serde(default)]
    pub(crate) tokens: Table<Token>,
    #[serde(default)]
    pub(crate) requests: Table<Request>,
    #[serde(default)]
    pub(crate) vms: Table<Vm>,
    #[serde(default)]
    pub(crate) recent: Table<Recent>,
    /// Token hash to token id; derived from `tokens`.
    #[serde(skip)]
    token_by_hash: HashMap<String, String>,
    /// Log index to idempotency key, oldest first; derived from `recent`.
    #[serde(skip)]
    pub(crate) recent_order: BTreeMap<u64, (String, String)>,
}

/// Names of the tables, as storage names its trees.
pub const TABLE_NAMES: &[&str] =
    &["nodes", "labels", "vclusters", "user_params", "tokens", "requests", "vms", "recent"];

/// The encoded changes of one table since the last [`State::take_changes`].
#[derive(Debug)]
pub struct TableChanges {
    pub table: &'static str,
    pub rows: Vec<RowChange>,
}

/// Runs `$body` once per table, binding the table to `$t` and its name to `$name`.
macro_rules! each_table {
    ($state:expr, |$name:ident, $t:ident| $body:expr) => {{
        {
            let $name = "nodes";
            let $t = &mut $state.nodes;
            $body
        }
        {
            let $name = "labels";
            let $t = &mut $state.labels;
            $body
        }
        {
            let $name = "vclusters";
            let $t = &mut $state.vclusters;
            $body
        }
        {
            let $name = "user_params";
            let $t = &mut $state.user_params;
            $body
        }
        {
            let $name = "tokens";
            let $t = &mut $state.tokens;
            $body
        }
        {
            let $name = "requests";
            let $t = &mut $state.requests;
            $body
        }
        {
            let $name = "vms";
            let $t = &mut $state.vms;
            $body
        }
        {
            let $name = "recent";
            let $t = &mut $state.recent;
            $body
        }
    }};
}

impl State {
    pub fn new() -> State {
        State::default()
    }

    /// Applies one command; `seq` orders it among all commands ever applied (see
    /// [`crate::command_seq`]). Either every change of the command is kept or none is.
    pub fn apply(&mut self, seq: u64, cmd: &Command) -> Outcome {
        if let Some(id) = &cmd.request_id {
            if let Some(previous) = self.recent_outcome(&cmd.caller.login, id, cmd.action.name()) {
                return previous;
            }
        }

        let outcome = self.dispatch(cmd);
        let tokens_changed = self.tokens.touched();
        match &outcome {
            Ok(_) => self.commit_all(),
            Err(_) => self.rollback_all(),
        }
        if tokens_changed && outcome.is_ok() {
            self.rebuild_token_index();
        }

        if let Some(id) = &cmd.request_id {
            self.remember(seq, cmd, id, &outcome);
            self.commit_all();
        }
        outcome
    }

    fn dispatch(&mut self, cmd: &Command) -> Outcome {
        let at = cmd.at_ms;
        match &cmd.action {
            Action::Op(op) => ops::apply_op(self, &cmd.caller, at, op),
            Action::IssueToken { token_id, login, ns, role, hash } => {
                ops::tokens::issue(self, &cmd.caller, at, token_id, login, ns, *role, hash)
            }
            Action::BootstrapAdmin { token_id, login, hash } => {
                ops::tokens::bootstrap_admin(self, at, token_id, login, hash)
            }
            Action::RegisterNode { uuid, hostname, address, capacity, labels, agent_version } => {
                ops::nodes::register(
                    self,
                    at,
                    uuid,
                    hostname,
                    address,
                    *capacity,
                    labels,
                    agent_version,
                )
            }
            Action::SetNodeStatus { uuid, status } => {
                ops::nodes::set_status(self, at, uuid, *status)
            }
            Action::Noop => Ok(Value::Null),
        }
    }

    /// Answers a read operation for `caller`.
    pub fn query(&self, caller: &Caller, op: &Op) -> OpResult<Value> {
        ops::query_op(self, caller, op)
    }

    /// The token whose secret hashes to `hash`.
    pub fn token_by_hash(&self, hash: &str) -> Option<&Token> {
        let id = self.token_by_hash.get(hash)?;
        self.tokens.get(id)
    }

    /// Whether the cluster has any admin token (a bootstrapped cluster does).
    pub fn has_admin_token(&self) -> bool {
        self.tokens.values().any(|t| t.role == vsched_model::Role::Admin)
    }

    /// Every node, for the leader's liveness tracker.
    pub fn nodes(&self) -> impl Iterator<Item = &Node> + '_ {
        self.nodes.values()
    }

    pub fn node(&self, uuid: &str) -> Option<&Node> {
        self.nodes.get(&uuid.to_string())
    }

    /// Every vcluster, of every namespace.
    pub fn vclusters(&self) -> impl Iterator<Item = &Vcluster> + '_ {
        self.vclusters.values()
    }

    /// Every VM.
    pub fn vms(&self) -> impl Iterator<Item = &Vm> + '_ {
        self.vms.values()
    }

    /// Every user params record.
    pub fn user_params(&self) -> impl Iterator<Item = &UserParams> + '_ {
        self.user_params.values()
    }

    /// Labels ignored in namespace `ns`, globally or there.
    pub fn ignored_labels(&self, ns: &str) -> Vec<String> {
        self.labels.values().filter(|l| l.ignored_in(ns)).map(|l| l.name.clone()).collect()
    }

    fn commit_all(&mut self) {
        each_table!(self, |_name, t| t.commit());
    }

    fn rollback_all(&mut self) {
        each_table!(self, |_name, t| t.rollback());
    }

    /// Encoded rows changed since the last call, per table, for write-through storage.
    pub fn take_changes(&mut self) -> Vec<TableChanges> {
        let mut out = Vec::new();
        each_table!(self, |name, t| {
            let rows = t.take_changes();
            if !rows.is_empty() {
                out.push(TableChanges { table: name, rows });
            }
        });
        out
    }

    /// Every row of every table, encoded, for rewriting storage from a snapshot.
    pub fn all_rows(&self) -> Vec<TableChanges> {
        let mut copy = self.clone();
        each_table!(copy, |_name, t| t.mark_all_dirty());
        copy.take_changes()
    }

    /// Adds one stored record of `table` while loading from storage.
    pub fn load_row(&mut self, table: &str, value: &[u8]) -> Result<(), String> {
        fn decode<R: Record>(t: &mut Table<R>, value: &[u8]) -> Result<(), String> {
            let record = rmp_serde::from_slice(value).map_err(|e| e.to_string())?;
            t.load(record);
            Ok(())
        }
        let mut result = Err(format!("unknown table '{table}'"));
        each_table!(self, |name, t| {
            if name == table {
                result = decode(t, value);
            }
        });
        result
    }

    /// Rebuilds derived indexes after loading.
    pub fn finish_load(&mut self) {
        self.rebuild_token_index();
        self.recent_order = self.recent.values().map(|r| (r.index, r.key())).collect();
    }

    fn rebuild_token_index(&mut self) {
        self.token_by_hash =
            self.tokens.values().map(|t| (t.hash.clone(), t.token_id.clone())).collect();
    }

    /// The whole state as MessagePack with named fields.
    pub fn encode_snapshot(&self) -> Vec<u8> {
        rmp_serde::to_vec_named(self).expect("state encodes to MessagePack")
    }

    pub fn decode_snapshot(bytes: &[u8]) -> Result<State, String> {
        let mut state: State = rmp_serde::from_slice(bytes).map_err(|e| e.to_string())?;
        state.finish_load();
        Ok(state)
    }

    /// Row counts per table, for metrics and `cluster_status`.
    pub fn table_sizes(&self) -> Vec<(&'static str, usize)> {
        vec![
            ("nodes", self.nodes.len()),
            ("labels", self.labels.len()),
            ("vclusters", self.vclusters.len()),
            ("user_params", self.user_params.len()),
            ("tokens", self.tokens.len()),
            ("requests", self.requests.len()),
            ("vms", self.vms.len()),
            ("recent", self.recent.len()),
        ]
    }
}

/// An error for a command the state machine should never receive.
pub(crate) fn misrouted(what: &str) -> OpError {
    OpError::internal(format!("{what} is not applied through the log"))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;
    use vsched_model::records::Request;
    use vsched_model::types::{NodeStatus, Resources, Role};
    use vsched_model::{Caller, ErrorCode, Op};

    use super::*;

    fn admin() -> Caller {
        Caller { login: "admin".into(), ns: "default".into(), role: Role::Admin }
    }

    fn operator(ns: &str) -> Caller {
        Caller { login: "olga".into(), ns: ns.into(), role: Role::Operator }
    }

    /// Applies a client operation; panics on a parse error.
    fn run(
        state: &mut State,
        seq: u64,
        caller: &Caller,
        op: &str,
        data: serde_json::Value,
    ) -> Outcome {
        let op = Op::parse(op, data).expect("valid operation");
        let cmd = Command {
            at_ms: 1_000 + seq as i64,
            caller: caller.clone(),
            request_id: None,
            action: Action::Op(op),
        };
        state.apply(seq, &cmd)
    }

    fn register(state: &mut State, seq: u64, uuid: &str) {
        let cmd = Command {
            at_ms: 1,
            caller: Caller::system(),
            request_id: None,
            action: Action::RegisterNode {
                uuid: uuid.into(),
                hostname: format!("host-{uuid}"),
                address: "10.0.0.1".into(),
                capacity: Resources::new(64, 262_144),
                labels: vec![],
                agent_version: "test".into(),
            },
        };
        state.apply(seq, &cmd).unwrap();
    }

    /// A state with one node labelled `ssd`, delegated to `team`, used by `web`.
    fn fixture() -> State {
        let mut s = State::new();
        register(&mut s, 1, "n1");
        run(&mut s, 2, &admin(), "labels_add", json!({"labels": "ssd,gpu", "nodes": "n1"}))
            .unwrap();
        run(&mut s, 3, &admin(), "labels_delegate_ns", json!({"labels": "ssd,gpu", "ns": "team"}))
            .unwrap();
        run(
            &mut s,
            4,
            &operator("team"),
            "vcluster_add",
            json!({"name": "web", "labels": "ssd", "uuids": "n1"}),
        )
        .unwrap();
        s.take_changes();
        s
    }

    #[test]
    fn a_failing_command_leaves_no_trace_even_after_partial_changes() {
        let mut s = fixture();
        let before = s.encode_snapshot();
        // Undelegating gpu and ssd changes both labels before noticing that web
        // still uses ssd; the whole command must be undone.
        let err = run(
            &mut s,
            10,
            &admin(),
            "labels_undelegate_ns",
            json!({"labels": "gpu,ssd", "ns": "team"}),
        )
        .unwrap_err();
        assert_eq!(err.code, ErrorCode::FailedPrecondition);
        assert_eq!(s.encode_snapshot(), before);
        assert!(s.take_changes().is_empty(), "nothing to write for a failed command");
    }

    #[test]
    fn a_retried_request_id_returns_the_first_outcome() {
        let mut s = fixture();
        let op = Op::parse("vcluster_add", json!({"name": "api", "labels": []})).unwrap();
        let cmd = Command {
            at_ms: 5_000,
            caller: operator("team"),
            request_id: Some("r1".into()),
            action: Action::Op(op),
        };
        let first = s.apply(20, &cmd).unwrap();
        let again = s.apply(21, &cmd).unwrap();
        assert_eq!(first, again, "a retry must not fail with ALREADY_EXISTS");

        let del = Command {
            action: Action::Op(Op::parse("vcluster_del", json!({"name": "api"})).unwrap()),
            ..cmd.clone()
        };
        let err = s.apply(22, &del).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("request_id"));
        assert!(s.vcluster("team", "api", "name").is_ok(), "the refused retry deleted nothing");
    }

    #[test]
    fn old_request_ids_are_forgotten() {
        let mut s = State::new();
        let make = |id: &str, at_ms: i64| Command {
            at_ms,
            caller: admin(),
            request_id: Some(id.into()),
            action: Action::Noop,
        };
        s.apply(1, &make("old", 0)).unwrap();
        s.apply(2, &make("new", crate::recent::RECENT_RETENTION_MS + 10)).unwrap();
        assert!(s.recent.get(&("admin".into(), "old".into())).is_none());
        assert!(s.recent.get(&("admin".into(), "new".into())).is_some());
        assert_eq!(s.recent_order.len(), 1);
    }

    #[test]
    fn stored_rows_load_back_into_the_same_state() {
        let mut s = fixture();
        let cmd = Command {
            at_ms: 7,
            caller: admin(),
            request_id: Some("x".into()),
            action: Action::IssueToken {
                token_id: "t1".into(),
                login: "ann".into(),
                ns: "team".into(),
                role: Role::User,
                hash: "abc".into(),
            },
        };
        s.apply(31, &cmd).unwrap();

        // Write every row the way storage does, then load them into a new state.
        let mut fresh = State::new();
        let mut stored: BTreeMap<(String, Vec<u8>), Vec<u8>> = BTreeMap::new();
        for change in s.all_rows() {
            for (k, v) in change.rows {
                stored.insert((change.table.to_string(), k), v.unwrap());
            }
        }
        for ((table, _), value) in &stored {
            fresh.load_row(table, value).unwrap();
        }
        fresh.finish_load();
        assert_eq!(fresh.encode_snapshot(), s.encode_snapshot());
        assert_eq!(fresh.token_by_hash("abc").map(|t| t.login.as_str()), Some("ann"));
        assert_eq!(fresh.recent_order.len(), s.recent_order.len());
    }

    #[test]
    fn a_snapshot_decodes_to_the_same_state() {
        let s = fixture();
        let bytes = s.encode_snapshot();
        let back = State::decode_snapshot(&bytes).unwrap();
        assert_eq!(back.encode_snapshot(), bytes);
        assert!(State::decode_snapshot(b"garbage").is_err());
    }

    #[test]
    fn a_vcluster_with_requests_cannot_be_deleted_but_can_be_cleared() {
        let mut s = fixture();
        s.requests.insert(Request {
            ns: "team".into(),
            vcluster: "web".into(),
            kind: "vm".into(),
            name: "db".into(),
            owner: "olga".into(),
            descr: String::new(),
            labels: Default::default(),
            spec: "{}".into(),
            rf: 1,
            created_at_ms: 0,
        });
        s.requests.commit();
        let err =
            run(&mut s, 40, &operator("team"), "vcluster_del", json!({"name": "web"})).unwrap_err();
        assert_eq!(err.code, ErrorCode::FailedPrecondition);
        let out =
            run(&mut s, 41, &operator("team"), "vcluster_clear", json!({"name": "web"})).unwrap();
        assert_eq!(out["requests"], json!(["db"]));
        assert!(s.requests.is_empty());
    }

    #[test]
    fn node_registration_and_liveness_transitions() {
        let mut s = State::new();
        register(&mut s, 1, "n1");
        assert_eq!(s.node("n1").unwrap().status, NodeStatus::Ready);
        let set = |status| Command {
            at_ms: 50,
            caller: Caller::system(),
            request_id: None,
            action: Action::SetNodeStatus { uuid: "n1".into(), status },
        };
        s.apply(2, &set(NodeStatus::Isolated)).unwrap();
        assert_eq!(s.node("n1").unwrap().status, NodeStatus::Isolated);
        assert_eq!(s.node("n1").unwrap().status_since_ms, 50);
        // Registering again brings it back.
        register(&mut s, 3, "n1");
        assert_eq!(s.node("n1").unwrap().status, NodeStatus::Ready);
        let unknown = Command {
            action: Action::SetNodeStatus { uuid: "n9".into(), status: NodeStatus::Ready },
            ..set(NodeStatus::Ready)
        };
        assert_eq!(s.apply(4, &unknown).unwrap_err().code, ErrorCode::NotFound);
    }

    #[test]
    fn the_first_admin_token_is_stored_once() {
        let mut s = State::new();
        let boot = |hash: &str| Command {
            at_ms: 1,
            caller: Caller::system(),
            request_id: None,
            action: Action::BootstrapAdmin {
                token_id: hash.into(),
                login: "admin".into(),
                hash: hash.into(),
            },
        };
        assert_eq!(s.apply(1, &boot("h1")).unwrap()["created"], true);
        assert_eq!(s.apply(2, &boot("h2")).unwrap()["created"], false);
        assert!(s.token_by_hash("h1").is_some());
        assert!(s.token_by_hash("h2").is_none());
    }

    #[test]
    fn reads_sent_through_the_log_are_refused() {
        let mut s = State::new();
        let err = run(&mut s, 1, &admin(), "vcluster_list", json!({})).unwrap_err();
        assert_eq!(err.code, ErrorCode::Internal);
    }
}
