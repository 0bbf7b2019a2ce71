//! Placement speed: one 1-replica VM among 1,000 to 100,000 nodes, and a drain
//! plan for a node with 100 VMs in a 10,000-node cluster.
//!
//! Nodes are 64 vCPU / 256 GiB with deterministic, varied existing load, so
//! free capacity is spread over the index the way a busy fleet spreads it.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use vsched_placement::{ClusterView, PlacementRequest, VclusterSpec, Vector, VmSpec};

/// A cluster of `n` nodes in one vcluster, each carrying some VMs.
fn cluster(n: usize, node: Vector) -> ClusterView {
    let mut view = ClusterView::scheduler();
    let nodes: Vec<u32> =
        (0..n).map(|i| view.add_node(&format!("n{i}"), node, &[], true, false)).collect();
    let vc = view.add_vcluster(VclusterSpec {
        name: "bench".into(),
        nodes: nodes.clone(),
        ..Default::default()
    });
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for (i, &node_id) in nodes.iter().enumerate() {
        // A simple LCG keeps the load the same on every run.
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let vms = (seed >> 33) % 12;
        for v in 0..vms {
            let c = 1 << ((seed >> (40 + v)) % 4);
            view.add_vm(VmSpec {
                name: format!("vm-{i}-{v}"),
                request: format!("r-{i}-{v}"),
                vcluster: vc,
                size: Vector::vcpu_ram(c, c * 4096),
                node: Some(node_id),
                ..Default::default()
            });
        }
    }
    view
}

fn place_one(c: &mut Criterion) {
    let mut group = c.benchmark_group("place_one_vm");
    for n in [1_000usize, 10_000, 100_000] {
        let mut view = cluster(n, Vector::vcpu_ram(64, 256 * 1024));
        let req = PlacementRequest {
            vcluster: 0,
            request: "new".into(),
            owner: "ann".into(),
            rf: 1,
            size: Vector::vcpu_ram(4, 16 * 1024),
            labels: vec![],
        };
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| view.place(&req).expect("fits"))
        });
    }
    group.finish();
}

fn drain_plan(c: &mut Criterion) {
    let mut view = cluster(10_000, Vector::vcpu_ram(128, 512 * 1024));
    // Node 0 is topped up to 100 VMs with VMs of 1 vCPU / 4 GiB.
    let count = 100 - view.nodes[0].vms.len();
    for v in 0..count {
        view.add_vm(VmSpec {
            name: format!("d-{v}"),
            request: format!("d-{v}"),
            vcluster: 0,
            size: Vector::vcpu_ram(1, 4096),
            node: Some(0),
            ..Default::default()
        });
    }
    let on_node = view.nodes[0].vms.len();
    c.bench_function(&format!("drain_plan_{on_node}_vms_10000_nodes"), |b| {
        b.iter(|| {
            let plan = view.plan_drain(&[0], 8);
            assert!(plan.stuck.is_empty());
            plan
        })
    });
}

criterion_group!(benches, place_one, drain_plan);
criterion_main!(benches);
