//! What survives a restart: state rows written through on apply, an installed
//! snapshot, and a snapshot install interrupted half way.

use std::io::Cursor;

use openraft::storage::{RaftSnapshotBuilder, RaftStateMachine};
use openraft::{CommittedLeaderId, Entry, EntryPayload, LogId};
use serde_json::json;
use vsched_model::types::Role;
use vsched_model::{Caller, Op};
use vsched_raft::state_machine::StateMachineStore;
use vsched_raft::TypeConfig;
use vsched_state::{Action, Command, Proposal};

fn open(dir: &std::path::Path) -> (sled::Db, StateMachineStore) {
    let db = sled::Config::new().path(dir.join("sled")).open().unwrap();
    let sm = StateMachineStore::open(&db, dir.to_path_buf()).unwrap();
    (db, sm)
}

fn entry(index: u64, names: &[&str]) -> Entry<TypeConfig> {
    let caller = Caller { login: "olga".into(), ns: "team".into(), role: Role::Operator };
    let commands = names
        .iter()
        .map(|n| Command {
            at_ms: 1,
            caller: caller.clone(),
            request_id: None,
            action: Action::Op(
                Op::parse("vcluster_add", json!({"name": n, "labels": []})).unwrap(),
            ),
        })
        .collect();
    Entry {
        log_id: LogId::new(CommittedLeaderId::new(1, 1), index),
        payload: EntryPayload::Normal(Proposal { commands }),
    }
}

fn vclusters(sm: &StateMachineStore) -> usize {
    let shared = sm.shared();
    let ms = shared.read().unwrap();
    ms.state.table_sizes().into_iter().find(|(t, _)| *t == "vclusters").unwrap().1
}

#[tokio::test]
async fn applied_rows_and_position_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (_db, mut sm) = open(dir.path());
        let out = sm.apply([entry(1, &["a", "b"]), entry(2, &["a", "c"])]).await.unwrap();
        // The second "a" is refused; the rest of its entry still applies.
        assert_eq!(out[1].outcomes[0].as_ref().unwrap_err().code.as_str(), "ALREADY_EXISTS");
        assert!(out[1].outcomes[1].is_ok());
    }
    let (_db, mut sm) = open(dir.path());
    assert_eq!(vclusters(&sm), 3);
    let (applied, _) = sm.applied_state().await.unwrap();
    assert_eq!(applied.map(|l| l.index), Some(2));
}

#[tokio::test]
async fn an_installed_snapshot_replaces_the_rows() {
    let source = tempfile::tempdir().unwrap();
    let (_db, mut sm) = open(source.path());
    sm.apply([entry(1, &["a", "b", "c"])]).await.unwrap();
    let snapshot = sm.build_snapshot().await.unwrap();

    let target = tempfile::tempdir().unwrap();
    {
        let (_db, mut other) = open(target.path());
        other.apply([entry(1, &["old"])]).await.unwrap();
        let data = snapshot.snapshot.clone().into_inner();
        other.install_snapshot(&snapshot.meta, Box::new(Cursor::new(data))).await.unwrap();
        assert_eq!(vclusters(&other), 3);
    }
    let (_db, other) = open(target.path());
    assert_eq!(vclusters(&other), 3, "the old row is gone after a restart too");
}

#[tokio::test]
async fn an_interrupted_snapshot_install_recovers_from_the_snapshot_file() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (db, mut sm) = open(dir.path());
        sm.apply([entry(1, &["a", "b"])]).await.unwrap();
        sm.build_snapshot().await.unwrap();
        sm.apply([entry(2, &["c"])]).await.unwrap();
        // A crash in the middle of rewriting the state tree leaves the marker and
        // some rows behind.
        let tree = db.open_tree("state").unwrap();
        tree.insert(b"~rewriting", &[1u8]).unwrap();
        tree.insert(b"vclusters/garbage", b"not msgpack".as_slice()).unwrap();
        db.flush().unwrap();
    }
    let (_db, mut sm) = open(dir.path());
    assert_eq!(vclusters(&sm), 2, "the snapshot had a and b");
    let (applied, _) = sm.applied_state().await.unwrap();
    assert_eq!(applied.map(|l| l.index), Some(1));
}
