//! The openraft type configuration of vsched and the record that says where a peer
//! listens.

use std::fmt;
use std::io::Cursor;

use serde::{Deserialize, Serialize};
use vsched_state::{Applied, Proposal};

/// Where a peer can be reached: its gRPC address (Raft, agents) and its HTTP API.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerNode {
    pub peer: String,
    pub api: String,
}

impl fmt::Display for PeerNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "peer={} api={}", self.peer, self.api)
    }
}

openraft::declare_raft_types!(
    /// Raft types of vsched: batches of commands in, their outcomes out, u64 peer ids.
    pub TypeConfig:
        D = Proposal,
        R = Applied,
        NodeId = u64,
        Node = PeerNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
);

pub type NodeId = u64;
pub type Raft = openraft::Raft<TypeConfig>;
pub type LogId = openraft::LogId<NodeId>;
pub type Vote = openraft::Vote<NodeId>;
pub type Entry = openraft::Entry<TypeConfig>;
pub type StorageError = openraft::StorageError<NodeId>;
pub type StoredMembership = openraft::StoredMembership<NodeId, PeerNode>;
pub type SnapshotMeta = openraft::SnapshotMeta<NodeId, PeerNode>;
pub type Snapshot = openraft::Snapshot<TypeConfig>;
