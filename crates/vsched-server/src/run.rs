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
    if !config.bootstrap.is_empty() {
        let p = peer.clone();
        tokio::spawn(async move {
            if let Err(e) = crate::cluster::bootstrap(p).await {
                tracing::error!(error = %e, "bootstrap failed");
            }
        });
    }
    if let Some(api) = config.join.clone() {
        let p = peer.clone();
        let token = config.admin_token.clone().or_else(|| std::env::var("VSCHED_TOKEN").ok());
        tokio::spawn(async move {
            if let Err(e) = crate::cluster::join(p, api, token).await {
                tracing::error!(error = %e, "join failed");
            }
        });
    }

    wait_for_signal().await;
    tracing::info!("stopping");
    let _ = stop_tx.send(true);
    let _ = peer.raft.shutdown().await;
    let _ = tokio::time::timeout(std::time::Duration::from_secs(3), async {
        let _ = grpc.await;
        let _ = http.await;
    })
    .await;
    Ok(())
}

async fn wait_for_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("install SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
