//! The node agent: one process per hypervisor host (or, with the simulated
//! hypervisor, many nodes in one process). Each node registers with the cluster,
//! heartbeats to the leader, carries out VM commands on its hypervisor, and
//! fences itself when it loses the cluster.
//!
//! Layout:
//! - [`config`]: the agent's settings and node identities kept in its data dir;
//! - [`hypervisor`]: the backend trait and the commands it carries out;
//! - [`sim`]: the simulated hypervisor, for tests, demos and large simulations;
//! - [`session`]: the stream to the leader, with redirects, heartbeats and fencing.
//!
//! The agent never decides placement; it does what the leader asks.

pub mod config;
pub mod hypervisor;
pub mod session;
pub mod sim;

pub use config::{AgentConfig, Backend};

use std::sync::Arc;

use anyhow::Context;

/// Runs every node of this agent until SIGINT or SIGTERM; each node says goodbye
/// to the cluster on the way out.
pub async fn run(config: AgentConfig) -> anyhow::Result<()> {
    let ids = config.node_ids().context("load node identities")?;
    let config = Arc::new(config);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut tasks = Vec::new();
    for (i, id) in ids.into_iter().enumerate() {
        let hv = config.hypervisor(i, &id)?;
        tracing::info!(node = %id, hostname = %hv.facts().hostname, "node starting");
        tasks.push(tokio::spawn(session::run_node(config.clone(), id, hv, stop_rx.clone())));
    }

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("install SIGTERM handler")?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    let _ = stop_tx.send(true);
    let _ =
        tokio::time::timeout(std::time::Duration::from_secs(3), futures::future::join_all(tasks))
            .await;
    Ok(())
}
