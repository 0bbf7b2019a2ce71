//! The Raft log and vote, stored in sled.
//!
//! Entries live in the `raft_log` tree under their index (big-endian, so sled's
//! order is log order); the vote, the committed log id and the last purged log id
//! live in `raft_meta`. An append writes the entries, then hands openraft's
//! callback to a flush thread. That thread takes every callback waiting, calls
//! one `fsync` for all of them and only then reports them durable: concurrent
//! clients share one disk flush instead of queueing for one each.

// The storage traits return openraft's `StorageError`, which is large; helpers
// return the same type so `?` works without conversions.
#![allow(clippy::result_large_err)]

use std::fmt::Debug;
use std::ops::RangeBounds;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;

use openraft::storage::{LogFlushed, LogState, RaftLogReader, RaftLogStorage};
use openraft::StorageIOError;

use crate::types::{Entry, LogId, StorageError, TypeConfig, Vote};
use crate::{decode, encode};

const KEY_VOTE: &[u8] = b"vote";
const KEY_COMMITTED: &[u8] = b"committed";
const KEY_PURGED: &[u8] = b"last_purged";

/// The log store; cheap to clone, every clone sees the same trees.
#[derive(Clone)]
pub struct LogStore {
    inner: Arc<Inner>,
}

struct Inner {
    db: sled::Db,
    log: sled::Tree,
    meta: sled::Tree,
    flusher: mpsc::Sender<LogFlushed<TypeConfig>>,
    /// The last committed index openraft reported, for status and metrics.
    committed: AtomicU64,
}

fn index_key(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}

fn io_err(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

impl LogStore {
    pub fn open(db: &sled::Db) -> Result<LogStore, sled::Error> {
        let log = db.open_tree("raft_log")?;
        let meta = db.open_tree("raft_meta")?;
        let (tx, rx) = mpsc::channel::<LogFlushed<TypeConfig>>();
        let flush_db = db.clone();
        std::thread::Builder::new()
            .name("raft-log-fsync".into())
            .spawn(move || group_commit(flush_db, rx))
            .expect("spawn the log flush thread");
        let inner = Inner { db: db.clone(), log, meta, flusher: tx, committed: AtomicU64::new(0) };
        let store = LogStore { inner: Arc::new(inner) };
        if let Ok(Some(Some(committed))) = store.read_meta::<Option<LogId>>(KEY_COMMITTED) {
            store.inner.committed.store(committed.index, Ordering::Relaxed);
        }
        Ok(store)
    }

    fn read_meta<T: serde::de::DeserializeOwned>(
        &self,
        key: &[u8],
    ) -> Result<Option<T>, StorageError> {
        let Some(bytes) = self.inner.meta.get(key).map_err(|e| StorageIOError::read(&e))? else {
            return Ok(None);
        };
        decode(&bytes).map(Some).map_err(|e| StorageIOError::read(&e).into())
    }

    fn write_meta<T: serde::Serialize>(&self, key: &[u8], value: &T) -> Result<(), StorageError> {
        let bytes = encode(value).map_err(|e| StorageIOError::write(&e))?;
        self.inner.meta.insert(key, bytes).map_err(|e| StorageIOError::write(&e))?;
        Ok(())
    }

    /// Flushes the whole database to disk, off the async runtime's threads.
    async fn fsync(&self) -> Result<(), std::io::Error> {
        let db = self.inner.db.clone();
        tokio::task::spawn_blocking(move || db.flush().map(|_| ()).map_err(io_err))
            .await
            .map_err(io_err)?
    }

    /// The last committed log index this peer knows of.
    pub fn committed_index(&self) -> u64 {
        self.inner.committed.load(Ordering::Relaxed)
    }

    /// Number of entries currently kept, for metrics.
    pub fn len(&self) -> usize {
        self.inner.log.len()
    }

    pub fn is_empty(&self) -> bool {
        self.inner.log.is_empty()
    }
}

/// The flush thread: one fsync for every append waiting when it wakes.
fn group_commit(db: sled::Db, rx: mpsc::Receiver<LogFlushed<TypeConfig>>) {
    while let Ok(first) = rx.recv() {
        let mut waiting = vec![first];
        waiting.extend(rx.try_iter());
        let result = db.flush().map(|_| ()).map_err(|e| e.to_string());
        for callback in waiting {
            callback.log_io_completed(result.clone().map_err(io_err));
        }
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        let start = match range.start_bound() {
            std::ops::Bound::Included(i) => *i,
            std::ops::Bound::Excluded(i) => *i + 1,
            std::ops::Bound::Unbounded => 0,
        };
        let mut out = Vec::new();
        for item in self.inner.log.range(index_key(start)..) {
            let (key, value) = item.map_err(|e| StorageIOError::read_logs(&e))?;
            let index = u64::from_be_bytes(key.as_ref().try_into().expect("8-byte log keys"));
            if !range.contains(&index) {
                break;
            }
            out.push(decode::<Entry>(&value).map_err(|e| StorageIOError::read_logs(&e))?);
        }
        Ok(out)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let last_purged_log_id: Option<LogId> = self.read_meta(KEY_PURGED)?;
        let last = match self.inner.log.last().map_err(|e| StorageIOError::read_logs(&e))? {
            Some((_, value)) => {
                let entry: Entry = decode(&value).map_err(|e| StorageIOError::read_logs(&e))?;
                Some(entry.log_id)
            }
            None => last_purged_log_id,
        };
        Ok(LogState { last_purged_log_id, last_log_id: last })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    /// Votes are fsynced before returning: a vote forgotten in a crash could let
    /// this peer vote twice in one term.
    async fn save_vote(&mut self, vote: &Vote) -> Result<(), StorageError> {
        self.write_meta(KEY_VOTE, vote)?;
        self.fsync().await.map_err(|e| StorageIOError::write_vote(&e))?;
        Ok(())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, StorageError> {
        self.read_meta(KEY_VOTE)
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        if let Some(c) = committed {
            self.inner.committed.store(c.index, Ordering::Relaxed);
        }
        self.write_meta(KEY_COMMITTED, &committed)
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        Ok(self.read_meta::<Option<LogId>>(KEY_COMMITTED)?.flatten())
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let mut batch = sled::Batch::default();
        for entry in entries {
            let bytes = encode(&entry).map_err(|e| StorageIOError::write_logs(&e))?;
            batch.insert(&index_key(entry.log_id.index), bytes);
        }
        self.inner.log.apply_batch(batch).map_err(|e| StorageIOError::write_logs(&e))?;
        if let Err(mpsc::SendError(callback)) = self.inner.flusher.send(callback) {
            callback.log_io_completed(Err(io_err("the log flush thread has stopped")));
        }
        Ok(())
    }

    /// Removes entries from `log_id` on, durably: a follower must not resurrect a
    /// conflicting suffix after a crash.
    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let mut batch = sled::Batch::default();
        for key in self.inner.log.range(index_key(log_id.index)..).keys() {
            batch.remove(key.map_err(|e| StorageIOError::write_logs(&e))?);
        }
        self.inner.log.apply_batch(batch).map_err(|e| StorageIOError::write_logs(&e))?;
        self.fsync().await.map_err(|e| StorageIOError::write_logs(&e))?;
        Ok(())
    }

    /// Removes entries up to `log_id`. The purge mark is written first, so a crash
    /// in between leaves a consistent view. The flush also makes the state machine
    /// rows written so far durable, so the purged entries are never needed again.
    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        self.write_meta(KEY_PURGED, &log_id)?;
        let mut batch = sled::Batch::default();
        for key in self.inner.log.range(..=index_key(log_id.index)).keys() {
            batch.remove(key.map_err(|e| StorageIOError::write_logs(&e))?);
        }
        self.inner.log.apply_batch(batch).map_err(|e| StorageIOError::write_logs(&e))?;
        self.fsync().await.map_err(|e| StorageIOError::write_logs(&e))?;
        Ok(())
    }
}
