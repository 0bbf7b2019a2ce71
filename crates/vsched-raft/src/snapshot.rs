//! Snapshot files: the encoded state with the Raft metadata it reflects, written to
//! a temporary file, fsynced and renamed into place, so a crash never leaves half a
//! snapshot behind.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::types::SnapshotMeta;
use crate::{decode, encode};

/// One stored snapshot.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SnapshotFile {
    pub meta: SnapshotMeta,
    /// `State::encode_snapshot` output.
    pub data: Vec<u8>,
}

pub fn path_in(dir: &Path) -> PathBuf {
    dir.join("snapshot.msgpack")
}

/// Writes the snapshot durably.
pub fn save(dir: &Path, snapshot: &SnapshotFile) -> std::io::Result<()> {
    let path = path_in(dir);
    let tmp = dir.join("snapshot.msgpack.tmp");
    let bytes = encode(snapshot).map_err(std::io::Error::other)?;
    {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, &path)?;
    fs::File::open(dir)?.sync_all()?;
    Ok(())
}

/// Reads the stored snapshot, if there is one.
pub fn load(dir: &Path) -> std::io::Result<Option<SnapshotFile>> {
    let path = path_in(dir);
    match fs::read(&path) {
        Ok(bytes) => decode(&bytes).map(Some).map_err(std::io::Error::other),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_snapshot_loads_back() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load(dir.path()).unwrap().is_none());
        let snap = SnapshotFile { meta: SnapshotMeta::default(), data: vec![1, 2, 3] };
        save(dir.path(), &snap).unwrap();
        let back = load(dir.path()).unwrap().unwrap();
        assert_eq!(back.data, vec![1, 2, 3]);
        assert!(!dir.path().join("snapshot.msgpack.tmp").exists());
    }
}
