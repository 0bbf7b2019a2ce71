//! Starts a peer: storage and Raft, the gRPC listener (peers and agents), the HTTP
//! listener, the liveness loop, and bootstrap or join; stops on SIGINT or SIGTERM.

use std::future::IntoFuture;
use std::sync::Arc;

use anyhow::Context;
use futures::StreamExt;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use vsched_raft::service::PeerService;

use crate::agents::{watch_liveness, Agents};
use crate::config::ServerConfig;
use crate::peer::Peer;

/// Runs a peer until it is asked to stop.
pub async fn run(config: ServerConfig) -> anyhow::Result<()> {
    // Mistakes in how the peer was asked to start are reported before anything
    // is opened.
    if !config.bootstrap.is_empty() {
        anyhow::ensure!(
            config.bootstrap.iter().any(|m| m.id == config.id),
            "--bootstrap must list this peer's own id {}",
            config.id
        );
    }
    let join_token = config.admin_token.clone().or_else(|| std::env::var("VSCHED_TOKEN").ok());
    anyhow::ensure!(
        config.join.is_none() || join_token.is_some(),
        "--join needs an admin token: --admin-token, VSCHED_ADMIN_TOKEN or VSCHED_TOKEN"
    );

    let node = vsched_raft::open(config.id, &config.data_dir, &config.raft).await?;
    let peer = Peer::new(node, config.clone());

    let grpc_listener = TcpListener::bind(&config.peer)
        .await
        .with_context(|| format!("listen on --peer {}", config.peer))?;
    let api_listener = TcpListener::bind(&config.api)
        .await
        .with_context(|| format!("listen on --api {}", config.api))?;
    let dir = config.data_dir.display();
    tracing::info!(
        id = config.id, api = %config.api, peer = %config.peer, data_dir = %dir, "peer starting"
    );

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);

    let incoming = TcpListenerStream::new(grpc_listener).map(|conn| {
        if let Ok(stream) = &conn {
            let _ = stream.set_nodelay(true);
        }
        conn
    });
    let peer_service = PeerService::new(peer.raft.clone(), peer.clone() as Arc<_>).into_server();
    let mut grpc_stop = stop_rx.clone();
    let grpc = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(peer_service)
            .add_service(Agents::server(peer.clone()))
            .serve_with_incoming_shutdown(incoming, async move {
                let _ = grpc_stop.wait_for(|s| *s).await;
            }),
    );

    let mut http_stop = stop_rx.clone();
    let http = tokio::spawn(
        axum::serve(api_listener, crate::http::router(peer.clone()))
            .with_graceful_shutdown(async move {
                let _ = http_stop.wait_for(|s| *s).await;
            })
            .into_future(),
    );

    tokio::spawn(watch_liveness(peer.clone()));

    // Bootstrap and join run beside the servers (they need them to talk to the
    // other peers); if either fails for good, the peer stops with its error.
    let (fatal_tx, mut fatal_rx) = tokio::sync::mpsc::channel::<anyhow::Error>(2);
    if !config.bootstrap.is_empty() {
        let (p, tx) = (peer.clone(), fatal_tx.clone());
        tokio::spawn(async move {
            if let Err(e) = crate::cluster::bootstrap(p).await {
                let _ = tx.send(e.context("bootstrap")).await;
            }
        });
    }
    if let Some(api) = config.join.clone() {
        let (p, tx) = (peer.clone(), fatal_tx.clone());
        tokio::spawn(async move {
            if let Err(e) = crate::cluster::join(p, api, join_token).await {
                let _ = tx.send(e.context("join")).await;
            }
        });
    }

    let outcome = tokio::select! {
        _ = wait_for_signal() => Ok(()),
        Some(e) = fatal_rx.recv() => Err(e),
    };
    match &outcome {
        Ok(()) => tracing::info!("stopping"),
        Err(e) => tracing::error!(error = %format!("{e:#}"), "stopping"),
    }
    let _ = stop_tx.send(true);
    let _ = peer.raft.shutdown().await;
    let _ = tokio::time::timeout(std::time::Duration::from_secs(3), async {
        let _ = grpc.await;
        let _ = http.await;
    })
    .await;
    outcome
}

async fn wait_for_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("install SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
