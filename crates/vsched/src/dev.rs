//! `vsched dev`: a whole local cluster for trying vsched out.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::launcher::{ClusterSpec, LocalCluster};

#[derive(Args, Debug)]
pub struct DevArgs {
    /// Number of scheduler peers.
    #[arg(long, default_value_t = 3)]
    pub peers: usize,
    /// Number of simulated nodes (64 vCPU / 256G each).
    #[arg(long, default_value_t = 4)]
    pub nodes: usize,
    /// API ports are base+1.., peer ports base+101...
    #[arg(long, default_value_t = 7070)]
    pub base_port: u16,
    /// Keep the cluster here (default: a fresh temporary directory, removed on exit).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Seconds without heartbeat before a node becomes isolated.
    #[arg(long)]
    pub isolation_timeout: Option<u64>,
}

pub async fn run(args: DevArgs) -> anyhow::Result<()> {
    let mut server_args = Vec::new();
    if let Some(s) = args.isolation_timeout {
        server_args.extend(["--isolation-timeout".to_string(), s.to_string()]);
    }
    let spec = ClusterSpec {
        peers: args.peers,
        nodes: args.nodes,
        base_port: args.base_port,
        data_dir: args.data_dir,
        node_vcpu: 64,
        node_vram: "256G".into(),
        server_args,
    };
    let mut cluster = LocalCluster::start(&spec)?;
    cluster.wait_ready(args.nodes, Duration::from_secs(60)).await?;

    let apis: Vec<String> = cluster.api_addrs.iter().map(|a| format!("http://{a}")).collect();
    println!("ready api={} token={}", apis.join(","), cluster.token);
    eprintln!("logs in {}; Ctrl-C stops the cluster", cluster.dir.join("logs").display());

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut watch = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = term.recv() => break,
            _ = watch.tick() => {
                if let Some(dead) = cluster.exited() {
                    eprintln!("warning: {dead} exited; see {}", cluster.dir.join("logs").display());
                }
            }
        }
    }
    eprintln!("stopping");
    cluster.stop();
    Ok(())
}
