//! Raft for vsched: the openraft type configuration, sled-backed log and
//! state-machine storage, snapshots, and the gRPC transport between peers.
//!
//! Layout:
//! - [`types`]: `TypeConfig`, the peer address record [`PeerNode`], aliases;
//! - [`log_store`]: the Raft log and vote in sled; appends are fsynced by a group
//!   commit thread before openraft hears they are durable;
//! - [`state_machine`]: applies committed entries to [`vsched_state::State`] and
//!   writes every changed row through to sled in one transaction per batch;
//! - [`snapshot`]: snapshot files in the data directory;
//! - [`network`]: the client side of the peer transport;
//! - [`service`]: the server side, which also carries forwarded client operations;
//! - [`node`]: opens storage and starts a Raft instance with the configured thresholds.
//!
//! Business rules live in `vsched-state`; this crate only moves and stores bytes.

pub mod log_store;
pub mod network;
pub mod node;
pub mod service;
pub mod snapshot;
pub mod state_machine;
pub mod types;

pub use node::{open, RaftNode, RaftSettings};
pub use state_machine::{MachineState, SharedState};
pub use types::{PeerNode, Raft, TypeConfig};

/// Encodes a value as MessagePack with named fields, the one format of stored and
/// transported records.
pub fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, rmp_serde::encode::Error> {
    rmp_serde::to_vec_named(value)
}

/// Decodes MessagePack written by [`encode`].
pub fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, rmp_serde::decode::Error> {
    rmp_serde::from_slice(bytes)
}
