//! The operation table: every operation's name, the role it needs, whether it
//! writes, and its parsed parameters.
//!
//! One file per operation family holds the parameter types and their parsing; this
//! file ties them into [`Op`] and [`OpSpec`]. Parsing checks everything that can be
//! checked without the state (required fields, types, enums, memstr, name syntax);
//! the state machine checks the rest (existence, conflicts) when it applies a write.

mod cluster;
mod labels;
mod nodes;
mod planning;
mod tokens;
mod user_params;
mod vcluster;

pub use cluster::*;
pub use labels::*;
pub use nodes::*;
pub use planning::*;
pub use tokens::*;
pub use user_params::*;
pub use vcluster::*;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{ErrorCode, OpError, OpResult};
use crate::fields::Fields;
use crate::types::Role;

/// How an operation reaches the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    /// A linearizable read of the replicated state.
    Read,
    /// A replicated write through the Raft log.
    Write,
    /// Served by the peer from Raft itself (membership, status), not the state machine.
    Cluster,
}

/// What the table says about one operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpSpec {
    pub name: &'static str,
    /// The least role that may call it.
    pub role: Role,
    pub access: Access,
    pub summary: &'static str,
}

/// Parameters of one operation, read from its `data` object.
pub trait Params: Sized {
    fn parse(f: &mut Fields) -> OpResult<Self>;
}

/// Parameters of operations that take none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoParams {}

impl Params for NoParams {
    fn parse(_: &mut Fields) -> OpResult<Self> {
        Ok(NoParams {})
    }
}

macro_rules! op_table {
    ($(
        $name:literal => $variant:ident($params:ty), $role:ident, $access:ident, $summary:literal;
    )+) => {
        /// One parsed operation.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "op", content = "params", rename_all = "snake_case")]
        pub enum Op {
            $($variant($params)),+
        }

        /// Every operation, in the order the documentation lists them.
        pub const OP_SPECS: &[OpSpec] = &[
            $(OpSpec {
                name: $name,
                role: Role::$role,
                access: Access::$access,
                summary: $summary,
            }),+
        ];

        impl Op {
            /// Parses `data` for the operation `name`. Unknown names are `UNKNOWN_OP`;
            /// everything else wrong is `INVALID_ARGUMENT` naming the field.
            pub fn parse(name: &str, data: Value) -> OpResult<Op> {
                let mut fields = Fields::new(data)?;
                let op = match name {
                    $($name => Op::$variant(<$params as Params>::parse(&mut fields)?),)+
                    _ => return Err(unknown_op(name)),
                };
                fields.finish()?;
                Ok(op)
            }

            /// The operation's table entry.
            pub fn spec(&self) -> &'static OpSpec {
                let index = match self {
                    $(Op::$variant(_) => $name,)+
                };
                spec_of(index).expect("every variant is in the table")
            }
        }
    };
}

op_table! {
    "vcluster_add" => VclusterAdd(VclusterAdd), Operator, Write, "create a vcluster";
    "vcluster_update" => VclusterUpdate(VclusterUpdate), Operator, Write,
        "change given vcluster fields";
    "vcluster_del" => VclusterDel(VclusterName), Operator, Write, "delete an empty vcluster";
    "vcluster_clear" => VclusterClear(VclusterName), Operator, Write,
        "delete a vcluster and all in it";
    "vcluster_show" => VclusterShow(VclusterName), User, Read, "show a vcluster with usage";
    "vcluster_list" => VclusterList(NoParams), User, Read, "list the namespace's vclusters";
    "vcluster_nodes_add" => VclusterNodesAdd(VclusterNodes), Operator, Write,
        "add nodes to a vcluster";
    "vcluster_nodes_del" => VclusterNodesDel(VclusterNodes), Operator, Write,
        "remove nodes from a vcluster";
    "vcluster_nodes_list" => VclusterNodesList(VclusterName), User, Read, "list a vcluster's nodes";
    "vcluster_taints_add" => VclusterTaintsAdd(VclusterTaints), Operator, Write,
        "taint vcluster nodes";
    "vcluster_taints_del" => VclusterTaintsDel(VclusterTaints), Operator, Write, "remove taints";
    "user_param_add" => UserParamAdd(UserParamSet), Operator, Write, "set a user's params";
    "user_param_update" => UserParamUpdate(UserParamSet), Operator, Write, "change a user's params";
    "user_param_del" => UserParamDel(UserRef), Operator, Write, "delete a user's params";
    "user_param_list" => UserParamList(VclusterRef), Operator, Read, "list users' params";
    "user_param_show" => UserParamShow(VclusterRef), User, Read, "show the caller's params";
    "user_param_admin" => UserParamAdmin(UserRef), Operator, Read, "show any user's params";
    "labels_add" => LabelsAdd(LabelsAdd), Admin, Write, "create labels and assign them";
    "labels_assign" => LabelsAssign(LabelsNodes), Admin, Write, "assign labels to nodes";
    "labels_unassign" => LabelsUnassign(LabelsNodes), Admin, Write, "take labels off nodes";
    "labels_del" => LabelsDel(LabelsDel), Admin, Write, "delete labels";
    "labels_delegate_ns" => LabelsDelegateNs(LabelsNs), Admin, Write, "let namespaces use labels";
    "labels_undelegate_ns" => LabelsUndelegateNs(LabelsNs), Admin, Write, "withdraw a delegation";
    "labels_vcluster_add" => LabelsVclusterAdd(LabelsVcluster), Operator, Write,
        "add vcluster labels";
    "labels_vcluster_del" => LabelsVclusterDel(LabelsVcluster), Operator, Write,
        "remove vcluster labels";
    "labels_ignore" => LabelsIgnore(LabelsIgnore), Admin, Write, "mark labels ignored";
    "labels_unignore" => LabelsUnignore(LabelsIgnore), Admin, Write, "unmark ignored labels";
    "labels_list" => LabelsList(LabelsList), User, Read, "list labels";
    "labels_nodes_list" => LabelsNodesList(LabelsNodesList), User, Read, "list nodes by labels";
    "labels_ns_show" => LabelsNsShow(LabelsNsFilter), User, Read, "namespaces with their labels";
    "labels_vcluster_show" => LabelsVclusterShow(LabelsVclusterShow), User, Read,
        "vclusters with their labels";
    "labels_ns_list" => LabelsNsList(LabelsNsFilter), User, Read, "labels with their namespaces";
    "labels_vcluster_list" => LabelsVclusterList(LabelsVclusterFilter), User, Read,
        "labels with their vclusters";
    "drain_add" => DrainAdd(NodeSet), Admin, Write, "drain nodes";
    "drain_del" => DrainDel(NodeSet), Admin, Write, "undrain nodes";
    "node_list" => NodeList(NodeList), User, Read, "list nodes";
    "node_show" => NodeShow(NodeRef), User, Read, "show one node";
    "node_forget" => NodeForget(NodeRef), Admin, Write, "remove an isolated, empty node";
    "cluster_status" => ClusterStatus(NoParams), User, Cluster, "Raft members, leader and indexes";
    "cluster_member_add" => ClusterMemberAdd(ClusterMemberAdd), Admin, Cluster, "add a peer";
    "cluster_member_remove" => ClusterMemberRemove(ClusterMemberRemove), Admin, Cluster,
        "remove a peer";
    "token_add" => TokenAdd(TokenAdd), Admin, Write, "issue a token";
    "token_del" => TokenDel(TokenDel), Admin, Write, "revoke tokens";
    "token_list" => TokenList(TokenList), Admin, Read, "list tokens";
    "plan_drain" => PlanDrain(PlanDrain), Admin, Read,
        "dry run of drain_add: each VM and where it would go";
    "plan_rebalance" => PlanRebalance(PlanRebalance), Admin, Read,
        "migrations that even out use, with the score before and after";
    "capacity_check" => CapacityCheck(CapacityCheck), Admin, Read,
        "N+1: whether each node's VMs fit elsewhere if it failed";
    "whoami" => Whoami(NoParams), User, Read, "the caller's login, role and namespace";
}

/// The table entry of the operation `name`.
pub fn spec_of(name: &str) -> Option<&'static OpSpec> {
    OP_SPECS.iter().find(|s| s.name == name)
}

fn unknown_op(name: &str) -> OpError {
    OpError::new(ErrorCode::UnknownOp, format!("unknown operation '{name}'")).with_field("op")
}

impl Op {
    pub fn name(&self) -> &'static str {
        self.spec().name
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn every_name_in_the_table_parses_to_its_own_spec() {
        for spec in OP_SPECS {
            // Parsing may fail for missing fields; an unknown op would be UNKNOWN_OP.
            match Op::parse(spec.name, json!({})) {
                Ok(op) => assert_eq!(op.name(), spec.name),
                Err(e) => assert_eq!(e.code, ErrorCode::InvalidArgument, "{}", spec.name),
            }
        }
    }

    #[test]
    fn unknown_operations_are_named() {
        let err = Op::parse("vcluster_explode", json!({})).unwrap_err();
        assert_eq!(err.code, ErrorCode::UnknownOp);
        assert!(err.message.contains("vcluster_explode"));
    }

    #[test]
    fn names_are_unique() {
        let mut names: Vec<_> = OP_SPECS.iter().map(|s| s.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), OP_SPECS.len());
    }

    #[test]
    fn ops_round_trip_through_messagepack_shaped_serde() {
        let op = Op::parse("vcluster_add", json!({"name": "web", "labels": "ssd", "vram": "4G"}))
            .unwrap();
        let json = serde_json::to_value(&op).unwrap();
        assert_eq!(json["op"], "vcluster_add");
        let back: Op = serde_json::from_value(json).unwrap();
        assert_eq!(back, op);
    }
}
