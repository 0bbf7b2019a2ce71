//! Vclusters: creation, update, deletion, node sets and taints, and their views.

use std::collections::BTreeSet;

use serde_json::{json, Value};
use vsched_model::ops::{VclusterAdd, VclusterNodes, VclusterTaints, VclusterUpdate};
use vsched_model::records::Vcluster;
use vsched_model::types::Selector;
use vsched_model::{Caller, OpError, OpResult};

use crate::command::Outcome;
use crate::state::State;

fn key(caller: &Caller, name: &str) -> (String, String) {
    (caller.ns.clone(), name.to_string())
}

pub(crate) fn add(state: &mut State, caller: &Caller, at: i64, p: &VclusterAdd) -> Outcome {
    let ns = &caller.ns;
    if state.vclusters.contains(&key(caller, &p.name)) {
        return Err(OpError::already_exists(
            "name",
            format!("vcluster '{}' already exists", p.name),
        ));
    }
    state.labels_delegated(ns, &p.labels, "labels")?;

    // Listed nodes must carry every label; `*` takes every node that does.
    let nodes: BTreeSet<String> = match &p.uuids {
        None => BTreeSet::new(),
        Some(Selector::All) => state
            .nodes
            .values()
            .filter(|n| p.labels.iter().all(|l| state.node_carries(n, l, ns)))
            .map(|n| n.uuid.clone())
            .collect(),
        Some(sel) => {
            let uuids = state.select_nodes(sel, "uuids")?;
            state.check_nodes_carry(ns, &uuids, &p.labels, "uuids")?;
            uuids.into_iter().collect()
        }
    };

    let vc = Vcluster {
        ns: ns.clone(),
        name: p.name.clone(),
        descr: p.descr.clone().unwrap_or_default(),
        path_to: p.path_to.clone().unwrap_or_else(|| "/".into()),
        labels: p.labels.iter().cloned().collect(),
        nodes,
        taints: Default::default(),
        rf: p.rf,
        isolation_strategy: p.isolation_strategy,
        drain_strategy: p.drain_strategy,
        ulimits: p.ulimits.unwrap_or(true),
        vcpu_limit: p.vcpu,
        vram_limit: p.vram,
        vcpu_scaling: p.vcpu_scaling.unwrap_or(false),
        vram_scaling: p.vram_scaling.unwrap_or(false),
        created_at_ms: at,
        updated_at_ms: at,
    };
    let reply = state.vcluster_json(&vc);
    state.vclusters.insert(vc);
    Ok(reply)
}

pub(crate) fn update(state: &mut State, caller: &Caller, at: i64, p: &VclusterUpdate) -> Outcome {
    state.vcluster(&caller.ns, &p.name, "name")?;
    let vc = state.vclusters.get_mut(&key(caller, &p.name)).expect("checked above");
    if let Some(descr) = &p.descr {
        vc.descr = descr.clone();
    }
    if let Some(rf) = p.rf {
        vc.rf = Some(rf);
    }
    if let Some(vcpu) = p.vcpu {
        vc.vcpu_limit = vcpu.into_option();
    }
    if let Some(vram) = p.vram {
        vc.vram_limit = vram.into_option();
    }
    if let Some(s) = p.isolation_strategy {
        vc.isolation_strategy = Some(s);
    }
    if let Some(s) = p.drain_strategy {
        vc.drain_strategy = Some(s);
    }
    if let Some(u) = p.ulimits {
        vc.ulimits = u;
    }
    if let Some(path) = &p.path_to {
        vc.path_to = path.clone();
    }
    vc.updated_at_ms = at;
    Ok(state.vcluster_json(state.vcluster(&caller.ns, &p.name, "name")?))
}

/// Deletes an empty vcluster and the user params that belong to it.
pub(crate) fn delete(state: &mut State, caller: &Caller, name: &str) -> Outcome {
    state.vcluster(&caller.ns, name, "name")?;
    let requests = state.requests_in(&caller.ns, name).count();
    if requests > 0 {
        return Err(OpError::precondition(format!(
            "vcluster '{name}' holds {requests} request(s); delete them first or use vcluster_clear"
        ))
        .with_field("name"));
    }
    let user_params = remove_user_params(state, &caller.ns, name);
    state.vclusters.remove(&key(caller, name));
    Ok(json!({"name": name, "ns": caller.ns, "deleted": true, "user_params": user_params}))
}

/// Deletes the vcluster with everything in it and lists what went.
pub(crate) fn clear(state: &mut State, caller: &Caller, name: &str) -> Outcome {
    state.vcluster(&caller.ns, name, "name")?;
    let ns = caller.ns.clone();

    let request_keys: Vec<_> = state
        .requests_in(&ns, name)
        .map(|r| (r.ns.clone(), r.vcluster.clone(), r.kind.clone(), r.name.clone()))
        .collect();
    let vm_keys: Vec<(String, String)> = state
        .vms
        .values()
        .filter(|v| v.ns == ns && v.vcluster == name)
        .map(|v| (v.uuid.clone(), v.name.clone()))
        .collect();
    for (uuid, _) in &vm_keys {
        state.vms.remove(uuid);
    }
    for k in &request_keys {
        state.requests.remove(k);
    }
    let user_params = remove_user_params(state, &ns, name);
    state.vclusters.remove(&key(caller, name));

    let vms: Vec<Value> =
        vm_keys.iter().map(|(uuid, name)| json!({"uuid": uuid, "name": name})).collect();
    Ok(json!({
        "name": name,
        "ns": ns,
        "deleted": true,
        "requests": request_keys.iter().map(|k| &k.3).collect::<Vec<_>>(),
        "vms": vms,
        "user_params": user_params,
        "snapshots": Vec::<String>::new(),
    }))
}

fn remove_user_params(state: &mut State, ns: &str, vcluster: &str) -> Vec<String> {
    let keys: Vec<_> = state
        .user_params
        .values()
        .filter(|u| u.ns == ns && u.vcluster == vcluster)
        .map(|u| (u.ns.clone(), u.vcluster.clone(), u.login.clone()))
        .collect();
    for k in &keys {
        state.user_params.remove(k);
    }
    keys.into_iter().map(|k| k.2).collect()
}

pub(crate) fn nodes_add(state: &mut State, caller: &Caller, at: i64, p: &VclusterNodes) -> Outcome {
    let ns = caller.ns.clone();
    let vc = state.vcluster(&ns, &p.name, "name")?;
    let labels = vc.labels.clone();

    let candidates = match &p.uuids {
        Selector::All => state
            .nodes
            .values()
            .filter(|n| labels.iter().all(|l| state.node_carries(n, l, &ns)))
            .map(|n| n.uuid.clone())
            .collect(),
        sel => {
            let uuids = state.select_nodes(sel, "uuids")?;
            state.check_nodes_carry(&ns, &uuids, &labels, "uuids")?;
            uuids
        }
    };

    let vc = state.vclusters.get_mut(&key(caller, &p.name)).expect("checked above");
    let added: Vec<String> =
        candidates.into_iter().filter(|u| vc.nodes.insert(u.clone())).collect();
    vc.updated_at_ms = at;
    let vc = state.vcluster(&ns, &p.name, "name")?;
    Ok(json!({"name": p.name, "added": added, "nodes": vc.nodes}))
}

/// Checks that every selected node is in the vcluster and returns their UUIDs.
fn member_nodes(state: &State, vc: &Vcluster, sel: &Selector) -> OpResult<Vec<String>> {
    match sel {
        Selector::All => Ok(vc.nodes.iter().cloned().collect()),
        sel => {
            let uuids = state.select_nodes(sel, "uuids")?;
            if let Some(outside) = uuids.iter().find(|u| !vc.nodes.contains(*u)) {
                return Err(OpError::precondition(format!(
                    "node '{outside}' is not in vcluster '{}'",
                    vc.name
                ))
                .with_field("uuids"));
            }
            Ok(uuids)
        }
    }
}

/// Removes nodes from the vcluster, with their taints. VMs of this vcluster already
/// on those nodes stay where they are until they are moved; no new ones land there.
pub(crate) fn nodes_del(state: &mut State, caller: &Caller, at: i64, p: &VclusterNodes) -> Outcome {
    let vc = state.vcluster(&caller.ns, &p.name, "name")?;
    let removed = member_nodes(state, vc, &p.uuids)?;
    let vc = state.vclusters.get_mut(&key(caller, &p.name)).expect("checked above");
    for uuid in &removed {
        vc.nodes.remove(uuid);
        vc.taints.remove(uuid);
    }
    vc.updated_at_ms = at;
    let nodes = vc.nodes.clone();
    Ok(json!({"name": p.name, "removed": removed, "nodes": nodes}))
}

pub(crate) fn taints_add(
    state: &mut State,
    caller: &Caller,
    at: i64,
    p: &VclusterTaints,
) -> Outcome {
    change_taints(state, caller, at, p, true)
}

pub(crate) fn taints_del(
    state: &mut State,
    caller: &Caller,
    at: i64,
    p: &VclusterTaints,
) -> Outcome {
    change_taints(state, caller, at, p, false)
}

fn change_taints(
    state: &mut State,
    caller: &Caller,
    at: i64,
    p: &VclusterTaints,
    add: bool,
) -> Outcome {
    let vc = state.vcluster(&caller.ns, &p.name, "name")?;
    let nodes = member_nodes(state, vc, &p.uuids)?;
    let vc = state.vclusters.get_mut(&key(caller, &p.name)).expect("checked above");
    for uuid in &nodes {
        let set = vc.taints.entry(uuid.clone()).or_default();
        for taint in &p.taints {
            if add {
                set.insert(taint.clone());
            } else {
                set.remove(taint);
            }
        }
        if set.is_empty() {
            vc.taints.remove(uuid);
        }
    }
    vc.updated_at_ms = at;
    let taints = vc.taints.clone();
    Ok(json!({"name": p.name, "nodes": nodes, "taints": taints}))
}

pub(crate) fn show(state: &State, caller: &Caller, name: &str) -> OpResult<Value> {
    Ok(state.vcluster_json(state.vcluster(&caller.ns, name, "name")?))
}

/// The namespace's vclusters, ordered by `path_to` then name.
pub(crate) fn list(state: &State, caller: &Caller) -> OpResult<Value> {
    let mut vcs: Vec<&Vcluster> = state.vclusters_in(&caller.ns).collect();
    vcs.sort_by(|a, b| (&a.path_to, &a.name).cmp(&(&b.path_to, &b.name)));
    let list: Vec<Value> = vcs.into_iter().map(|vc| state.vcluster_json(vc)).collect();
    Ok(json!({"vclusters": list}))
}

pub(crate) fn nodes_list(state: &State, caller: &Caller, name: &str) -> OpResult<Value> {
    let vc = state.vcluster(&caller.ns, name, "name")?;
    let nodes: Vec<Value> = vc
        .nodes
        .iter()
        .filter_map(|u| state.nodes.get(u))
        .map(|n| {
            let mut v = state.node_json(n);
            v["taints"] = json!(vc.taints.get(&n.uuid).cloned().unwrap_or_default());
            v
        })
        .collect();
    Ok(json!({"name": name, "nodes": nodes}))
}
