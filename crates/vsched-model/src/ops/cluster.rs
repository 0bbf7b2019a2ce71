//! Parameters of the Raft membership operations.

use serde::{Deserialize, Serialize};

use super::Params;
use crate::error::{OpError, OpResult};
use crate::fields::Fields;

/// Checks a `host:port` address.
fn address(f: &mut Fields, name: &str) -> OpResult<String> {
    let addr = f.str(name)?;
    let port_ok = addr
        .rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
    if !port_ok {
        return Err(OpError::invalid(
            name,
            format!("field '{name}' must be host:port, got '{addr}'"),
        ));
    }
    Ok(addr)
}

/// `cluster_member_add`: a new peer joins as a learner, then becomes a voter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterMemberAdd {
    pub id: u64,
    pub peer: String,
    pub api: String,
}

impl Params for ClusterMemberAdd {
    fn parse(f: &mut Fields) -> OpResult<Self> {
        Ok(ClusterMemberAdd {
            id: f.int("id", 1)?,
            peer: address(f, "peer")?,
            api: address(f, "api")?,
        })
    }
}

/// `cluster_member_remove`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterMemberRemove {
    pub id: u64,
}

impl Params for ClusterMemberRemove {
    fn parse(f: &mut Fields) -> OpResult<Self> {
        Ok(ClusterMemberRemove { id: f.int("id", 1)? })
    }
}
