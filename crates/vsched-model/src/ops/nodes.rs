//! Parameters of the node operations: drain (seed 2.49–2.50), listing, forgetting.
//!
//! A node is named by its UUID or, where unique, its hostname.

use serde::{Deserialize, Serialize};

use super::Params;
use crate::error::OpResult;
use crate::fields::Fields;
use crate::names::NameKind;
use crate::types::{NodeStatus, Selector};

/// `drain_add` / `drain_del`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeSet {
    pub nodes: Selector,
}

impl Params for NodeSet {
    fn parse(f: &mut Fields) -> OpResult<Self> {
        Ok(NodeSet { nodes: f.selector("nodes", None)? })
    }
}

/// `node_list`, optionally filtered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeList {
    /// Only nodes carrying every one of these labels.
    pub labels: Option<Vec<String>>,
    pub status: Option<NodeStatus>,
}

impl Params for NodeList {
    fn parse(f: &mut Fields) -> OpResult<Self> {
        Ok(NodeList {
            labels: f.opt_names("labels", NameKind::Object)?,
            status: f.opt_enum("status", NodeStatus::NAMES)?,
        })
    }
}

/// Operations on one node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRef {
    pub uuid: String,
}

impl Params for NodeRef {
    fn parse(f: &mut Fields) -> OpResult<Self> {
        Ok(NodeRef { uuid: f.str("uuid")? })
    }
}
