//! Offline vector bin packing: many items at once into as few identical bins
//! as possible. Used for batch placement and by `vsched sim vbp`.
//!
//! [`pack_batch`] is one algorithm: it builds packings with a portfolio of
//! constructive rules — item-centric (items in decreasing size, each into the
//! first or best bin) and bin-centric (fill one bin at a time with the item
//! that suits the bin's remaining room best) — under several size measures,
//! then improves the eight smallest by local search that empties the lightest
//! bin into the others, swapping smaller items out where a direct move does
//! not fit, and keeps the best. The search runs for a budget of steps, not of
//! time, so the result is the same on every machine.

use crate::vector::{Vector, MAX_DIMS};

/// A packing: the items (indices) of each bin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packing {
    pub bins: Vec<Vec<usize>>,
}

impl Packing {
    pub fn len(&self) -> usize {
        self.bins.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bins.is_empty()
    }

    /// Checks that every item is packed once and no bin overflows.
    pub fn validate(&self, items: &[Vector], cap: &Vector) -> Result<(), String> {
        let mut seen = vec![false; items.len()];
        for (b, bin) in self.bins.iter().enumerate() {
            let mut load = Vector::ZERO;
            for &i in bin {
                if std::mem::replace(&mut seen[i], true) {
                    return Err(format!("item {i} packed twice"));
                }
                load += items[i];
            }
            if !load.fits_in(cap) {
                return Err(format!("bin {b} overflows: {load:?} > {cap:?}"));
            }
        }
        match seen.iter().position(|s| !s) {
            Some(i) => Err(format!("item {i} not packed")),
            None => Ok(()),
        }
    }
}

/// What [`pack_batch`] did.
#[derive(Debug, Clone)]
pub struct BatchReport {
    pub packing: Packing,
    /// Bins of the best constructive packing, before local search.
    pub constructed: usize,
    /// Which constructive rule built it.
    pub rule: String,
    /// Local search steps used of the budget.
    pub steps: u64,
}

/// Sizes normalised to the bin and weighted per dimension.
struct Norm {
    dims: usize,
    /// Item sizes as fractions of the bin.
    frac: Vec<[f64; MAX_DIMS]>,
    /// Weight of each dimension: how much of the total room the items need in it,
    /// so scarce dimensions count more.
    weight: [f64; MAX_DIMS],
}

impl Norm {
    fn new(items: &[Vector], cap: &Vector, dims: usize) -> Norm {
        let frac: Vec<[f64; MAX_DIMS]> = items
            .iter()
            .map(|it| {
                let mut f = [0.0; MAX_DIMS];
                for (d, slot) in f.iter_mut().enumerate().take(dims) {
                    *slot = it.0[d] as f64 / cap.0[d].max(1) as f64;
                }
                f
            })
            .collect();
        let mut weight = [0.0; MAX_DIMS];
        for f in &frac {
            for (w, x) in weight.iter_mut().zip(f.iter()).take(dims) {
                *w += x;
            }
        }
        let total: f64 = weight.iter().sum::<f64>().max(f64::MIN_POSITIVE);
        for w in weight.iter_mut() {
            *w /= total;
        }
        Norm { dims, frac, weight }
    }

    /// A size measure of item `i`.
    fn size(&self, i: usize, measure: Measure) -> f64 {
        let f = &self.frac[i][..self.dims];
        let w = &self.weight[..self.dims];
        match measure {
            Measure::Sum => f.iter().sum(),
            Measure::Max => f.iter().cloned().fold(0.0, f64::max),
            Measure::Squares => f.iter().map(|x| x * x).sum(),
            Measure::Weighted => f.iter().zip(w).map(|(x, w)| x * w).sum(),
            Measure::WeightedMax => f.iter().zip(w).map(|(x, w)| x * w).fold(0.0, f64::max),
        }
    }
}

/// Size measures for ordering items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Measure {
    Sum,
    Max,
    Squares,
    Weighted,
    WeightedMax,
}

const MEASURES: [Measure; 5] =
    [Measure::Sum, Measure::Max, Measure::Squares, Measure::Weighted, Measure::WeightedMax];

/// A bin under construction.
#[derive(Debug, Clone)]
struct Bin {
    load: Vector,
    items: Vec<usize>,
}

fn fits(load: &Vector, item: &Vector, cap: &Vector) -> bool {
    (0..MAX_DIMS).all(|d| load.0[d] + item.0[d] <= cap.0[d])
}

/// Items sorted by decreasing `measure`, ties by index.
fn decreasing(norm: &Norm, measure: Measure) -> Vec<usize> {
    let mut order: Vec<usize> = (0..norm.frac.len()).collect();
    order.sort_by(|&a, &b| norm.size(b, measure).total_cmp(&norm.size(a, measure)).then(a.cmp(&b)));
    order
}

/// First fit decreasing.
fn first_fit(items: &[Vector], cap: &Vector, order: &[usize]) -> Vec<Bin> {
    let mut bins: Vec<Bin> = Vec::new();
    for &i in order {
        match bins.iter_mut().find(|b| fits(&b.load, &items[i], cap)) {
            Some(b) => {
                b.load += items[i];
                b.items.push(i);
            }
            None => bins.push(Bin { load: items[i], items: vec![i] }),
        }
    }
    bins
}

/// Best fit decreasing: the bin left with the least weighted room.
fn best_fit(items: &[Vector], cap: &Vector, norm: &Norm, order: &[usize]) -> Vec<Bin> {
    let mut bins: Vec<Bin> = Vec::new();
    for &i in order {
        let mut best: Option<(f64, usize)> = None;
        for (b, bin) in bins.iter().enumerate() {
            if !fits(&bin.load, &items[i], cap) {
                continue;
            }
            let left: f64 = (0..norm.dims)
                .map(|d| {
                    norm.weight[d] * (cap.0[d] - bin.load.0[d] - items[i].0[d]) as f64
                        / cap.0[d].max(1) as f64
                })
                .sum();
            if best.is_none_or(|(l, _)| left < l) {
                best = Some((left, b));
            }
        }
        match best {
            Some((_, b)) => {
                bins[b].load += items[i];
                bins[b].items.push(i);
            }
            None => bins.push(Bin { load: items[i], items: vec![i] }),
        }
    }
    bins
}

/// How a bin-centric rule scores an item for the current bin (higher is better).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BinRule {
    /// Dot product of the item with the room left, weighted per dimension.
    DotProduct,
    /// Closeness of the item to the room left (negative weighted distance).
    Norm,
}

/// Fills one bin at a time with the best-suited item that fits.
fn bin_centric(
    items: &[Vector],
    cap: &Vector,
    norm: &Norm,
    rule: BinRule,
    first: Measure,
) -> Vec<Bin> {
    let mut left: Vec<usize> = decreasing(norm, first);
    let mut bins = Vec::new();
    while !left.is_empty() {
        // Open a bin with the largest remaining item.
        let start = left.remove(0);
        let mut bin = Bin { load: items[start], items: vec![start] };
        loop {
            let mut best: Option<(f64, usize)> = None;
            for (pos, &i) in left.iter().enumerate() {
                if !fits(&bin.load, &items[i], cap) {
                    continue;
                }
                let mut score = 0.0;
                for d in 0..norm.dims {
                    let room = (cap.0[d] - bin.load.0[d]) as f64 / cap.0[d].max(1) as f64;
                    let f = norm.frac[i][d];
                    score += match rule {
                        BinRule::DotProduct => norm.weight[d] * f * room,
                        BinRule::Norm => -norm.weight[d] * (room - f) * (room - f),
                    };
                }
                if best.is_none_or(|(s, _)| score > s) {
                    best = Some((score, pos));
                }
            }
            let Some((_, pos)) = best else { break };
            let i = left.remove(pos);
            bin.load += items[i];
            bin.items.push(i);
        }
        bins.push(bin);
    }
    bins
}

/// Tries to empty bins into the others until `budget` steps are spent or no bin
/// can be emptied. Returns the steps used.
fn local_search(
    items: &[Vector],
    cap: &Vector,
    norm: &Norm,
    bins: &mut Vec<Bin>,
    budget: u64,
) -> u64 {
    let mut steps = 0u64;
    let size = |i: usize| norm.size(i, Measure::Weighted);
    'outer: while steps < budget && bins.len() > 1 {
        // Lightest bins first.
        let mut order: Vec<usize> = (0..bins.len()).collect();
        let load = |b: &Bin| b.items.iter().map(|&i| size(i)).sum::<f64>();
        order.sort_by(|&a, &b| load(&bins[a]).total_cmp(&load(&bins[b])).then(a.cmp(&b)));
        for target in order {
            if steps >= budget {
                break 'outer;
            }
            let mut trial: Vec<Bin> = bins.clone();
            let mut pool = trial.remove(target).items;
            if empty_into(items, cap, &mut trial, &mut pool, size, &mut steps, budget) {
                *bins = trial;
                continue 'outer;
            }
        }
        break;
    }
    steps
}

/// Places every item of `pool` into `bins`, moving directly where it fits and
/// otherwise swapping out a strictly smaller item (which goes back to the pool).
fn empty_into(
    items: &[Vector],
    cap: &Vector,
    bins: &mut [Bin],
    pool: &mut Vec<usize>,
    size: impl Fn(usize) -> f64,
    steps: &mut u64,
    budget: u64,
) -> bool {
    while let Some(pos) =
        (0..pool.len()).max_by(|&a, &b| size(pool[a]).total_cmp(&size(pool[b])).then(b.cmp(&a)))
    {
        *steps += 1;
        if *steps > budget {
            return false;
        }
        let x = pool.swap_remove(pos);

        // A direct move into the bin left tightest.
        let direct = bins
            .iter()
            .enumerate()
            .filter(|(_, b)| fits(&b.load, &items[x], cap))
            .map(|(i, b)| ((cap.saturating_sub(&(b.load + items[x]))).sum(), i))
            .min();
        if let Some((_, b)) = direct {
            bins[b].load += items[x];
            bins[b].items.push(x);
            continue;
        }

        // A swap with the smallest item whose place x can take.
        let mut best: Option<(f64, usize, usize)> = None;
        for (b, bin) in bins.iter().enumerate() {
            for (k, &y) in bin.items.iter().enumerate() {
                if size(y) >= size(x) {
                    continue;
                }
                let without = bin.load.saturating_sub(&items[y]);
                if fits(&without, &items[x], cap) && best.is_none_or(|(s, _, _)| size(y) < s) {
                    best = Some((size(y), b, k));
                }
            }
        }
        let Some((_, b, k)) = best else { return false };
        let y = bins[b].items[k];
        bins[b].items[k] = x;
        bins[b].load = bins[b].load.saturating_sub(&items[y]) + items[x];
        pool.push(y);
    }
    true
}

/// Packs `items` into bins of `cap`: the best of the constructive portfolio,
/// improved by up to `budget` local search steps.
pub fn pack_batch(items: &[Vector], cap: &Vector, dims: usize, budget: u64) -> BatchReport {
    let norm = Norm::new(items, cap, dims);
    let mut built: Vec<(Vec<Bin>, String)> = Vec::new();
    for m in MEASURES {
        let order = decreasing(&norm, m);
        built.push((first_fit(items, cap, &order), format!("first-fit/{m:?}")));
        built.push((best_fit(items, cap, &norm, &order), format!("best-fit/{m:?}")));
        for rule in [BinRule::DotProduct, BinRule::Norm] {
            let bins = bin_centric(items, cap, &norm, rule, m);
            built.push((bins, format!("bin-centric-{rule:?}/{m:?}")));
        }
    }
    // The smallest packings (first built wins ties) each get the local search,
    // from a different start; the best result is kept.
    built.sort_by_key(|(bins, _)| bins.len());
    let constructed = built.first().map_or(0, |(b, _)| b.len());
    let lower = lower_bound(items, cap, dims);
    let mut best: Option<(Vec<Bin>, String)> = None;
    let mut steps = 0;
    for (mut bins, rule) in built.into_iter().take(STARTS) {
        if best.as_ref().is_some_and(|(b, _)| b.len() <= lower) {
            break;
        }
        if bins.len() > lower {
            steps += local_search(items, cap, &norm, &mut bins, budget / STARTS as u64);
        }
        if best.as_ref().is_none_or(|(b, _)| bins.len() < b.len()) {
            best = Some((bins, rule));
        }
    }
    let (bins, rule) = best.unwrap_or_default();
    BatchReport {
        packing: Packing { bins: bins.into_iter().map(|b| b.items).collect() },
        constructed,
        rule,
        steps,
    }
}

/// How many of the best constructive packings the local search starts from.
const STARTS: usize = 8;

/// The most bins any single dimension needs.
pub fn lower_bound(items: &[Vector], cap: &Vector, dims: usize) -> usize {
    (0..dims)
        .map(|d| items.iter().map(|i| i.0[d]).sum::<u64>().div_ceil(cap.0[d].max(1)) as usize)
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_packing_is_valid_and_not_worse_than_first_fit() {
        let items: Vec<Vector> =
            (0..60u64).map(|i| Vector::of(&[(i * 37) % 50 + 5, (i * 53) % 45 + 5])).collect();
        let cap = Vector::of(&[100, 100]);
        let report = pack_batch(&items, &cap, 2, 10_000);
        report.packing.validate(&items, &cap).unwrap();
        let ff = first_fit(&items, &cap, &(0..items.len()).collect::<Vec<_>>());
        assert!(report.packing.len() <= ff.len());
        assert!(report.packing.len() >= lower_bound(&items, &cap, 2));
    }

    #[test]
    fn complementary_items_pair_up() {
        // Ten items heavy in one dimension and ten heavy in the other: five bins
        // each of two pairs is optimal.
        let mut items = Vec::new();
        for _ in 0..10 {
            items.push(Vector::of(&[45, 5]));
            items.push(Vector::of(&[5, 45]));
        }
        let report = pack_batch(&items, &Vector::of(&[100, 100]), 2, 1000);
        assert_eq!(report.packing.len(), 5);
    }

    #[test]
    fn the_same_input_gives_the_same_packing() {
        let items: Vec<Vector> = (0..80u64)
            .map(|i| Vector::of(&[(i * 31) % 40 + 1, (i * 17) % 40 + 1, (i * 7) % 40 + 1]))
            .collect();
        let cap = Vector::of(&[100, 100, 100]);
        let a = pack_batch(&items, &cap, 3, 5_000);
        let b = pack_batch(&items, &cap, 3, 5_000);
        assert_eq!(a.packing, b.packing);
    }

    #[test]
    fn validate_catches_overflow_and_missing_items() {
        let items = vec![Vector::of(&[60]), Vector::of(&[60])];
        let cap = Vector::of(&[100]);
        assert!(Packing { bins: vec![vec![0, 1]] }.validate(&items, &cap).is_err());
        assert!(Packing { bins: vec![vec![0]] }.validate(&items, &cap).is_err());
        assert!(Packing { bins: vec![vec![0], vec![1]] }.validate(&items, &cap).is_ok());
    }
}
