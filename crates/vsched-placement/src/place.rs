//! Placing a request: `rf` replicas at once, all or nothing.
//!
//! The pipeline: quotas first (the vcluster's and the owner's), then for each
//! replica the candidate nodes of the vcluster from the free-capacity index,
//! the feasibility filters, the best-fit score, and the choice of the lowest
//! score. When a replica finds no node, nothing is placed, and every node of
//! the vcluster is run through the filters once more to count why each was
//! rejected.

use crate::filter::Rejections;
use crate::vector::{Vector, MAX_DIMS};
use crate::view::{ClusterView, LabelId, NodeId, VclusterId, VmId, VmSpec};

/// What to place.
#[derive(Debug, Clone, Default)]
pub struct PlacementRequest {
    pub vcluster: VclusterId,
    /// Request name; replicas are named `<request>-<i>`.
    pub request: String,
    pub owner: String,
    pub rf: u32,
    /// One replica's size.
    pub size: Vector,
    /// Labels the nodes must carry; also the taints the request tolerates.
    pub labels: Vec<String>,
}

/// Where the replicas go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub nodes: Vec<NodeId>,
    /// What each replica reserves (scaling headroom included).
    pub reserved: Vector,
    /// Nodes the search evaluated, for diagnostics and benchmarks.
    pub visited: usize,
}

/// Which quota stopped a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuotaScope {
    Vcluster,
    User(String),
}

/// Why a request could not be placed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unplaceable {
    /// A quota would be exceeded in dimension `dim`.
    Quota { scope: QuotaScope, dim: usize, used: u64, need: u64, limit: u64 },
    /// Only `placed` of `wanted` replicas found a node; the counts say why the
    /// others did not.
    NoNode { placed: u32, wanted: u32, rejections: Rejections },
}

impl Unplaceable {
    /// A sentence for an error message.
    pub fn describe(&self, view: &ClusterView) -> String {
        match self {
            Unplaceable::Quota { scope, dim, used, need, limit } => {
                let who = match scope {
                    QuotaScope::Vcluster => "the vcluster".to_string(),
                    QuotaScope::User(u) => format!("user {u}"),
                };
                format!(
                    "{who} would exceed its {} limit: {used} used + {need} needed > {limit}",
                    view.dim_name(*dim)
                )
            }
            Unplaceable::NoNode { placed, wanted, rejections } => format!(
                "only {placed} of {wanted} replicas fit: {}",
                rejections.describe(&view.dim_names)
            ),
        }
    }
}

impl ClusterView {
    fn label_ids(&mut self, names: &[String]) -> Vec<LabelId> {
        let mut ids: Vec<LabelId> = names.iter().map(|n| self.label(n)).collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// Checks the vcluster's and the owner's quota for `need` more.
    fn check_quotas(&self, vc: VclusterId, owner: &str, need: &Vector) -> Result<(), Unplaceable> {
        let v = &self.vclusters[vc as usize];
        let over = |used: &Vector, limit: &Vector| {
            (0..MAX_DIMS).find(|&d| used.0[d].saturating_add(need.0[d]) > limit.0[d])
        };
        if let Some(dim) = over(&v.used, &v.limit) {
            return Err(Unplaceable::Quota {
                scope: QuotaScope::Vcluster,
                dim,
                used: v.used.0[dim],
                need: need.0[dim],
                limit: v.limit.0[dim],
            });
        }
        if let Some(limit) = v.user_limits.get(owner) {
            let used = v.user_used.get(owner).copied().unwrap_or_default();
            if let Some(dim) = over(&used, limit) {
                return Err(Unplaceable::Quota {
                    scope: QuotaScope::User(owner.to_string()),
                    dim,
                    used: used.0[dim],
                    need: need.0[dim],
                    limit: limit.0[dim],
                });
            }
        }
        Ok(())
    }

    /// Decides where the replicas of `req` go, without changing the view.
    pub fn place(&mut self, req: &PlacementRequest) -> Result<Placement, Unplaceable> {
        let labels = self.label_ids(&req.labels);
        let reserved = self.vclusters[req.vcluster as usize].reserve(&req.size);
        self.check_quotas(req.vcluster, &req.owner, &reserved.times(req.rf as u64))?;

        let rules = self.rules(req.vcluster, &req.request, &labels, reserved);
        let mut chosen: Vec<NodeId> = Vec::with_capacity(req.rf as usize);
        let mut visited = 0;
        for placed in 0..req.rf {
            let pipeline = rules.pipeline(self, &chosen);
            let (best, seen) = self.best_node(&rules, &pipeline);
            visited += seen;
            match best {
                Some(fit) => chosen.push(fit.node),
                None => {
                    let rejections = self.explain(&rules, &pipeline);
                    return Err(Unplaceable::NoNode { placed, wanted: req.rf, rejections });
                }
            }
        }
        Ok(Placement { nodes: chosen, reserved, visited })
    }

    /// Records a placement: one VM per replica, named `<request>-<i>`.
    pub fn commit(&mut self, req: &PlacementRequest, placement: &Placement) -> Vec<VmId> {
        let first = self.replica_nodes(&req.request).len();
        placement
            .nodes
            .iter()
            .enumerate()
            .map(|(i, node)| {
                self.add_vm(VmSpec {
                    name: format!("{}-{}", req.request, first + i),
                    request: req.request.clone(),
                    vcluster: req.vcluster,
                    owner: req.owner.clone(),
                    labels: req.labels.clone(),
                    size: req.size,
                    node: Some(*node),
                })
            })
            .collect()
    }

    /// Places and records in one step.
    pub fn place_and_commit(&mut self, req: &PlacementRequest) -> Result<Vec<VmId>, Unplaceable> {
        let placement = self.place(req)?;
        Ok(self.commit(req, &placement))
    }
}

/// Orders a batch of requests for placing: largest first, measured by the sum
/// of each dimension's share of the given reference capacity. Packing big items
/// first leaves small ones to fill the gaps, which beats arrival order.
pub fn batch_order(requests: &[PlacementRequest], reference: &Vector) -> Vec<usize> {
    let weight = |r: &PlacementRequest| -> u64 {
        (0..MAX_DIMS)
            .filter(|&d| reference.0[d] > 0)
            .map(|d| r.size.0[d] * 1_000_000 / reference.0[d])
            .sum::<u64>()
            * r.rf as u64
    };
    let mut order: Vec<usize> = (0..requests.len()).collect();
    order.sort_by_key(|&i| (std::cmp::Reverse(weight(&requests[i])), i));
    order
}

/// Places a batch in [`batch_order`], committing each request that fits so
/// the next sees it. Returns each request's outcome, in input order.
pub fn place_batch(
    view: &mut ClusterView,
    requests: &[PlacementRequest],
    reference: &Vector,
) -> Vec<Result<Vec<VmId>, Unplaceable>> {
    let mut out: Vec<Option<Result<Vec<VmId>, Unplaceable>>> = vec![None; requests.len()];
    for i in batch_order(requests, reference) {
        out[i] = Some(view.place_and_commit(&requests[i]));
    }
    out.into_iter().map(|r| r.expect("every request placed once")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::VclusterSpec;

    fn cluster(n: usize) -> (ClusterView, VclusterId) {
        let mut view = ClusterView::scheduler();
        let nodes: Vec<NodeId> = (0..n)
            .map(|i| {
                view.add_node(
                    &format!("n{i}"),
                    Vector::vcpu_ram(16, 64),
                    &["ssd".into()],
                    true,
                    false,
                )
            })
            .collect();
        let vc =
            view.add_vcluster(VclusterSpec { name: "web".into(), nodes, ..Default::default() });
        (view, vc)
    }

    fn req(vc: VclusterId, name: &str, rf: u32, vcpu: u64, ram: u64) -> PlacementRequest {
        PlacementRequest {
            vcluster: vc,
            request: name.into(),
            owner: "ann".into(),
            rf,
            size: Vector::vcpu_ram(vcpu, ram),
            labels: vec![],
        }
    }

    #[test]
    fn replicas_land_on_distinct_nodes() {
        let (mut view, vc) = cluster(3);
        let p = view.place(&req(vc, "db", 3, 1, 1)).unwrap();
        let mut nodes = p.nodes.clone();
        nodes.sort();
        nodes.dedup();
        assert_eq!(nodes.len(), 3);
        let err = view.place(&req(vc, "db4", 4, 1, 1)).unwrap_err();
        assert!(matches!(err, Unplaceable::NoNode { placed: 3, wanted: 4, .. }), "{err:?}");
    }

    #[test]
    fn best_fit_prefers_the_fuller_node() {
        let (mut view, vc) = cluster(2);
        view.place_and_commit(&req(vc, "a", 1, 8, 32)).unwrap();
        let p = view.place(&req(vc, "b", 1, 4, 16)).unwrap();
        assert_eq!(p.nodes, vec![view.vms[0].node.unwrap()]);
    }

    #[test]
    fn nothing_is_placed_when_one_replica_does_not_fit() {
        let (mut view, vc) = cluster(2);
        let before = view.nodes.iter().map(|n| n.allocated).collect::<Vec<_>>();
        let err = view.place_and_commit(&req(vc, "big", 3, 1, 1)).unwrap_err();
        assert!(matches!(err, Unplaceable::NoNode { placed: 2, .. }));
        assert_eq!(before, view.nodes.iter().map(|n| n.allocated).collect::<Vec<_>>());
        assert!(view.vms.is_empty());
    }

    #[test]
    fn a_failure_counts_each_reason() {
        let mut view = ClusterView::scheduler();
        let nodes = vec![
            view.add_node("drained", Vector::vcpu_ram(16, 64), &["ssd".into()], true, true),
            view.add_node("down", Vector::vcpu_ram(16, 64), &["ssd".into()], false, false),
            view.add_node("hdd", Vector::vcpu_ram(16, 64), &[], true, false),
            view.add_node("small", Vector::vcpu_ram(16, 8), &["ssd".into()], true, false),
        ];
        let vc =
            view.add_vcluster(VclusterSpec { name: "web".into(), nodes, ..Default::default() });
        let mut r = req(vc, "x", 1, 2, 16);
        r.labels = vec!["ssd".into()];
        let err = view.place(&r).unwrap_err();
        let text = err.describe(&view);
        assert_eq!(
            text,
            "only 0 of 1 replicas fit: 1 node not ready, 1 node drained, \
             1 node lacks label ssd, 1 node lacks memory"
        );
    }

    #[test]
    fn taints_need_a_toleration() {
        let mut view = ClusterView::scheduler();
        let a = view.add_node("a", Vector::vcpu_ram(16, 64), &[], true, false);
        let vc = view.add_vcluster(VclusterSpec {
            name: "web".into(),
            nodes: vec![a],
            taints: vec![(a, vec!["gpu".into()])],
            ..Default::default()
        });
        let err = view.place(&req(vc, "x", 1, 1, 1)).unwrap_err();
        assert!(err.describe(&view).contains("1 node tainted gpu"));
        // The toleration is a request label, so the node must carry it as well.
        view.nodes[a as usize].labels = vec![view.label("gpu")];
        let mut r = req(vc, "x", 1, 1, 1);
        r.labels = vec!["gpu".into()];
        assert!(view.place(&r).is_ok());
    }

    #[test]
    fn quotas_count_every_replica_and_the_scaling_headroom() {
        let mut view = ClusterView::scheduler();
        let nodes: Vec<NodeId> = (0..4)
            .map(|i| view.add_node(&format!("n{i}"), Vector::vcpu_ram(16, 64), &[], true, false))
            .collect();
        let vc = view.add_vcluster(VclusterSpec {
            name: "web".into(),
            nodes,
            limit: Some(Vector::vcpu_ram(12, u64::MAX)),
            scaling: Vector::vcpu_ram(2, 1),
            user_limits: vec![("ann".into(), Vector::vcpu_ram(8, u64::MAX))],
            ..Default::default()
        });
        // 2 replicas x 2 vCPU x 2 (scaling) = 8: fits the user's 8.
        view.place_and_commit(&req(vc, "a", 2, 2, 1)).unwrap();
        let err = view.place(&req(vc, "b", 1, 1, 1)).unwrap_err();
        assert!(
            matches!(err, Unplaceable::Quota { scope: QuotaScope::User(_), dim: 0, .. }),
            "{err:?}"
        );
        let mut other = req(vc, "c", 1, 2, 1);
        other.owner = "bob".into();
        view.place_and_commit(&other).unwrap();
        let err = view
            .place(&PlacementRequest { owner: "cid".into(), ..req(vc, "d", 1, 1, 1) })
            .unwrap_err();
        assert!(
            matches!(err, Unplaceable::Quota { scope: QuotaScope::Vcluster, used: 12, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn ignored_labels_count_as_present() {
        let mut view = ClusterView::scheduler();
        let a = view.add_node("a", Vector::vcpu_ram(16, 64), &[], true, false);
        let vc = view.add_vcluster(VclusterSpec {
            name: "web".into(),
            nodes: vec![a],
            labels: vec!["ssd".into()],
            ignored: vec!["ssd".into()],
            ..Default::default()
        });
        assert!(view.place(&req(vc, "x", 1, 1, 1)).is_ok());
    }

    #[test]
    fn batch_order_puts_big_requests_first() {
        let reqs = vec![req(0, "s", 1, 1, 1), req(0, "l", 1, 8, 32), req(0, "m", 1, 4, 4)];
        assert_eq!(batch_order(&reqs, &Vector::vcpu_ram(16, 64)), vec![1, 2, 0]);
    }
}
