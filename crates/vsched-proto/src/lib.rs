//! Generated gRPC code for the peer protocol (`proto/raft.proto`) and the agent
//! protocol (`proto/agent.proto`). No hand-written logic lives here.

/// Peer-to-peer messages: Raft RPCs as MessagePack payloads, and forwarding.
pub mod raft {
    tonic::include_proto!("vsched.raft.v1");
}

/// The node agent stream.
pub mod agent {
    tonic::include_proto!("vsched.agent.v1");
}
