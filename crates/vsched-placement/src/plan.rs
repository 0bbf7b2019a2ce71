//! Planning migrations with the same filters and score as placement: drain
//! plans, rebalance plans (greedy moves that lower an imbalance score, as
//! Ganeti's hbal does), and the N+1 check.
//!
//! Planning works on the caller's view and leaves it as it found it: moves
//! are applied to the view while planning, so later moves see earlier ones,
//! and undone before returning.

use serde::Serialize;

use crate::filter::{Rejections, Rules};
use crate::score::Fit;
use crate::vector::MAX_DIMS;
use crate::view::{ClusterView, NodeId, VclusterId, VmId};

/// One migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Move {
    pub vm: VmId,
    pub from: NodeId,
    pub to: NodeId,
}

/// A VM that cannot move, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stuck {
    pub vm: VmId,
    pub from: NodeId,
    pub rejections: Rejections,
}

/// Where the VMs of drained nodes go, in waves of at most `max_in_flight`
/// concurrent migrations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrainPlan {
    pub waves: Vec<Vec<Move>>,
    pub stuck: Vec<Stuck>,
    pub max_in_flight: usize,
}

impl DrainPlan {
    pub fn moves(&self) -> impl Iterator<Item = &Move> {
        self.waves.iter().flatten()
    }
}

impl ClusterView {
    /// The best target for `vm` among its vcluster's nodes, or why there is none.
    /// Nodes in `exclude` are never chosen.
    pub fn target_for(&self, vm: VmId, exclude: &[NodeId]) -> Result<Fit, Rejections> {
        let rules = self.vm_rules(vm);
        let pipeline = rules.pipeline(self, exclude);
        match self.best_node(&rules, &pipeline).0 {
            Some(fit) => Ok(fit),
            None => Err(self.explain(&rules, &pipeline)),
        }
    }

    /// The rules an existing VM must meet wherever it goes.
    fn vm_rules(&self, vm: VmId) -> Rules {
        let v = &self.vms[vm as usize];
        self.rules(v.vcluster, &v.request, &v.labels, v.reserved)
    }

    /// VMs on `nodes`, largest first (by the sum of their shares of their node's
    /// capacity), then by id: the order batch packing places them in.
    fn vms_largest_first(&self, nodes: &[NodeId]) -> Vec<VmId> {
        let mut vms: Vec<(u64, VmId)> = nodes
            .iter()
            .flat_map(|&n| {
                let cap = self.nodes[n as usize].capacity;
                self.nodes[n as usize].vms.iter().map(move |&vm| (n, cap, vm))
            })
            .map(|(_, cap, vm)| {
                let r = &self.vms[vm as usize].reserved;
                let weight: u64 = (0..MAX_DIMS)
                    .filter(|&d| cap.0[d] > 0)
                    .map(|d| r.0[d] * 1_000_000 / cap.0[d])
                    .sum();
                (weight, vm)
            })
            .collect();
        vms.sort_by_key(|&(w, vm)| (std::cmp::Reverse(w), vm));
        vms.into_iter().map(|(_, vm)| vm).collect()
    }

    /// Plans moving every VM off `nodes`. Targets obey every placement rule and
    /// are never one of `nodes`; a VM with no target is reported with the reasons.
    /// Moves only take capacity on targets, which are never drained, so the
    /// waves can run in any order without over-committing a node.
    pub fn plan_drain(&mut self, nodes: &[NodeId], max_in_flight: usize) -> DrainPlan {
        let max_in_flight = max_in_flight.max(1);
        let mut nodes = nodes.to_vec();
        nodes.sort_unstable();
        nodes.dedup();
        let nodes = nodes.as_slice();
        let saved: Vec<(NodeId, bool, bool)> = nodes
            .iter()
            .map(|&n| (n, self.nodes[n as usize].ready, self.nodes[n as usize].drain))
            .collect();
        for &n in nodes {
            let ready = self.nodes[n as usize].ready;
            self.set_node_state(n, ready, true);
        }

        let mut moves = Vec::new();
        let mut stuck = Vec::new();
        for vm in self.vms_largest_first(nodes) {
            let from = self.vms[vm as usize].node.expect("VMs on a node are placed");
            match self.target_for(vm, nodes) {
                Ok(fit) => {
                    self.move_vm(vm, Some(fit.node));
                    moves.push(Move { vm, from, to: fit.node });
                }
                Err(rejections) => stuck.push(Stuck { vm, from, rejections }),
            }
        }

        for m in moves.iter().rev() {
            self.move_vm(m.vm, Some(m.from));
        }
        for (n, ready, drain) in saved {
            self.set_node_state(n, ready, drain);
        }
        let waves = moves.chunks(max_in_flight).map(|c| c.to_vec()).collect();
        DrainPlan { waves, stuck, max_in_flight }
    }
}

/// One step of a rebalance plan and what it gains.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RebalanceMove {
    pub vm: VmId,
    pub from: NodeId,
    pub to: NodeId,
    /// How much the imbalance score drops.
    pub gain: f64,
}

/// A rebalance plan.
#[derive(Debug, Clone, PartialEq)]
pub struct RebalancePlan {
    pub moves: Vec<RebalanceMove>,
    pub score_before: f64,
    pub score_after: f64,
}

/// Limits of the rebalance search.
#[derive(Debug, Clone, Copy)]
pub struct RebalanceLimits {
    pub max_moves: usize,
    /// Stop when the best move gains less than this.
    pub min_gain: f64,
    /// Moves are taken from this many most-used nodes to this many least-used
    /// ones, which keeps each step cheap on a large cluster.
    pub width: usize,
}

impl Default for RebalanceLimits {
    fn default() -> Self {
        RebalanceLimits { max_moves: 20, min_gain: 1e-4, width: 16 }
    }
}

/// Use of one node as fractions of its capacity, per dimension.
fn usage(view: &ClusterView, n: NodeId, dims: usize) -> [f64; MAX_DIMS] {
    let node = &view.nodes[n as usize];
    let mut u = [0.0; MAX_DIMS];
    for (d, slot) in u.iter_mut().enumerate().take(dims) {
        let cap = node.capacity.0[d];
        if cap > 0 {
            *slot = node.allocated.0[d] as f64 / cap as f64;
        }
    }
    u
}

/// The imbalance score: the sum over dimensions of the standard deviation of
/// use across `nodes`. Zero when every node is used alike.
pub fn imbalance(view: &ClusterView, nodes: &[NodeId]) -> f64 {
    let dims = view.dim_names.len().max(1);
    if nodes.is_empty() {
        return 0.0;
    }
    let n = nodes.len() as f64;
    let mut total = 0.0;
    for d in 0..dims {
        let (mut s1, mut s2) = (0.0, 0.0);
        for &id in nodes {
            let u = usage(view, id, dims)[d];
            s1 += u;
            s2 += u * u;
        }
        total += (s2 / n - (s1 / n).powi(2)).max(0.0).sqrt();
    }
    total
}

impl ClusterView {
    /// Nodes a rebalance works on: the vcluster's, or all; schedulable only.
    fn rebalance_scope(&self, vcluster: Option<VclusterId>) -> Vec<NodeId> {
        let all: Vec<NodeId> = match vcluster {
            Some(vc) => self.vclusters[vc as usize].nodes.clone(),
            None => (0..self.nodes.len() as NodeId).collect(),
        };
        all.into_iter().filter(|&n| self.nodes[n as usize].schedulable()).collect()
    }

    /// Plans greedy moves that each lower the imbalance score the most, until
    /// the best gains less than `limits.min_gain` or `limits.max_moves` are
    /// planned. Every move obeys the placement rules.
    pub fn plan_rebalance(
        &mut self,
        vcluster: Option<VclusterId>,
        limits: RebalanceLimits,
    ) -> RebalancePlan {
        let scope = self.rebalance_scope(vcluster);
        let score_before = imbalance(self, &scope);
        let mut score = score_before;
        let mut moves: Vec<RebalanceMove> = Vec::new();

        while moves.len() < limits.max_moves {
            let dims = self.dim_names.len().max(1);
            let mut by_use: Vec<(u64, NodeId)> = scope
                .iter()
                .map(|&n| {
                    let u = usage(self, n, dims);
                    ((u[..dims].iter().sum::<f64>() * 1e9) as u64, n)
                })
                .collect();
            by_use.sort_unstable();
            let low: Vec<NodeId> = by_use.iter().take(limits.width).map(|x| x.1).collect();
            let high: Vec<NodeId> = by_use.iter().rev().take(limits.width).map(|x| x.1).collect();

            let mut best: Option<(f64, VmId, NodeId, NodeId)> = None;
            for &from in &high {
                let vms: Vec<VmId> = self.nodes[from as usize].vms.clone();
                for vm in vms {
                    if vcluster.is_some_and(|vc| self.vms[vm as usize].vcluster != vc) {
                        continue;
                    }
                    for &to in &low {
                        if to == from || !self.can_host(vm, to) {
                            continue;
                        }
                        self.move_vm(vm, Some(to));
                        let after = imbalance(self, &scope);
                        self.move_vm(vm, Some(from));
                        let gain = score - after;
                        let better = match best {
                            None => true,
                            Some((g, bvm, _, bto)) => {
                                gain > g || (gain == g && (vm, to) < (bvm, bto))
                            }
                        };
                        if better {
                            best = Some((gain, vm, from, to));
                        }
                    }
                }
            }
            let Some((gain, vm, from, to)) = best else { break };
            if gain < limits.min_gain {
                break;
            }
            self.move_vm(vm, Some(to));
            score -= gain;
            moves.push(RebalanceMove { vm, from, to, gain });
        }

        for m in moves.iter().rev() {
            self.move_vm(m.vm, Some(m.from));
        }
        RebalancePlan { moves, score_before, score_after: score }
    }

    /// Whether `vm` could move to `to` under every placement rule.
    pub fn can_host(&self, vm: VmId, to: NodeId) -> bool {
        let v = &self.vms[vm as usize];
        if self.vclusters[v.vcluster as usize].nodes.binary_search(&to).is_err() {
            return false;
        }
        let rules = self.vm_rules(vm);
        rules.pipeline(self, &[]).check(to, &self.nodes[to as usize]).is_ok()
    }
}

/// Whether a node's VMs would fit elsewhere if it failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpareCheck {
    pub node: NodeId,
    pub vms: usize,
    /// VMs that would find no other node.
    pub homeless: Vec<VmId>,
}

impl SpareCheck {
    pub fn ok(&self) -> bool {
        self.homeless.is_empty()
    }
}

impl ClusterView {
    /// The N+1 check: for each node (of the vcluster, or all), whether all its VMs
    /// could be placed on the other nodes if it failed, placing them largest first.
    pub fn check_n_plus_one(&mut self, vcluster: Option<VclusterId>) -> Vec<SpareCheck> {
        let nodes: Vec<NodeId> = match vcluster {
            Some(vc) => self.vclusters[vc as usize].nodes.clone(),
            None => (0..self.nodes.len() as NodeId).collect(),
        };
        nodes
            .into_iter()
            .map(|n| {
                let plan = self.plan_drain(&[n], usize::MAX);
                SpareCheck {
                    node: n,
                    vms: self.nodes[n as usize].vms.len(),
                    homeless: plan.stuck.iter().map(|s| s.vm).collect(),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vector::Vector;
    use crate::view::{VclusterSpec, VmSpec};

    /// `n` nodes of 16 vCPU / 64 GiB in one vcluster, and VMs of (vcpu, ram) on
    /// given nodes.
    fn cluster(n: usize, vms: &[(u32, u64, u64)]) -> ClusterView {
        let mut view = ClusterView::scheduler();
        let nodes: Vec<NodeId> = (0..n)
            .map(|i| view.add_node(&format!("n{i}"), Vector::vcpu_ram(16, 64), &[], true, false))
            .collect();
        let vc =
            view.add_vcluster(VclusterSpec { name: "web".into(), nodes, ..Default::default() });
        for (i, &(node, c, m)) in vms.iter().enumerate() {
            view.add_vm(VmSpec {
                name: format!("vm{i}"),
                request: format!("r{i}"),
                vcluster: vc,
                size: Vector::vcpu_ram(c, m),
                node: Some(node),
                ..Default::default()
            });
        }
        view
    }

    #[test]
    fn a_drain_moves_everything_it_can_and_leaves_the_view_alone() {
        let mut view = cluster(3, &[(0, 8, 32), (0, 4, 16), (0, 12, 48), (1, 8, 8)]);
        let before: Vec<_> = view.nodes.iter().map(|n| n.allocated).collect();
        let plan = view.plan_drain(&[0], 2);
        // 8+4+12 vCPU leave node 0; node 1 has 8 free, node 2 has 16.
        assert_eq!(plan.moves().count(), 3);
        assert!(plan.stuck.is_empty());
        assert!(plan.waves.iter().all(|w| w.len() <= 2));
        assert!(plan.moves().all(|m| m.to != 0));
        assert_eq!(before, view.nodes.iter().map(|n| n.allocated).collect::<Vec<_>>());
        assert!(!view.nodes[0].drain);
    }

    #[test]
    fn a_vm_with_nowhere_to_go_is_reported_with_reasons() {
        let mut view = cluster(2, &[(0, 12, 8), (1, 8, 8)]);
        let plan = view.plan_drain(&[0], 4);
        assert_eq!(plan.stuck.len(), 1);
        let why = plan.stuck[0].rejections.describe(&view.dim_names);
        assert_eq!(why, "1 node drained, 1 node lacks vcpu");
    }

    #[test]
    fn rebalance_lowers_the_score_with_each_move() {
        let mut view = cluster(4, &[(0, 4, 16), (0, 4, 16), (0, 4, 16), (0, 4, 16), (1, 2, 8)]);
        let plan = view.plan_rebalance(None, RebalanceLimits::default());
        assert!(!plan.moves.is_empty());
        assert!(plan.score_after < plan.score_before);
        assert!(plan.moves.iter().all(|m| m.gain > 0.0));
        // Undone afterwards.
        assert_eq!(view.nodes[0].vms.len(), 4);
    }

    #[test]
    fn rebalance_of_an_even_cluster_plans_nothing() {
        let mut view = cluster(2, &[(0, 4, 16), (1, 4, 16)]);
        let plan = view.plan_rebalance(None, RebalanceLimits::default());
        assert!(plan.moves.is_empty());
        assert_eq!(plan.score_before, 0.0);
    }

    #[test]
    fn n_plus_one_finds_the_node_whose_vms_cannot_be_absorbed() {
        // Node 0's 14 vCPU fit on neither 13 nor 6 free; node 1's 3 fit in 6.
        let mut view = cluster(3, &[(0, 14, 8), (1, 3, 8), (2, 10, 8)]);
        let checks = view.check_n_plus_one(None);
        assert!(!checks[0].ok());
        assert_eq!(checks[0].homeless.len(), 1);
        assert!(checks[1].ok());
    }
}
