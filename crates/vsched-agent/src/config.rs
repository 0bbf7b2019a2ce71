//! Agent settings, and the node identities it keeps in its data directory so a
//! restarted agent comes back as the same node.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::hypervisor::Hypervisor;
use crate::sim::SimHypervisor;

/// The hypervisor backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sim,
    Libvirt,
}

impl std::str::FromStr for Backend {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "sim" => Ok(Backend::Sim),
            "libvirt" => Ok(Backend::Libvirt),
            _ => Err(format!("'{s}' is not a hypervisor backend (sim, libvirt)")),
        }
    }
}

#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// gRPC addresses of peers; any one will do.
    pub servers: Vec<String>,
    pub data_dir: PathBuf,
    pub node_id: Option<String>,
    pub hypervisor: Backend,
    pub libvirt_uri: String,
    pub sim_vcpu: u64,
    pub sim_vram_mib: u64,
    pub labels: Vec<String>,
    pub vnc_listen: String,
    pub fence_timeout: Duration,
    pub sim_nodes: usize,
}

impl AgentConfig {
    /// The UUIDs of this agent's nodes: `--node-id` for a single node, else the ones
    /// stored in the data directory, generated and stored on first start.
    pub fn node_ids(&self) -> anyhow::Result<Vec<String>> {
        anyhow::ensure!(self.sim_nodes >= 1, "--sim-nodes must be at least 1");
        if let Some(id) = &self.node_id {
            anyhow::ensure!(
                self.sim_nodes == 1,
                "--node-id names one node; it cannot go with --sim-nodes"
            );
            uuid::Uuid::parse_str(id).with_context(|| format!("--node-id '{id}' is not a UUID"))?;
            return Ok(vec![id.clone()]);
        }
        std::fs::create_dir_all(&self.data_dir)
            .with_context(|| format!("create data dir {}", self.data_dir.display()))?;
        let path = self.data_dir.join("node-ids");
        let mut ids: Vec<String> = match std::fs::read_to_string(&path) {
            Ok(text) => {
                text.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect()
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e).with_context(|| format!("read {}", path.display())),
        };
        for id in &ids {
            uuid::Uuid::parse_str(id)
                .with_context(|| format!("{} holds '{id}', not a UUID", path.display()))?;
        }
        if ids.len() < self.sim_nodes {
            while ids.len() < self.sim_nodes {
                ids.push(uuid::Uuid::new_v4().to_string());
            }
            let tmp = self.data_dir.join("node-ids.tmp");
            std::fs::write(&tmp, ids.join("\n") + "\n")
                .with_context(|| format!("write {}", tmp.display()))?;
            std::fs::rename(&tmp, &path).with_context(|| format!("write {}", path.display()))?;
        }
        ids.truncate(self.sim_nodes);
        Ok(ids)
    }

    /// The host part of `--vnc-listen`, reported as the node's address.
    pub fn address(&self) -> String {
        match self.vnc_listen.rsplit_once(':') {
            Some((host, _)) if !host.is_empty() => host.to_string(),
            _ => "127.0.0.1".to_string(),
        }
    }

    /// The backend for node number `index`.
    pub fn hypervisor(&self, index: usize, node_id: &str) -> anyhow::Result<Arc<dyn Hypervisor>> {
        let _ = index;
        match self.hypervisor {
            Backend::Sim => Ok(Arc::new(SimHypervisor::new(
                format!("sim-{}", &node_id[..8]),
                self.sim_vcpu,
                self.sim_vram_mib,
            ))),
            // The libvirt backend arrives with VM lifecycle support; until then an
            // agent asked for it refuses to start rather than pretend.
            Backend::Libvirt => {
                anyhow::bail!("this build has no libvirt backend yet; use --hypervisor sim")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: PathBuf, nodes: usize) -> AgentConfig {
        AgentConfig {
            servers: vec!["127.0.0.1:7171".into()],
            data_dir: dir,
            node_id: None,
            hypervisor: Backend::Sim,
            libvirt_uri: String::new(),
            sim_vcpu: 64,
            sim_vram_mib: 256 * 1024,
            labels: vec![],
            vnc_listen: "127.0.0.1:0".into(),
            fence_timeout: Duration::from_secs(10),
            sim_nodes: nodes,
        }
    }

    #[test]
    fn node_ids_are_kept_across_restarts_and_extended() {
        let dir = tempfile::tempdir().unwrap();
        let first = config(dir.path().into(), 2).node_ids().unwrap();
        assert_eq!(first.len(), 2);
        let again = config(dir.path().into(), 2).node_ids().unwrap();
        assert_eq!(first, again);
        let more = config(dir.path().into(), 3).node_ids().unwrap();
        assert_eq!(&more[..2], &first[..]);
        assert_eq!(more.len(), 3);
    }

    #[test]
    fn a_given_node_id_must_be_a_uuid() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = config(dir.path().into(), 1);
        c.node_id = Some("nope".into());
        assert!(c.node_ids().is_err());
    }
}
