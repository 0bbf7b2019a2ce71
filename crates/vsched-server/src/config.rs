//! The settings of one peer, as the command line and config file give them.

use std::path::PathBuf;
use std::time::Duration;

use vsched_raft::RaftSettings;

/// One member named by `--bootstrap`: `ID=PEERADDR@APIADDR`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootstrapMember {
    pub id: u64,
    pub peer: String,
    pub api: String,
}

impl BootstrapMember {
    /// Parses `ID=PEERADDR@APIADDR`.
    pub fn parse(s: &str) -> Result<BootstrapMember, String> {
        let (id, rest) =
            s.split_once('=').ok_or_else(|| format!("'{s}' is not ID=PEERADDR@APIADDR"))?;
        let (peer, api) =
            rest.split_once('@').ok_or_else(|| format!("'{s}' is not ID=PEERADDR@APIADDR"))?;
        let id: u64 = id.trim().parse().map_err(|_| format!("'{id}' in '{s}' is not a peer id"))?;
        if id == 0 {
            return Err(format!("peer id in '{s}' must be > 0"));
        }
        if peer.is_empty() || api.is_empty() {
            return Err(format!("'{s}' is not ID=PEERADDR@APIADDR"));
        }
        Ok(BootstrapMember { id, peer: peer.trim().into(), api: api.trim().into() })
    }

    /// Parses a comma-separated list of members.
    pub fn parse_list(s: &str) -> Result<Vec<BootstrapMember>, String> {
        s.split(',').filter(|p| !p.trim().is_empty()).map(BootstrapMember::parse).collect()
    }
}

/// Everything a peer needs to start.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub id: u64,
    /// HTTP listen address.
    pub api: String,
    /// gRPC listen address (peers and agents).
    pub peer: String,
    /// The API address other peers and clients should use, when it differs from
    /// the listen address (listening on 0.0.0.0, say).
    pub advertise_api: Option<String>,
    pub advertise_peer: Option<String>,
    pub data_dir: PathBuf,
    pub bootstrap: Vec<BootstrapMember>,
    pub join: Option<String>,
    pub admin_token: Option<String>,
    pub isolation_timeout: Duration,
    /// Largest accepted request body.
    pub body_limit: usize,
    /// How long a request waits for a leader before answering `UNAVAILABLE`.
    pub leader_wait: Duration,
    pub raft: RaftSettings,
}

impl ServerConfig {
    pub fn new(id: u64, data_dir: PathBuf) -> ServerConfig {
        ServerConfig {
            id,
            api: "127.0.0.1:7071".into(),
            peer: "127.0.0.1:7171".into(),
            advertise_api: None,
            advertise_peer: None,
            data_dir,
            bootstrap: Vec::new(),
            join: None,
            admin_token: None,
            isolation_timeout: Duration::from_secs(15),
            body_limit: 1024 * 1024,
            leader_wait: Duration::from_secs(5),
            raft: RaftSettings::default(),
        }
    }

    pub fn public_api(&self) -> String {
        self.advertise_api.clone().unwrap_or_else(|| self.api.clone())
    }

    pub fn public_peer(&self) -> String {
        self.advertise_peer.clone().unwrap_or_else(|| self.peer.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bootstrap_members() {
        let list =
            BootstrapMember::parse_list("1=127.0.0.1:7171@127.0.0.1:7071,2=h:2@h:3").unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(
            list[0],
            BootstrapMember { id: 1, peer: "127.0.0.1:7171".into(), api: "127.0.0.1:7071".into() }
        );
        assert!(BootstrapMember::parse("x=a@b").is_err());
        assert!(BootstrapMember::parse("0=a@b").is_err());
        assert!(BootstrapMember::parse("1=a").is_err());
    }
}
