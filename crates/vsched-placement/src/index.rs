//! An index over the free capacity of a vcluster's nodes, so a placement
//! looks at the few nodes that can fit tightly instead of scanning all of them.
//!
//! Nodes are kept in a grid of buckets by the free fraction of their first two
//! dimensions (vCPU and RAM for the scheduler). For a demand, every non-empty
//! bucket gets a lower bound on the best-fit score any of its nodes can reach
//! (see [`crate::score::Fit`]); buckets are visited in order of that bound and
//! the search stops once the bound exceeds the best score found. Buckets that
//! cannot hold a node with room for the demand are skipped outright.
//!
//! Inside a bucket, nodes are kept sorted by their largest free fraction, which
//! bounds their score from below too, so the scan of a bucket also stops early.
//! Only schedulable nodes (ready, not drained) are indexed; the other filters
//! still run on every visited node.

use crate::score::PER_MILLE;
use crate::vector::Vector;
use crate::view::NodeId;

/// Buckets per dimension.
const GRID: u64 = 32;

#[derive(Debug, Clone, Default)]
pub struct FreeIndex {
    /// Per bucket, `(key, node)` sorted, where the key is the node's largest free
    /// fraction (per mille) over the grid dimensions.
    buckets: Vec<Vec<(u64, NodeId)>>,
    /// Per node id: its bucket and key, if indexed.
    slots: Vec<Option<(usize, u64)>>,
    /// One bit per bucket that holds nodes, so a search skips empty buckets.
    occupied: Vec<u64>,
    len: usize,
    /// Smallest and largest capacity of the indexed nodes, per grid dimension;
    /// they bound the normalised demand. Never shrunk, which keeps bounds valid.
    cap_min: [u64; 2],
    cap_max: [u64; 2],
}

fn coord(free: u64, cap: u64) -> u64 {
    if cap == 0 {
        return GRID - 1;
    }
    ((free as u128 * GRID as u128) / cap as u128).min(GRID as u128 - 1) as u64
}

fn bucket_of(free: &Vector, cap: &Vector) -> usize {
    (coord(free.0[0], cap.0[0]) * GRID + coord(free.0[1], cap.0[1])) as usize
}

/// The largest free fraction over the grid dimensions, in per mille.
fn key_of(free: &Vector, cap: &Vector) -> u64 {
    (0..2).map(|d| per_mille(free.0[d], cap.0[d])).max().unwrap_or(0)
}

impl FreeIndex {
    pub fn new() -> FreeIndex {
        FreeIndex {
            buckets: vec![Vec::new(); (GRID * GRID) as usize],
            slots: Vec::new(),
            occupied: vec![0; (GRID * GRID).div_ceil(64) as usize],
            len: 0,
            cap_min: [u64::MAX; 2],
            cap_max: [0; 2],
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn contains(&self, node: NodeId) -> bool {
        self.slots.get(node as usize).is_some_and(Option::is_some)
    }

    /// Adds a node, or moves it to the bucket of its current free capacity.
    pub fn upsert(&mut self, node: NodeId, free: &Vector, cap: &Vector) {
        let bucket = bucket_of(free, cap);
        let key = key_of(free, cap);
        if self.slots.get(node as usize).copied().flatten() == Some((bucket, key)) {
            return;
        }
        self.remove(node);
        for d in 0..2 {
            self.cap_min[d] = self.cap_min[d].min(cap.0[d]);
            self.cap_max[d] = self.cap_max[d].max(cap.0[d]);
        }
        let entries = &mut self.buckets[bucket];
        let pos = entries.partition_point(|e| *e < (key, node));
        entries.insert(pos, (key, node));
        self.occupied[bucket / 64] |= 1 << (bucket % 64);
        if self.slots.len() <= node as usize {
            self.slots.resize(node as usize + 1, None);
        }
        self.slots[node as usize] = Some((bucket, key));
        self.len += 1;
    }

    pub fn remove(&mut self, node: NodeId) {
        let Some((bucket, key)) = self.slots.get_mut(node as usize).and_then(Option::take) else {
            return;
        };
        let entries = &mut self.buckets[bucket];
        if let Ok(pos) = entries.binary_search(&(key, node)) {
            entries.remove(pos);
        }
        if entries.is_empty() {
            self.occupied[bucket / 64] &= !(1 << (bucket % 64));
        }
        self.len -= 1;
    }

    /// Visits nodes that might fit `demand`, best bound first, and returns the
    /// lowest score `eval` gives. `eval` returns `None` for a node that does not
    /// fit or is filtered out, else its score whose first component (`primary`)
    /// is the best-fit measure the bounds are computed for. Also returns how many
    /// nodes were evaluated.
    pub fn search<S, F>(&self, demand: &Vector, mut eval: F) -> (Option<S>, usize)
    where
        S: Ord + Copy + Primary,
        F: FnMut(NodeId) -> Option<S>,
    {
        if self.len == 0 {
            return (None, 0);
        }
        // Normalised demand per dimension, in per-mille: smallest (largest
        // capacity) for the feasibility test, largest (smallest capacity) for
        // the bound.
        let mut small = [0u64; 2];
        let mut large = [0u64; 2];
        for d in 0..2 {
            small[d] = per_mille(demand.0[d], self.cap_max[d]);
            large[d] = per_mille_up(demand.0[d], self.cap_min[d]);
        }
        let largest = large[0].max(large[1]);

        let mut order: Vec<(u64, usize)> = Vec::with_capacity(64);
        let occupied = self.occupied.iter().enumerate().flat_map(|(w, &bits)| {
            (0..64).filter(move |i| bits & (1 << i) != 0).map(move |i| w * 64 + i)
        });
        for b in occupied {
            let cells = [b as u64 / GRID, b as u64 % GRID];
            let mut bound = 0u64;
            let mut possible = true;
            for d in 0..2 {
                let lo = cells[d] * PER_MILLE / GRID;
                let hi = ((cells[d] + 1) * PER_MILLE).div_ceil(GRID);
                if hi < small[d] {
                    possible = false;
                    break;
                }
                // Integer rounding can make a real score one below this.
                bound = bound.max(lo.saturating_sub(large[d]).saturating_sub(1));
            }
            if possible {
                order.push((bound, b));
            }
        }
        order.sort_unstable();

        let mut best: Option<S> = None;
        let mut visited = 0;
        for (bound, b) in order {
            if best.is_some_and(|s| bound > s.primary()) {
                break;
            }
            // A node whose largest free fraction is below the largest demand
            // fraction cannot fit; those come first in the bucket.
            let entries = &self.buckets[b];
            let start = entries.partition_point(|e| e.0 < small[0].max(small[1]));
            for &(key, node) in &entries[start..] {
                // The largest free fraction less the largest demand bounds the
                // score; keys only grow along the bucket.
                if best.is_some_and(|s| key.saturating_sub(largest).saturating_sub(1) > s.primary())
                {
                    break;
                }
                visited += 1;
                if let Some(score) = eval(node) {
                    if best.is_none_or(|s| score < s) {
                        best = Some(score);
                    }
                }
            }
        }
        (best, visited)
    }
}

/// The component of a score that index bounds are computed for.
pub trait Primary {
    fn primary(&self) -> u64;
}

fn per_mille(x: u64, of: u64) -> u64 {
    if of == 0 {
        return 0;
    }
    (x as u128 * PER_MILLE as u128 / of as u128) as u64
}

fn per_mille_up(x: u64, of: u64) -> u64 {
    if of == 0 || of == u64::MAX {
        return 0;
    }
    ((x as u128 * PER_MILLE as u128).div_ceil(of as u128)) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
    struct S(u64, NodeId);
    impl Primary for S {
        fn primary(&self) -> u64 {
            self.0
        }
    }

    #[test]
    fn upsert_moves_and_remove_keeps_positions_right() {
        let cap = Vector::of(&[100, 100]);
        let mut idx = FreeIndex::new();
        for n in 0..10 {
            idx.upsert(n, &Vector::of(&[100, 100]), &cap);
        }
        idx.upsert(3, &Vector::of(&[10, 10]), &cap);
        idx.remove(0);
        idx.remove(9);
        assert_eq!(idx.len(), 8);
        let mut seen: Vec<NodeId> = idx.buckets.iter().flatten().map(|e| e.1).collect();
        seen.sort();
        assert_eq!(seen, vec![1, 2, 3, 4, 5, 6, 7, 8]);
        for (node, slot) in idx.slots.iter().enumerate() {
            if let Some((b, key)) = slot {
                assert!(idx.buckets[*b].contains(&(*key, node as NodeId)));
            }
        }
        assert!(idx.buckets.iter().all(|b| b.windows(2).all(|w| w[0] < w[1])));
    }

    #[test]
    fn search_finds_the_same_best_as_a_full_scan_and_visits_less() {
        let cap = Vector::of(&[64, 256]);
        let mut idx = FreeIndex::new();
        let mut free = Vec::new();
        for n in 0..2000u32 {
            let f = Vector::of(&[(n as u64 * 7) % 65, (n as u64 * 13) % 257]);
            idx.upsert(n, &f, &cap);
            free.push(f);
        }
        let demand = Vector::of(&[8, 32]);
        let score = |n: NodeId| {
            let f = free[n as usize];
            demand.fits_in(&f).then(|| {
                let left =
                    (0..2).map(|d| (f.0[d] - demand.0[d]) * PER_MILLE / cap.0[d]).max().unwrap();
                S(left, n)
            })
        };
        let (best, visited) = idx.search(&demand, score);
        let full = (0..2000).filter_map(score).min();
        assert_eq!(best, full);
        assert!(visited < 500, "visited {visited} of 2000");
    }
}
