//! Tokens: issuing (the server hashes the secret before proposing), revoking,
//! listing, and the first admin token of a new cluster.

use serde_json::{json, Value};
use vsched_model::ops::TokenDel;
use vsched_model::records::Token;
use vsched_model::types::{Role, DEFAULT_NS};
use vsched_model::{Caller, OpError, OpResult};

use crate::command::Outcome;
use crate::state::State;
use crate::views::token_json;

#[allow(clippy::too_many_arguments)]
pub(crate) fn issue(
    state: &mut State,
    caller: &Caller,
    at: i64,
    token_id: &str,
    login: &str,
    ns: &str,
    role: Role,
    hash: &str,
) -> Outcome {
    if state.tokens.contains(&token_id.to_string()) {
        return Err(OpError::already_exists(
            "token_id",
            format!("token '{token_id}' already exists"),
        ));
    }
    let token = Token {
        token_id: token_id.to_string(),
        login: login.to_string(),
        ns: ns.to_string(),
        role,
        hash: hash.to_string(),
        created_at_ms: at,
        created_by: caller.login.clone(),
    };
    let reply = token_json(&token);
    state.tokens.insert(token);
    Ok(reply)
}

/// Stores the first admin token; a cluster that has an admin token keeps it, so a
/// repeated bootstrap changes nothing.
pub(crate) fn bootstrap_admin(
    state: &mut State,
    at: i64,
    token_id: &str,
    login: &str,
    hash: &str,
) -> Outcome {
    if state.has_admin_token() {
        return Ok(json!({"created": false}));
    }
    state.tokens.insert(Token {
        token_id: token_id.to_string(),
        login: login.to_string(),
        ns: DEFAULT_NS.to_string(),
        role: Role::Admin,
        hash: hash.to_string(),
        created_at_ms: at,
        created_by: "bootstrap".to_string(),
    });
    Ok(json!({"created": true, "token_id": token_id}))
}

/// Revokes tokens, but never the last admin token: that would lock every operator
/// out of the cluster.
pub(crate) fn delete(state: &mut State, p: &TokenDel) -> Outcome {
    let ids: Vec<String> = match p {
        TokenDel::ById { token_id } => {
            if !state.tokens.contains(token_id) {
                return Err(OpError::not_found(
                    "token_id",
                    format!("token '{token_id}' not found"),
                ));
            }
            vec![token_id.clone()]
        }
        TokenDel::ByLogin { login, ns } => {
            let ids: Vec<String> = state
                .tokens
                .values()
                .filter(|t| t.login == *login && ns.as_ref().is_none_or(|ns| t.ns == *ns))
                .map(|t| t.token_id.clone())
                .collect();
            if ids.is_empty() {
                return Err(OpError::not_found("login", format!("no tokens for login '{login}'")));
            }
            ids
        }
    };
    let admins_left = state
        .tokens
        .values()
        .filter(|t| t.role == Role::Admin && !ids.contains(&t.token_id))
        .count();
    if admins_left == 0 {
        return Err(OpError::precondition("that would remove the last admin token"));
    }
    for id in &ids {
        state.tokens.remove(id);
    }
    Ok(json!({"deleted": ids}))
}

pub(crate) fn list(state: &State, ns: Option<&str>) -> OpResult<Value> {
    let tokens: Vec<Value> =
        state.tokens.values().filter(|t| ns.is_none_or(|ns| t.ns == ns)).map(token_json).collect();
    Ok(json!({"tokens": tokens}))
}

pub(crate) fn whoami(caller: &Caller) -> OpResult<Value> {
    Ok(json!({"login": caller.login, "ns": caller.ns, "role": caller.role}))
}
