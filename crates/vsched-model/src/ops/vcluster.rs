//! Parameters of the vcluster operations (seed 2.1–2.11).

use serde::{Deserialize, Serialize};

use super::Params;
use crate::error::{OpError, OpResult};
use crate::fields::Fields;
use crate::memstr::Mem;
use crate::names::NameKind;
use crate::types::{DrainStrategy, IsolationStrategy, Selector};

/// A limit that an update may set or clear (`"none"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Limit<T> {
    Set(T),
    Clear,
}

impl<T> Limit<T> {
    pub fn into_option(self) -> Option<T> {
        match self {
            Limit::Set(v) => Some(v),
            Limit::Clear => None,
        }
    }
}

/// Reads an integer limit (`vcpu`) that may also be `"none"`.
pub(crate) fn vcpu_limit(f: &mut Fields, name: &str) -> OpResult<Option<Limit<u64>>> {
    if f.holds(name, "none") {
        f.take(name);
        return Ok(Some(Limit::Clear));
    }
    Ok(f.opt_int(name, 0)?.map(Limit::Set))
}

/// Reads a memory limit (`vram`) that may also be `"none"`.
pub(crate) fn vram_limit(f: &mut Fields, name: &str) -> OpResult<Option<Limit<Mem>>> {
    if f.holds(name, "none") {
        f.take(name);
        return Ok(Some(Limit::Clear));
    }
    Ok(f.opt_mem(name)?.map(Limit::Set))
}

/// Reads a non-empty node list (UUIDs or hostnames) that may be `*`.
pub(crate) fn node_selector(f: &mut Fields, name: &str) -> OpResult<Selector> {
    f.selector(name, None)
}

/// `vcluster_add`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VclusterAdd {
    pub name: String,
    pub uuids: Option<Selector>,
    pub descr: Option<String>,
    pub labels: Vec<String>,
    pub rf: Option<u64>,
    pub isolation_strategy: Option<IsolationStrategy>,
    pub drain_strategy: Option<DrainStrategy>,
    pub ulimits: Option<bool>,
    pub vcpu: Option<u64>,
    pub vram: Option<Mem>,
    pub vcpu_scaling: Option<bool>,
    pub vram_scaling: Option<bool>,
    pub path_to: Option<String>,
}

impl Params for VclusterAdd {
    fn parse(f: &mut Fields) -> OpResult<Self> {
        Ok(VclusterAdd {
            name: f.name("name", NameKind::Object)?,
            uuids: f.opt_selector("uuids", None)?,
            descr: f.opt_str("descr")?,
            labels: f.names("labels", NameKind::Object)?,
            rf: f.opt_int("rf", 1)?,
            isolation_strategy: f.opt_enum("isolation_strategy", IsolationStrategy::NAMES)?,
            drain_strategy: f.opt_enum("drain_strategy", DrainStrategy::NAMES)?,
            ulimits: f.opt_bool("ulimits")?,
            vcpu: f.opt_int("vcpu", 0)?,
            vram: f.opt_mem("vram")?,
            vcpu_scaling: f.opt_bool("vcpu_scaling")?,
            vram_scaling: f.opt_bool("vram_scaling")?,
            path_to: f.opt_path("path_to")?,
        })
    }
}

/// `vcluster_update`: only the given fields change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VclusterUpdate {
    pub name: String,
    pub descr: Option<String>,
    pub rf: Option<u64>,
    pub vcpu: Option<Limit<u64>>,
    pub vram: Option<Limit<Mem>>,
    pub isolation_strategy: Option<IsolationStrategy>,
    pub drain_strategy: Option<DrainStrategy>,
    pub ulimits: Option<bool>,
    pub path_to: Option<String>,
}

impl Params for VclusterUpdate {
    fn parse(f: &mut Fields) -> OpResult<Self> {
        Ok(VclusterUpdate {
            name: f.name("name", NameKind::Object)?,
            descr: f.opt_str("descr")?,
            rf: f.opt_int("rf", 1)?,
            vcpu: vcpu_limit(f, "vcpu")?,
            vram: vram_limit(f, "vram")?,
            isolation_strategy: f.opt_enum("isolation_strategy", IsolationStrategy::NAMES)?,
            drain_strategy: f.opt_enum("drain_strategy", DrainStrategy::NAMES)?,
            ulimits: f.opt_bool("ulimits")?,
            path_to: f.opt_path("path_to")?,
        })
    }
}

/// Operations that name one vcluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VclusterName {
    pub name: String,
}

impl Params for VclusterName {
    fn parse(f: &mut Fields) -> OpResult<Self> {
        Ok(VclusterName { name: f.name("name", NameKind::Object)? })
    }
}

/// `vcluster_nodes_add` / `vcluster_nodes_del`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VclusterNodes {
    pub name: String,
    pub uuids: Selector,
}

impl Params for VclusterNodes {
    fn parse(f: &mut Fields) -> OpResult<Self> {
        Ok(VclusterNodes {
            name: f.name("name", NameKind::Object)?,
            uuids: node_selector(f, "uuids")?,
        })
    }
}

/// `vcluster_taints_add` / `vcluster_taints_del`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VclusterTaints {
    pub name: String,
    pub uuids: Selector,
    pub taints: Vec<String>,
}

impl Params for VclusterTaints {
    fn parse(f: &mut Fields) -> OpResult<Self> {
        let name = f.name("name", NameKind::Object)?;
        let uuids = node_selector(f, "uuids")?;
        let taints = f.names("taints", NameKind::Object)?;
        if taints.is_empty() {
            return Err(OpError::invalid("taints", "field 'taints' must name at least one taint"));
        }
        Ok(VclusterTaints { name, uuids, taints })
    }
}
