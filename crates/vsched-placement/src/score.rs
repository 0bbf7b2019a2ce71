//! How good a node is for a VM: multi-resource best fit with a spread
//! tie-break, as one ordered value (lower is better).
//!
//! After the VM is placed, each dimension keeps a fraction of the node's
//! capacity free. The node where the *largest* of those fractions is smallest
//! wins: it is filled tightly, and evenly — a node that would keep much RAM free
//! while its vCPUs run out (stranded RAM) scores badly. Ties go to the smaller
//! total free fraction, then to the node with fewer VMs (spreading risk), then
//! to the lower node id, so the choice is deterministic.

use crate::index::Primary;
use crate::vector::{Vector, MAX_DIMS};
use crate::view::NodeId;

/// Fractions are integers in thousandths, so scores are exact and portable.
pub const PER_MILLE: u64 = 1000;

/// The score of one node for one VM. Field order is priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Fit {
    /// Largest free fraction left in any dimension, in thousandths.
    pub max_left: u64,
    /// Sum of the free fractions left, in thousandths.
    pub sum_left: u64,
    /// VMs already on the node.
    pub vms: u32,
    pub node: NodeId,
}

impl Primary for Fit {
    fn primary(&self) -> u64 {
        self.max_left
    }
}

impl Fit {
    /// Scores placing `need` on a node with `free` left of `capacity`; `None` if it
    /// does not fit.
    pub fn of(
        node: NodeId,
        need: &Vector,
        free: &Vector,
        capacity: &Vector,
        vms: u32,
    ) -> Option<Fit> {
        let mut max_left = 0;
        let mut sum_left = 0;
        for d in 0..MAX_DIMS {
            let (n, f, c) = (need.0[d], free.0[d], capacity.0[d]);
            if n > f {
                return None;
            }
            if c == 0 {
                continue;
            }
            let left = ((f - n) as u128 * PER_MILLE as u128 / c as u128) as u64;
            max_left = max_left.max(left);
            sum_left += left;
        }
        Some(Fit { max_left, sum_left, vms, node })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(c: u64, m: u64) -> Vector {
        Vector::of(&[c, m])
    }

    #[test]
    fn a_tighter_node_wins() {
        let cap = v(64, 256);
        let half = Fit::of(1, &v(4, 16), &v(32, 128), &cap, 0).unwrap();
        let empty = Fit::of(2, &v(4, 16), &v(64, 256), &cap, 0).unwrap();
        assert!(half < empty);
    }

    #[test]
    fn a_node_that_would_strand_memory_loses_to_an_even_one() {
        let cap = v(64, 256);
        // Same total free after placing; the first keeps RAM with no vCPU left.
        let stranding = Fit::of(1, &v(8, 32), &v(8, 160), &cap, 0).unwrap();
        let even = Fit::of(2, &v(8, 32), &v(24, 96), &cap, 0).unwrap();
        assert!(even < stranding, "{even:?} {stranding:?}");
    }

    #[test]
    fn ties_spread_then_go_to_the_lower_id() {
        let cap = v(64, 256);
        let busy = Fit::of(1, &v(4, 16), &v(32, 128), &cap, 5).unwrap();
        let calm = Fit::of(2, &v(4, 16), &v(32, 128), &cap, 1).unwrap();
        let calm_low = Fit::of(0, &v(4, 16), &v(32, 128), &cap, 1).unwrap();
        assert!(calm < busy);
        assert!(calm_low < calm);
    }

    #[test]
    fn a_vm_that_does_not_fit_has_no_score() {
        assert!(Fit::of(0, &v(65, 1), &v(64, 256), &v(64, 256), 0).is_none());
    }
}
