//! Per-user overrides and limits inside a vcluster.

use serde_json::{json, Value};
use vsched_model::ops::{UserParamSet, UserRef};
use vsched_model::records::UserParams;
use vsched_model::{Caller, OpError, OpResult};

use crate::command::Outcome;
use crate::state::State;

fn key(caller: &Caller, vcluster: &str, login: &str) -> (String, String, String) {
    (caller.ns.clone(), vcluster.to_string(), login.to_string())
}

fn set_fields(up: &mut UserParams, p: &UserParamSet, at: i64) {
    if let Some(rf) = p.rf {
        up.rf = Some(rf);
    }
    if let Some(s) = p.isolation_strategy {
        up.isolation_strategy = Some(s);
    }
    if let Some(s) = p.drain_strategy {
        up.drain_strategy = Some(s);
    }
    if let Some(v) = p.vcpu {
        up.vcpu_limit = v.into_option();
    }
    if let Some(v) = p.vram {
        up.vram_limit = v.into_option();
    }
    up.updated_at_ms = at;
}

fn reply(state: &State, caller: &Caller, vcluster: &str, login: &str) -> Outcome {
    let vc = state.vcluster(&caller.ns, vcluster, "vcluster")?;
    let up = state.user_params.get(&key(caller, vcluster, login));
    Ok(state.user_params_json(vc, login, up))
}

pub(crate) fn add(state: &mut State, caller: &Caller, at: i64, p: &UserParamSet) -> Outcome {
    state.vcluster(&caller.ns, &p.vcluster, "vcluster")?;
    if state.user_params.contains(&key(caller, &p.vcluster, &p.login)) {
        return Err(OpError::already_exists(
            "login",
            format!("user params for '{}' in vcluster '{}' already exist", p.login, p.vcluster),
        ));
    }
    let mut up = UserParams {
        ns: caller.ns.clone(),
        vcluster: p.vcluster.clone(),
        login: p.login.clone(),
        rf: None,
        isolation_strategy: None,
        drain_strategy: None,
        vcpu_limit: None,
        vram_limit: None,
        created_at_ms: at,
        updated_at_ms: at,
    };
    set_fields(&mut up, p, at);
    state.user_params.insert(up);
    reply(state, caller, &p.vcluster, &p.login)
}

pub(crate) fn update(state: &mut State, caller: &Caller, at: i64, p: &UserParamSet) -> Outcome {
    state.vcluster(&caller.ns, &p.vcluster, "vcluster")?;
    let Some(up) = state.user_params.get_mut(&key(caller, &p.vcluster, &p.login)) else {
        return Err(not_found(&p.vcluster, &p.login));
    };
    set_fields(up, p, at);
    reply(state, caller, &p.vcluster, &p.login)
}

pub(crate) fn delete(state: &mut State, caller: &Caller, p: &UserRef) -> Outcome {
    state.vcluster(&caller.ns, &p.vcluster, "vcluster")?;
    if state.user_params.remove(&key(caller, &p.vcluster, &p.login)).is_none() {
        return Err(not_found(&p.vcluster, &p.login));
    }
    Ok(json!({"vcluster": p.vcluster, "login": p.login, "deleted": true}))
}

fn not_found(vcluster: &str, login: &str) -> OpError {
    OpError::not_found("login", format!("no user params for '{login}' in vcluster '{vcluster}'"))
}

pub(crate) fn list(state: &State, caller: &Caller, vcluster: &str) -> OpResult<Value> {
    let vc = state.vcluster(&caller.ns, vcluster, "vcluster")?;
    let users: Vec<Value> = state
        .user_params
        .values()
        .filter(|u| u.ns == caller.ns && u.vcluster == vcluster)
        .map(|u| state.user_params_json(vc, &u.login, Some(u)))
        .collect();
    Ok(json!({"vcluster": vcluster, "users": users}))
}

/// One user's resolved settings. A user without params still gets an answer: the
/// vcluster's settings and defaults, with `defined: false`.
pub(crate) fn show(state: &State, caller: &Caller, vcluster: &str, login: &str) -> OpResult<Value> {
    reply(state, caller, vcluster, login)
}
