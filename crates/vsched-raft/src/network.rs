//! The client side of the peer transport: openraft's RPCs sent over gRPC, each
//! request and response MessagePack-encoded inside a `RaftPayload`.

use std::time::Duration;

use openraft::error::{
    InstallSnapshotError, NetworkError, PayloadTooLarge, RPCError, RaftError, RemoteError,
    Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tonic::transport::{Channel, Endpoint};
use vsched_proto::raft::raft_service_client::RaftServiceClient;
use vsched_proto::raft::RaftPayload;

use crate::types::{NodeId, PeerNode, TypeConfig};
use crate::{decode, encode};

/// Largest gRPC message between peers, both ways.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// An append larger than this is refused locally with `PayloadTooLarge`, which
/// makes openraft send fewer entries per request.
const MAX_APPEND_BYTES: usize = 32 * 1024 * 1024;

/// Opens a lazily connecting gRPC channel to `addr` (`host:port`).
pub fn channel(addr: &str) -> Result<Channel, tonic::transport::Error> {
    Ok(Endpoint::from_shared(format!("http://{addr}"))?
        .connect_timeout(Duration::from_secs(1))
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(10))
        .keep_alive_while_idle(true)
        .connect_lazy())
}

/// A raft client for `addr` with the peer message limits.
pub fn raft_client(addr: &str) -> Result<RaftServiceClient<Channel>, tonic::transport::Error> {
    Ok(RaftServiceClient::new(channel(addr)?)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES))
}

/// Makes one [`PeerClient`] per target peer.
#[derive(Clone, Default)]
pub struct PeerNetwork;

impl RaftNetworkFactory<TypeConfig> for PeerNetwork {
    type Network = PeerClient;

    async fn new_client(&mut self, target: NodeId, node: &PeerNode) -> PeerClient {
        PeerClient { target, addr: node.peer.clone(), client: raft_client(&node.peer).ok() }
    }
}

/// The RPC client for one peer.
pub struct PeerClient {
    target: NodeId,
    addr: String,
    client: Option<RaftServiceClient<Channel>>,
}

#[derive(Clone, Copy)]
enum Rpc {
    Append,
    Vote,
    Snapshot,
}

/// Why an RPC did not get an answer.
enum Failure {
    /// Nothing listens there, or the connection broke: back off before retrying.
    Unreachable(std::io::Error),
    /// Anything else on the way.
    Network(std::io::Error),
}

impl PeerClient {
    async fn send(&mut self, rpc: Rpc, data: Vec<u8>, ttl: Duration) -> Result<Vec<u8>, Failure> {
        let Some(client) = self.client.as_mut() else {
            let msg = format!("bad peer address '{}'", self.addr);
            return Err(Failure::Unreachable(std::io::Error::other(msg)));
        };
        let mut request = tonic::Request::new(RaftPayload { data });
        request.set_timeout(ttl);
        let reply = match rpc {
            Rpc::Append => client.append_entries(request).await,
            Rpc::Vote => client.vote(request).await,
            Rpc::Snapshot => client.install_snapshot(request).await,
        };
        match reply {
            Ok(r) => Ok(r.into_inner().data),
            Err(status) => {
                let err = std::io::Error::other(format!("{}: {}", self.addr, status.message()));
                match status.code() {
                    tonic::Code::Unavailable | tonic::Code::Unknown => {
                        Err(Failure::Unreachable(err))
                    }
                    _ => Err(Failure::Network(err)),
                }
            }
        }
    }

    /// Sends `req` and decodes `Result<Resp, RaftError<E>>` from the answer.
    async fn call<Req, Resp, E>(
        &mut self,
        rpc: Rpc,
        req: &Req,
        ttl: Duration,
    ) -> Result<Resp, RPCError<NodeId, PeerNode, RaftError<NodeId, E>>>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let data = encode(req).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        self.call_encoded(rpc, data, ttl).await
    }

    async fn call_encoded<Resp, E>(
        &mut self,
        rpc: Rpc,
        data: Vec<u8>,
        ttl: Duration,
    ) -> Result<Resp, RPCError<NodeId, PeerNode, RaftError<NodeId, E>>>
    where
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let answer = match self.send(rpc, data, ttl).await {
            Ok(bytes) => bytes,
            Err(Failure::Unreachable(e)) => {
                return Err(RPCError::Unreachable(Unreachable::new(&e)))
            }
            Err(Failure::Network(e)) => return Err(RPCError::Network(NetworkError::new(&e))),
        };
        let result: Result<Resp, RaftError<NodeId, E>> =
            decode(&answer).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        result.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }
}

impl RaftNetwork<TypeConfig> for PeerClient {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, PeerNode, RaftError<NodeId>>> {
        let data = encode(&rpc).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        let entries = rpc.entries.len() as u64;
        if entries > 1 && data.len() > MAX_APPEND_BYTES {
            return Err(RPCError::PayloadTooLarge(PayloadTooLarge::new_entries_hint(entries / 2)));
        }
        self.call_encoded(Rpc::Append, data, option.hard_ttl()).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, PeerNode, RaftError<NodeId, InstallSnapshotError>>,
    > {
        self.call(Rpc::Snapshot, &rpc, option.hard_ttl()).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, PeerNode, RaftError<NodeId>>> {
        self.call(Rpc::Vote, &rpc, option.hard_ttl()).await
    }
}
