//! Parameters of the label operations (seed 2.35–2.48, plus `labels_unassign` and
//! `labels_undelegate_ns`, which undo an assignment and a delegation).

use serde::{Deserialize, Serialize};

use super::Params;
use crate::error::{OpError, OpResult};
use crate::fields::Fields;
use crate::names::NameKind;
use crate::types::{LabelFilter, Selector};

/// Reads a list of label names that must not be empty.
fn label_names(f: &mut Fields, name: &str) -> OpResult<Vec<String>> {
    let labels = f.names(name, NameKind::Object)?;
    if labels.is_empty() {
        return Err(OpError::invalid(name, format!("field '{name}' must name at least one label")));
    }
    Ok(labels)
}

fn filter(f: &mut Fields) -> OpResult<LabelFilter> {
    Ok(f.opt_enum("filter", LabelFilter::NAMES)?.unwrap_or(LabelFilter::All))
}

/// `labels_add`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelsAdd {
    pub labels: Vec<String>,
    pub nodes: Selector,
    pub descr: Option<String>,
}

impl Params for LabelsAdd {
    fn parse(f: &mut Fields) -> OpResult<Self> {
        Ok(LabelsAdd {
            labels: label_names(f, "labels")?,
            nodes: f.selector("nodes", None)?,
            descr: f.opt_str("descr")?,
        })
    }
}

/// `labels_assign` / `labels_unassign`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelsNodes {
    pub labels: Vec<String>,
    pub nodes: Selector,
}

impl Params for LabelsNodes {
    fn parse(f: &mut Fields) -> OpResult<Self> {
        Ok(LabelsNodes { labels: label_names(f, "labels")?, nodes: f.selector("nodes", None)? })
    }
}

/// `labels_del`; `force` also removes the labels from the vclusters using them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelsDel {
    pub labels: Vec<String>,
    pub force: bool,
}

impl Params for LabelsDel {
    fn parse(f: &mut Fields) -> OpResult<Self> {
        Ok(LabelsDel {
            labels: label_names(f, "labels")?,
            force: f.opt_bool("force")?.unwrap_or(false),
        })
    }
}

/// `labels_delegate_ns` / `labels_undelegate_ns`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelsNs {
    pub ns: Selector,
    pub labels: Vec<String>,
}

impl Params for LabelsNs {
    fn parse(f: &mut Fields) -> OpResult<Self> {
        Ok(LabelsNs {
            ns: f.selector("ns", Some(NameKind::Object))?,
            labels: label_names(f, "labels")?,
        })
    }
}

/// `labels_vcluster_add` / `labels_vcluster_del`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelsVcluster {
    pub vcluster: Selector,
    pub labels: Vec<String>,
}

impl Params for LabelsVcluster {
    fn parse(f: &mut Fields) -> OpResult<Self> {
        Ok(LabelsVcluster {
            vcluster: f.selector("vcluster", Some(NameKind::Object))?,
            labels: label_names(f, "labels")?,
        })
    }
}

/// `labels_ignore` / `labels_unignore`: without `ns` the flag is global.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelsIgnore {
    pub labels: Vec<String>,
    pub ns: Option<Selector>,
}

impl Params for LabelsIgnore {
    fn parse(f: &mut Fields) -> OpResult<Self> {
        Ok(LabelsIgnore {
            labels: label_names(f, "labels")?,
            ns: f.opt_selector("ns", Some(NameKind::Object))?,
        })
    }
}

/// `labels_list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelsList {
    pub nodes: Option<Selector>,
    pub filter: LabelFilter,
}

impl Params for LabelsList {
    fn parse(f: &mut Fields) -> OpResult<Self> {
        Ok(LabelsList { nodes: f.opt_selector("nodes", None)?, filter: filter(f)? })
    }
}

/// `labels_nodes_list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelsNodesList {
    pub labels: Vec<String>,
    pub strict: bool,
    pub silent: bool,
}

impl Params for LabelsNodesList {
    fn parse(f: &mut Fields) -> OpResult<Self> {
        Ok(LabelsNodesList {
            labels: label_names(f, "labels")?,
            strict: f.opt_bool("strict")?.unwrap_or(false),
            silent: f.opt_bool("silent")?.unwrap_or(false),
        })
    }
}

/// `labels_ns_show` / `labels_ns_list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelsNsFilter {
    pub ns: Option<Selector>,
    pub filter: LabelFilter,
}

impl Params for LabelsNsFilter {
    fn parse(f: &mut Fields) -> OpResult<Self> {
        Ok(LabelsNsFilter { ns: f.opt_selector("ns", Some(NameKind::Object))?, filter: filter(f)? })
    }
}

/// `labels_vcluster_show`: the vcluster list is required.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelsVclusterShow {
    pub vcluster: Selector,
    pub filter: LabelFilter,
}

impl Params for LabelsVclusterShow {
    fn parse(f: &mut Fields) -> OpResult<Self> {
        Ok(LabelsVclusterShow {
            vcluster: f.selector("vcluster", Some(NameKind::Object))?,
            filter: filter(f)?,
        })
    }
}

/// `labels_vcluster_list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelsVclusterFilter {
    pub vcluster: Option<Selector>,
    pub filter: LabelFilter,
}

impl Params for LabelsVclusterFilter {
    fn parse(f: &mut Fields) -> OpResult<Self> {
        Ok(LabelsVclusterFilter {
            vcluster: f.opt_selector("vcluster", Some(NameKind::Object))?,
            filter: filter(f)?,
        })
    }
}
