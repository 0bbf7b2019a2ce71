//! The idempotency table: recent `(login, request_id)` pairs and their outcomes.
//!
//! A client that retries a write after a timeout or a leader change sends the same
//! `request_id`; the state machine answers with the first outcome instead of applying
//! twice. The table keeps the newest [`RECENT_CAPACITY`] entries and forgets entries
//! older than [`RECENT_RETENTION_MS`]; eviction is part of applying, so every peer
//! evicts the same entries.

use serde::{Deserialize, Serialize};
use vsched_model::OpError;

use crate::command::{Command, Outcome};
use crate::state::State;
use crate::table::Record;

/// How many request ids are remembered.
pub const RECENT_CAPACITY: usize = 100_000;

/// How long a request id is remembered: long enough for any client retry loop.
pub const RECENT_RETENTION_MS: i64 = 60 * 60 * 1000;

/// One remembered write.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recent {
    pub login: String,
    pub request_id: String,
    pub op: String,
    /// The command's sequence number, which orders eviction.
    pub index: u64,
    pub at_ms: i64,
    /// The outcome as JSON text: far smaller in memory than a JSON tree, and
    /// stored without re-encoding.
    pub outcome: String,
}

impl Record for Recent {
    type Key = (String, String);
    fn key(&self) -> Self::Key {
        (self.login.clone(), self.request_id.clone())
    }
}

impl State {
    /// The outcome of an earlier write with this id, if remembered. Reusing an id for
    /// another operation is an error rather than a silent replay.
    pub(crate) fn recent_outcome(&self, login: &str, id: &str, op: &str) -> Option<Outcome> {
        let entry = self.recent.get(&(login.to_string(), id.to_string()))?;
        if entry.op != op {
            return Some(Err(OpError::invalid(
                "request_id",
                format!("request_id '{id}' was already used for '{}'", entry.op),
            )));
        }
        Some(serde_json::from_str(&entry.outcome).unwrap_or_else(|e| {
            Err(OpError::internal(format!("stored outcome of '{id}' is unreadable: {e}")))
        }))
    }

    /// Remembers an outcome and evicts what is too old or beyond capacity, oldest
    /// first, using the derived order index so a write costs O(log n).
    pub(crate) fn remember(&mut self, seq: u64, cmd: &Command, id: &str, outcome: &Outcome) {
        let entry = Recent {
            login: cmd.caller.login.clone(),
            request_id: id.to_string(),
            op: cmd.action.name().to_string(),
            index: seq,
            at_ms: cmd.at_ms,
            outcome: serde_json::to_string(outcome).expect("outcomes encode to JSON"),
        };
        self.recent_order.insert(seq, entry.key());
        self.recent.insert(entry);

        let horizon = cmd.at_ms - RECENT_RETENTION_MS;
        while let Some((&oldest, key)) = self.recent_order.first_key_value() {
            let expired = self.recent.get(key).is_none_or(|r| r.at_ms < horizon);
            if self.recent.len() <= RECENT_CAPACITY && !expired {
                break;
            }
            let key = key.clone();
            self.recent_order.remove(&oldest);
            self.recent.remove(&key);
        }
    }
}
