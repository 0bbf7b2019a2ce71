//! Gathers concurrent writes on the leader into one Raft entry.
//!
//! Every write becomes a [`Command`]; the proposer keeps at most
//! [`MAX_IN_FLIGHT`] entries in flight and, while they are, lets new commands
//! queue up. When an entry completes, everything queued (up to
//! [`MAX_PROPOSAL`]) goes out as the next entry. Under light load an entry holds
//! one command and nothing waits; under heavy load one log append, one
//! replication message and one fsync serve many writes.

use std::sync::Arc;

use openraft::error::{ClientWriteError, RaftError};
use tokio::sync::{mpsc, oneshot, Semaphore};
use vsched_model::OpError;
use vsched_raft::Raft;
use vsched_state::{Command, Outcome, Proposal, MAX_PROPOSAL};

/// Entries proposed but not yet committed and applied. Two keep the log busy
/// while the next batch gathers; measured against 1, 3, 4 and 8 with
/// `vsched bench` (docs/performance.md).
pub const MAX_IN_FLIGHT: usize = 2;

/// How a proposal ended, for one command.
#[derive(Debug)]
pub enum Proposed {
    /// Committed and applied at this log index, with the command's outcome.
    Applied(Outcome, u64),
    /// This peer is not the leader; nothing was written.
    NotLeader,
    /// Raft failed; the command may or may not have been committed.
    Failed(OpError),
}

struct Pending {
    command: Command,
    reply: oneshot::Sender<Proposed>,
}

/// The handle writes are sent through.
#[derive(Clone)]
pub struct Proposer {
    tx: mpsc::Sender<Pending>,
}

impl Proposer {
    /// Starts the proposer loop for `raft`.
    pub fn start(raft: Raft) -> Proposer {
        let (tx, rx) = mpsc::channel(MAX_PROPOSAL * 4);
        tokio::spawn(run(raft, rx));
        Proposer { tx }
    }

    /// Proposes one command and waits until its entry is applied here.
    pub async fn propose(&self, command: Command) -> Proposed {
        let (reply, rx) = oneshot::channel();
        if self.tx.send(Pending { command, reply }).await.is_err() {
            return Proposed::Failed(OpError::unavailable("the peer is shutting down"));
        }
        rx.await
            .unwrap_or_else(|_| Proposed::Failed(OpError::unavailable("the peer is shutting down")))
    }
}

async fn run(raft: Raft, mut rx: mpsc::Receiver<Pending>) {
    let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else { return };
        let Some(first) = rx.recv().await else { return };
        let mut batch = vec![first];
        while batch.len() < MAX_PROPOSAL {
            match rx.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        let raft = raft.clone();
        tokio::spawn(async move {
            let (commands, replies): (Vec<Command>, Vec<oneshot::Sender<Proposed>>) =
                batch.into_iter().map(|p| (p.command, p.reply)).unzip();
            let result = raft.client_write(Proposal { commands }).await;
            drop(slot);
            match result {
                Ok(resp) => {
                    let index = resp.log_id.index;
                    for (reply, outcome) in replies.into_iter().zip(resp.data.outcomes) {
                        let _ = reply.send(Proposed::Applied(outcome, index));
                    }
                }
                Err(RaftError::APIError(ClientWriteError::ForwardToLeader(_))) => {
                    for reply in replies {
                        let _ = reply.send(Proposed::NotLeader);
                    }
                }
                Err(e) => {
                    let message = format!("raft: {e}");
                    for reply in replies {
                        let _ = reply.send(Proposed::Failed(OpError::unavailable(message.clone())));
                    }
                }
            }
        });
    }
}
