//! The planning operations: `plan_drain`, `plan_rebalance` and
//! `capacity_check`, answered on the leader from a placement view of the
//! applied state. They are dry runs: nothing is committed.

use std::collections::HashMap;

use serde_json::{json, Value};
use vsched_model::ops::{CapacityCheck, PlanDrain, PlanRebalance};
use vsched_model::types::NodeStatus;
use vsched_model::{Caller, Op, OpError, OpResult};
use vsched_placement::plan::RebalanceLimits;
use vsched_placement::{ClusterView, NodeId, VclusterId, VclusterSpec, Vector, VmSpec};
use vsched_state::State;

/// A placement view of the state, with the ids it gave vclusters.
pub struct Planning {
    pub view: ClusterView,
    vclusters: HashMap<(String, String), VclusterId>,
}

fn vector(r: &vsched_model::types::Resources) -> Vector {
    Vector::vcpu_ram(r.vcpu, r.vram_mib)
}

impl Planning {
    /// Builds the view: every node, every vcluster with its quotas, labels and
    /// taints, and every VM with its node.
    pub fn of(state: &State) -> Planning {
        let mut view = ClusterView::scheduler();
        for node in state.nodes() {
            let ready = node.status == NodeStatus::Ready;
            view.add_node(
                &node.uuid,
                vector(&node.capacity),
                &state.effective_labels(node),
                ready,
                node.drain,
            );
        }

        let mut user_limits: HashMap<(String, String), Vec<(String, Vector)>> = HashMap::new();
        for up in state.user_params() {
            if up.vcpu_limit.is_none() && up.vram_limit.is_none() {
                continue;
            }
            let limit = Vector::vcpu_ram(
                up.vcpu_limit.unwrap_or(u64::MAX),
                up.vram_limit.map(|m| m.mib()).unwrap_or(u64::MAX),
            );
            user_limits
                .entry((up.ns.clone(), up.vcluster.clone()))
                .or_default()
                .push((up.login.clone(), limit));
        }

        let mut vclusters = HashMap::new();
        for vc in state.vclusters() {
            let id_of = |uuid: &String| view.node_id(uuid);
            let nodes: Vec<NodeId> = vc.nodes.iter().filter_map(id_of).collect();
            let taints = vc
                .taints
                .iter()
                .filter_map(|(uuid, t)| Some((id_of(uuid)?, t.iter().cloned().collect())))
                .collect();
            let key = (vc.ns.clone(), vc.name.clone());
            let spec = VclusterSpec {
                name: format!("{}/{}", vc.ns, vc.name),
                nodes,
                labels: vc.labels.iter().cloned().collect(),
                ignored: state.ignored_labels(&vc.ns),
                taints,
                limit: Some(Vector::vcpu_ram(
                    vc.vcpu_limit.unwrap_or(u64::MAX),
                    vc.vram_limit.map(|m| m.mib()).unwrap_or(u64::MAX),
                )),
                scaling: Vector::vcpu_ram(1 + vc.vcpu_scaling as u64, 1 + vc.vram_scaling as u64),
                user_limits: if vc.ulimits {
                    user_limits.remove(&key).unwrap_or_default()
                } else {
                    vec![]
                },
            };
            vclusters.insert(key, view.add_vcluster(spec));
        }

        for vm in state.vms() {
            let Some(&vc) = vclusters.get(&(vm.ns.clone(), vm.vcluster.clone())) else { continue };
            view.add_vm(VmSpec {
                name: vm.name.clone(),
                request: format!("{}/{}/{}", vm.ns, vm.vcluster, vm.request),
                vcluster: vc,
                owner: vm.owner.clone(),
                labels: vm.labels.iter().cloned().collect(),
                size: vector(&vm.size),
                node: vm.node.as_deref().and_then(|n| view.node_id(n)),
            });
        }
        Planning { view, vclusters }
    }

    fn vcluster(&self, caller: &Caller, name: &Option<String>) -> OpResult<Option<VclusterId>> {
        match name {
            None => Ok(None),
            Some(n) => {
                self.vclusters.get(&(caller.ns.clone(), n.clone())).copied().map(Some).ok_or_else(
                    || OpError::not_found("vcluster", format!("vcluster '{n}' not found")),
                )
            }
        }
    }

    fn node_json(&self, id: NodeId) -> Value {
        json!(self.view.nodes[id as usize].name)
    }

    fn vm_json(&self, id: u32) -> Value {
        json!(self.view.vms[id as usize].name)
    }
}

/// Answers a planning operation.
pub(crate) fn handle(state: &State, caller: &Caller, op: &Op) -> OpResult<Value> {
    match op {
        Op::PlanDrain(p) => plan_drain(state, p),
        Op::PlanRebalance(p) => plan_rebalance(state, caller, p),
        Op::CapacityCheck(p) => capacity_check(state, caller, p),
        other => Err(OpError::internal(format!("'{}' is not a planning operation", other.name()))),
    }
}

fn plan_drain(state: &State, p: &PlanDrain) -> OpResult<Value> {
    let uuids = state.select_nodes(&p.nodes, "nodes")?;
    let mut planning = Planning::of(state);
    let nodes: Vec<NodeId> = uuids.iter().filter_map(|u| planning.view.node_id(u)).collect();
    let plan = planning.view.plan_drain(&nodes, p.max_in_flight as usize);
    let waves: Vec<Value> = plan
        .waves
        .iter()
        .map(|w| {
            json!(w
                .iter()
                .map(|m| json!({
                    "vm": planning.vm_json(m.vm),
                    "from": planning.node_json(m.from),
                    "to": planning.node_json(m.to),
                }))
                .collect::<Vec<_>>())
        })
        .collect();
    let stuck: Vec<Value> = plan
        .stuck
        .iter()
        .map(|s| {
            json!({
                "vm": planning.vm_json(s.vm),
                "from": planning.node_json(s.from),
                "reason": s.rejections.describe(&planning.view.dim_names),
                "rejections": s.rejections.to_json(&planning.view.dim_names),
            })
        })
        .collect();
    Ok(json!({
        "nodes": uuids,
        "max_in_flight": plan.max_in_flight,
        "moves": plan.moves().count(),
        "waves": waves,
        "stuck": stuck,
    }))
}

fn plan_rebalance(state: &State, caller: &Caller, p: &PlanRebalance) -> OpResult<Value> {
    if p.apply {
        return Err(OpError::precondition(
            "apply: true needs live migration, which this version cannot carry out yet; \
             the plan without apply shows the moves",
        )
        .with_field("apply"));
    }
    let mut planning = Planning::of(state);
    let vc = planning.vcluster(caller, &p.vcluster)?;
    let limits = RebalanceLimits { max_moves: p.max_moves as usize, ..Default::default() };
    let plan = planning.view.plan_rebalance(vc, limits);
    let moves: Vec<Value> = plan
        .moves
        .iter()
        .map(|m| {
            json!({
                "vm": planning.vm_json(m.vm),
                "from": planning.node_json(m.from),
                "to": planning.node_json(m.to),
                "gain": m.gain,
            })
        })
        .collect();
    Ok(json!({
        "vcluster": p.vcluster,
        "score_before": plan.score_before,
        "score_after": plan.score_after,
        "moves": moves,
    }))
}

fn capacity_check(state: &State, caller: &Caller, p: &CapacityCheck) -> OpResult<Value> {
    let mut planning = Planning::of(state);
    let vc = planning.vcluster(caller, &p.vcluster)?;
    let checks = planning.view.check_n_plus_one(vc);
    let nodes: Vec<Value> = checks
        .iter()
        .map(|c| {
            json!({
                "uuid": planning.node_json(c.node),
                "vms": c.vms,
                "ok": c.ok(),
                "homeless": c.homeless.iter().map(|v| planning.vm_json(*v)).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(json!({
        "vcluster": p.vcluster,
        "ok": checks.iter().all(|c| c.ok()),
        "nodes": nodes,
    }))
}
