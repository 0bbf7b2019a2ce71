//! `vsched agent`: flags and starting the node agent.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use vsched_agent::{AgentConfig, Backend};
use vsched_model::Mem;

#[derive(Args, Debug)]
pub struct AgentArgs {
    /// gRPC addresses of any peers; the agent finds the leader.
    #[arg(long, value_delimiter = ',', required = true)]
    pub servers: Vec<String>,
    /// Keeps the node UUID and local agent state.
    #[arg(long)]
    pub data_dir: PathBuf,
    /// Override the node UUID (else generated once, kept in the data dir).
    #[arg(long)]
    pub node_id: Option<String>,
    /// Backend: sim or libvirt.
    #[arg(long, default_value = "sim")]
    pub hypervisor: Backend,
    /// libvirt connection URI.
    #[arg(long, default_value = "qemu:///system")]
    pub libvirt_uri: String,
    /// vCPUs of a simulated node.
    #[arg(long, default_value_t = 64)]
    pub sim_vcpu: u64,
    /// RAM of a simulated node (memstr).
    #[arg(long, default_value = "256G")]
    pub sim_vram: String,
    /// Labels the node reports at registration.
    #[arg(long, value_delimiter = ',')]
    pub labels: Vec<String>,
    /// Where VNC proxies listen; its host is the node's reported address.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub vnc_listen: String,
    /// Seconds without reaching a quorum before RECREATE-strategy VMs are stopped;
    /// must stay below the servers' isolation timeout.
    #[arg(long, default_value_t = 10)]
    pub fence_timeout: u64,
    /// With sim: simulate this many nodes in this one process.
    #[arg(long, default_value_t = 1)]
    pub sim_nodes: usize,
}

pub async fn run(args: AgentArgs) -> anyhow::Result<()> {
    let vram =
        Mem::parse(&args.sim_vram).with_context(|| format!("--sim-vram '{}'", args.sim_vram))?;
    anyhow::ensure!(args.sim_vcpu > 0 && vram.mib() > 0, "a simulated node needs vCPUs and RAM");
    anyhow::ensure!(
        args.sim_nodes == 1 || args.hypervisor == Backend::Sim,
        "--sim-nodes works with --hypervisor sim only"
    );
    let config = AgentConfig {
        servers: args.servers.into_iter().filter(|s| !s.trim().is_empty()).collect(),
        data_dir: args.data_dir,
        node_id: args.node_id,
        hypervisor: args.hypervisor,
        libvirt_uri: args.libvirt_uri,
        sim_vcpu: args.sim_vcpu,
        sim_vram_mib: vram.mib(),
        labels: args.labels.into_iter().filter(|l| !l.trim().is_empty()).collect(),
        vnc_listen: args.vnc_listen,
        fence_timeout: Duration::from_secs(args.fence_timeout),
        sim_nodes: args.sim_nodes,
    };
    anyhow::ensure!(!config.servers.is_empty(), "--servers must name at least one peer");
    vsched_agent::run(config).await
}
