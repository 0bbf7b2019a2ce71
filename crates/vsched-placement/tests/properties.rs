//! Properties of placement and planning over generated clusters: capacity and
//! rules always hold, a refused request changes nothing, plans never
//! over-commit a node at any step, the index finds what a full scan finds, and
//! the same input gives the same output.

use proptest::prelude::*;
use vsched_placement::pack::pack_batch;
use vsched_placement::plan::RebalanceLimits;
use vsched_placement::score::Fit;
use vsched_placement::{
    ClusterView, NodeId, PlacementRequest, Unplaceable, VclusterSpec, Vector, VmSpec,
};

const LABELS: [&str; 3] = ["ssd", "gpu", "fast"];

#[derive(Debug, Clone)]
struct NodeGen {
    vcpu: u64,
    ram: u64,
    labels: Vec<bool>,
    ready: bool,
    drain: bool,
    taint: Option<usize>,
}

fn node_gen() -> impl Strategy<Value = NodeGen> {
    (
        prop_oneof![Just(16u64), Just(32), Just(64)],
        prop_oneof![Just(64u64), Just(128), Just(256)],
        prop::collection::vec(any::<bool>(), 3),
        prop::bool::weighted(0.9),
        prop::bool::weighted(0.1),
        prop::option::weighted(0.15, 0..3usize),
    )
        .prop_map(|(vcpu, ram, labels, ready, drain, taint)| NodeGen {
            vcpu,
            ram: ram * 1024,
            labels,
            ready,
            drain,
            taint,
        })
}

#[derive(Debug, Clone)]
struct ReqGen {
    rf: u32,
    vcpu: u64,
    ram_gib: u64,
    labels: Vec<usize>,
    owner: usize,
}

fn req_gen() -> impl Strategy<Value = ReqGen> {
    (1u32..4, 1u64..17, 1u64..65, prop::collection::vec(0..3usize, 0..2), 0..3usize)
        .prop_map(|(rf, vcpu, ram_gib, labels, owner)| ReqGen { rf, vcpu, ram_gib, labels, owner })
}

/// A view with the generated nodes in one vcluster that needs label `ssd`
/// (ignored or not), a vCPU quota and a per-user quota for owner 0.
fn build(nodes: &[NodeGen], ignore_ssd: bool, scaling: bool) -> ClusterView {
    let mut view = ClusterView::scheduler();
    let mut ids = Vec::new();
    let mut taints = Vec::new();
    for (i, n) in nodes.iter().enumerate() {
        let labels: Vec<String> = LABELS
            .iter()
            .zip(&n.labels)
            .filter(|(_, on)| **on)
            .map(|(l, _)| l.to_string())
            .collect();
        let id = view.add_node(
            &format!("n{i}"),
            Vector::vcpu_ram(n.vcpu, n.ram),
            &labels,
            n.ready,
            n.drain,
        );
        if let Some(t) = n.taint {
            taints.push((id, vec![LABELS[t].to_string()]));
        }
        ids.push(id);
    }
    view.add_vcluster(VclusterSpec {
        name: "vc".into(),
        nodes: ids,
        labels: vec!["ssd".into()],
        ignored: if ignore_ssd { vec!["ssd".into()] } else { vec![] },
        taints,
        limit: Some(Vector::vcpu_ram(400, u64::MAX)),
        scaling: if scaling { Vector::vcpu_ram(2, 1) } else { Vector::ZERO },
        user_limits: vec![("u0".into(), Vector::vcpu_ram(100, u64::MAX))],
    });
    view
}

fn request(i: usize, r: &ReqGen) -> PlacementRequest {
    PlacementRequest {
        vcluster: 0,
        request: format!("r{i}"),
        owner: format!("u{}", r.owner),
        rf: r.rf,
        size: Vector::vcpu_ram(r.vcpu, r.ram_gib * 1024),
        labels: r.labels.iter().map(|l| LABELS[*l].to_string()).collect(),
    }
}

/// Checks every invariant of a view: no node over capacity, replicas apart,
/// every placed VM on a node that satisfies the rules, quotas respected.
fn check_invariants(view: &ClusterView, ignore_ssd: bool) -> Result<(), TestCaseError> {
    for node in &view.nodes {
        prop_assert!(node.allocated.fits_in(&node.capacity), "{} over capacity", node.name);
    }
    let vc = &view.vclusters[0];
    prop_assert!(vc.used.fits_in(&vc.limit));
    if let Some(limit) = vc.user_limits.get("u0") {
        prop_assert!(vc.user_used.get("u0").copied().unwrap_or_default().fits_in(limit));
    }
    let mut by_request: std::collections::HashMap<&str, Vec<NodeId>> = Default::default();
    for vm in &view.vms {
        let Some(n) = vm.node else { continue };
        by_request.entry(&vm.request).or_default().push(n);
    }
    for nodes in by_request.values() {
        let mut sorted = nodes.clone();
        sorted.sort();
        sorted.dedup();
        prop_assert_eq!(sorted.len(), nodes.len(), "two replicas share a node");
    }
    let _ = ignore_ssd;
    Ok(())
}

/// The best node for `req` by scanning every node of the vcluster.
fn full_scan(view: &mut ClusterView, req: &PlacementRequest) -> Option<NodeId> {
    let mut labels: Vec<u32> = req.labels.iter().map(|l| view.label(l)).collect();
    labels.sort_unstable();
    labels.dedup();
    let reserved = view.vclusters[0].reserve(&req.size);
    let rules = view.rules(0, &req.request, &labels, reserved);
    let pipeline = rules.pipeline(view, &[]);
    view.vclusters[0]
        .nodes
        .iter()
        .filter_map(|&id| {
            let node = &view.nodes[id as usize];
            pipeline.check(id, node).ok()?;
            Fit::of(id, &reserved, &node.free(), &node.capacity, node.vms.len() as u32)
        })
        .min()
        .map(|f| f.node)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn placements_respect_capacity_rules_and_quotas(
        nodes in prop::collection::vec(node_gen(), 1..24),
        reqs in prop::collection::vec(req_gen(), 1..40),
        ignore_ssd in any::<bool>(),
        scaling in any::<bool>(),
    ) {
        let mut view = build(&nodes, ignore_ssd, scaling);
        for (i, r) in reqs.iter().enumerate() {
            let req = request(i, r);
            let before: Vec<Vector> = view.nodes.iter().map(|n| n.allocated).collect();
            let vms_before = view.vms.len();
            match view.place(&req) {
                Ok(p) => {
                    prop_assert_eq!(p.nodes.len(), req.rf as usize);
                    let ids = view.commit(&req, &p);
                    for id in ids {
                        let node = &view.nodes[view.vms[id as usize].node.unwrap() as usize];
                        prop_assert!(node.ready && !node.drain);
                        let ssd = view.vclusters[0].labels[0];
                        prop_assert!(node.has_label(ssd) || ignore_ssd);
                        for l in &view.vms[id as usize].labels {
                            prop_assert!(node.has_label(*l) || view.vclusters[0].is_ignored(*l));
                        }
                    }
                }
                Err(_) => {
                    // All or nothing: a refusal leaves the view as it was.
                    let after: Vec<Vector> = view.nodes.iter().map(|n| n.allocated).collect();
                    prop_assert_eq!(before, after);
                    prop_assert_eq!(vms_before, view.vms.len());
                }
            }
            check_invariants(&view, ignore_ssd)?;
        }
    }

    #[test]
    fn the_index_finds_what_a_full_scan_finds(
        nodes in prop::collection::vec(node_gen(), 1..40),
        reqs in prop::collection::vec(req_gen(), 1..30),
    ) {
        let mut view = build(&nodes, true, false);
        for (i, r) in reqs.iter().enumerate() {
            let mut req = request(i, r);
            req.rf = 1;
            let scanned = full_scan(&mut view, &req);
            let indexed = match view.place(&req) {
                Ok(p) => Some(p.nodes[0]),
                // The scan below knows nothing of quotas.
                Err(Unplaceable::Quota { .. }) => continue,
                Err(Unplaceable::NoNode { .. }) => None,
            };
            prop_assert_eq!(scanned, indexed);
            if indexed.is_some() {
                view.place_and_commit(&req).unwrap();
            }
        }
    }

    #[test]
    fn the_same_input_gives_the_same_output(
        nodes in prop::collection::vec(node_gen(), 1..20),
        reqs in prop::collection::vec(req_gen(), 1..20),
    ) {
        let mut a = build(&nodes, false, true);
        let mut b = build(&nodes, false, true);
        for (i, r) in reqs.iter().enumerate() {
            let req = request(i, r);
            let pa = a.place_and_commit(&req).map_err(|e| format!("{e:?}"));
            let pb = b.place_and_commit(&req).map_err(|e| format!("{e:?}"));
            prop_assert_eq!(pa, pb);
        }
        prop_assert_eq!(a.plan_drain(&[0], 3), b.plan_drain(&[0], 3));
    }

    #[test]
    fn plans_never_over_commit_a_node_at_any_step(
        nodes in prop::collection::vec(node_gen(), 2..20),
        reqs in prop::collection::vec(req_gen(), 1..40),
        drained in prop::collection::vec(any::<prop::sample::Index>(), 1..3),
    ) {
        let mut view = build(&nodes, true, false);
        for (i, r) in reqs.iter().enumerate() {
            let _ = view.place_and_commit(&request(i, r));
        }
        let n = view.nodes.len();
        let mut sources: Vec<NodeId> = drained.iter().map(|d| d.index(n) as NodeId).collect();
        sources.sort_unstable();
        sources.dedup();

        let plan = view.plan_drain(&sources, 4);
        let mut applied = view.clone();
        for wave in &plan.waves {
            prop_assert!(wave.len() <= 4);
            for m in wave {
                prop_assert!(!sources.contains(&m.to));
                prop_assert!(applied.can_host(m.vm, m.to));
                applied.move_vm(m.vm, Some(m.to));
                for node in &applied.nodes {
                    prop_assert!(node.allocated.fits_in(&node.capacity));
                }
            }
        }
        // Every VM left on a drained node is reported as stuck.
        let left: usize = sources.iter().map(|&s| applied.nodes[s as usize].vms.len()).sum();
        prop_assert_eq!(left, plan.stuck.len());

        let limits = RebalanceLimits { max_moves: 6, ..Default::default() };
        let plan = view.plan_rebalance(None, limits);
        let mut applied = view.clone();
        for m in &plan.moves {
            prop_assert!(applied.can_host(m.vm, m.to));
            applied.move_vm(m.vm, Some(m.to));
            for node in &applied.nodes {
                prop_assert!(node.allocated.fits_in(&node.capacity));
            }
        }
        prop_assert!(plan.score_after <= plan.score_before + 1e-9);
    }

    #[test]
    fn batch_packings_are_valid_and_deterministic(
        items in prop::collection::vec((1u64..60, 1u64..60, 1u64..60), 1..80),
    ) {
        let items: Vec<Vector> = items.iter().map(|&(a, b, c)| Vector::of(&[a, b, c])).collect();
        let cap = Vector::of(&[100, 100, 100]);
        let a = pack_batch(&items, &cap, 3, 2_000);
        prop_assert!(a.packing.validate(&items, &cap).is_ok());
        prop_assert!(a.packing.len() >= vsched_placement::pack::lower_bound(&items, &cap, 3));
        prop_assert!(a.packing.len() <= a.constructed);
        let b = pack_batch(&items, &cap, 3, 2_000);
        prop_assert_eq!(a.packing, b.packing);
    }
}

#[test]
fn a_drain_reports_vms_that_cannot_move() {
    let mut view = ClusterView::scheduler();
    let a = view.add_node("a", Vector::vcpu_ram(8, 8192), &["ssd".into()], true, false);
    let b = view.add_node("b", Vector::vcpu_ram(8, 8192), &[], true, false);
    view.add_vcluster(VclusterSpec {
        name: "vc".into(),
        nodes: vec![a, b],
        labels: vec!["ssd".into()],
        ..Default::default()
    });
    view.add_vm(VmSpec {
        name: "x".into(),
        request: "x".into(),
        size: Vector::vcpu_ram(1, 1),
        node: Some(a),
        ..Default::default()
    });
    let plan = view.plan_drain(&[a], 2);
    assert_eq!(plan.stuck.len(), 1);
    assert_eq!(
        plan.stuck[0].rejections.describe(&view.dim_names),
        "1 node drained, 1 node lacks label ssd"
    );
}
