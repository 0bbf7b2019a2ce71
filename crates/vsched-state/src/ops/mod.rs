//! Dispatch of operations to their families: one file per family, each holding the
//! writes (applied through the log) and the reads (queries) of that family.

pub(crate) mod labels;
pub(crate) mod nodes;
pub(crate) mod tokens;
pub(crate) mod user_params;
pub(crate) mod vcluster;

use serde_json::Value;
use vsched_model::{Caller, Op, OpError, OpResult};

use crate::command::Outcome;
use crate::state::{misrouted, State};

/// Applies a write operation.
pub(crate) fn apply_op(state: &mut State, caller: &Caller, at: i64, op: &Op) -> Outcome {
    match op {
        Op::VclusterAdd(p) => vcluster::add(state, caller, at, p),
        Op::VclusterUpdate(p) => vcluster::update(state, caller, at, p),
        Op::VclusterDel(p) => vcluster::delete(state, caller, &p.name),
        Op::VclusterClear(p) => vcluster::clear(state, caller, &p.name),
        Op::VclusterNodesAdd(p) => vcluster::nodes_add(state, caller, at, p),
        Op::VclusterNodesDel(p) => vcluster::nodes_del(state, caller, at, p),
        Op::VclusterTaintsAdd(p) => vcluster::taints_add(state, caller, at, p),
        Op::VclusterTaintsDel(p) => vcluster::taints_del(state, caller, at, p),
        Op::UserParamAdd(p) => user_params::add(state, caller, at, p),
        Op::UserParamUpdate(p) => user_params::update(state, caller, at, p),
        Op::UserParamDel(p) => user_params::delete(state, caller, p),
        Op::LabelsAdd(p) => labels::add(state, at, p),
        Op::LabelsAssign(p) => labels::assign(state, p, true),
        Op::LabelsUnassign(p) => labels::assign(state, p, false),
        Op::LabelsDel(p) => labels::delete(state, at, p),
        Op::LabelsDelegateNs(p) => labels::delegate(state, p, true),
        Op::LabelsUndelegateNs(p) => labels::delegate(state, p, false),
        Op::LabelsVclusterAdd(p) => labels::vcluster_add(state, caller, at, p),
        Op::LabelsVclusterDel(p) => labels::vcluster_del(state, caller, at, p),
        Op::LabelsIgnore(p) => labels::ignore(state, p, true),
        Op::LabelsUnignore(p) => labels::ignore(state, p, false),
        Op::DrainAdd(p) => nodes::drain(state, &p.nodes, true),
        Op::DrainDel(p) => nodes::drain(state, &p.nodes, false),
        Op::NodeForget(p) => nodes::forget(state, &p.uuid),
        Op::TokenDel(p) => tokens::delete(state, p),
        Op::TokenAdd(_) => Err(misrouted("token_add without its hash")),
        other => Err(misrouted(other.name())),
    }
}

/// Answers a read operation.
pub(crate) fn query_op(state: &State, caller: &Caller, op: &Op) -> OpResult<Value> {
    match op {
        Op::VclusterShow(p) => vcluster::show(state, caller, &p.name),
        Op::VclusterList(_) => vcluster::list(state, caller),
        Op::VclusterNodesList(p) => vcluster::nodes_list(state, caller, &p.name),
        Op::UserParamList(p) => user_params::list(state, caller, &p.vcluster),
        Op::UserParamShow(p) => user_params::show(state, caller, &p.vcluster, &caller.login),
        Op::UserParamAdmin(p) => user_params::show(state, caller, &p.vcluster, &p.login),
        Op::LabelsList(p) => labels::list(state, caller, p),
        Op::LabelsNodesList(p) => labels::nodes_list(state, caller, p),
        Op::LabelsNsShow(p) => labels::ns_show(state, caller, p),
        Op::LabelsNsList(p) => labels::ns_list(state, caller, p),
        Op::LabelsVclusterShow(p) => labels::vcluster_show(state, caller, p),
        Op::LabelsVclusterList(p) => labels::vcluster_list(state, caller, p),
        Op::NodeList(p) => nodes::list(state, caller, p),
        Op::NodeShow(p) => nodes::show(state, caller, &p.uuid),
        Op::TokenList(p) => tokens::list(state, p.ns.as_deref()),
        Op::Whoami(_) => tokens::whoami(caller),
        other => Err(OpError::internal(format!("'{}' is not a read", other.name()))),
    }
}
