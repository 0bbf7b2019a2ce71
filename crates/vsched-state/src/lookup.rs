//! Lookups shared by the operation families: finding objects by name with the error
//! the contract prescribes, resolving node references and selectors, label matching
//! and resource usage.

use std::collections::BTreeSet;

use vsched_model::records::{Label, Node, Request, Vcluster};
use vsched_model::types::{Resources, Selector};
use vsched_model::{ErrorCode, OpError, OpResult};

use crate::state::State;

impl State {
    /// The vcluster `name` in namespace `ns`. A vcluster of another namespace is
    /// invisible, so it answers `NOT_FOUND` like one that does not exist.
    pub(crate) fn vcluster(&self, ns: &str, name: &str, field: &str) -> OpResult<&Vcluster> {
        self.vclusters
            .get(&(ns.to_string(), name.to_string()))
            .ok_or_else(|| OpError::not_found(field, format!("vcluster '{name}' not found")))
    }

    /// Every vcluster of a namespace, by name.
    pub(crate) fn vclusters_in<'a>(
        &'a self,
        ns: &'a str,
    ) -> impl Iterator<Item = &'a Vcluster> + 'a {
        self.vclusters.values().filter(move |v| v.ns == ns)
    }

    /// Names of the vclusters a selector picks in `ns`; listed names must exist.
    pub(crate) fn select_vclusters(
        &self,
        ns: &str,
        sel: &Selector,
        field: &str,
    ) -> OpResult<Vec<String>> {
        match sel {
            Selector::All => Ok(self.vclusters_in(ns).map(|v| v.name.clone()).collect()),
            Selector::Listed(names) => {
                for name in names {
                    self.vcluster(ns, name, field)?;
                }
                Ok(names.clone())
            }
        }
    }

    /// A node by UUID, or by hostname when exactly one node has it.
    pub(crate) fn resolve_node(&self, reference: &str, field: &str) -> OpResult<&Node> {
        if let Some(node) = self.nodes.get(&reference.to_string()) {
            return Ok(node);
        }
        let mut by_host = self.nodes.values().filter(|n| n.hostname == reference);
        match (by_host.next(), by_host.next()) {
            (Some(node), None) => Ok(node),
            (Some(_), Some(_)) => Err(OpError::invalid(
                field,
                format!("hostname '{reference}' is shared by several nodes; use the node UUID"),
            )),
            (None, _) => Err(OpError::not_found(field, format!("node '{reference}' not found"))),
        }
    }

    /// UUIDs of the nodes a selector picks, sorted; listed nodes must exist.
    pub fn select_nodes(&self, sel: &Selector, field: &str) -> OpResult<Vec<String>> {
        let uuids: BTreeSet<String> = match sel {
            Selector::All => self.nodes.keys().cloned().collect(),
            Selector::Listed(refs) => refs
                .iter()
                .map(|r| self.resolve_node(r, field).map(|n| n.uuid.clone()))
                .collect::<OpResult<_>>()?,
        };
        Ok(uuids.into_iter().collect())
    }

    pub(crate) fn label(&self, name: &str, field: &str) -> OpResult<&Label> {
        self.labels
            .get(&name.to_string())
            .ok_or_else(|| OpError::not_found(field, format!("label '{name}' not found")))
    }

    /// Checks that every label exists.
    pub(crate) fn labels_exist(&self, names: &[String], field: &str) -> OpResult<()> {
        names.iter().try_for_each(|n| self.label(n, field).map(|_| ()))
    }

    /// Checks that every label exists and is delegated to `ns`.
    pub(crate) fn labels_delegated(&self, ns: &str, names: &[String], field: &str) -> OpResult<()> {
        for name in names {
            let label = self.label(name, field)?;
            if !label.delegated.contains(ns) {
                return Err(OpError::new(
                    ErrorCode::PermissionDenied,
                    format!("label '{name}' is not delegated to namespace '{ns}'"),
                )
                .with_field(field));
            }
        }
        Ok(())
    }

    /// Whether `node` counts as carrying `label` when matching for namespace `ns`: the
    /// label exists and the node has it, or it is ignored there.
    pub(crate) fn node_carries(&self, node: &Node, label: &str, ns: &str) -> bool {
        match self.labels.get(&label.to_string()) {
            Some(l) => node.has_label(label) || l.ignored_in(ns),
            None => false,
        }
    }

    /// The labels a node really carries: assigned or reported, and existing.
    pub fn effective_labels(&self, node: &Node) -> Vec<String> {
        node.labels
            .union(&node.agent_labels)
            .filter(|l| self.labels.contains(*l))
            .cloned()
            .collect()
    }

    /// Checks that each node carries each label (for namespace `ns`); the error names
    /// the first node and label that do not match.
    pub(crate) fn check_nodes_carry<'a>(
        &self,
        ns: &str,
        nodes: impl IntoIterator<Item = &'a String>,
        labels: impl IntoIterator<Item = &'a String> + Clone,
        field: &str,
    ) -> OpResult<()> {
        for uuid in nodes {
            let Some(node) = self.nodes.get(uuid) else { continue };
            if let Some(missing) =
                labels.clone().into_iter().find(|l| !self.node_carries(node, l, ns))
            {
                return Err(OpError::precondition(format!(
                    "node '{}' ({}) lacks label '{missing}'",
                    node.uuid, node.hostname
                ))
                .with_field(field));
            }
        }
        Ok(())
    }

    /// Requests of one vcluster.
    pub(crate) fn requests_in<'a>(
        &'a self,
        ns: &'a str,
        vcluster: &'a str,
    ) -> impl Iterator<Item = &'a Request> + 'a {
        self.requests.values().filter(move |r| r.ns == ns && r.vcluster == vcluster)
    }

    /// What the VMs of a vcluster reserve.
    pub(crate) fn vcluster_usage(&self, ns: &str, vcluster: &str) -> Resources {
        let mut used = Resources::default();
        for vm in self.vms.values().filter(|v| v.ns == ns && v.vcluster == vcluster) {
            used += vm.reserved;
        }
        used
    }

    /// What one user's VMs reserve in a vcluster.
    pub(crate) fn user_usage(&self, ns: &str, vcluster: &str, login: &str) -> Resources {
        let mut used = Resources::default();
        let vms =
            self.vms.values().filter(|v| v.ns == ns && v.vcluster == vcluster && v.owner == login);
        for vm in vms {
            used += vm.reserved;
        }
        used
    }

    /// What the VMs placed on a node reserve.
    pub(crate) fn node_allocated(&self, uuid: &str) -> Resources {
        let mut used = Resources::default();
        for vm in self.vms.values().filter(|v| v.node.as_deref() == Some(uuid)) {
            used += vm.reserved;
        }
        used
    }

    /// Number of VMs placed on a node.
    pub(crate) fn node_vm_count(&self, uuid: &str) -> usize {
        self.vms.values().filter(|v| v.node.as_deref() == Some(uuid)).count()
    }

    /// Every namespace the cluster knows of: those of tokens and vclusters and those
    /// named in label delegations or ignores.
    pub(crate) fn namespaces(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        out.extend(self.tokens.values().map(|t| t.ns.clone()));
        out.extend(self.vclusters.values().map(|v| v.ns.clone()));
        for label in self.labels.values() {
            out.extend(label.delegated.listed.iter().cloned());
            out.extend(label.ignored_ns.listed.iter().cloned());
        }
        out
    }
}
