//! The leader's view of node liveness.
//!
//! Heartbeats never go through Raft. The leader keeps, in memory, when it last
//! heard from each node; a node that stays quiet past the isolation timeout is
//! proposed `isolated`, and one that is heard again is proposed `ready`, so only
//! transitions reach the log. A new leader starts with an empty table and gives
//! every node the full timeout from the moment it took over, so an election never
//! isolates nodes that were heartbeating to the old leader.
//!
//! The heartbeat interval grows with the fleet so the leader handles at most
//! [`HEARTBEATS_PER_SEC`] heartbeats per second, and the effective isolation
//! timeout is never less than three intervals.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The heartbeat budget of the leader.
pub const HEARTBEATS_PER_SEC: u64 = 500;

pub struct Liveness {
    timeout: Duration,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    last_heard: HashMap<String, Instant>,
    leader_since: Option<Instant>,
    /// Nodes with a status proposal in flight.
    pending: HashSet<String>,
}

impl Liveness {
    pub fn new(timeout: Duration) -> Liveness {
        Liveness { timeout, inner: Mutex::new(Inner::default()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().expect("liveness lock")
    }

    /// Starts a term as leader: forget what an earlier term heard, start the grace
    /// period.
    pub fn became_leader(&self, now: Instant) {
        let mut inner = self.lock();
        inner.last_heard.clear();
        inner.pending.clear();
        inner.leader_since = Some(now);
    }

    pub fn stepped_down(&self) {
        let mut inner = self.lock();
        inner.leader_since = None;
        inner.last_heard.clear();
        inner.pending.clear();
    }

    pub fn heard(&self, uuid: &str, now: Instant) {
        self.lock().last_heard.insert(uuid.to_string(), now);
    }

    pub fn forget(&self, uuid: &str) {
        self.lock().last_heard.remove(uuid);
    }

    /// Marks a status proposal for `uuid` as in flight; false if one already is.
    pub fn begin_transition(&self, uuid: &str) -> bool {
        self.lock().pending.insert(uuid.to_string())
    }

    pub fn end_transition(&self, uuid: &str) {
        self.lock().pending.remove(uuid);
    }

    /// The heartbeat interval agents are told for a fleet of `fleet` nodes.
    pub fn heartbeat_interval(&self, fleet: usize) -> Duration {
        let by_fleet = fleet as u64 * 1000 / HEARTBEATS_PER_SEC;
        let base = (self.timeout.as_millis() as u64 / 4).clamp(100, 1000);
        Duration::from_millis(base.max(by_fleet))
    }

    /// The isolation timeout in force for a fleet of `fleet` nodes.
    pub fn effective_timeout(&self, fleet: usize) -> Duration {
        self.timeout.max(self.heartbeat_interval(fleet) * 3)
    }

    /// Of the given ready nodes, those whose deadline has passed at `now`.
    pub fn overdue<'a>(
        &self,
        ready: impl Iterator<Item = &'a str>,
        fleet: usize,
        now: Instant,
    ) -> Vec<String> {
        let timeout = self.effective_timeout(fleet);
        let inner = self.lock();
        let Some(since) = inner.leader_since else { return Vec::new() };
        ready
            .filter(|uuid| !inner.pending.contains(*uuid))
            .filter(|uuid| {
                let heard = inner.last_heard.get(*uuid).copied().unwrap_or(since).max(since);
                now.duration_since(heard) > timeout
            })
            .map(str::to_string)
            .collect()
    }

    /// Adds `heartbeat_age_ms` to a node's JSON: milliseconds since this leader last
    /// heard from it, or null if it has not heard from it yet.
    pub fn annotate(&self, node: &mut Value) {
        let Some(uuid) = node.get("uuid").and_then(Value::as_str) else { return };
        let age = self.lock().last_heard.get(uuid).map(|t| t.elapsed().as_millis() as u64);
        node["heartbeat_age_ms"] = age.map(Value::from).unwrap_or(Value::Null);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_leader_grants_a_grace_period() {
        let l = Liveness::new(Duration::from_secs(10));
        let t0 = Instant::now();
        l.became_leader(t0);
        let nodes = ["a", "b"];
        assert!(l.overdue(nodes.iter().copied(), 2, t0 + Duration::from_secs(9)).is_empty());
        l.heard("a", t0 + Duration::from_secs(5));
        let overdue = l.overdue(nodes.iter().copied(), 2, t0 + Duration::from_secs(11));
        assert_eq!(overdue, vec!["b".to_string()]);
    }

    #[test]
    fn pending_transitions_are_not_repeated() {
        let l = Liveness::new(Duration::from_secs(1));
        let t0 = Instant::now();
        l.became_leader(t0);
        assert!(l.begin_transition("a"));
        assert!(!l.begin_transition("a"));
        assert!(l.overdue(["a"].into_iter(), 1, t0 + Duration::from_secs(5)).is_empty());
        l.end_transition("a");
        assert_eq!(l.overdue(["a"].into_iter(), 1, t0 + Duration::from_secs(5)).len(), 1);
    }

    #[test]
    fn a_follower_isolates_nobody() {
        let l = Liveness::new(Duration::from_secs(1));
        assert!(l
            .overdue(["a"].into_iter(), 1, Instant::now() + Duration::from_secs(60))
            .is_empty());
    }

    #[test]
    fn the_interval_grows_with_the_fleet() {
        let l = Liveness::new(Duration::from_secs(15));
        assert_eq!(l.heartbeat_interval(4), Duration::from_secs(1));
        assert_eq!(l.heartbeat_interval(10_000), Duration::from_secs(20));
        assert_eq!(l.effective_timeout(10_000), Duration::from_secs(60));
        assert_eq!(l.effective_timeout(4), Duration::from_secs(15));
        let quick = Liveness::new(Duration::from_secs(2));
        assert_eq!(quick.heartbeat_interval(4), Duration::from_millis(500));
    }
}
