//! Parameters of the planning operations: dry runs of drains and rebalancing,
//! and the N+1 capacity check.

use serde::{Deserialize, Serialize};

use super::Params;
use crate::error::OpResult;
use crate::fields::Fields;
use crate::names::NameKind;
use crate::types::Selector;

/// `plan_drain`: where the VMs of these nodes would go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanDrain {
    pub nodes: Selector,
    /// Migrations run at once; waves of the plan hold at most this many.
    pub max_in_flight: u64,
}

/// Default migrations in flight of a drain.
pub const DEFAULT_MAX_IN_FLIGHT: u64 = 4;

impl Params for PlanDrain {
    fn parse(f: &mut Fields) -> OpResult<Self> {
        Ok(PlanDrain {
            nodes: f.selector("nodes", None)?,
            max_in_flight: f.opt_int("max_in_flight", 1)?.unwrap_or(DEFAULT_MAX_IN_FLIGHT),
        })
    }
}

/// `plan_rebalance`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanRebalance {
    pub vcluster: Option<String>,
    pub max_moves: u64,
    pub apply: bool,
}

/// Default move budget of a rebalance plan.
pub const DEFAULT_MAX_MOVES: u64 = 20;

impl Params for PlanRebalance {
    fn parse(f: &mut Fields) -> OpResult<Self> {
        Ok(PlanRebalance {
            vcluster: f.opt_name("vcluster", NameKind::Object)?,
            max_moves: f.opt_int("max_moves", 1)?.unwrap_or(DEFAULT_MAX_MOVES),
            apply: f.opt_bool("apply")?.unwrap_or(false),
        })
    }
}

/// `capacity_check`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapacityCheck {
    pub vcluster: Option<String>,
}

impl Params for CapacityCheck {
    fn parse(f: &mut Fields) -> OpResult<Self> {
        Ok(CapacityCheck { vcluster: f.opt_name("vcluster", NameKind::Object)? })
    }
}
