//! What a hypervisor backend must do for the agent: describe the host, list its
//! VMs, carry out the leader's idempotent commands, and fence.

use serde_json::Value;
use vsched_proto::agent::command::Action;
use vsched_proto::agent::VmStatus;

/// The facts a node registers with.
#[derive(Debug, Clone)]
pub struct HostFacts {
    pub hostname: String,
    pub vcpu: u64,
    pub vram_mib: u64,
}

/// A hypervisor backend. Commands are idempotent: asking for a state the VM is
/// already in succeeds and changes nothing.
pub trait Hypervisor: Send + Sync + 'static {
    fn facts(&self) -> HostFacts;

    fn kind(&self) -> &'static str;

    /// Every VM the hypervisor knows.
    fn list(&self) -> Vec<VmStatus>;

    /// Carries out one command; the value is the command's result details.
    fn execute(&self, action: &Action) -> Result<Value, String>;

    /// Stops the VMs marked to stop when the node is cut off from the cluster, and
    /// returns how many it stopped.
    fn fence(&self) -> usize;
}
