//! The server side of the peer transport: decodes openraft RPCs from their
//! MessagePack payloads and hands them to the local Raft instance. Forwarded client
//! operations go to whatever implements [`ForwardHandler`] (the API layer).

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tonic::{Request, Response, Status};
use vsched_proto::raft::raft_service_server::{RaftService, RaftServiceServer};
use vsched_proto::raft::{ForwardReply, ForwardRequest, RaftPayload};
use vsched_state::Command;

use crate::network::MAX_MESSAGE_BYTES;
use crate::types::Raft;
use crate::{decode, encode};

/// Runs what other peers hand to the leader.
#[tonic::async_trait]
pub trait ForwardHandler: Send + Sync + 'static {
    /// A client operation received by another peer.
    async fn forward(&self, request: ForwardRequest) -> ForwardReply;

    /// A command another peer built itself.
    async fn propose(&self, command: Command) -> ProposeReply;
}

/// The answer to a peer's proposal.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProposeReply {
    /// The outcome as JSON text: `{"ok": data}` or `{"error": {...}}`.
    pub outcome_json: String,
    pub index: u64,
    pub not_leader: bool,
}

/// The gRPC service every peer runs for the others.
pub struct PeerService {
    raft: Raft,
    forward: Arc<dyn ForwardHandler>,
}

impl PeerService {
    pub fn new(raft: Raft, forward: Arc<dyn ForwardHandler>) -> PeerService {
        PeerService { raft, forward }
    }

    /// The tonic server wrapper with the peer message limits.
    pub fn into_server(self) -> RaftServiceServer<PeerService> {
        RaftServiceServer::new(self)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES)
    }
}

fn bad_payload(e: impl std::fmt::Display) -> Status {
    Status::invalid_argument(format!("undecodable raft payload: {e}"))
}

fn reply<T: Serialize>(value: &T) -> Result<Response<RaftPayload>, Status> {
    let data = encode(value).map_err(|e| Status::internal(e.to_string()))?;
    Ok(Response::new(RaftPayload { data }))
}

#[tonic::async_trait]
impl RaftService for PeerService {
    async fn append_entries(
        &self,
        req: Request<RaftPayload>,
    ) -> Result<Response<RaftPayload>, Status> {
        let rpc = decode(&req.into_inner().data).map_err(bad_payload)?;
        reply(&self.raft.append_entries(rpc).await)
    }

    async fn vote(&self, req: Request<RaftPayload>) -> Result<Response<RaftPayload>, Status> {
        let rpc = decode(&req.into_inner().data).map_err(bad_payload)?;
        reply(&self.raft.vote(rpc).await)
    }

    async fn install_snapshot(
        &self,
        req: Request<RaftPayload>,
    ) -> Result<Response<RaftPayload>, Status> {
        let rpc = decode(&req.into_inner().data).map_err(bad_payload)?;
        reply(&self.raft.install_snapshot(rpc).await)
    }

    async fn forward(
        &self,
        req: Request<ForwardRequest>,
    ) -> Result<Response<ForwardReply>, Status> {
        Ok(Response::new(self.forward.forward(req.into_inner()).await))
    }

    async fn propose(&self, req: Request<RaftPayload>) -> Result<Response<RaftPayload>, Status> {
        let command: Command = decode(&req.into_inner().data).map_err(bad_payload)?;
        reply(&self.forward.propose(command).await)
    }
}
