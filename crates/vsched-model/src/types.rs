//! Small value types shared by operations and records: roles, strategies, node
//! status, resource vectors and list selectors.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What a token may do. Ordered: a higher role can do everything a lower one can.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Requests and snapshots in vclusters of its own namespace.
    User,
    /// Vclusters and user params in its own namespace, plus what a user can do.
    Operator,
    /// Everything, in any namespace.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }
}

impl FromStr for Role {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "user" => Ok(Role::User),
            "operator" => Ok(Role::Operator),
            "admin" => Ok(Role::Admin),
            _ => Err(()),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who is asking: the token's login and role, and the namespace the request acts in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Caller {
    pub login: String,
    pub ns: String,
    pub role: Role,
}

impl Caller {
    /// The caller the cluster itself uses for internal commands.
    pub fn system() -> Caller {
        Caller { login: "system".into(), ns: DEFAULT_NS.into(), role: Role::Admin }
    }

    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

/// Formats a command timestamp (milliseconds since the Unix epoch) as RFC 3339 UTC.
pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The namespace an admin acts in when the request names none.
pub const DEFAULT_NS: &str = "default";

/// Defines a string-valued enum with its wire spellings, in one place.
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every accepted spelling, for error messages.
            pub const NAMES: &'static [&'static str] = &[$($text),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl FromStr for $name {
            type Err = ();
            fn from_str(s: &str) -> Result<Self, ()> {
                match s { $($text => Ok($name::$variant),)+ _ => Err(()) }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

wire_enum!(
    /// What happens to a VM whose node becomes isolated.
    IsolationStrategy {
        /// Leave it; it continues if the node returns.
        Nothing = "NOTHING",
        /// Mark it stopped; it stays stopped when the node returns.
        Stop = "STOP",
        /// Place it anew elsewhere and start it from its disks' last known state.
        Recreate = "RECREATE",
    }
);

wire_enum!(
    /// What happens to a VM whose node is drained.
    DrainStrategy {
        /// Leave it as it is.
        Nothing = "NOTHING",
        /// Shut it down; it stays defined.
        Stop = "STOP",
        /// Live-migrate it to another node.
        Migrate = "MIGRATE",
    }
);

wire_enum!(
    /// Liveness of a node as the cluster last committed it.
    NodeStatus {
        /// Heartbeating; takes VMs unless drained.
        Ready = "ready",
        /// Missed heartbeats past the isolation timeout.
        Isolated = "isolated",
        /// Its agent said goodbye; it holds no running VMs.
        Left = "left",
    }
);

wire_enum!(
    /// The `filter` field of the label listings.
    LabelFilter {
        /// Every label.
        All = "a",
        /// Ignored labels only.
        Ignored = "i",
        /// Labels that are not ignored.
        Unignored = "u",
    }
);

impl LabelFilter {
    /// Whether a label with the given ignored flag passes the filter.
    pub fn admits(self, ignored: bool) -> bool {
        match self {
            LabelFilter::All => true,
            LabelFilter::Ignored => ignored,
            LabelFilter::Unignored => !ignored,
        }
    }
}

/// A list field that may also be `*`, meaning every object of its kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Selector {
    All,
    Listed(Vec<String>),
}

impl Selector {
    pub fn is_all(&self) -> bool {
        matches!(self, Selector::All)
    }

    /// Whether `name` is selected.
    pub fn contains(&self, name: &str) -> bool {
        match self {
            Selector::All => true,
            Selector::Listed(names) => names.iter().any(|n| n == name),
        }
    }
}

/// A set of namespaces that may be "every namespace, including future ones".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NsSet {
    #[serde(default)]
    pub all: bool,
    #[serde(default)]
    pub listed: BTreeSet<String>,
}

impl NsSet {
    pub fn contains(&self, ns: &str) -> bool {
        self.all || self.listed.contains(ns)
    }

    pub fn is_empty(&self) -> bool {
        !self.all && self.listed.is_empty()
    }

    /// Adds the selected namespaces; `*` sets the wildcard.
    pub fn add(&mut self, sel: &Selector) {
        match sel {
            Selector::All => self.all = true,
            Selector::Listed(names) => self.listed.extend(names.iter().cloned()),
        }
    }

    /// Removes the selected namespaces; `*` clears the set entirely.
    pub fn remove(&mut self, sel: &Selector) {
        match sel {
            Selector::All => *self = NsSet::default(),
            Selector::Listed(names) => {
                for n in names {
                    self.listed.remove(n);
                }
            }
        }
    }

    /// JSON form: `"*"` or a list of names.
    pub fn to_json(&self) -> serde_json::Value {
        if self.all {
            serde_json::json!("*")
        } else {
            serde_json::json!(self.listed)
        }
    }
}

/// A resource vector. Placement compares and adds these per dimension; new dimensions
/// are added as fields with `#[serde(default)]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Resources {
    pub vcpu: u64,
    pub vram_mib: u64,
}

impl Resources {
    pub fn new(vcpu: u64, vram_mib: u64) -> Self {
        Resources { vcpu, vram_mib }
    }

    /// Whether `self` fits inside `cap` in every dimension.
    pub fn fits_in(&self, cap: &Resources) -> bool {
        self.vcpu <= cap.vcpu && self.vram_mib <= cap.vram_mib
    }

    pub fn saturating_sub(&self, other: &Resources) -> Resources {
        Resources {
            vcpu: self.vcpu.saturating_sub(other.vcpu),
            vram_mib: self.vram_mib.saturating_sub(other.vram_mib),
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "vcpu": self.vcpu,
            "vram_mib": self.vram_mib,
            "vram": crate::Mem(self.vram_mib).to_string(),
        })
    }
}

impl std::ops::Add for Resources {
    type Output = Resources;
    fn add(self, o: Resources) -> Resources {
        Resources { vcpu: self.vcpu + o.vcpu, vram_mib: self.vram_mib + o.vram_mib }
    }
}

impl std::ops::AddAssign for Resources {
    fn add_assign(&mut self, o: Resources) {
        *self = *self + o;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_by_power() {
        assert!(Role::Admin > Role::Operator && Role::Operator > Role::User);
        assert_eq!("operator".parse::<Role>(), Ok(Role::Operator));
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn strategies_use_the_seed_spelling() {
        assert_eq!("RECREATE".parse::<IsolationStrategy>(), Ok(IsolationStrategy::Recreate));
        assert!("recreate".parse::<IsolationStrategy>().is_err());
        assert_eq!(DrainStrategy::NAMES, &["NOTHING", "STOP", "MIGRATE"]);
        let json = serde_json::to_string(&DrainStrategy::Migrate).unwrap();
        assert_eq!(json, "\"MIGRATE\"");
    }

    #[test]
    fn ns_set_wildcard_and_removal() {
        let mut set = NsSet::default();
        set.add(&Selector::Listed(vec!["a".into(), "b".into()]));
        assert!(set.contains("a") && !set.contains("c"));
        set.remove(&Selector::Listed(vec!["a".into()]));
        assert!(!set.contains("a"));
        set.add(&Selector::All);
        assert!(set.contains("zzz"));
        set.remove(&Selector::All);
        assert!(set.is_empty());
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
    }

    #[test]
    fn label_filter() {
        assert!(LabelFilter::All.admits(true) && LabelFilter::All.admits(false));
        assert!(LabelFilter::Ignored.admits(true) && !LabelFilter::Ignored.admits(false));
        assert!(LabelFilter::Unignored.admits(false) && !LabelFilter::Unignored.admits(true));
    }
}
