//! The cluster as placement sees it: nodes with capacity and allocation,
//! vclusters with their node sets, labels, taints and quotas, and VMs with their
//! size, request, owner and node. Built by the caller from the replicated state
//! (or from a workload file); placement reads it and changes only its own copy.

use std::collections::{BTreeMap, HashMap};

use crate::index::FreeIndex;
use crate::vector::Vector;

pub type NodeId = u32;
pub type VclusterId = u32;
pub type VmId = u32;
pub type LabelId = u32;

/// A hypervisor host.
#[derive(Debug, Clone)]
pub struct Node {
    pub name: String,
    pub capacity: Vector,
    /// What the VMs on it reserve.
    pub allocated: Vector,
    /// Labels it carries, sorted.
    pub labels: Vec<LabelId>,
    pub ready: bool,
    pub drain: bool,
    /// VMs on it.
    pub vms: Vec<VmId>,
    /// Vclusters it belongs to.
    pub vclusters: Vec<VclusterId>,
}

impl Node {
    pub fn free(&self) -> Vector {
        self.capacity.saturating_sub(&self.allocated)
    }

    pub fn schedulable(&self) -> bool {
        self.ready && !self.drain
    }

    pub fn has_label(&self, label: LabelId) -> bool {
        self.labels.binary_search(&label).is_ok()
    }
}

/// What defines a vcluster for placement.
#[derive(Debug, Clone, Default)]
pub struct VclusterSpec {
    pub name: String,
    pub nodes: Vec<NodeId>,
    /// Labels every node must carry.
    pub labels: Vec<String>,
    /// Labels ignored in the vcluster's namespace: they count as carried.
    pub ignored: Vec<String>,
    /// Taints per node; a request tolerates a taint by listing it in its labels.
    pub taints: Vec<(NodeId, Vec<String>)>,
    /// Quota per dimension; `None` means unlimited.
    pub limit: Option<Vector>,
    /// Per dimension: 2 to reserve twice the VM's size (scaling headroom), else 1.
    pub scaling: Vector,
    /// Per-user quotas, enforced when the vcluster has user limits on.
    pub user_limits: Vec<(String, Vector)>,
}

#[derive(Debug, Clone)]
pub struct Vcluster {
    pub name: String,
    pub nodes: Vec<NodeId>,
    pub labels: Vec<LabelId>,
    pub ignored: Vec<LabelId>,
    pub taints: HashMap<NodeId, Vec<LabelId>>,
    pub limit: Vector,
    pub used: Vector,
    pub scaling: Vector,
    pub user_limits: HashMap<String, Vector>,
    pub user_used: HashMap<String, Vector>,
    pub(crate) index: FreeIndex,
}

impl Vcluster {
    /// What a VM of `size` reserves here, scaling headroom included.
    pub fn reserve(&self, size: &Vector) -> Vector {
        let mut v = *size;
        for (a, k) in v.0.iter_mut().zip(self.scaling.0.iter()) {
            *a = a.saturating_mul((*k).max(1));
        }
        v
    }

    pub fn is_ignored(&self, label: LabelId) -> bool {
        self.ignored.binary_search(&label).is_ok()
    }
}

/// A VM as placement sees it.
#[derive(Debug, Clone)]
pub struct Vm {
    pub name: String,
    /// The request it is a replica of; replicas of one request never share a node.
    pub request: String,
    pub vcluster: VclusterId,
    pub owner: String,
    /// The request's labels: required on the node, and tolerations of taints.
    pub labels: Vec<LabelId>,
    pub size: Vector,
    pub reserved: Vector,
    pub node: Option<NodeId>,
}

/// What defines a VM that already exists.
#[derive(Debug, Clone, Default)]
pub struct VmSpec {
    pub name: String,
    pub request: String,
    pub vcluster: VclusterId,
    pub owner: String,
    pub labels: Vec<String>,
    pub size: Vector,
    pub node: Option<NodeId>,
}

/// The whole view.
#[derive(Debug, Clone)]
pub struct ClusterView {
    /// Names of the dimensions in use, for explanations.
    pub dim_names: Vec<String>,
    pub nodes: Vec<Node>,
    pub vclusters: Vec<Vcluster>,
    pub vms: Vec<Vm>,
    node_ids: HashMap<String, NodeId>,
    labels: BTreeMap<String, LabelId>,
    label_names: Vec<String>,
    /// Nodes holding a replica of each request.
    replicas: HashMap<String, Vec<NodeId>>,
}

impl ClusterView {
    /// An empty view whose vectors use the named dimensions.
    pub fn new(dim_names: &[&str]) -> ClusterView {
        ClusterView {
            dim_names: dim_names.iter().map(|s| s.to_string()).collect(),
            nodes: Vec::new(),
            vclusters: Vec::new(),
            vms: Vec::new(),
            node_ids: HashMap::new(),
            labels: BTreeMap::new(),
            label_names: Vec::new(),
            replicas: HashMap::new(),
        }
    }

    /// The scheduler's view: vCPU and RAM.
    pub fn scheduler() -> ClusterView {
        ClusterView::new(&["vcpu", "memory"])
    }

    /// The id of a label name, interning it.
    pub fn label(&mut self, name: &str) -> LabelId {
        if let Some(id) = self.labels.get(name) {
            return *id;
        }
        let id = self.label_names.len() as LabelId;
        self.labels.insert(name.to_string(), id);
        self.label_names.push(name.to_string());
        id
    }

    pub fn label_name(&self, id: LabelId) -> &str {
        &self.label_names[id as usize]
    }

    fn labels_of(&mut self, names: &[String]) -> Vec<LabelId> {
        let mut ids: Vec<LabelId> = names.iter().map(|n| self.label(n)).collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    pub fn node_id(&self, name: &str) -> Option<NodeId> {
        self.node_ids.get(name).copied()
    }

    pub fn dim_name(&self, d: usize) -> String {
        self.dim_names.get(d).cloned().unwrap_or_else(|| format!("dimension {}", d + 1))
    }

    /// Adds a node; its VMs and vclusters come later.
    pub fn add_node(
        &mut self,
        name: &str,
        capacity: Vector,
        labels: &[String],
        ready: bool,
        drain: bool,
    ) -> NodeId {
        let labels = self.labels_of(labels);
        let id = self.nodes.len() as NodeId;
        self.nodes.push(Node {
            name: name.to_string(),
            capacity,
            allocated: Vector::ZERO,
            labels,
            ready,
            drain,
            vms: Vec::new(),
            vclusters: Vec::new(),
        });
        self.node_ids.insert(name.to_string(), id);
        id
    }

    /// Adds a vcluster over existing nodes.
    pub fn add_vcluster(&mut self, spec: VclusterSpec) -> VclusterId {
        let id = self.vclusters.len() as VclusterId;
        let labels = self.labels_of(&spec.labels);
        let ignored = self.labels_of(&spec.ignored);
        let mut taints = HashMap::new();
        for (node, names) in &spec.taints {
            let ids = self.labels_of(names);
            taints.insert(*node, ids);
        }
        let mut nodes = spec.nodes.clone();
        nodes.sort_unstable();
        nodes.dedup();
        let mut index = FreeIndex::new();
        for &n in &nodes {
            let node = &mut self.nodes[n as usize];
            node.vclusters.push(id);
            if node.schedulable() {
                index.upsert(n, &node.free(), &node.capacity);
            }
        }
        let scaling = if spec.scaling.is_zero() {
            Vector::of(&[1; crate::vector::MAX_DIMS])
        } else {
            spec.scaling
        };
        self.vclusters.push(Vcluster {
            name: spec.name,
            nodes,
            labels,
            ignored,
            taints,
            limit: spec.limit.unwrap_or(Vector([u64::MAX; crate::vector::MAX_DIMS])),
            used: Vector::ZERO,
            scaling,
            user_limits: spec.user_limits.into_iter().collect(),
            user_used: HashMap::new(),
            index,
        });
        id
    }

    /// Adds an existing VM (placed or not) and accounts for what it reserves.
    pub fn add_vm(&mut self, spec: VmSpec) -> VmId {
        let labels = self.labels_of(&spec.labels);
        let reserved = self.vclusters[spec.vcluster as usize].reserve(&spec.size);
        let id = self.vms.len() as VmId;
        self.vms.push(Vm {
            name: spec.name,
            request: spec.request,
            vcluster: spec.vcluster,
            owner: spec.owner,
            labels,
            size: spec.size,
            reserved,
            node: None,
        });
        self.charge_quota(id, true);
        if let Some(node) = spec.node {
            self.move_vm(id, Some(node));
        }
        id
    }

    fn charge_quota(&mut self, vm: VmId, add: bool) {
        let (vc, owner, reserved) = {
            let v = &self.vms[vm as usize];
            (v.vcluster, v.owner.clone(), v.reserved)
        };
        let vc = &mut self.vclusters[vc as usize];
        let user = vc.user_used.entry(owner).or_default();
        if add {
            vc.used += reserved;
            *user += reserved;
        } else {
            vc.used -= reserved;
            *user -= reserved;
        }
    }

    /// Puts a VM on a node (or takes it off, with `None`), keeping allocations,
    /// replica sets and indexes right.
    pub fn move_vm(&mut self, vm: VmId, to: Option<NodeId>) {
        let (from, reserved, request) = {
            let v = &self.vms[vm as usize];
            (v.node, v.reserved, v.request.clone())
        };
        if from == to {
            return;
        }
        if let Some(n) = from {
            let node = &mut self.nodes[n as usize];
            node.allocated -= reserved;
            node.vms.retain(|v| *v != vm);
            if let Some(nodes) = self.replicas.get_mut(&request) {
                if let Some(pos) = nodes.iter().position(|x| *x == n) {
                    nodes.swap_remove(pos);
                }
            }
            self.reindex(n);
        }
        if let Some(n) = to {
            let node = &mut self.nodes[n as usize];
            node.allocated += reserved;
            node.vms.push(vm);
            self.replicas.entry(request).or_default().push(n);
            self.reindex(n);
        }
        self.vms[vm as usize].node = to;
    }

    /// Removes a VM for good (its slot stays, unplaced and uncharged).
    pub fn remove_vm(&mut self, vm: VmId) {
        self.move_vm(vm, None);
        self.charge_quota(vm, false);
        self.vms[vm as usize].reserved = Vector::ZERO;
    }

    /// Changes a node's status.
    pub fn set_node_state(&mut self, node: NodeId, ready: bool, drain: bool) {
        let n = &mut self.nodes[node as usize];
        n.ready = ready;
        n.drain = drain;
        self.reindex(node);
    }

    /// Brings a node's entry up to date in the indexes of its vclusters.
    pub(crate) fn reindex(&mut self, node: NodeId) {
        let n = &self.nodes[node as usize];
        let (free, cap, schedulable) = (n.free(), n.capacity, n.schedulable());
        for &vc in &n.vclusters {
            let index = &mut self.vclusters[vc as usize].index;
            if schedulable {
                index.upsert(node, &free, &cap);
            } else {
                index.remove(node);
            }
        }
    }

    /// Nodes holding a replica of `request`.
    pub fn replica_nodes(&self, request: &str) -> &[NodeId] {
        self.replicas.get(request).map(Vec::as_slice).unwrap_or(&[])
    }

    pub fn vms_on(&self, node: NodeId) -> &[VmId] {
        &self.nodes[node as usize].vms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moving_a_vm_keeps_allocations_and_replicas_right() {
        let mut view = ClusterView::scheduler();
        let a = view.add_node("a", Vector::vcpu_ram(8, 1024), &[], true, false);
        let b = view.add_node("b", Vector::vcpu_ram(8, 1024), &[], true, false);
        let vc = view.add_vcluster(VclusterSpec {
            name: "web".into(),
            nodes: vec![a, b],
            scaling: Vector::vcpu_ram(2, 1),
            ..Default::default()
        });
        let vm = view.add_vm(VmSpec {
            name: "x-0".into(),
            request: "x".into(),
            vcluster: vc,
            size: Vector::vcpu_ram(2, 256),
            node: Some(a),
            ..Default::default()
        });
        assert_eq!(view.nodes[a as usize].allocated, Vector::vcpu_ram(4, 256));
        assert_eq!(view.vclusters[vc as usize].used, Vector::vcpu_ram(4, 256));
        view.move_vm(vm, Some(b));
        assert_eq!(view.nodes[a as usize].allocated, Vector::ZERO);
        assert_eq!(view.replica_nodes("x"), &[b]);
        view.remove_vm(vm);
        assert_eq!(view.vclusters[vc as usize].used, Vector::ZERO);
        assert!(view.replica_nodes("x").is_empty());
    }

    #[test]
    fn only_schedulable_nodes_are_indexed() {
        let mut view = ClusterView::scheduler();
        let a = view.add_node("a", Vector::vcpu_ram(8, 1024), &[], true, false);
        let vc = view.add_vcluster(VclusterSpec { nodes: vec![a], ..Default::default() });
        assert!(view.vclusters[vc as usize].index.contains(a));
        view.set_node_state(a, true, true);
        assert!(!view.vclusters[vc as usize].index.contains(a));
        view.set_node_state(a, true, false);
        assert!(view.vclusters[vc as usize].index.contains(a));
    }
}
