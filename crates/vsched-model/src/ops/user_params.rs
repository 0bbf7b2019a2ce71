//! Parameters of the user param operations (seed 2.12–2.17).

use serde::{Deserialize, Serialize};

use super::vcluster::{vcpu_limit, vram_limit, Limit};
use super::Params;
use crate::error::OpResult;
use crate::fields::Fields;
use crate::memstr::Mem;
use crate::names::NameKind;
use crate::types::{DrainStrategy, IsolationStrategy};

/// `user_param_add` / `user_param_update`. A strategy given as `NOTHING` is an
/// explicit override; an absent one leaves the vcluster's setting in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserParamSet {
    pub vcluster: String,
    pub login: String,
    pub rf: Option<u64>,
    pub isolation_strategy: Option<IsolationStrategy>,
    pub drain_strategy: Option<DrainStrategy>,
    pub vcpu: Option<Limit<u64>>,
    pub vram: Option<Limit<Mem>>,
}

impl Params for UserParamSet {
    fn parse(f: &mut Fields) -> OpResult<Self> {
        Ok(UserParamSet {
            vcluster: f.name("vcluster", NameKind::Object)?,
            login: f.name("login", NameKind::Login)?,
            rf: f.opt_int("rf", 1)?,
            isolation_strategy: f.opt_enum("isolation_strategy", IsolationStrategy::NAMES)?,
            drain_strategy: f.opt_enum("drain_strategy", DrainStrategy::NAMES)?,
            vcpu: vcpu_limit(f, "vcpu")?,
            vram: vram_limit(f, "vram")?,
        })
    }
}

/// Operations that name one user of one vcluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRef {
    pub vcluster: String,
    pub login: String,
}

impl Params for UserRef {
    fn parse(f: &mut Fields) -> OpResult<Self> {
        Ok(UserRef {
            vcluster: f.name("vcluster", NameKind::Object)?,
            login: f.name("login", NameKind::Login)?,
        })
    }
}

/// Operations that name one vcluster by the field `vcluster`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VclusterRef {
    pub vcluster: String,
}

impl Params for VclusterRef {
    fn parse(f: &mut Fields) -> OpResult<Self> {
        Ok(VclusterRef { vcluster: f.name("vcluster", NameKind::Object)? })
    }
}
