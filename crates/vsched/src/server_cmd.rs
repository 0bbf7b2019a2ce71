//! `vsched server`: flags, the optional TOML config file (same keys as the flags,
//! flags win), and starting the peer.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use serde::Deserialize;
use vsched_server::config::BootstrapMember;
use vsched_server::ServerConfig;

#[derive(Args, Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ServerArgs {
    /// Raft node id, unique, > 0 (required here or in --config).
    #[arg(long)]
    pub id: Option<u64>,
    /// HTTP listen address (JSON-RPC, metrics, health) [default: 127.0.0.1:7071].
    #[arg(long)]
    pub api: Option<String>,
    /// gRPC listen address (Raft and node agents) [default: 127.0.0.1:7171].
    #[arg(long)]
    pub peer: Option<String>,
    /// Where the Raft log, state and snapshots live (required here or in --config).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Initialize a new cluster with these members: ID=PEERADDR@APIADDR,... (ignored
    /// on restart with the same data dir).
    #[arg(long)]
    pub bootstrap: Option<String>,
    /// Ask the cluster at this API address to add this peer (learner, then voter);
    /// needs an admin token from --admin-token or VSCHED_TOKEN.
    #[arg(long)]
    pub join: Option<String>,
    /// The first admin token, taken at bootstrap [default: generated and printed].
    #[arg(long, env = "VSCHED_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Seconds without heartbeat before a node becomes isolated [default: 15].
    #[arg(long)]
    pub isolation_timeout: Option<u64>,
    /// TOML file with the same keys as the flags; flags win.
    #[arg(long)]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// API address to announce to other peers and clients, if not --api.
    #[arg(long)]
    pub advertise_api: Option<String>,
    /// gRPC address to announce to other peers and agents, if not --peer.
    #[arg(long)]
    pub advertise_peer: Option<String>,
    /// Largest request body in bytes [default: 1048576].
    #[arg(long)]
    pub body_limit: Option<usize>,
    /// Build a snapshot after this many log entries [default: 20000].
    #[arg(long)]
    pub snapshot_every: Option<u64>,
    /// Log entries kept behind a snapshot [default: 5000].
    #[arg(long)]
    pub keep_logs: Option<u64>,
    /// Raft heartbeat interval in milliseconds [default: 100].
    #[arg(long)]
    pub heartbeat_ms: Option<u64>,
    /// Minimum Raft election timeout in milliseconds; the maximum is twice it
    /// [default: 600].
    #[arg(long)]
    pub election_timeout_ms: Option<u64>,
}

macro_rules! merge {
    ($flags:expr, $file:expr, $($field:ident),+) => {
        $( if $flags.$field.is_none() { $flags.$field = $file.$field.take(); } )+
    };
}

impl ServerArgs {
    /// Fills flags not given from the config file.
    fn merge_file(mut self) -> anyhow::Result<ServerArgs> {
        let Some(path) = self.config.clone() else { return Ok(self) };
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("read config {}", path.display()))?;
        let mut file: ServerArgs =
            toml::from_str(&text).with_context(|| format!("parse config {}", path.display()))?;
        merge!(
            self,
            file,
            id,
            api,
            peer,
            data_dir,
            bootstrap,
            join,
            admin_token,
            isolation_timeout,
            advertise_api,
            advertise_peer,
            body_limit,
            snapshot_every,
            keep_logs,
            heartbeat_ms,
            election_timeout_ms
        );
        Ok(self)
    }

    pub fn into_config(self) -> anyhow::Result<ServerConfig> {
        let args = self.merge_file()?;
        let id = args.id.context("--id is required")?;
        anyhow::ensure!(id > 0, "--id must be > 0");
        let data_dir = args.data_dir.context("--data-dir is required")?;
        anyhow::ensure!(
            !(args.bootstrap.is_some() && args.join.is_some()),
            "--bootstrap and --join cannot be used together"
        );
        let mut config = ServerConfig::new(id, data_dir);
        if let Some(v) = args.api {
            config.api = v;
        }
        if let Some(v) = args.peer {
            config.peer = v;
        }
        config.advertise_api = args.advertise_api;
        config.advertise_peer = args.advertise_peer;
        if let Some(b) = args.bootstrap {
            config.bootstrap = BootstrapMember::parse_list(&b).map_err(anyhow::Error::msg)?;
        }
        config.join = args.join;
        config.admin_token = args.admin_token.filter(|t| !t.is_empty());
        if let Some(s) = args.isolation_timeout {
            anyhow::ensure!(s > 0, "--isolation-timeout must be > 0");
            config.isolation_timeout = Duration::from_secs(s);
        }
        if let Some(v) = args.body_limit {
            config.body_limit = v;
        }
        if let Some(v) = args.snapshot_every {
            anyhow::ensure!(v > 0, "--snapshot-every must be > 0");
            config.raft.snapshot_every = v;
        }
        if let Some(v) = args.keep_logs {
            config.raft.keep_logs = v;
        }
        if let Some(v) = args.heartbeat_ms {
            config.raft.heartbeat_ms = v;
        }
        if let Some(v) = args.election_timeout_ms {
            config.raft.election_min_ms = v;
            config.raft.election_max_ms = v * 2;
        }
        anyhow::ensure!(
            config.raft.heartbeat_ms < config.raft.election_min_ms,
            "the heartbeat interval must be shorter than the election timeout"
        );
        Ok(config)
    }
}

pub async fn run(args: ServerArgs) -> anyhow::Result<()> {
    let config = args.into_config()?;
    vsched_server::run(config).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_the_config_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vsched.toml");
        std::fs::write(
            &path,
            "id = 2\napi = \"127.0.0.1:9000\"\ndata-dir = \"/tmp/x\"\nisolation-timeout = 5\n",
        )
        .unwrap();
        let args = ServerArgs {
            api: Some("127.0.0.1:9001".into()),
            config: Some(path),
            ..Default::default()
        };
        let config = args.into_config().unwrap();
        assert_eq!(config.id, 2);
        assert_eq!(config.api, "127.0.0.1:9001");
        assert_eq!(config.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(config.isolation_timeout, Duration::from_secs(5));
    }

    #[test]
    fn unknown_config_keys_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vsched.toml");
        std::fs::write(&path, "id = 2\ndata_dir = \"/tmp/x\"\n").unwrap();
        let args = ServerArgs { config: Some(path), ..Default::default() };
        assert!(args.into_config().is_err());
    }

    #[test]
    fn id_and_data_dir_are_required() {
        assert!(ServerArgs::default().into_config().is_err());
    }
}
