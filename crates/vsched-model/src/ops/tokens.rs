//! Parameters of the token operations.

use serde::{Deserialize, Serialize};

use super::Params;
use crate::error::{OpError, OpResult};
use crate::fields::Fields;
use crate::names::NameKind;
use crate::types::Role;

const ROLES: &[&str] = &["admin", "operator", "user"];

/// `token_add`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenAdd {
    pub login: String,
    pub ns: String,
    pub role: Role,
}

impl Params for TokenAdd {
    fn parse(f: &mut Fields) -> OpResult<Self> {
        Ok(TokenAdd {
            login: f.name("login", NameKind::Login)?,
            ns: f.name("ns", NameKind::Object)?,
            role: f.enumeration("role", ROLES)?,
        })
    }
}

/// `token_del`: by `token_id`, or every token of `login` (in `ns` when given).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TokenDel {
    ById { token_id: String },
    ByLogin { login: String, ns: Option<String> },
}

impl Params for TokenDel {
    fn parse(f: &mut Fields) -> OpResult<Self> {
        let login = f.opt_name("login", NameKind::Login)?;
        let token_id = f.opt_str("token_id")?;
        let ns = f.opt_name("ns", NameKind::Object)?;
        match (login, token_id) {
            (Some(login), None) => Ok(TokenDel::ByLogin { login, ns }),
            (None, Some(token_id)) if ns.is_none() => Ok(TokenDel::ById { token_id }),
            (None, Some(_)) => {
                Err(OpError::invalid("ns", "field 'ns' goes with 'login', not 'token_id'"))
            }
            (Some(_), Some(_)) => {
                Err(OpError::invalid("token_id", "give either 'login' or 'token_id', not both"))
            }
            (None, None) => {
                Err(OpError::invalid("login", "missing required field 'login' or 'token_id'"))
            }
        }
    }
}

/// `token_list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenList {
    pub ns: Option<String>,
}

impl Params for TokenList {
    fn parse(f: &mut Fields) -> OpResult<Self> {
        Ok(TokenList { ns: f.opt_name("ns", NameKind::Object)? })
    }
}
