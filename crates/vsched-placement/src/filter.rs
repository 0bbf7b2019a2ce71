//! Feasibility filters: each a small type that accepts a node or names why not.
//!
//! The pipeline runs them in a fixed order (status, drain, labels, taints,
//! anti-affinity, capacity), so a node is counted under the first reason that
//! rejects it and the counts add up to the nodes considered.

use std::collections::BTreeMap;

use crate::score::Fit;
use crate::vector::{Vector, MAX_DIMS};
use crate::view::{ClusterView, LabelId, Node, NodeId, Vcluster, VclusterId};

/// Why a node cannot take a VM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reason {
    NotReady,
    Drained,
    MissingLabel(LabelId),
    Tainted(LabelId),
    HasReplica,
    Short(usize),
}

/// One stage of the pipeline.
pub trait Filter {
    fn check(&self, id: NodeId, node: &Node) -> Result<(), Reason>;
}

/// The node's agent is heartbeating.
pub struct Ready;

impl Filter for Ready {
    fn check(&self, _: NodeId, node: &Node) -> Result<(), Reason> {
        if node.ready {
            Ok(())
        } else {
            Err(Reason::NotReady)
        }
    }
}

/// The node is not being drained.
pub struct NotDrained;

impl Filter for NotDrained {
    fn check(&self, _: NodeId, node: &Node) -> Result<(), Reason> {
        if node.drain {
            Err(Reason::Drained)
        } else {
            Ok(())
        }
    }
}

/// The node carries every required label, or the label is ignored.
pub struct HasLabels<'a> {
    pub required: &'a [LabelId],
    pub vcluster: &'a Vcluster,
}

impl Filter for HasLabels<'_> {
    fn check(&self, _: NodeId, node: &Node) -> Result<(), Reason> {
        match self.required.iter().find(|l| !node.has_label(**l) && !self.vcluster.is_ignored(**l))
        {
            Some(l) => Err(Reason::MissingLabel(*l)),
            None => Ok(()),
        }
    }
}

/// Every taint the vcluster put on the node is among the request's labels.
pub struct Tolerates<'a> {
    pub vcluster: &'a Vcluster,
    pub tolerations: &'a [LabelId],
}

impl Filter for Tolerates<'_> {
    fn check(&self, id: NodeId, _: &Node) -> Result<(), Reason> {
        let Some(taints) = self.vcluster.taints.get(&id) else { return Ok(()) };
        match taints.iter().find(|t| self.tolerations.binary_search(t).is_err()) {
            Some(t) => Err(Reason::Tainted(*t)),
            None => Ok(()),
        }
    }
}

/// No other replica of the request is on the node (anti-affinity).
pub struct OneReplicaPerNode<'a> {
    pub taken: &'a [NodeId],
    pub chosen: &'a [NodeId],
}

impl Filter for OneReplicaPerNode<'_> {
    fn check(&self, id: NodeId, _: &Node) -> Result<(), Reason> {
        if self.taken.contains(&id) || self.chosen.contains(&id) {
            Err(Reason::HasReplica)
        } else {
            Ok(())
        }
    }
}

/// The node has room for what the VM reserves.
pub struct Fits {
    pub need: Vector,
}

impl Filter for Fits {
    fn check(&self, _: NodeId, node: &Node) -> Result<(), Reason> {
        match self.need.short_dim(&node.free()) {
            Some(d) => Err(Reason::Short(d)),
            None => Ok(()),
        }
    }
}

/// The stages in order.
pub struct Pipeline<'a> {
    pub labels: HasLabels<'a>,
    pub taints: Tolerates<'a>,
    pub replicas: OneReplicaPerNode<'a>,
    pub fits: Fits,
}

impl Pipeline<'_> {
    pub fn check(&self, id: NodeId, node: &Node) -> Result<(), Reason> {
        Ready.check(id, node)?;
        NotDrained.check(id, node)?;
        self.labels.check(id, node)?;
        self.taints.check(id, node)?;
        self.replicas.check(id, node)?;
        self.fits.check(id, node)
    }
}

/// The rules a VM (or each replica of a request) must meet on a node, owned so
/// a [`Pipeline`] can borrow them.
#[derive(Debug, Clone)]
pub struct Rules {
    pub vcluster: VclusterId,
    /// The vcluster's labels and the request's, sorted.
    pub required: Vec<LabelId>,
    /// The request's labels, which tolerate taints, sorted.
    pub tolerations: Vec<LabelId>,
    /// Nodes that hold a replica of the request already.
    pub taken: Vec<NodeId>,
    /// What one replica reserves.
    pub need: Vector,
}

impl Rules {
    /// The pipeline for these rules; `chosen` are nodes picked for other replicas
    /// of the same placement.
    pub fn pipeline<'a>(&'a self, view: &'a ClusterView, chosen: &'a [NodeId]) -> Pipeline<'a> {
        let vcluster = &view.vclusters[self.vcluster as usize];
        Pipeline {
            labels: HasLabels { required: &self.required, vcluster },
            taints: Tolerates { vcluster, tolerations: &self.tolerations },
            replicas: OneReplicaPerNode { taken: &self.taken, chosen },
            fits: Fits { need: self.need },
        }
    }
}

impl ClusterView {
    /// The rules for placing a replica of `request` in `vcluster`, with the
    /// request's `labels` (sorted ids) and what it reserves.
    pub fn rules(
        &self,
        vcluster: VclusterId,
        request: &str,
        labels: &[LabelId],
        need: Vector,
    ) -> Rules {
        let vc = &self.vclusters[vcluster as usize];
        let mut required = vc.labels.clone();
        required.extend(labels.iter().copied());
        required.sort_unstable();
        required.dedup();
        Rules {
            vcluster,
            required,
            tolerations: labels.to_vec(),
            taken: self.replica_nodes(request).to_vec(),
            need,
        }
    }

    /// The best node of the vcluster that passes `pipeline`, found through the
    /// free-capacity index, and how many nodes the search looked at.
    pub fn best_node(&self, rules: &Rules, pipeline: &Pipeline) -> (Option<Fit>, usize) {
        let vc = &self.vclusters[rules.vcluster as usize];
        vc.index.search(&rules.need, |id| {
            let node = &self.nodes[id as usize];
            pipeline.check(id, node).ok()?;
            Fit::of(id, &rules.need, &node.free(), &node.capacity, node.vms.len() as u32)
        })
    }

    /// Runs every node of the vcluster through `pipeline` and counts why each
    /// was rejected: the explanation of a refusal.
    pub fn explain(&self, rules: &Rules, pipeline: &Pipeline) -> Rejections {
        let mut rejections = Rejections::default();
        for &id in &self.vclusters[rules.vcluster as usize].nodes {
            rejections.considered += 1;
            if let Err(reason) = pipeline.check(id, &self.nodes[id as usize]) {
                rejections.count(self, reason);
            }
        }
        rejections
    }
}

/// How many nodes each filter rejected.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rejections {
    pub considered: u32,
    pub not_ready: u32,
    pub drained: u32,
    pub missing_label: BTreeMap<String, u32>,
    pub tainted: BTreeMap<String, u32>,
    pub has_replica: u32,
    pub short: [u32; MAX_DIMS],
}

impl Rejections {
    pub fn count(&mut self, view: &ClusterView, reason: Reason) {
        match reason {
            Reason::NotReady => self.not_ready += 1,
            Reason::Drained => self.drained += 1,
            Reason::MissingLabel(l) => {
                *self.missing_label.entry(view.label_name(l).to_string()).or_default() += 1
            }
            Reason::Tainted(t) => {
                *self.tainted.entry(view.label_name(t).to_string()).or_default() += 1
            }
            Reason::HasReplica => self.has_replica += 1,
            Reason::Short(d) => self.short[d] += 1,
        }
    }

    /// One entry per reason that rejected any node: `(what, count)`, in pipeline
    /// order, for structured error details.
    pub fn entries(&self, dim_names: &[String]) -> Vec<(String, u32)> {
        let mut out = Vec::new();
        let mut push = |what: String, n: u32| {
            if n > 0 {
                out.push((what, n));
            }
        };
        push("not ready".into(), self.not_ready);
        push("drained".into(), self.drained);
        for (l, n) in &self.missing_label {
            push(format!("lack label {l}"), *n);
        }
        for (t, n) in &self.tainted {
            push(format!("tainted {t}"), *n);
        }
        push("hold a replica already".into(), self.has_replica);
        for (d, n) in self.short.iter().enumerate() {
            let name = dim_names.get(d).cloned().unwrap_or_else(|| format!("dimension {}", d + 1));
            push(format!("lack {name}"), *n);
        }
        out
    }

    /// As JSON: `{"considered": n, "not ready": n, ...}`.
    pub fn to_json(&self, dim_names: &[String]) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        m.insert("considered".into(), self.considered.into());
        for (what, n) in self.entries(dim_names) {
            m.insert(what, n.into());
        }
        serde_json::Value::Object(m)
    }

    /// "3 nodes drained, 5 lack label ssd, 2 lack memory".
    pub fn describe(&self, dim_names: &[String]) -> String {
        let parts: Vec<String> = self
            .entries(dim_names)
            .into_iter()
            .map(|(what, n)| {
                let noun = if n == 1 { "node" } else { "nodes" };
                let verb = what
                    .strip_prefix("lack ")
                    .map(|rest| (if n == 1 { "lacks " } else { "lack " }, rest));
                match verb {
                    Some((v, rest)) => format!("{n} {noun} {v}{rest}"),
                    None if what.starts_with("hold") && n == 1 => {
                        format!("{n} {noun} holds a replica already")
                    }
                    None => format!("{n} {noun} {what}"),
                }
            })
            .collect();
        if parts.is_empty() {
            "no nodes in the vcluster".to_string()
        } else {
            parts.join(", ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::VclusterSpec;

    /// One node carrying `ssd`, in a vcluster that taints it with `gpu` when
    /// asked, and ignores `fast`.
    fn setup(tainted: bool) -> (ClusterView, NodeId) {
        let mut view = ClusterView::scheduler();
        let n = view.add_node("n", Vector::vcpu_ram(8, 1024), &["ssd".into()], true, false);
        let taints = if tainted { vec![(n, vec!["gpu".to_string()])] } else { vec![] };
        view.add_vcluster(VclusterSpec {
            name: "vc".into(),
            nodes: vec![n],
            ignored: vec!["fast".into()],
            taints,
            ..Default::default()
        });
        (view, n)
    }

    #[test]
    fn ready_rejects_a_node_that_is_not() {
        let (mut view, n) = setup(false);
        assert_eq!(Ready.check(n, &view.nodes[0]), Ok(()));
        view.nodes[0].ready = false;
        assert_eq!(Ready.check(n, &view.nodes[0]), Err(Reason::NotReady));
    }

    #[test]
    fn not_drained_rejects_a_drained_node() {
        let (mut view, n) = setup(false);
        assert_eq!(NotDrained.check(n, &view.nodes[0]), Ok(()));
        view.nodes[0].drain = true;
        assert_eq!(NotDrained.check(n, &view.nodes[0]), Err(Reason::Drained));
    }

    #[test]
    fn has_labels_counts_ignored_labels_as_present() {
        let (mut view, n) = setup(false);
        let (ssd, fast, gpu) = (view.label("ssd"), view.label("fast"), view.label("gpu"));
        let vc = &view.vclusters[0];
        let ok =
            |req: &[LabelId]| HasLabels { required: req, vcluster: vc }.check(n, &view.nodes[0]);
        assert_eq!(ok(&[ssd]), Ok(()));
        assert_eq!(ok(&[ssd, fast]), Ok(()), "fast is ignored in the namespace");
        assert_eq!(ok(&[gpu]), Err(Reason::MissingLabel(gpu)));
    }

    #[test]
    fn tolerates_needs_every_taint_among_the_request_labels() {
        let (mut view, n) = setup(true);
        let gpu = view.label("gpu");
        let vc = &view.vclusters[0];
        let none: &[LabelId] = &[];
        assert_eq!(
            Tolerates { vcluster: vc, tolerations: none }.check(n, &view.nodes[0]),
            Err(Reason::Tainted(gpu))
        );
        assert_eq!(
            Tolerates { vcluster: vc, tolerations: &[gpu] }.check(n, &view.nodes[0]),
            Ok(())
        );
        let (plain, n) = setup(false);
        let vc = &plain.vclusters[0];
        assert_eq!(Tolerates { vcluster: vc, tolerations: none }.check(n, &plain.nodes[0]), Ok(()));
    }

    #[test]
    fn one_replica_per_node_counts_placed_and_chosen_replicas() {
        let (view, n) = setup(false);
        let node = &view.nodes[0];
        assert_eq!(OneReplicaPerNode { taken: &[], chosen: &[] }.check(n, node), Ok(()));
        assert_eq!(
            OneReplicaPerNode { taken: &[n], chosen: &[] }.check(n, node),
            Err(Reason::HasReplica)
        );
        assert_eq!(
            OneReplicaPerNode { taken: &[], chosen: &[n] }.check(n, node),
            Err(Reason::HasReplica)
        );
    }

    #[test]
    fn fits_names_the_dimension_that_is_short() {
        let (view, n) = setup(false);
        let node = &view.nodes[0];
        assert_eq!(Fits { need: Vector::vcpu_ram(8, 1024) }.check(n, node), Ok(()));
        assert_eq!(Fits { need: Vector::vcpu_ram(9, 1) }.check(n, node), Err(Reason::Short(0)));
        assert_eq!(Fits { need: Vector::vcpu_ram(1, 2048) }.check(n, node), Err(Reason::Short(1)));
    }

    #[test]
    fn the_pipeline_reports_the_first_rejection_in_order() {
        let (mut view, n) = setup(true);
        view.nodes[0].drain = true;
        let gpu = view.label("gpu");
        let vc = &view.vclusters[0];
        let pipeline = Pipeline {
            labels: HasLabels { required: &[gpu], vcluster: vc },
            taints: Tolerates { vcluster: vc, tolerations: &[] },
            replicas: OneReplicaPerNode { taken: &[], chosen: &[] },
            fits: Fits { need: Vector::vcpu_ram(100, 1) },
        };
        // Drained comes before the missing label, the taint and the size.
        assert_eq!(pipeline.check(n, &view.nodes[0]), Err(Reason::Drained));
    }

    #[test]
    fn descriptions_agree_in_number() {
        let mut r = Rejections::default();
        let dims = vec!["vcpu".to_string(), "memory".to_string()];
        assert_eq!(r.describe(&dims), "no nodes in the vcluster");
        r.drained = 3;
        r.missing_label.insert("ssd".into(), 1);
        r.short[1] = 2;
        r.has_replica = 1;
        assert_eq!(
            r.describe(&dims),
            "3 nodes drained, 1 node lacks label ssd, 1 node holds a replica already, \
             2 nodes lack memory"
        );
    }
}
