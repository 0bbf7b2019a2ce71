//! Vector bin packing instances in the VPSolver `.vbp` format, and the summary
//! files that come with published benchmark sets.
//!
//! A `.vbp` file holds: the number of dimensions d; the bin capacity in each
//! dimension; the number of item types; then one line per item type with d
//! sizes and the number of such items. Parsing takes text, so this module does
//! no I/O.

use std::collections::HashMap;

use crate::vector::{Vector, MAX_DIMS};

/// One instance: items in file order (types expanded by their counts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    pub name: String,
    pub dims: usize,
    pub capacity: Vector,
    pub items: Vec<Vector>,
}

impl Instance {
    /// The classic lower bound: the most bins any single dimension needs.
    pub fn lower_bound(&self) -> usize {
        (0..self.dims)
            .map(|d| {
                let total: u64 = self.items.iter().map(|i| i.0[d]).sum();
                total.div_ceil(self.capacity.0[d].max(1)) as usize
            })
            .max()
            .unwrap_or(0)
    }
}

/// Parses a `.vbp` text. Errors name the line.
pub fn parse(name: &str, text: &str) -> Result<Instance, String> {
    let mut numbers = text
        .lines()
        .enumerate()
        .flat_map(|(i, line)| line.split_whitespace().map(move |w| (i + 1, w)));
    let mut next = |what: &str| -> Result<u64, String> {
        let (line, word) = numbers.next().ok_or_else(|| format!("{name}: missing {what}"))?;
        word.parse::<u64>()
            .map_err(|_| format!("{name}: line {line}: '{word}' is not a number ({what})"))
    };
    let dims = next("dimension count")? as usize;
    if dims == 0 || dims > MAX_DIMS {
        return Err(format!("{name}: {dims} dimensions; 1 to {MAX_DIMS} are supported"));
    }
    let mut cap = [0u64; MAX_DIMS];
    for slot in cap.iter_mut().take(dims) {
        *slot = next("bin capacity")?;
    }
    let types = next("item type count")?;
    let mut items = Vec::new();
    for _ in 0..types {
        let mut size = [0u64; MAX_DIMS];
        for slot in size.iter_mut().take(dims) {
            *slot = next("item size")?;
        }
        let count = next("item count")?;
        let item = Vector(size);
        if !item.fits_in(&Vector(cap)) {
            return Err(format!("{name}: an item of {item:?} does not fit an empty bin"));
        }
        items.extend(std::iter::repeat_n(item, count as usize));
    }
    Ok(Instance { name: name.to_string(), dims, capacity: Vector(cap), items })
}

/// What a summary file knows about an instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known {
    pub lb: usize,
    /// The optimum, where known.
    pub opt: Option<usize>,
    /// The best of about 300 published heuristics.
    pub best_overall: usize,
    /// The best of each heuristic family, by column name.
    pub best_by_family: Vec<(String, usize)>,
}

/// Parses a tab-separated summary: `instance_name`, `LB`, `OPT` (-1 when
/// unknown), `best_overall`, then `best_<family>` columns.
pub fn parse_summary(text: &str) -> Result<HashMap<String, Known>, String> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().ok_or("empty summary")?.split('\t').collect();
    let col = |name: &str| {
        header.iter().position(|h| *h == name).ok_or(format!("summary lacks column {name}"))
    };
    let (c_name, c_lb, c_opt, c_best) =
        (col("instance_name")?, col("LB")?, col("OPT")?, col("best_overall")?);
    let families: Vec<(usize, String)> = header
        .iter()
        .enumerate()
        .filter(|(i, h)| h.starts_with("best_") && *i != c_best)
        .map(|(i, h)| (i, h.to_string()))
        .collect();
    let mut out = HashMap::new();
    for (n, line) in lines.enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        let num = |i: usize| -> Result<i64, String> {
            f.get(i).and_then(|s| s.trim().parse().ok()).ok_or(format!(
                "summary line {}: bad number in column {}",
                n + 2,
                i + 1
            ))
        };
        let opt = num(c_opt)?;
        let known = Known {
            lb: num(c_lb)? as usize,
            opt: (opt >= 0).then_some(opt as usize),
            best_overall: num(c_best)? as usize,
            best_by_family: families
                .iter()
                .map(|(i, h)| Ok((h.clone(), num(*i)? as usize)))
                .collect::<Result<_, String>>()?,
        };
        out.insert(f[c_name].to_string(), known);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_an_instance_and_expands_counts() {
        let inst = parse("t", "2\n10 10\n2\n5 1 2\n3 9 1\n").unwrap();
        assert_eq!(inst.dims, 2);
        assert_eq!(inst.capacity, Vector::of(&[10, 10]));
        assert_eq!(inst.items, vec![Vector::of(&[5, 1]), Vector::of(&[5, 1]), Vector::of(&[3, 9])]);
        // 13 of 10 in dimension 0, 11 of 10 in dimension 1.
        assert_eq!(inst.lower_bound(), 2);
    }

    #[test]
    fn bad_input_names_the_line() {
        let err = parse("t", "2\n10 x\n").unwrap_err();
        assert!(err.contains("line 2"), "{err}");
        assert!(parse("t", "2\n10 10\n1\n11 1 1\n").is_err());
    }

    #[test]
    fn parses_a_summary() {
        let text = concat!(
            "instance_name\tLB\tOPT\tbest_overall\tbest_IC\n",
            "class1_20_3_0\t10\t11\t11\t12\n",
            "x\t5\t-1\t6\t6\n"
        );
        let s = parse_summary(text).unwrap();
        assert_eq!(s["class1_20_3_0"].opt, Some(11));
        assert_eq!(s["x"].opt, None);
        assert_eq!(s["class1_20_3_0"].best_by_family, vec![("best_IC".to_string(), 12)]);
    }
}
