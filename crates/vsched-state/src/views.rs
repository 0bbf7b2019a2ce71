//! JSON views of records as replies show them, with effective settings resolved and
//! usage computed. Memory is given as integer `*_mib` plus a normalised string.

use serde_json::{json, Value};
use vsched_model::records::{Label, Node, Token, UserParams, Vcluster};
use vsched_model::types::{rfc3339, DrainStrategy, IsolationStrategy, Resources};
use vsched_model::{Caller, Mem};

use crate::state::State;

/// Built-in defaults, used when neither user params nor the vcluster set a value.
pub(crate) const DEFAULT_RF: u64 = 1;
pub(crate) const DEFAULT_ISOLATION: IsolationStrategy = IsolationStrategy::Recreate;
pub(crate) const DEFAULT_DRAIN: DrainStrategy = DrainStrategy::Migrate;

/// A resolved setting and where it came from: `user`, `vcluster` or `default`.
fn effective<T: serde::Serialize>(
    user: Option<T>,
    vcluster: Option<T>,
    default: T,
) -> (Value, &'static str) {
    match (user, vcluster) {
        (Some(v), _) => (json!(v), "user"),
        (None, Some(v)) => (json!(v), "vcluster"),
        (None, None) => (json!(default), "default"),
    }
}

fn setting(value: (Value, &'static str)) -> Value {
    json!({"value": value.0, "source": value.1})
}

fn mem_json(mib: Option<Mem>) -> (Value, Value) {
    match mib {
        Some(m) => (json!(m.mib()), json!(m.to_string())),
        None => (Value::Null, Value::Null),
    }
}

/// Whether `used` exceeds a limit in any dimension.
fn over(used: Resources, vcpu: Option<u64>, vram: Option<Mem>) -> bool {
    vcpu.is_some_and(|l| used.vcpu > l) || vram.is_some_and(|l| used.vram_mib > l.mib())
}

impl State {
    pub(crate) fn vcluster_json(&self, vc: &Vcluster) -> Value {
        let usage = self.vcluster_usage(&vc.ns, &vc.name);
        let (vram_mib, vram) = mem_json(vc.vram_limit);
        let rf = effective(None, vc.rf, DEFAULT_RF);
        let iso = effective(None, vc.isolation_strategy, DEFAULT_ISOLATION);
        let drain = effective(None, vc.drain_strategy, DEFAULT_DRAIN);
        json!({
            "name": vc.name,
            "ns": vc.ns,
            "descr": vc.descr,
            "path_to": vc.path_to,
            "labels": vc.labels,
            "nodes": vc.nodes,
            "node_count": vc.nodes.len(),
            "taints": vc.taints,
            "rf": rf.0,
            "isolation_strategy": iso.0,
            "drain_strategy": drain.0,
            "effective": {
                "rf": setting(rf),
                "isolation_strategy": setting(iso),
                "drain_strategy": setting(drain),
            },
            "ulimits": vc.ulimits,
            "vcpu": vc.vcpu_limit,
            "vram_mib": vram_mib,
            "vram": vram,
            "vcpu_scaling": vc.vcpu_scaling,
            "vram_scaling": vc.vram_scaling,
            "usage": usage.to_json(),
            "over_limit": over(usage, vc.vcpu_limit, vc.vram_limit),
            "requests": self.requests_in(&vc.ns, &vc.name).count(),
            "created_at": rfc3339(vc.created_at_ms),
            "updated_at": rfc3339(vc.updated_at_ms),
        })
    }

    /// A user's settings in a vcluster, resolved: request spec aside, each comes from
    /// the user's params, then the vcluster, then the built-in default.
    pub(crate) fn user_params_json(
        &self,
        vc: &Vcluster,
        login: &str,
        up: Option<&UserParams>,
    ) -> Value {
        let usage = self.user_usage(&vc.ns, &vc.name, login);
        let rf = effective(up.and_then(|u| u.rf), vc.rf, DEFAULT_RF);
        let iso = effective(
            up.and_then(|u| u.isolation_strategy),
            vc.isolation_strategy,
            DEFAULT_ISOLATION,
        );
        let drain = effective(up.and_then(|u| u.drain_strategy), vc.drain_strategy, DEFAULT_DRAIN);
        let vcpu = up.and_then(|u| u.vcpu_limit);
        let vram_limit = up.and_then(|u| u.vram_limit);
        let (vram_mib, vram) = mem_json(vram_limit);
        let mut out = json!({
            "vcluster": vc.name,
            "login": login,
            "defined": up.is_some(),
            "rf": setting(rf),
            "isolation_strategy": setting(iso),
            "drain_strategy": setting(drain),
            "vcpu": vcpu,
            "vram_mib": vram_mib,
            "vram": vram,
            "ulimits": vc.ulimits,
            "usage": usage.to_json(),
            "over_limit": vc.ulimits && over(usage, vcpu, vram_limit),
        });
        if let Some(up) = up {
            out["created_at"] = json!(rfc3339(up.created_at_ms));
            out["updated_at"] = json!(rfc3339(up.updated_at_ms));
        }
        out
    }

    /// A node as `node_list` shows it; the server adds `heartbeat_age_ms`.
    pub(crate) fn node_json(&self, node: &Node) -> Value {
        let allocated = self.node_allocated(&node.uuid);
        json!({
            "uuid": node.uuid,
            "hostname": node.hostname,
            "address": node.address,
            "status": node.status,
            "drain": node.drain,
            "labels": self.effective_labels(node),
            "capacity": node.capacity.to_json(),
            "allocated": allocated.to_json(),
            "free": node.capacity.saturating_sub(&allocated).to_json(),
            "vm_count": self.node_vm_count(&node.uuid),
            "registered_at": rfc3339(node.registered_at_ms),
            "status_since": rfc3339(node.status_since_ms),
            "agent_version": node.agent_version,
        })
    }

    /// A label as the listings show it. Admins see which namespaces it is delegated
    /// to and ignored in; others see only whether that holds for their namespace.
    pub(crate) fn label_json(&self, label: &Label, caller: &Caller) -> Value {
        let nodes: Vec<&String> =
            self.nodes.values().filter(|n| n.has_label(&label.name)).map(|n| &n.uuid).collect();
        let mut out = json!({
            "name": label.name,
            "descr": label.descr,
            "nodes": nodes,
            "node_count": nodes.len(),
            "ignored": label.ignored_in(&caller.ns),
            "ignored_global": label.ignored_global,
            "created_at": rfc3339(label.created_at_ms),
        });
        if caller.is_admin() {
            out["delegated"] = label.delegated.to_json();
            out["ignored_ns"] = label.ignored_ns.to_json();
        } else {
            out["delegated"] = json!(label.delegated.contains(&caller.ns));
        }
        out
    }
}

pub(crate) fn token_json(token: &Token) -> Value {
    json!({
        "token_id": token.token_id,
        "login": token.login,
        "ns": token.ns,
        "role": token.role,
        "created_at": rfc3339(token.created_at_ms),
        "created_by": token.created_by,
    })
}
