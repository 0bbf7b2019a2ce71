//! Nodes: registration by agents, liveness transitions, drain flags, forgetting, and
//! the node views.

use serde_json::{json, Value};
use vsched_model::ops::NodeList;
use vsched_model::records::Node;
use vsched_model::types::{NodeStatus, Resources, Selector};
use vsched_model::{Caller, OpError, OpResult};

use crate::command::Outcome;
use crate::state::State;

/// Creates a node on first registration; later registrations refresh what the agent
/// reports and mark the node ready again.
#[allow(clippy::too_many_arguments)]
pub(crate) fn register(
    state: &mut State,
    at: i64,
    uuid: &str,
    hostname: &str,
    address: &str,
    capacity: Resources,
    labels: &[String],
    agent_version: &str,
) -> Outcome {
    let key = uuid.to_string();
    let created = !state.nodes.contains(&key);
    if created {
        state.nodes.insert(Node {
            uuid: key.clone(),
            hostname: hostname.to_string(),
            address: address.to_string(),
            capacity,
            labels: Default::default(),
            agent_labels: labels.iter().cloned().collect(),
            status: NodeStatus::Ready,
            drain: false,
            registered_at_ms: at,
            status_since_ms: at,
            agent_version: agent_version.to_string(),
        });
    } else {
        let node = state.nodes.get_mut(&key).expect("checked above");
        node.hostname = hostname.to_string();
        node.address = address.to_string();
        node.capacity = capacity;
        node.agent_labels = labels.iter().cloned().collect();
        node.agent_version = agent_version.to_string();
        if node.status != NodeStatus::Ready {
            node.status = NodeStatus::Ready;
            node.status_since_ms = at;
        }
    }
    Ok(json!({"uuid": uuid, "status": NodeStatus::Ready, "created": created}))
}

/// Records a liveness transition decided by the leader.
pub(crate) fn set_status(state: &mut State, at: i64, uuid: &str, status: NodeStatus) -> Outcome {
    let Some(node) = state.nodes.get_mut(&uuid.to_string()) else {
        return Err(OpError::not_found("uuid", format!("node '{uuid}' not found")));
    };
    let from = node.status;
    if from != status {
        node.status = status;
        node.status_since_ms = at;
    }
    Ok(json!({"uuid": uuid, "from": from, "status": status}))
}

/// `drain_add` / `drain_del`: sets the flag. Moving VMs off drained nodes is the
/// drain controller's job, driven by this flag.
pub(crate) fn drain(state: &mut State, sel: &Selector, drain: bool) -> Outcome {
    let uuids = state.select_nodes(sel, "nodes")?;
    let mut changed = 0;
    let mut out = Vec::new();
    for uuid in &uuids {
        let node = state.nodes.get_mut(uuid).expect("selected nodes exist");
        if node.drain != drain {
            node.drain = drain;
            changed += 1;
        }
        out.push(json!({"uuid": node.uuid, "hostname": node.hostname, "drain": node.drain}));
    }
    Ok(json!({"nodes": out, "changed": changed}))
}

/// Removes a node that is not ready and holds no VMs, and takes it out of every
/// vcluster.
pub(crate) fn forget(state: &mut State, reference: &str) -> Outcome {
    let node = state.resolve_node(reference, "uuid")?;
    let uuid = node.uuid.clone();
    if node.status == NodeStatus::Ready {
        return Err(OpError::precondition(format!(
            "node '{uuid}' is ready; only an isolated or departed node can be forgotten"
        ))
        .with_field("uuid"));
    }
    let vms = state.node_vm_count(&uuid);
    if vms > 0 {
        return Err(OpError::precondition(format!("node '{uuid}' still holds {vms} VM(s)"))
            .with_field("uuid"));
    }
    let members: Vec<(String, String)> = state
        .vclusters
        .values()
        .filter(|vc| vc.nodes.contains(&uuid))
        .map(|vc| (vc.ns.clone(), vc.name.clone()))
        .collect();
    for key in &members {
        let vc = state.vclusters.get_mut(key).expect("listed above");
        vc.nodes.remove(&uuid);
        vc.taints.remove(&uuid);
    }
    state.nodes.remove(&uuid);
    let vclusters: Vec<String> = members.iter().map(|(ns, n)| format!("{ns}/{n}")).collect();
    Ok(json!({"uuid": uuid, "forgotten": true, "vclusters": vclusters}))
}

pub(crate) fn list(state: &State, _caller: &Caller, p: &NodeList) -> OpResult<Value> {
    let nodes: Vec<Value> = state
        .nodes
        .values()
        .filter(|n| p.status.is_none_or(|s| n.status == s))
        .filter(|n| {
            p.labels.as_ref().is_none_or(|labels| {
                labels.iter().all(|l| state.labels.contains(l) && n.has_label(l))
            })
        })
        .map(|n| state.node_json(n))
        .collect();
    Ok(json!({"nodes": nodes}))
}

/// One node with its VMs and vclusters; non-admins see only their namespace's.
pub(crate) fn show(state: &State, caller: &Caller, reference: &str) -> OpResult<Value> {
    let node = state.resolve_node(reference, "uuid")?;
    let visible = |ns: &str| caller.is_admin() || ns == caller.ns;
    let vms: Vec<Value> = state
        .vms
        .values()
        .filter(|v| v.node.as_deref() == Some(node.uuid.as_str()) && visible(&v.ns))
        .map(|v| {
            json!({
                "uuid": v.uuid, "name": v.name, "ns": v.ns, "vcluster": v.vcluster,
                "request": v.request, "reserved": v.reserved.to_json(),
            })
        })
        .collect();
    let vclusters: Vec<Value> = state
        .vclusters
        .values()
        .filter(|vc| vc.nodes.contains(&node.uuid) && visible(&vc.ns))
        .map(|vc| {
            let taints = vc.taints.get(&node.uuid).cloned().unwrap_or_default();
            json!({"ns": vc.ns, "name": vc.name, "taints": taints})
        })
        .collect();
    let mut out = state.node_json(node);
    out["vms"] = json!(vms);
    out["vclusters"] = json!(vclusters);
    Ok(out)
}
