//! Labels: creation, assignment to nodes, delegation to namespaces, use by vclusters,
//! ignoring, and the six listings.

use std::collections::BTreeSet;

use serde_json::{json, Value};
use vsched_model::ops::{
    LabelsAdd, LabelsDel, LabelsIgnore, LabelsList, LabelsNodes, LabelsNodesList, LabelsNs,
    LabelsNsFilter, LabelsVcluster, LabelsVclusterFilter, LabelsVclusterShow,
};
use vsched_model::records::Label;
use vsched_model::types::{LabelFilter, NsSet, Selector};
use vsched_model::{Caller, OpError, OpResult};

use crate::command::Outcome;
use crate::state::State;

pub(crate) fn add(state: &mut State, at: i64, p: &LabelsAdd) -> Outcome {
    if let Some(existing) = p.labels.iter().find(|l| state.labels.contains(*l)) {
        return Err(OpError::already_exists(
            "labels",
            format!("label '{existing}' already exists"),
        ));
    }
    let nodes = state.select_nodes(&p.nodes, "nodes")?;
    for name in &p.labels {
        state.labels.insert(Label {
            name: name.clone(),
            descr: p.descr.clone().unwrap_or_default(),
            created_at_ms: at,
            delegated: NsSet::default(),
            ignored_global: false,
            ignored_ns: NsSet::default(),
        });
    }
    for uuid in &nodes {
        let node = state.nodes.get_mut(uuid).expect("selected nodes exist");
        node.labels.extend(p.labels.iter().cloned());
    }
    Ok(json!({"labels": p.labels, "nodes": nodes}))
}

/// `labels_assign` (`assign`) and `labels_unassign`. Taking a label off a node that a
/// vcluster requiring it uses is allowed; the reply names those vclusters, whose
/// new VMs will no longer land on the node.
pub(crate) fn assign(state: &mut State, p: &LabelsNodes, assign: bool) -> Outcome {
    state.labels_exist(&p.labels, "labels")?;
    let nodes = state.select_nodes(&p.nodes, "nodes")?;
    let mut changed = 0usize;
    for uuid in &nodes {
        let node = state.nodes.get_mut(uuid).expect("selected nodes exist");
        for label in &p.labels {
            let did =
                if assign { node.labels.insert(label.clone()) } else { node.labels.remove(label) };
            changed += usize::from(did);
        }
    }
    let mut reply = json!({"labels": p.labels, "nodes": nodes, "changed": changed});
    if !assign {
        let affected: Vec<String> = state
            .vclusters
            .values()
            .filter(|vc| vc.nodes.iter().any(|n| nodes.contains(n)))
            .filter(|vc| p.labels.iter().any(|l| vc.labels.contains(l)))
            .map(|vc| format!("{}/{}", vc.ns, vc.name))
            .collect();
        reply["vclusters_affected"] = json!(affected);
    }
    Ok(reply)
}

/// Deletes labels. While a vcluster uses one, only `force` deletes it, and then
/// removes it from those vclusters too.
pub(crate) fn delete(state: &mut State, at: i64, p: &LabelsDel) -> Outcome {
    state.labels_exist(&p.labels, "labels")?;
    let users: Vec<(String, String)> = state
        .vclusters
        .values()
        .filter(|vc| p.labels.iter().any(|l| vc.labels.contains(l)))
        .map(|vc| (vc.ns.clone(), vc.name.clone()))
        .collect();
    if !users.is_empty() && !p.force {
        let names: Vec<String> = users.iter().map(|(ns, n)| format!("{ns}/{n}")).collect();
        return Err(OpError::precondition(format!(
            "labels in use by vcluster(s) {}; pass force: true to delete anyway",
            names.join(", ")
        ))
        .with_field("labels"));
    }

    for key in &users {
        let vc = state.vclusters.get_mut(key).expect("listed above");
        for label in &p.labels {
            vc.labels.remove(label);
        }
        vc.updated_at_ms = at;
    }
    let uuids: Vec<String> = state.nodes.keys().cloned().collect();
    for uuid in uuids {
        if p.labels.iter().any(|l| state.nodes.get(&uuid).is_some_and(|n| n.labels.contains(l))) {
            let node = state.nodes.get_mut(&uuid).expect("listed above");
            for label in &p.labels {
                node.labels.remove(label);
            }
        }
    }
    for label in &p.labels {
        state.labels.remove(label);
    }
    let vclusters: Vec<String> = users.iter().map(|(ns, n)| format!("{ns}/{n}")).collect();
    Ok(json!({"deleted": p.labels, "vclusters_updated": vclusters}))
}

/// `labels_delegate_ns` and `labels_undelegate_ns`. A delegation a vcluster still
/// relies on cannot be withdrawn.
pub(crate) fn delegate(state: &mut State, p: &LabelsNs, delegate: bool) -> Outcome {
    state.labels_exist(&p.labels, "labels")?;
    for name in &p.labels {
        let label = state.labels.get_mut(name).expect("checked above");
        if delegate {
            label.delegated.add(&p.ns);
        } else {
            label.delegated.remove(&p.ns);
        }
    }
    if !delegate {
        let orphan = state.vclusters.values().find_map(|vc| {
            vc.labels
                .iter()
                .find(|l| state.labels.get(*l).is_some_and(|lab| !lab.delegated.contains(&vc.ns)))
                .map(|l| (vc, l))
        });
        if let Some((vc, label)) = orphan {
            return Err(OpError::precondition(format!(
                "vcluster '{}/{}' uses label '{label}'; remove it from the vcluster first",
                vc.ns, vc.name
            ))
            .with_field("ns"));
        }
    }
    let labels: Vec<Value> = p
        .labels
        .iter()
        .filter_map(|n| state.labels.get(n))
        .map(|l| json!({"name": l.name, "delegated": l.delegated.to_json()}))
        .collect();
    Ok(json!({"labels": labels}))
}

pub(crate) fn vcluster_add(
    state: &mut State,
    caller: &Caller,
    at: i64,
    p: &LabelsVcluster,
) -> Outcome {
    let ns = caller.ns.clone();
    let names = state.select_vclusters(&ns, &p.vcluster, "vcluster")?;
    state.labels_delegated(&ns, &p.labels, "labels")?;
    for name in &names {
        let vc = state.vcluster(&ns, name, "vcluster")?;
        state.check_nodes_carry(&ns, &vc.nodes, &p.labels, "labels")?;
    }
    change_vcluster_labels(state, &ns, &names, &p.labels, at, true)
}

pub(crate) fn vcluster_del(
    state: &mut State,
    caller: &Caller,
    at: i64,
    p: &LabelsVcluster,
) -> Outcome {
    let ns = caller.ns.clone();
    let names = state.select_vclusters(&ns, &p.vcluster, "vcluster")?;
    state.labels_exist(&p.labels, "labels")?;
    change_vcluster_labels(state, &ns, &names, &p.labels, at, false)
}

fn change_vcluster_labels(
    state: &mut State,
    ns: &str,
    names: &[String],
    labels: &[String],
    at: i64,
    add: bool,
) -> Outcome {
    let mut out = Vec::new();
    for name in names {
        let vc = state.vclusters.get_mut(&(ns.to_string(), name.clone())).expect("selected");
        for label in labels {
            if add {
                vc.labels.insert(label.clone());
            } else {
                vc.labels.remove(label);
            }
        }
        vc.updated_at_ms = at;
        out.push(json!({"name": vc.name, "labels": vc.labels}));
    }
    Ok(json!({"vclusters": out}))
}

/// `labels_ignore` and `labels_unignore`: without `ns` the global flag changes.
pub(crate) fn ignore(state: &mut State, p: &LabelsIgnore, ignore: bool) -> Outcome {
    state.labels_exist(&p.labels, "labels")?;
    let mut out = Vec::new();
    for name in &p.labels {
        let label = state.labels.get_mut(name).expect("checked above");
        match (&p.ns, ignore) {
            (None, flag) => label.ignored_global = flag,
            (Some(sel), true) => label.ignored_ns.add(sel),
            (Some(sel), false) => label.ignored_ns.remove(sel),
        }
        out.push(json!({
            "name": label.name,
            "ignored_global": label.ignored_global,
            "ignored_ns": label.ignored_ns.to_json(),
        }));
    }
    Ok(json!({"labels": out}))
}

/// Labels passing `filter`, judged for namespace `ns`.
fn filtered<'a>(
    state: &'a State,
    ns: &'a str,
    filter: LabelFilter,
) -> impl Iterator<Item = &'a Label> + 'a {
    state.labels.values().filter(move |l| filter.admits(l.ignored_in(ns)))
}

/// `labels_list`: the cluster's labels, optionally only those on some nodes.
pub(crate) fn list(state: &State, caller: &Caller, p: &LabelsList) -> OpResult<Value> {
    let on_nodes: Option<Vec<String>> = match &p.nodes {
        None | Some(Selector::All) => None,
        Some(sel) => Some(state.select_nodes(sel, "nodes")?),
    };
    let labels: Vec<Value> = filtered(state, &caller.ns, p.filter)
        .filter(|l| {
            on_nodes.as_ref().is_none_or(|uuids| {
                uuids.iter().any(|u| state.nodes.get(u).is_some_and(|n| n.has_label(&l.name)))
            })
        })
        .map(|l| state.label_json(l, caller))
        .collect();
    Ok(json!({"labels": labels}))
}

/// `labels_nodes_list`: nodes that carry every (`strict`) or any of the labels. This
/// lists what nodes carry; ignoring a label affects matching, not this listing.
pub(crate) fn nodes_list(state: &State, _caller: &Caller, p: &LabelsNodesList) -> OpResult<Value> {
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for name in &p.labels {
        if state.labels.contains(name) {
            known.push(name.clone());
        } else if p.silent {
            unknown.push(name.clone());
        } else {
            return Err(OpError::not_found("labels", format!("label '{name}' not found")));
        }
    }
    let nodes: Vec<Value> = if known.is_empty() {
        Vec::new()
    } else {
        state
            .nodes
            .values()
            .filter(|n| {
                if p.strict {
                    known.iter().all(|l| n.has_label(l))
                } else {
                    known.iter().any(|l| n.has_label(l))
                }
            })
            .map(|n| state.node_json(n))
            .collect()
    };
    Ok(json!({"labels": known, "skipped": unknown, "strict": p.strict, "nodes": nodes}))
}

/// The namespaces a non-admin may look at: its own. Admins may look at any.
fn visible_namespaces(state: &State, caller: &Caller, sel: Option<&Selector>) -> BTreeSet<String> {
    let mut all = state.namespaces();
    all.insert(caller.ns.clone());
    all.into_iter()
        .filter(|ns| caller.is_admin() || *ns == caller.ns)
        .filter(|ns| sel.is_none_or(|s| s.contains(ns)))
        .collect()
}

/// `labels_ns_show`: each namespace with the labels delegated to it.
pub(crate) fn ns_show(state: &State, caller: &Caller, p: &LabelsNsFilter) -> OpResult<Value> {
    let out: Vec<Value> = visible_namespaces(state, caller, p.ns.as_ref())
        .into_iter()
        .map(|ns| {
            let labels: Vec<Value> = filtered(state, &ns, p.filter)
                .filter(|l| l.delegated.contains(&ns))
                .map(|l| json!({"name": l.name, "ignored": l.ignored_in(&ns)}))
                .collect();
            json!({"ns": ns, "labels": labels})
        })
        .collect();
    Ok(json!({"namespaces": out}))
}

/// `labels_ns_list`: each label with the (visible) namespaces it is delegated to.
pub(crate) fn ns_list(state: &State, caller: &Caller, p: &LabelsNsFilter) -> OpResult<Value> {
    let visible = visible_namespaces(state, caller, p.ns.as_ref());
    let out: Vec<Value> = filtered(state, &caller.ns, p.filter)
        .filter_map(|l| {
            let ns: Vec<&String> = visible.iter().filter(|ns| l.delegated.contains(ns)).collect();
            if !caller.is_admin() && ns.is_empty() {
                return None;
            }
            let mut v = json!({"name": l.name, "ns": ns, "ignored": l.ignored_in(&caller.ns)});
            if caller.is_admin() {
                v["all_ns"] = json!(l.delegated.all);
            }
            Some(v)
        })
        .collect();
    Ok(json!({"labels": out}))
}

/// `labels_vcluster_show`: each selected vcluster of the namespace with its labels.
pub(crate) fn vcluster_show(
    state: &State,
    caller: &Caller,
    p: &LabelsVclusterShow,
) -> OpResult<Value> {
    let names = state.select_vclusters(&caller.ns, &p.vcluster, "vcluster")?;
    let mut out = Vec::new();
    for name in names {
        let vc = state.vcluster(&caller.ns, &name, "vcluster")?;
        let labels: Vec<Value> = vc
            .labels
            .iter()
            .filter_map(|l| state.labels.get(l))
            .filter(|l| p.filter.admits(l.ignored_in(&caller.ns)))
            .map(|l| json!({"name": l.name, "ignored": l.ignored_in(&caller.ns)}))
            .collect();
        out.push(json!({"name": vc.name, "labels": labels}));
    }
    Ok(json!({"vclusters": out}))
}

/// `labels_vcluster_list`: each label the namespace may use or uses, with the
/// namespace's vclusters that use it.
pub(crate) fn vcluster_list(
    state: &State,
    caller: &Caller,
    p: &LabelsVclusterFilter,
) -> OpResult<Value> {
    let ns = &caller.ns;
    let selected: Vec<String> = match &p.vcluster {
        None => state.vclusters_in(ns).map(|v| v.name.clone()).collect(),
        Some(sel) => state.select_vclusters(ns, sel, "vcluster")?,
    };
    let out: Vec<Value> = filtered(state, ns, p.filter)
        .filter_map(|l| {
            let users: Vec<&String> = selected
                .iter()
                .filter(|n| {
                    state
                        .vclusters
                        .get(&(ns.clone(), (*n).clone()))
                        .is_some_and(|v| v.labels.contains(&l.name))
                })
                .collect();
            if users.is_empty() && !l.delegated.contains(ns) {
                return None;
            }
            Some(json!({"name": l.name, "vclusters": users, "ignored": l.ignored_in(ns)}))
        })
        .collect();
    Ok(json!({"labels": out}))
}
