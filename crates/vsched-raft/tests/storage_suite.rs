//! openraft's own storage test suite, run against the sled-backed log and state
//! machine: log reads and writes, truncation, purging, votes, membership
//! recovery, applying and snapshot transfer.

use openraft::testing::{StoreBuilder, Suite};
use openraft::StorageError;
use vsched_raft::log_store::LogStore;
use vsched_raft::state_machine::StateMachineStore;
use vsched_raft::TypeConfig;

struct SledBuilder;

impl StoreBuilder<TypeConfig, LogStore, StateMachineStore, tempfile::TempDir> for SledBuilder {
    async fn build(
        &self,
    ) -> Result<(tempfile::TempDir, LogStore, StateMachineStore), StorageError<u64>> {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = sled::Config::new().path(dir.path().join("sled")).open().expect("open sled");
        let log = LogStore::open(&db).expect("open log");
        let sm =
            StateMachineStore::open(&db, dir.path().to_path_buf()).expect("open state machine");
        Ok((dir, log, sm))
    }
}

#[test]
fn the_sled_stores_pass_the_openraft_suite() {
    if let Err(e) = Suite::test_all(SledBuilder) {
        panic!("storage suite failed: {e}");
    }
}
