//! The replicated state machine of vsched: vclusters, labels, user params, tokens,
//! nodes, requests and VMs.
//!
//! [`State::apply`] takes a [`Command`] and returns its [`Outcome`]; it is
//! deterministic (time arrives inside the command) and atomic (a command that fails
//! changes nothing, enforced by the journaled [`table::Table`]). Queries answer read
//! operations from the same state. The crate knows nothing of Raft, sockets or
//! clocks; `vsched-raft` persists what [`State::take_changes`] reports and snapshots
//! with [`State::encode_snapshot`].

pub mod command;
mod lookup;
mod ops;
mod recent;
mod state;
pub mod table;
mod views;

pub use command::{command_seq, Action, Applied, Command, Outcome, Proposal, MAX_PROPOSAL};
pub use recent::RECENT_CAPACITY;
pub use state::{State, TableChanges, TABLE_NAMES};
