//! Memory sizes as the API writes them: an integer with an optional binary unit.
//!
//! `512M`, `4G`, `4GiB`, `2048` (MiB) and `1T` are accepted; fractions (`1.5G`),
//! negative numbers and sizes that are not a whole number of MiB are rejected.
//! Internally every size is an integer count of MiB.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A memory size in whole MiB.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Mem(pub u64);

/// Why a memstr was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MemError {
    #[error("empty size")]
    Empty,
    #[error("'{0}' is not an integer with an optional unit K, M, G or T")]
    Syntax(String),
    #[error("'{0}' is not a whole number of MiB")]
    NotWholeMib(String),
    #[error("'{0}' is too large")]
    Overflow(String),
}

impl Mem {
    pub fn mib(self) -> u64 {
        self.0
    }

    pub fn from_gib(gib: u64) -> Mem {
        Mem(gib * 1024)
    }

    /// Parses a memstr. A bare integer counts MiB, the unit operators of VM
    /// platforms reach for first; a unit may be followed by `i`, `B` or `iB`.
    pub fn parse(input: &str) -> Result<Mem, MemError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(MemError::Empty);
        }
        let digits_end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (digits, unit) = s.split_at(digits_end);
        if digits.is_empty() {
            return Err(MemError::Syntax(input.to_string()));
        }
        let value: u128 = digits.parse().map_err(|_| MemError::Overflow(input.to_string()))?;
        let unit_kib: u128 = match normalise_unit(unit) {
            Some('K') => 1,
            Some('M') | None => 1024,
            Some('G') => 1024 * 1024,
            Some('T') => 1024 * 1024 * 1024,
            _ => return Err(MemError::Syntax(input.to_string())),
        };
        let kib =
            value.checked_mul(unit_kib).ok_or_else(|| MemError::Overflow(input.to_string()))?;
        if kib % 1024 != 0 {
            return Err(MemError::NotWholeMib(input.to_string()));
        }
        let mib = u64::try_from(kib / 1024).map_err(|_| MemError::Overflow(input.to_string()))?;
        Ok(Mem(mib))
    }
}

/// Returns the unit letter of `K`, `Ki`, `KB`, `KiB` (any case), `None` for no unit,
/// or `Some('?')` for anything else.
fn normalise_unit(unit: &str) -> Option<char> {
    if unit.is_empty() {
        return None;
    }
    let upper = unit.to_ascii_uppercase();
    let mut chars = upper.chars();
    let letter = chars.next()?;
    let rest: String = chars.collect();
    if !matches!(letter, 'K' | 'M' | 'G' | 'T') || !matches!(rest.as_str(), "" | "I" | "B" | "IB") {
        return Some('?');
    }
    Some(letter)
}

impl fmt::Display for Mem {
    /// The normalised spelling: the largest unit that divides the size evenly.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mib = self.0;
        if mib == 0 {
            return f.write_str("0M");
        }
        for (unit, size) in [('T', 1024 * 1024), ('G', 1024), ('M', 1)] {
            if mib % size == 0 {
                return write!(f, "{}{}", mib / size, unit);
            }
        }
        unreachable!("every size is a whole number of MiB")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_documented_spellings() {
        assert_eq!(Mem::parse("512M"), Ok(Mem(512)));
        assert_eq!(Mem::parse("4G"), Ok(Mem(4096)));
        assert_eq!(Mem::parse("4GiB"), Ok(Mem(4096)));
        assert_eq!(Mem::parse("4gb"), Ok(Mem(4096)));
        assert_eq!(Mem::parse("1T"), Ok(Mem(1024 * 1024)));
        assert_eq!(Mem::parse("2048K"), Ok(Mem(2)));
        assert_eq!(Mem::parse("2048"), Ok(Mem(2048)));
        assert_eq!(Mem::parse(" 8Gi "), Ok(Mem(8192)));
    }

    #[test]
    fn rejects_fractions_and_garbage() {
        assert!(matches!(Mem::parse("1.5G"), Err(MemError::Syntax(_))));
        assert!(matches!(Mem::parse("-4G"), Err(MemError::Syntax(_))));
        assert!(matches!(Mem::parse("4X"), Err(MemError::Syntax(_))));
        assert!(matches!(Mem::parse("G"), Err(MemError::Syntax(_))));
        assert!(matches!(Mem::parse("4GG"), Err(MemError::Syntax(_))));
        assert!(matches!(Mem::parse(""), Err(MemError::Empty)));
        assert!(matches!(Mem::parse("100K"), Err(MemError::NotWholeMib(_))));
        assert!(matches!(Mem::parse("99999999999999999999T"), Err(MemError::Overflow(_))));
    }

    #[test]
    fn displays_the_largest_even_unit() {
        assert_eq!(Mem(512).to_string(), "512M");
        assert_eq!(Mem(4096).to_string(), "4G");
        assert_eq!(Mem(1536).to_string(), "1536M");
        assert_eq!(Mem(1024 * 1024 * 3).to_string(), "3T");
        assert_eq!(Mem(0).to_string(), "0M");
    }
}
