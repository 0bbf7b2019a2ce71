//! The Raft state machine: applies committed entries to the in-memory
//! [`State`], writes the changed rows through to sled, and builds and installs
//! snapshots.
//!
//! All state tables live in the one sled tree `state`, each under its own key
//! prefix (`nodes/`, `vclusters/`, ...), next to the keys `~last_applied` and
//! `~membership`. All rows changed by one `apply` call and the new `last_applied`
//! go into one sled batch, which sled applies atomically, so after a crash the
//! stored tables always match the stored `last_applied` and openraft replays the
//! log from there. (One batch per apply costs far less than a transaction across
//! a tree per table.) Installing a snapshot rewrites the tree; the key
//! `~rewriting` marks a rewrite under way, and a restart that finds it reloads
//! from the snapshot file instead of the half-written tree.

use std::io::Cursor;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use openraft::storage::{RaftSnapshotBuilder, RaftStateMachine};
use openraft::{EntryPayload, StorageIOError};
use vsched_state::{command_seq, Applied, State, TableChanges, TABLE_NAMES};

use crate::snapshot::{self, SnapshotFile};
use crate::types::{
    Entry, LogId, Snapshot, SnapshotMeta, StorageError, StoredMembership, TypeConfig,
};
use crate::{decode, encode};

const KEY_APPLIED: &[u8] = b"~last_applied";
const KEY_MEMBERSHIP: &[u8] = b"~membership";
const KEY_REWRITING: &[u8] = b"~rewriting";

/// The applied state and the Raft position it reflects.
#[derive(Debug, Default)]
pub struct MachineState {
    pub state: State,
    pub last_applied: Option<LogId>,
    pub membership: StoredMembership,
}

/// The state shared between the state machine and the API, which reads it.
pub type SharedState = Arc<RwLock<MachineState>>;

/// The state machine store; clones share everything.
#[derive(Clone)]
pub struct StateMachineStore {
    shared: SharedState,
    trees: Arc<Trees>,
    dir: PathBuf,
}

struct Trees {
    db: sled::Db,
    tree: sled::Tree,
}

/// The stored key of a row: its table's prefix and its encoded key.
fn row_key(table: &str, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(table.len() + 1 + key.len());
    k.extend_from_slice(table.as_bytes());
    k.push(b'/');
    k.extend_from_slice(key);
    k
}

fn sled_io(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

impl StateMachineStore {
    /// Opens the trees and loads the stored state; `dir` holds the snapshot file.
    pub fn open(db: &sled::Db, dir: PathBuf) -> std::io::Result<StateMachineStore> {
        let tree = db.open_tree("state").map_err(sled_io)?;
        let store = StateMachineStore {
            shared: Arc::new(RwLock::new(MachineState::default())),
            trees: Arc::new(Trees { db: db.clone(), tree }),
            dir,
        };
        store.load()?;
        Ok(store)
    }

    pub fn shared(&self) -> SharedState {
        self.shared.clone()
    }

    /// Loads the state from the trees, or from the snapshot file when a rewrite
    /// was interrupted.
    fn load(&self) -> std::io::Result<()> {
        if self.trees.tree.contains_key(KEY_REWRITING).map_err(sled_io)? {
            tracing::warn!(
                "state tables were being rewritten when the peer stopped; reloading the snapshot"
            );
            let snap = snapshot::load(&self.dir)?
                .ok_or_else(|| sled_io("state rewrite interrupted and no snapshot file exists"))?;
            return self.install_file(&snap);
        }

        let mut state = State::new();
        for name in TABLE_NAMES {
            for item in self.trees.tree.scan_prefix(row_key(name, b"")) {
                let (_, value) = item.map_err(sled_io)?;
                state.load_row(name, &value).map_err(sled_io)?;
            }
        }
        state.finish_load();
        let last_applied = self.read_meta::<Option<LogId>>(KEY_APPLIED)?.flatten();
        let membership = self.read_meta::<StoredMembership>(KEY_MEMBERSHIP)?.unwrap_or_default();
        *self.shared.write().expect("state lock") =
            MachineState { state, last_applied, membership };
        Ok(())
    }

    /// Loads the snapshot file when the stored tables are older than what the log
    /// has purged (the tables must never lag behind the log's start).
    pub fn catch_up_with_snapshot(&self, last_purged: Option<LogId>) -> std::io::Result<()> {
        let applied = self.shared.read().expect("state lock").last_applied;
        if last_purged.is_none() || applied >= last_purged {
            return Ok(());
        }
        tracing::warn!(
            ?applied,
            ?last_purged,
            "state tables lag behind the log; reloading the snapshot"
        );
        let snap = snapshot::load(&self.dir)?
            .ok_or_else(|| sled_io("no snapshot file to catch up from"))?;
        self.install_file(&snap)
    }

    fn read_meta<T: serde::de::DeserializeOwned>(&self, key: &[u8]) -> std::io::Result<Option<T>> {
        match self.trees.tree.get(key).map_err(sled_io)? {
            Some(bytes) => decode(&bytes).map(Some).map_err(sled_io),
            None => Ok(None),
        }
    }

    /// Writes one batch of changed rows and the new Raft position atomically.
    fn persist(
        &self,
        changes: &[TableChanges],
        last_applied: &Option<LogId>,
        membership: &StoredMembership,
    ) -> std::io::Result<()> {
        let mut batch = sled::Batch::default();
        for change in changes {
            for (key, value) in &change.rows {
                let k = row_key(change.table, key);
                match value {
                    Some(v) => batch.insert(k, v.as_slice()),
                    None => batch.remove(k),
                }
            }
        }
        batch.insert(KEY_APPLIED, encode(last_applied).map_err(sled_io)?);
        batch.insert(KEY_MEMBERSHIP, encode(membership).map_err(sled_io)?);
        self.trees.tree.apply_batch(batch).map_err(sled_io)
    }

    /// Replaces the state with a snapshot and rewrites the state tree.
    fn install_file(&self, snap: &SnapshotFile) -> std::io::Result<()> {
        let state = State::decode_snapshot(&snap.data).map_err(sled_io)?;

        let tree = &self.trees.tree;
        tree.insert(KEY_REWRITING, &[1u8]).map_err(sled_io)?;
        self.trees.db.flush().map_err(sled_io)?;
        let mut batch = sled::Batch::default();
        for key in tree.iter().keys() {
            let key = key.map_err(sled_io)?;
            if key.as_ref() != KEY_REWRITING {
                batch.remove(key);
            }
        }
        for change in state.all_rows() {
            for (key, value) in change.rows {
                if let Some(v) = value {
                    batch.insert(row_key(change.table, &key), v);
                }
            }
        }
        let last_applied = snap.meta.last_log_id;
        let membership = snap.meta.last_membership.clone();
        batch.insert(KEY_APPLIED, encode(&last_applied).map_err(sled_io)?);
        batch.insert(KEY_MEMBERSHIP, encode(&membership).map_err(sled_io)?);
        batch.remove(KEY_REWRITING);
        tree.apply_batch(batch).map_err(sled_io)?;
        self.trees.db.flush().map_err(sled_io)?;

        *self.shared.write().expect("state lock") =
            MachineState { state, last_applied, membership };
        Ok(())
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachineStore {
    /// Encodes the state under a read lock and stores it as the current snapshot.
    async fn build_snapshot(&mut self) -> Result<Snapshot, StorageError> {
        let (data, last_applied, membership) = {
            let ms = self.shared.read().expect("state lock");
            (ms.state.encode_snapshot(), ms.last_applied, ms.membership.clone())
        };
        let snapshot_id = match &last_applied {
            Some(id) => format!("{}-{}", id.leader_id, id.index),
            None => "empty".to_string(),
        };
        let meta =
            SnapshotMeta { last_log_id: last_applied, last_membership: membership, snapshot_id };
        let file = SnapshotFile { meta: meta.clone(), data };
        let dir = self.dir.clone();
        let file = tokio::task::spawn_blocking(move || snapshot::save(&dir, &file).map(|_| file))
            .await
            .map_err(|e| StorageIOError::write_snapshot(None, &e))?
            .map_err(|e| StorageIOError::write_snapshot(None, &e))?;
        tracing::info!(snapshot = %meta.snapshot_id, bytes = file.data.len(), "snapshot built");
        Ok(Snapshot { meta, snapshot: Box::new(Cursor::new(file.data)) })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachineStore {
    type SnapshotBuilder = StateMachineStore;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        let ms = self.shared.read().expect("state lock");
        Ok((ms.last_applied, ms.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Applied>, StorageError>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let mut replies = Vec::new();
        let (changes, last_applied, membership) = {
            let mut ms = self.shared.write().expect("state lock");
            for entry in entries {
                ms.last_applied = Some(entry.log_id);
                let outcomes = match entry.payload {
                    EntryPayload::Blank => Vec::new(),
                    EntryPayload::Normal(proposal) => {
                        let index = entry.log_id.index;
                        proposal
                            .commands
                            .iter()
                            .enumerate()
                            .map(|(i, cmd)| ms.state.apply(command_seq(index, i), cmd))
                            .collect()
                    }
                    EntryPayload::Membership(m) => {
                        ms.membership = StoredMembership::new(Some(entry.log_id), m);
                        Vec::new()
                    }
                };
                replies.push(Applied { outcomes });
            }
            (ms.state.take_changes(), ms.last_applied, ms.membership.clone())
        };
        self.persist(&changes, &last_applied, &membership)
            .map_err(|e| StorageIOError::write_state_machine(&e))?;
        Ok(replies)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    /// Installs a snapshot received from the leader: stores the file first, then
    /// replaces the tables from it.
    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let file = SnapshotFile { meta: meta.clone(), data: snapshot.into_inner() };
        let store = self.clone();
        let id = meta.snapshot_id.clone();
        tokio::task::spawn_blocking(move || {
            snapshot::save(&store.dir, &file)?;
            store.install_file(&file)
        })
        .await
        .map_err(|e| StorageIOError::write_snapshot(Some(meta.signature()), &e))?
        .map_err(|e| StorageIOError::write_snapshot(Some(meta.signature()), &e))?;
        tracing::info!(snapshot = %id, "snapshot installed");
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot>, StorageError> {
        let dir = self.dir.clone();
        let file = tokio::task::spawn_blocking(move || snapshot::load(&dir))
            .await
            .map_err(|e| StorageIOError::read_snapshot(None, &e))?
            .map_err(|e| StorageIOError::read_snapshot(None, &e))?;
        Ok(file.map(|f| Snapshot { meta: f.meta, snapshot: Box::new(Cursor::new(f.data)) }))
    }
}
