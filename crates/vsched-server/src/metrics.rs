//! Prometheus metrics of a peer: request counts and latencies by operation and
//! code, and Raft and fleet gauges read at scrape time.

use std::time::Duration;

use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder,
};

/// The metric families a peer exports.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    pub forwarded: IntCounterVec,
    raft: GaugeVec,
    nodes: GaugeVec,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new("vsched_requests_total", "Operations answered, by operation and result code"),
            &["op", "code"],
        )
        .expect("metric definition");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "vsched_request_duration_seconds",
                "Operation latency as this peer saw it",
            )
            .buckets(vec![
                0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0,
            ]),
            &["op", "code"],
        )
        .expect("metric definition");
        let forwarded = IntCounterVec::new(
            Opts::new("vsched_forwarded_total", "Operations this peer forwarded to the leader"),
            &["result"],
        )
        .expect("metric definition");
        let raft = GaugeVec::new(
            Opts::new(
                "vsched_raft",
                "Raft position of this peer (term, leader_id, indexes, is_leader)",
            ),
            &["what"],
        )
        .expect("metric definition");
        let nodes = GaugeVec::new(
            Opts::new("vsched_nodes", "Nodes by status, as this peer applied them"),
            &["status"],
        )
        .expect("metric definition");
        for m in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(forwarded.clone()),
            Box::new(raft.clone()),
            Box::new(nodes.clone()),
        ] {
            registry.register(m).expect("unique metric names");
        }
        Metrics { registry, requests, latency, forwarded, raft, nodes }
    }

    /// Counts one answered operation.
    pub fn observe(&self, op: &str, code: &str, elapsed: Duration) {
        self.requests.with_label_values(&[op, code]).inc();
        self.latency.with_label_values(&[op, code]).observe(elapsed.as_secs_f64());
    }

    pub fn set_raft(&self, what: &str, value: f64) {
        self.raft.with_label_values(&[what]).set(value);
    }

    pub fn set_nodes(&self, status: &str, count: f64) {
        self.nodes.with_label_values(&[status]).set(count);
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut out).expect("text encoding");
        String::from_utf8(out).expect("prometheus text is UTF-8")
    }
}
