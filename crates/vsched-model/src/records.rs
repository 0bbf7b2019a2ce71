//! The replicated records: what the state machine stores and snapshots.
//!
//! Every record carries its own key fields. Fields added after the first release get
//! `#[serde(default)]` so a newer peer reads what an older one wrote.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::memstr::Mem;
use crate::types::{DrainStrategy, IsolationStrategy, NodeStatus, NsSet, Resources, Role};

/// A hypervisor host, created when its agent first registers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    pub uuid: String,
    pub hostname: String,
    /// Where the agent can be reached (its VNC proxies, migration endpoint).
    pub address: String,
    pub capacity: Resources,
    /// Labels assigned by admins.
    pub labels: BTreeSet<String>,
    /// Labels the agent reported at registration; they count only while a label of
    /// that name exists in the cluster.
    #[serde(default)]
    pub agent_labels: BTreeSet<String>,
    pub status: NodeStatus,
    pub drain: bool,
    pub registered_at_ms: i64,
    pub status_since_ms: i64,
    #[serde(default)]
    pub agent_version: String,
}

impl Node {
    /// Whether the node carries `label` (assigned or reported). The caller checks that
    /// the label exists.
    pub fn has_label(&self, label: &str) -> bool {
        self.labels.contains(label) || self.agent_labels.contains(label)
    }
}

/// A cluster-wide label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Label {
    pub name: String,
    pub descr: String,
    pub created_at_ms: i64,
    /// Namespaces allowed to use the label in their vclusters.
    pub delegated: NsSet,
    /// Ignored everywhere: treated as present on every node.
    pub ignored_global: bool,
    /// Ignored in these namespaces only.
    pub ignored_ns: NsSet,
}

impl Label {
    /// Whether the label counts as present on every node for namespace `ns`.
    pub fn ignored_in(&self, ns: &str) -> bool {
        self.ignored_global || self.ignored_ns.contains(ns)
    }
}

/// A pool of nodes in one namespace, with defaults and limits for its VMs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vcluster {
    pub ns: String,
    pub name: String,
    pub descr: String,
    pub path_to: String,
    pub labels: BTreeSet<String>,
    pub nodes: BTreeSet<String>,
    /// Taints per node uuid; a node absent from the map has none.
    pub taints: BTreeMap<String, BTreeSet<String>>,
    pub rf: Option<u64>,
    pub isolation_strategy: Option<IsolationStrategy>,
    pub drain_strategy: Option<DrainStrategy>,
    pub ulimits: bool,
    pub vcpu_limit: Option<u64>,
    pub vram_limit: Option<Mem>,
    pub vcpu_scaling: bool,
    pub vram_scaling: bool,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// Per-user overrides and limits inside one vcluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserParams {
    pub ns: String,
    pub vcluster: String,
    pub login: String,
    pub rf: Option<u64>,
    pub isolation_strategy: Option<IsolationStrategy>,
    pub drain_strategy: Option<DrainStrategy>,
    pub vcpu_limit: Option<u64>,
    pub vram_limit: Option<Mem>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// An API credential. Only the SHA-256 of the secret is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token {
    pub token_id: String,
    pub login: String,
    pub ns: String,
    pub role: Role,
    /// Hex SHA-256 of the whole token string.
    pub hash: String,
    pub created_at_ms: i64,
    pub created_by: String,
}

/// A desired group of `rf` VMs of one spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    pub ns: String,
    pub vcluster: String,
    pub kind: String,
    pub name: String,
    pub owner: String,
    pub descr: String,
    pub labels: BTreeSet<String>,
    /// The VM spec as JSON text; unknown keys are kept and shown back.
    pub spec: String,
    pub rf: u64,
    pub created_at_ms: i64,
}

/// One replica of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vm {
    pub uuid: String,
    pub name: String,
    pub ns: String,
    pub vcluster: String,
    pub request: String,
    pub owner: String,
    pub node: Option<String>,
    /// The VM's own size.
    #[serde(default)]
    pub size: Resources,
    /// What the VM holds on its node and against quotas, scaling reservations included.
    pub reserved: Resources,
    /// The request's labels: required on the node, and tolerated taints.
    #[serde(default)]
    pub labels: std::collections::BTreeSet<String>,
}
