//! The simulated hypervisor: VMs are entries in memory that change state at
//! once. It keeps the same rules as a real host (a VM must be defined before it
//! runs, commands are idempotent), so the scheduler cannot tell it apart.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde_json::{json, Value};
use vsched_proto::agent::command::Action;
use vsched_proto::agent::VmStatus;

use crate::hypervisor::{HostFacts, Hypervisor};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Power {
    Running,
    Stopped,
    Paused,
}

impl Power {
    fn as_str(self) -> &'static str {
        match self {
            Power::Running => "running",
            Power::Stopped => "stopped",
            Power::Paused => "paused",
        }
    }
}

#[derive(Debug, Clone)]
struct SimVm {
    name: String,
    vram_mib: u64,
    power: Power,
    fence_on_isolation: bool,
    snapshots: Vec<String>,
    cpu_time_ns: u64,
}

pub struct SimHypervisor {
    facts: HostFacts,
    vms: Mutex<BTreeMap<String, SimVm>>,
}

impl SimHypervisor {
    pub fn new(hostname: String, vcpu: u64, vram_mib: u64) -> SimHypervisor {
        SimHypervisor {
            facts: HostFacts { hostname, vcpu, vram_mib },
            vms: Mutex::new(BTreeMap::new()),
        }
    }

    fn with_vm<T>(
        &self,
        uuid: &str,
        f: impl FnOnce(&mut SimVm) -> Result<T, String>,
    ) -> Result<T, String> {
        let mut vms = self.vms.lock().expect("sim lock");
        let vm =
            vms.get_mut(uuid).ok_or_else(|| format!("VM {uuid} is not defined on this node"))?;
        f(vm)
    }

    fn set_power(&self, uuid: &str, power: Power) -> Result<Value, String> {
        self.with_vm(uuid, |vm| {
            vm.power = power;
            Ok(json!({"state": power.as_str()}))
        })
    }
}

impl Hypervisor for SimHypervisor {
    fn facts(&self) -> HostFacts {
        self.facts.clone()
    }

    fn kind(&self) -> &'static str {
        "sim"
    }

    fn list(&self) -> Vec<VmStatus> {
        let mut vms = self.vms.lock().expect("sim lock");
        vms.iter_mut()
            .map(|(uuid, vm)| {
                if vm.power == Power::Running {
                    vm.cpu_time_ns += 1_000_000;
                }
                VmStatus {
                    uuid: uuid.clone(),
                    name: vm.name.clone(),
                    state: vm.power.as_str().to_string(),
                    cpu_time_ns: vm.cpu_time_ns,
                    mem_used_mib: if vm.power == Power::Stopped { 0 } else { vm.vram_mib },
                }
            })
            .collect()
    }

    fn execute(&self, action: &Action) -> Result<Value, String> {
        match action {
            Action::EnsureDefined(def) => {
                let mut vms = self.vms.lock().expect("sim lock");
                let vm = vms.entry(def.uuid.clone()).or_insert_with(|| SimVm {
                    name: def.name.clone(),
                    vram_mib: def.vram_mib,
                    power: Power::Stopped,
                    fence_on_isolation: def.fence_on_isolation,
                    snapshots: Vec::new(),
                    cpu_time_ns: 0,
                });
                vm.name = def.name.clone();
                vm.vram_mib = def.vram_mib;
                vm.fence_on_isolation = def.fence_on_isolation;
                Ok(json!({"state": vm.power.as_str()}))
            }
            Action::EnsureRunning(r) => self.set_power(&r.uuid, Power::Running),
            Action::EnsureStopped(r) => self.set_power(&r.uuid, Power::Stopped),
            Action::EnsurePaused(r) => self.set_power(&r.uuid, Power::Paused),
            Action::Reboot(r) => self.set_power(&r.uuid, Power::Running),
            Action::Undefine(r) => {
                let removed = self.vms.lock().expect("sim lock").remove(&r.uuid).is_some();
                Ok(json!({"removed": removed}))
            }
            // The destination node defines the VM through its own agent; here the
            // VM leaves.
            Action::Migrate(m) => {
                self.with_vm(&m.uuid, |_| Ok(()))?;
                self.vms.lock().expect("sim lock").remove(&m.uuid);
                Ok(json!({"migrated_to": m.destination, "live": m.live}))
            }
            Action::Snapshot(s) => self.with_vm(&s.uuid, |vm| {
                match s.action.as_str() {
                    "create" => {
                        if !vm.snapshots.contains(&s.snapshot_name) {
                            vm.snapshots.push(s.snapshot_name.clone());
                        }
                    }
                    "delete" => vm.snapshots.retain(|n| *n != s.snapshot_name),
                    "revert" if vm.snapshots.contains(&s.snapshot_name) => {}
                    "revert" => return Err(format!("no snapshot '{}'", s.snapshot_name)),
                    other => return Err(format!("unknown snapshot action '{other}'")),
                }
                Ok(json!({"snapshots": vm.snapshots}))
            }),
        }
    }

    fn fence(&self) -> usize {
        let mut vms = self.vms.lock().expect("sim lock");
        let mut stopped = 0;
        for vm in vms.values_mut().filter(|vm| vm.fence_on_isolation && vm.power != Power::Stopped)
        {
            vm.power = Power::Stopped;
            stopped += 1;
        }
        stopped
    }
}

#[cfg(test)]
mod tests {
    use vsched_proto::agent::{VmDefinition, VmRef};

    use super::*;

    fn define(uuid: &str, fence: bool) -> Action {
        Action::EnsureDefined(VmDefinition {
            uuid: uuid.into(),
            name: "web-0".into(),
            vcpu: 2,
            vram_mib: 2048,
            spec_json: "{}".into(),
            fence_on_isolation: fence,
        })
    }

    #[test]
    fn a_vm_must_be_defined_before_it_runs() {
        let hv = SimHypervisor::new("h".into(), 8, 8192);
        assert!(hv.execute(&Action::EnsureRunning(VmRef { uuid: "a".into() })).is_err());
        hv.execute(&define("a", false)).unwrap();
        hv.execute(&Action::EnsureRunning(VmRef { uuid: "a".into() })).unwrap();
        assert_eq!(hv.list()[0].state, "running");
    }

    #[test]
    fn commands_are_idempotent() {
        let hv = SimHypervisor::new("h".into(), 8, 8192);
        hv.execute(&define("a", false)).unwrap();
        hv.execute(&define("a", false)).unwrap();
        assert_eq!(hv.list().len(), 1);
        hv.execute(&Action::Undefine(VmRef { uuid: "a".into() })).unwrap();
        hv.execute(&Action::Undefine(VmRef { uuid: "a".into() })).unwrap();
        assert!(hv.list().is_empty());
    }

    #[test]
    fn fencing_stops_only_marked_vms() {
        let hv = SimHypervisor::new("h".into(), 8, 8192);
        for (uuid, fence) in [("a", true), ("b", false)] {
            hv.execute(&define(uuid, fence)).unwrap();
            hv.execute(&Action::EnsureRunning(VmRef { uuid: uuid.into() })).unwrap();
        }
        assert_eq!(hv.fence(), 1);
        let states: Vec<_> = hv.list().into_iter().map(|v| (v.uuid, v.state)).collect();
        assert_eq!(states, vec![("a".into(), "stopped".into()), ("b".into(), "running".into())]);
    }
}
