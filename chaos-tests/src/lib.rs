//! The one harness of vsched's cross-process tests: it starts real `vsched
//! server` peers and `vsched agent` processes on loopback ports, kills and
//! restarts them, and talks to the cluster over HTTP exactly as clients do.
//!
//! Integration tests of the binary (`crates/vsched/tests`) and the chaos tests in
//! this crate share it. Processes log to files in the cluster's temporary
//! directory; a failing test prints where.

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind a free port")
}

/// A child process with its command line, so it can be killed and started again.
pub struct Proc {
    pub name: String,
    bin: PathBuf,
    args: Vec<String>,
    log: PathBuf,
    child: Option<Child>,
}

impl Proc {
    fn spawn(bin: &Path, name: &str, args: Vec<String>, log: PathBuf) -> Proc {
        let mut p = Proc { name: name.into(), bin: bin.into(), args, log, child: None };
        p.start();
        p
    }

    /// Starts the process (again) with its original arguments; its log is appended.
    pub fn start(&mut self) {
        assert!(self.child.is_none(), "{} is already running", self.name);
        let log = File::options().create(true).append(true).open(&self.log).expect("open log");
        let child = Command::new(&self.bin)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .env("RUST_LOG", "info,openraft=warn,sled=warn")
            .env_remove("VSCHED_TOKEN")
            .env_remove("VSCHED_ADMIN_TOKEN")
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", self.name));
        self.child = Some(child);
    }

    /// SIGKILL: the process gets no chance to clean up.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, then SIGKILL after five seconds.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SAFETY: signalling our own child.
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGSTOP / SIGCONT: freezes the process without closing its sockets.
    pub fn pause(&self, paused: bool) {
        if let Some(c) = &self.child {
            let sig = if paused { libc::SIGSTOP } else { libc::SIGCONT };
            // SAFETY: signalling our own child.
            unsafe { libc::kill(c.id() as i32, sig) };
        }
    }

    pub fn running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One scheduler peer.
pub struct Peer {
    pub id: u64,
    pub api: String,
    pub peer: String,
    pub dir: PathBuf,
    pub proc: Proc,
}

/// How to start a cluster.
#[derive(Clone)]
pub struct ClusterOpts {
    pub peers: usize,
    /// Extra flags for every peer.
    pub server_args: Vec<String>,
}

impl Default for ClusterOpts {
    fn default() -> Self {
        ClusterOpts { peers: 3, server_args: vec!["--isolation-timeout".into(), "3".into()] }
    }
}

/// An HTTP reply.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
}

impl Reply {
    pub fn ok(&self) -> bool {
        self.body["context"]["status"] == "ok"
    }

    pub fn data(&self) -> &Value {
        &self.body["data"]
    }

    /// The error code, or `OK`.
    pub fn code(&self) -> &str {
        if self.ok() {
            "OK"
        } else {
            self.body["error"]["code"].as_str().unwrap_or("?")
        }
    }
}

/// A cluster of real processes in a temporary directory.
pub struct Cluster {
    pub bin: PathBuf,
    pub dir: tempfile::TempDir,
    pub peers: Vec<Peer>,
    pub agents: Vec<Proc>,
    pub token: String,
    opts: ClusterOpts,
    http: reqwest::Client,
}

impl Cluster {
    /// Starts `opts.peers` peers, peer 1 bootstrapping all of them, and waits for a
    /// leader that answers with the admin token.
    pub async fn start(bin: impl Into<PathBuf>, opts: ClusterOpts) -> Cluster {
        let bin = bin.into();
        let dir = tempfile::Builder::new().prefix("vsched-test-").tempdir().expect("temp dir");
        let token = format!("test-admin-{}", std::process::id());
        let http =
            reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("client");
        let addrs: Vec<(u64, String, String)> = (1..=opts.peers as u64)
            .map(|id| {
                (id, format!("127.0.0.1:{}", free_port()), format!("127.0.0.1:{}", free_port()))
            })
            .collect();
        let bootstrap: Vec<String> =
            addrs.iter().map(|(id, api, peer)| format!("{id}={peer}@{api}")).collect();
        let mut cluster = Cluster {
            bin,
            dir,
            peers: Vec::new(),
            agents: Vec::new(),
            token,
            opts: opts.clone(),
            http,
        };
        for (id, api, peer) in addrs {
            let extra =
                if id == 1 { vec!["--bootstrap".to_string(), bootstrap.join(",")] } else { vec![] };
            cluster.spawn_peer(id, api, peer, extra);
        }
        cluster.wait_leader(Duration::from_secs(30)).await;
        cluster.wait_admin_token().await;
        cluster.wait_all_ready(Duration::from_secs(30)).await;
        cluster
    }

    /// Waits until every running peer answers `/readyz` with 200: it listens, knows
    /// the leader and has applied what it knows committed.
    pub async fn wait_all_ready(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        for i in 0..self.peers.len() {
            if !self.peers[i].proc.running() {
                continue;
            }
            while self.get(i, "/readyz").await.status != 200 {
                assert!(
                    Instant::now() < deadline,
                    "peer {} not ready within {timeout:?}; logs in {}",
                    self.peers[i].id,
                    self.dir.path().display()
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }

    fn spawn_peer(&mut self, id: u64, api: String, peer: String, extra: Vec<String>) {
        let dir = self.dir.path().join(format!("peer-{id}"));
        let mut args = vec![
            "server".to_string(),
            "--id".into(),
            id.to_string(),
            "--api".into(),
            api.clone(),
            "--peer".into(),
            peer.clone(),
            "--data-dir".into(),
            dir.display().to_string(),
            "--admin-token".into(),
            self.token.clone(),
        ];
        args.extend(extra);
        args.extend(self.opts.server_args.iter().cloned());
        let log = self.dir.path().join(format!("peer-{id}.log"));
        let proc = Proc::spawn(&self.bin, &format!("peer-{id}"), args, log);
        self.peers.push(Peer { id, api, peer, dir, proc });
    }

    /// Starts a new peer that joins through `via`'s API, with extra flags.
    pub fn join_peer(&mut self, id: u64, via: usize, extra: &[&str]) {
        let api = format!("127.0.0.1:{}", free_port());
        let peer = format!("127.0.0.1:{}", free_port());
        let mut args = vec!["--join".to_string(), self.peers[via].api.clone()];
        args.extend(extra.iter().map(|s| s.to_string()));
        self.spawn_peer(id, api, peer, args);
    }

    pub fn peer_addrs(&self) -> Vec<String> {
        self.peers.iter().map(|p| p.peer.clone()).collect()
    }

    pub fn peer(&mut self, id: u64) -> &mut Peer {
        self.peers.iter_mut().find(|p| p.id == id).expect("peer id")
    }

    /// Index of peer `id` in `peers`.
    pub fn index_of(&self, id: u64) -> usize {
        self.peers.iter().position(|p| p.id == id).expect("peer id")
    }

    /// Starts an agent process with these extra flags; returns its index.
    pub fn start_agent(&mut self, name: &str, extra: &[&str]) -> usize {
        let dir = self.dir.path().join(name);
        let mut args = vec![
            "agent".to_string(),
            "--servers".into(),
            self.peer_addrs().join(","),
            "--data-dir".into(),
            dir.display().to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let log = self.dir.path().join(format!("{name}.log"));
        self.agents.push(Proc::spawn(&self.bin, name, args, log));
        self.agents.len() - 1
    }

    /// Sends one envelope-A operation to peer `index` with `token`.
    pub async fn call_with(
        &self,
        index: usize,
        token: Option<&str>,
        op: &str,
        data: Value,
    ) -> Reply {
        let body = json!({"context": {"op": op}, "data": data});
        self.post(index, token, &body).await
    }

    /// Sends a raw JSON body to peer `index`.
    pub async fn post(&self, index: usize, token: Option<&str>, body: &Value) -> Reply {
        self.post_bytes(index, token, body.to_string().into_bytes()).await
    }

    pub async fn post_bytes(&self, index: usize, token: Option<&str>, body: Vec<u8>) -> Reply {
        self.post_with_headers(index, token, body, &[]).await
    }

    /// Sends a raw body with extra HTTP headers to peer `index`.
    pub async fn post_with_headers(
        &self,
        index: usize,
        token: Option<&str>,
        body: Vec<u8>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let url = format!("http://{}/rpc", self.peers[index].api);
        let mut req = self.http.post(url).header("content-type", "application/json").body(body);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        match req.send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let text = resp.text().await.unwrap_or_default();
                Reply { status, body: serde_json::from_str(&text).unwrap_or(Value::String(text)) }
            }
            Err(e) => Reply { status: 0, body: json!({"transport_error": e.to_string()}) },
        }
    }

    /// Sends an operation as the admin to peer `index`.
    pub async fn call(&self, index: usize, op: &str, data: Value) -> Reply {
        self.call_with(index, Some(&self.token), op, data).await
    }

    /// Sends an operation as the admin to the first running peer that answers
    /// with something other than a transport error or UNAVAILABLE.
    pub async fn call_any(&self, op: &str, data: Value) -> Reply {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let mut last = None;
            for i in 0..self.peers.len() {
                let r = self.call(i, op, data.clone()).await;
                if r.status != 0 && r.code() != "UNAVAILABLE" {
                    return r;
                }
                last = Some(r);
            }
            if Instant::now() > deadline {
                return last.expect("at least one peer");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// GETs a path from peer `index`.
    pub async fn get(&self, index: usize, path: &str) -> Reply {
        let url = format!("http://{}{}", self.peers[index].api, path);
        match self.http.get(url).send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let text = resp.text().await.unwrap_or_default();
                Reply { status, body: serde_json::from_str(&text).unwrap_or(Value::String(text)) }
            }
            Err(e) => Reply { status: 0, body: json!({"transport_error": e.to_string()}) },
        }
    }

    /// Waits until some running peer reports a leader that is itself running, and
    /// returns the leader's id.
    pub async fn wait_leader(&mut self, timeout: Duration) -> u64 {
        let deadline = Instant::now() + timeout;
        loop {
            for i in 0..self.peers.len() {
                if !self.peers[i].proc.running() {
                    continue;
                }
                let r = self.get(i, "/healthz").await;
                if let Some(leader) = r.body["leader_id"].as_u64() {
                    let idx = self.peers.iter().position(|p| p.id == leader);
                    if let Some(idx) = idx {
                        if self.peers[idx].proc.running()
                            && self.get(idx, "/readyz").await.status == 200
                        {
                            return leader;
                        }
                    }
                }
            }
            assert!(
                Instant::now() < deadline,
                "no leader within {timeout:?}; logs in {}",
                self.dir.path().display()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn wait_admin_token(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let r = self.call_any("whoami", Value::Null).await;
            if r.ok() {
                return;
            }
            assert!(Instant::now() < deadline, "admin token never worked: {:?}", r.body);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Polls `check` until it returns `Some`, failing the test after `timeout`.
    pub async fn eventually<T, F, Fut>(&self, what: &str, timeout: Duration, mut check: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(v) = check().await {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; logs in {}",
                self.dir.path().display()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Keeps the directory (and logs) after the test, for a failing test to inspect.
    pub fn keep_dir(mut self) -> PathBuf {
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("temp dir"));
        dir.keep()
    }
}

impl Drop for Cluster {
    /// A failing test keeps its cluster directory, so its logs can be read.
    fn drop(&mut self) {
        for p in &mut self.peers {
            p.proc.kill();
        }
        for a in &mut self.agents {
            a.kill();
        }
        if std::thread::panicking() {
            if let Ok(empty) = tempfile::tempdir() {
                let dir = std::mem::replace(&mut self.dir, empty);
                eprintln!("cluster directory kept: {}", dir.keep().display());
            }
        }
    }
}
