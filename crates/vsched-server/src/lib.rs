//! One vsched scheduler peer: the HTTP API, authentication, forwarding to the
//! leader, cluster membership, and the leader's node liveness tracking.
//!
//! Layout:
//! - [`config`]: what a peer is told at start;
//! - [`peer`]: the operation pipeline (parse, authenticate, authorize, write through
//!   Raft or read linearizably), run on the leader and reached from any peer;
//! - [`forward`]: carries an operation from a follower to the leader over gRPC;
//! - [`proposer`]: gathers concurrent writes into one Raft entry;
//! - [`http`]: the HTTP endpoints and both request envelopes; the only module that
//!   knows JSON-RPC;
//! - [`auth`]: token secrets and hashes;
//! - [`cluster`]: bootstrap, join, membership and status;
//! - [`planning`]: drain and rebalance dry runs and the N+1 check;
//! - [`liveness`] and [`agents`]: node agent sessions, heartbeats and isolation;
//! - [`metrics`]: Prometheus metrics.
//!
//! No state changes bypass Raft: every write is a [`vsched_state::Command`] in the log.

pub mod agents;
pub mod auth;
pub mod cluster;
pub mod config;
pub mod forward;
pub mod http;
pub mod liveness;
pub mod metrics;
pub mod peer;
pub mod planning;
pub mod proposer;
mod run;

pub use config::ServerConfig;
pub use run::run;
