//! Resource vectors: one count per dimension (vCPU, RAM MiB, and up to
//! [`MAX_DIMS`] in all, so vector bin packing instances fit too).
//!
//! Dimensions a cluster does not use stay zero; every operation works on all
//! of them, which keeps the code free of length checks and the loops short and
//! branch-free.

use std::fmt;

/// Most dimensions a vector has.
pub const MAX_DIMS: usize = 10;

/// Index of the vCPU dimension in the scheduler's vectors.
pub const VCPU: usize = 0;
/// Index of the RAM (MiB) dimension in the scheduler's vectors.
pub const RAM: usize = 1;

/// A resource vector.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Vector(pub [u64; MAX_DIMS]);

impl Vector {
    pub const ZERO: Vector = Vector([0; MAX_DIMS]);

    /// A vector from its leading dimensions.
    pub fn of(values: &[u64]) -> Vector {
        assert!(values.len() <= MAX_DIMS, "at most {MAX_DIMS} dimensions");
        let mut v = [0; MAX_DIMS];
        v[..values.len()].copy_from_slice(values);
        Vector(v)
    }

    /// The scheduler's two dimensions.
    pub fn vcpu_ram(vcpu: u64, ram_mib: u64) -> Vector {
        Vector::of(&[vcpu, ram_mib])
    }

    pub fn get(&self, d: usize) -> u64 {
        self.0[d]
    }

    /// Whether `self` fits into `free` in every dimension.
    pub fn fits_in(&self, free: &Vector) -> bool {
        self.0.iter().zip(free.0.iter()).all(|(a, b)| a <= b)
    }

    /// The first dimension in which `self` does not fit into `free`.
    pub fn short_dim(&self, free: &Vector) -> Option<usize> {
        self.0.iter().zip(free.0.iter()).position(|(a, b)| a > b)
    }

    pub fn saturating_sub(&self, o: &Vector) -> Vector {
        let mut v = self.0;
        for (a, b) in v.iter_mut().zip(o.0.iter()) {
            *a = a.saturating_sub(*b);
        }
        Vector(v)
    }

    /// Each dimension multiplied by `k`.
    pub fn times(&self, k: u64) -> Vector {
        let mut v = self.0;
        for a in v.iter_mut() {
            *a = a.saturating_mul(k);
        }
        Vector(v)
    }

    pub fn is_zero(&self) -> bool {
        self.0.iter().all(|a| *a == 0)
    }

    pub fn sum(&self) -> u64 {
        self.0.iter().sum()
    }
}

impl std::ops::Add for Vector {
    type Output = Vector;
    fn add(self, o: Vector) -> Vector {
        let mut v = self.0;
        for (a, b) in v.iter_mut().zip(o.0.iter()) {
            *a = a.saturating_add(*b);
        }
        Vector(v)
    }
}

impl std::ops::AddAssign for Vector {
    fn add_assign(&mut self, o: Vector) {
        *self = *self + o;
    }
}

impl std::ops::SubAssign for Vector {
    fn sub_assign(&mut self, o: Vector) {
        *self = self.saturating_sub(&o);
    }
}

impl fmt::Debug for Vector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let last = self.0.iter().rposition(|a| *a != 0).map_or(1, |i| i + 1).max(2);
        f.debug_list().entries(&self.0[..last]).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_in_every_dimension_or_names_the_short_one() {
        let free = Vector::of(&[4, 100]);
        assert!(Vector::of(&[4, 100]).fits_in(&free));
        assert!(!Vector::of(&[5, 1]).fits_in(&free));
        assert_eq!(Vector::of(&[1, 101]).short_dim(&free), Some(1));
        assert_eq!(Vector::of(&[1, 1]).short_dim(&free), None);
    }

    #[test]
    fn arithmetic_saturates() {
        let a = Vector::of(&[1, 2]);
        assert_eq!(a.saturating_sub(&Vector::of(&[2, 1])), Vector::of(&[0, 1]));
        assert_eq!(a + a, a.times(2));
        assert_eq!(Vector::of(&[u64::MAX]).times(2), Vector::of(&[u64::MAX]));
    }
}
