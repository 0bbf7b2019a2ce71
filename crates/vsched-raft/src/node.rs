//! Opens a peer's storage and starts its Raft instance.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use openraft::storage::RaftLogStorage;
use openraft::{Config, SnapshotPolicy};

use crate::log_store::LogStore;
use crate::network::PeerNetwork;
use crate::state_machine::{SharedState, StateMachineStore};
use crate::types::{NodeId, Raft};

/// Timing and log-retention settings of one peer.
#[derive(Debug, Clone)]
pub struct RaftSettings {
    pub heartbeat_ms: u64,
    pub election_min_ms: u64,
    pub election_max_ms: u64,
    /// Build a snapshot after this many entries since the last one.
    pub snapshot_every: u64,
    /// Entries kept in the log behind a snapshot, so a slightly lagging follower
    /// catches up from the log instead of a full snapshot.
    pub keep_logs: u64,
    /// Most entries in one append request.
    pub max_payload_entries: u64,
}

impl Default for RaftSettings {
    fn default() -> Self {
        RaftSettings {
            heartbeat_ms: 100,
            election_min_ms: 600,
            election_max_ms: 1200,
            snapshot_every: 20_000,
            keep_logs: 5_000,
            max_payload_entries: 1_000,
        }
    }
}

/// A started Raft instance and the handles the API layer needs.
#[derive(Clone)]
pub struct RaftNode {
    pub id: NodeId,
    pub raft: Raft,
    pub state: SharedState,
    pub log: LogStore,
}

/// Opens (or creates) the data directory and starts Raft. A data directory that
/// already holds a log resumes where it stopped.
pub async fn open(
    id: NodeId,
    data_dir: &Path,
    settings: &RaftSettings,
) -> anyhow::Result<RaftNode> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("create data dir {}", data_dir.display()))?;
    let db = sled::Config::new()
        .path(data_dir.join("sled"))
        .mode(sled::Mode::HighThroughput)
        .open()
        .with_context(|| format!("open sled in {}", data_dir.display()))?;

    let mut log = LogStore::open(&db).context("open raft log")?;
    let sm = StateMachineStore::open(&db, data_dir.to_path_buf()).context("open state machine")?;
    let log_state = log.get_log_state().await.context("read log state")?;
    sm.catch_up_with_snapshot(log_state.last_purged_log_id).context("catch up with snapshot")?;

    let config = Config {
        cluster_name: "vsched".into(),
        heartbeat_interval: settings.heartbeat_ms,
        election_timeout_min: settings.election_min_ms,
        election_timeout_max: settings.election_max_ms,
        snapshot_policy: SnapshotPolicy::LogsSinceLast(settings.snapshot_every),
        max_in_snapshot_log_to_keep: settings.keep_logs,
        max_payload_entries: settings.max_payload_entries,
        install_snapshot_timeout: 2_000,
        ..Default::default()
    }
    .validate()
    .context("validate raft config")?;

    let state = sm.shared();
    let raft = Raft::new(id, Arc::new(config), PeerNetwork, log.clone(), sm)
        .await
        .context("start raft")?;
    Ok(RaftNode { id, raft, state, log })
}
