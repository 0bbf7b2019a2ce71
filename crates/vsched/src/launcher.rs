//! Starts a local cluster as child processes of this one: `vsched server` peers
//! and `vsched agent` simulated nodes on loopback ports, each logging to a file
//! in the cluster directory. Used by `vsched dev` and `vsched bench`.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::json;

use crate::client::{CallError, Client};

/// What to start.
#[derive(Debug, Clone)]
pub struct ClusterSpec {
    pub peers: usize,
    pub nodes: usize,
    pub base_port: u16,
    pub data_dir: Option<PathBuf>,
    pub node_vcpu: u64,
    pub node_vram: String,
    /// Extra flags for every `vsched server`.
    pub server_args: Vec<String>,
}

pub struct LocalCluster {
    pub api_addrs: Vec<String>,
    pub peer_addrs: Vec<String>,
    pub token: String,
    pub dir: PathBuf,
    children: Vec<(String, Child)>,
    _temp: Option<tempfile::TempDir>,
}

/// Makes a child die with its parent, so a killed `vsched dev` leaves nothing behind.
fn die_with_parent(cmd: &mut Command) {
    // SAFETY: prctl is async-signal-safe and touches only the calling process.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            Ok(())
        });
    }
}

impl LocalCluster {
    pub fn start(spec: &ClusterSpec) -> anyhow::Result<LocalCluster> {
        anyhow::ensure!(spec.peers >= 1, "--peers must be at least 1");
        let (dir, temp) = match &spec.data_dir {
            Some(d) => (d.clone(), None),
            None => {
                let t = tempfile::Builder::new()
                    .prefix("vsched-dev-")
                    .tempdir()
                    .context("create a temporary directory")?;
                (t.path().to_path_buf(), Some(t))
            }
        };
        std::fs::create_dir_all(dir.join("logs")).context("create the cluster directory")?;
        let token = load_or_make_token(&dir)?;
        let exe = std::env::current_exe().context("find the vsched binary")?;

        let base = spec.base_port as usize;
        let api_addrs: Vec<String> =
            (1..=spec.peers).map(|i| format!("127.0.0.1:{}", base + i)).collect();
        let peer_addrs: Vec<String> =
            (1..=spec.peers).map(|i| format!("127.0.0.1:{}", base + 100 + i)).collect();
        let bootstrap: Vec<String> = (1..=spec.peers)
            .map(|i| format!("{i}={}@{}", peer_addrs[i - 1], api_addrs[i - 1]))
            .collect();

        let mut cluster = LocalCluster {
            api_addrs,
            peer_addrs,
            token,
            dir: dir.clone(),
            children: Vec::new(),
            _temp: temp,
        };
        for i in 1..=spec.peers {
            let mut args = vec![
                "server".to_string(),
                "--id".into(),
                i.to_string(),
                "--api".into(),
                cluster.api_addrs[i - 1].clone(),
                "--peer".into(),
                cluster.peer_addrs[i - 1].clone(),
                "--data-dir".into(),
                dir.join(format!("peer-{i}")).display().to_string(),
                "--admin-token".into(),
                cluster.token.clone(),
            ];
            if i == 1 {
                args.push("--bootstrap".into());
                args.push(bootstrap.join(","));
            }
            args.extend(spec.server_args.iter().cloned());
            cluster.spawn(&exe, &format!("peer-{i}"), &args)?;
        }
        for i in 1..=spec.nodes {
            let args = vec![
                "agent".to_string(),
                "--servers".into(),
                cluster.peer_addrs.join(","),
                "--data-dir".into(),
                dir.join(format!("agent-{i}")).display().to_string(),
                "--sim-vcpu".into(),
                spec.node_vcpu.to_string(),
                "--sim-vram".into(),
                spec.node_vram.clone(),
            ];
            cluster.spawn(&exe, &format!("agent-{i}"), &args)?;
        }
        Ok(cluster)
    }

    fn spawn(&mut self, exe: &Path, name: &str, args: &[String]) -> anyhow::Result<()> {
        let log_path = self.dir.join("logs").join(format!("{name}.log"));
        let log =
            File::create(&log_path).with_context(|| format!("create {}", log_path.display()))?;
        let mut cmd = Command::new(exe);
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .env_remove("VSCHED_TOKEN");
        die_with_parent(&mut cmd);
        let child = cmd.spawn().with_context(|| format!("start {name}"))?;
        self.children.push((name.to_string(), child));
        Ok(())
    }

    pub fn client(&self) -> Client {
        Client::with_addrs(self.api_addrs.clone(), Some(self.token.clone()))
    }

    /// Waits until a leader answers and `nodes` nodes are registered and ready.
    pub async fn wait_ready(&mut self, nodes: usize, timeout: Duration) -> anyhow::Result<()> {
        let client = self.client();
        let started = Instant::now();
        let mut last = String::from("no answer yet");
        while started.elapsed() < timeout {
            if let Some(dead) = self.exited() {
                anyhow::bail!("{dead} exited; see {}", self.dir.join("logs").display());
            }
            match client.call("node_list", json!({"status": "ready"}), None).await {
                Ok(data) => {
                    let ready = data["nodes"].as_array().map(Vec::len).unwrap_or(0);
                    if ready >= nodes {
                        return Ok(());
                    }
                    last = format!("{ready} of {nodes} nodes ready");
                }
                Err(CallError::Unreachable(e)) => last = e,
                Err(CallError::Op { code, message, .. }) => last = format!("{code}: {message}"),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        anyhow::bail!("the cluster was not ready within {timeout:?}: {last}")
    }

    /// The name of a child that has exited, if any. Each exit is reported once.
    pub fn exited(&mut self) -> Option<String> {
        let index = self
            .children
            .iter_mut()
            .position(|(_, child)| matches!(child.try_wait(), Ok(Some(_))))?;
        let (name, mut child) = self.children.remove(index);
        let status = child.try_wait().ok().flatten().map(|s| s.to_string()).unwrap_or_default();
        Some(format!("{name} ({status})"))
    }

    /// Stops every child: SIGTERM, then SIGKILL after a grace period.
    pub fn stop(&mut self) {
        for (_, child) in &self.children {
            // SAFETY: sending a signal to our own child's pid.
            unsafe {
                libc::kill(child.id() as i32, libc::SIGTERM);
            }
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        for (_, child) in &mut self.children {
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        self.children.clear();
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The admin token of a cluster directory: kept in `dev-token` so a restarted
/// cluster on the same directory keeps working with the same token.
fn load_or_make_token(dir: &Path) -> anyhow::Result<String> {
    let path = dir.join("dev-token");
    if let Ok(t) = std::fs::read_to_string(&path) {
        let t = t.trim().to_string();
        if !t.is_empty() {
            return Ok(t);
        }
    }
    let token = vsched_server::auth::new_token().token;
    std::fs::write(&path, &token).with_context(|| format!("write {}", path.display()))?;
    Ok(token)
}
