//! The HTTP API of a peer: `POST /rpc` with both envelopes (and batches of them),
//! health, readiness, metrics and the cluster view. This is the only module that
//! knows the envelopes; everything behind it sees a [`Call`] and an [`Answer`].
//!
//! Envelope A is the seed's `{"context": {"op", ...}, "data": {...}}`; envelope B
//! is JSON-RPC 2.0. A body that is not JSON at all cannot say which envelope it
//! meant: it gets a JSON-RPC parse error when it mentions `"jsonrpc"`, and an
//! envelope A `INVALID_ARGUMENT` otherwise.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use futures::StreamExt;
use serde_json::{json, Map, Value};
use vsched_model::{ErrorCode, OpError};

use crate::peer::{Answer, Call, Peer};

/// How much of an oversized body is read and discarded before answering 413.
const DRAIN_LIMIT: usize = 16 * 1024 * 1024;

/// Most operations in one batch.
const MAX_BATCH: usize = 1000;

/// Header naming the namespace an admin acts in (same as `context.ns`).
const NS_HEADER: &str = "x-vsched-namespace";

/// Header carrying the idempotency key (same as `context.request_id`).
const IDEMPOTENCY_HEADER: &str = "idempotency-key";

pub fn router(peer: Arc<Peer>) -> Router {
    Router::new()
        .route("/rpc", post(rpc))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/v1/cluster", get(cluster))
        .layer(DefaultBodyLimit::disable())
        .with_state(peer)
}

/// What the HTTP request itself says, outside the body.
#[derive(Default, Clone)]
struct RequestMeta {
    token: Option<String>,
    ns: Option<String>,
    request_id: Option<String>,
}

fn header_str(headers: &HeaderMap, name: impl header::AsHeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

impl RequestMeta {
    fn from_headers(headers: &HeaderMap) -> RequestMeta {
        let token = header_str(headers, header::AUTHORIZATION).and_then(|v| {
            let (scheme, rest) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim().to_string())
        });
        RequestMeta {
            token,
            ns: header_str(headers, NS_HEADER),
            request_id: header_str(headers, IDEMPOTENCY_HEADER),
        }
    }
}

fn status_of(code: ErrorCode) -> StatusCode {
    StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn error_json(e: &OpError) -> Value {
    let mut v = json!({"code": e.code, "message": e.message});
    if let Some(f) = &e.field {
        v["field"] = json!(f);
    }
    if let Some(d) = e.details_json() {
        v["details"] = d;
    }
    v
}

async fn rpc(State(peer): State<Arc<Peer>>, headers: HeaderMap, body: Body) -> Response {
    let meta = RequestMeta::from_headers(&headers);
    let limit = peer.config.body_limit;

    let bytes = match read_body(body, limit).await {
        Ok(b) => b,
        Err(BodyError::TooLarge) => return too_large(&peer, limit),
        Err(BodyError::Broken(e)) => {
            let err =
                OpError::new(ErrorCode::InvalidArgument, format!("cannot read the body: {e}"));
            return envelope_a_error(&peer, None, None, &err, None);
        }
    };

    let parsed: Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(e) => {
            let looks_jsonrpc = bytes.windows(9).any(|w| w == b"\"jsonrpc\"");
            let message = format!("the body is not valid JSON: {e}");
            if looks_jsonrpc {
                let reply = jsonrpc_error(Value::Null, -32700, &message, None);
                return (StatusCode::BAD_REQUEST, axum::Json(reply)).into_response();
            }
            let err = OpError::new(ErrorCode::InvalidArgument, message).with_field("body");
            return envelope_a_error(&peer, None, None, &err, None);
        }
    };

    match parsed {
        Value::Array(items) => batch(&peer, &meta, items).await,
        single => match one(&peer, &meta, single).await {
            Some((status, reply)) => (status, axum::Json(reply)).into_response(),
            None => StatusCode::NO_CONTENT.into_response(),
        },
    }
}

enum BodyError {
    TooLarge,
    Broken(axum::Error),
}

/// Reads the body, keeping at most `limit` bytes. A body over the limit is still
/// read (and discarded) up to [`DRAIN_LIMIT`], so the client, which may still be
/// sending, receives the 413 instead of a reset connection.
async fn read_body(body: Body, limit: usize) -> Result<Vec<u8>, BodyError> {
    let mut stream = body.into_data_stream();
    let mut buf = Vec::new();
    let mut total = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(BodyError::Broken)?;
        total += chunk.len();
        if total <= limit {
            buf.extend_from_slice(&chunk);
        } else if total > DRAIN_LIMIT.max(limit) {
            break;
        }
    }
    if total > limit {
        return Err(BodyError::TooLarge);
    }
    Ok(buf)
}

fn too_large(peer: &Peer, limit: usize) -> Response {
    let err =
        OpError::new(ErrorCode::PayloadTooLarge, format!("the request body exceeds {limit} bytes"));
    envelope_a_error(peer, None, None, &err, None)
}

fn envelope_a_error(
    peer: &Peer,
    op: Option<&str>,
    request_id: Option<&str>,
    err: &OpError,
    leader: Option<u64>,
) -> Response {
    let reply = envelope_a_reply(
        peer,
        op,
        request_id,
        &Answer { result: Err(err.clone()), index: 0, leader },
    );
    (status_of(err.code), axum::Json(reply)).into_response()
}

/// Runs the items of a batch in order; notifications leave no reply.
async fn batch(peer: &Peer, meta: &RequestMeta, items: Vec<Value>) -> Response {
    if items.is_empty() || items.len() > MAX_BATCH {
        let message = if items.is_empty() {
            "an empty batch".to_string()
        } else {
            format!("a batch holds at most {MAX_BATCH} operations")
        };
        let reply = jsonrpc_error(Value::Null, -32600, &message, None);
        return (StatusCode::BAD_REQUEST, axum::Json(reply)).into_response();
    }
    let mut replies = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        // An Idempotency-Key header names the whole batch; each item gets its own
        // key derived from it, so the items do not replay one another.
        let mut item_meta = meta.clone();
        item_meta.request_id = meta.request_id.as_ref().map(|key| format!("{key}/{i}"));
        if let Some((_, reply)) = one(peer, &item_meta, item).await {
            replies.push(reply);
        }
    }
    if replies.is_empty() {
        return StatusCode::NO_CONTENT.into_response();
    }
    (StatusCode::OK, axum::Json(Value::Array(replies))).into_response()
}

/// One operation in either envelope: its HTTP status and reply, or `None` for a
/// JSON-RPC notification.
async fn one(peer: &Peer, meta: &RequestMeta, item: Value) -> Option<(StatusCode, Value)> {
    let Value::Object(obj) = item else {
        let err = OpError::invalid("body", "an operation must be a JSON object");
        let reply = envelope_a_reply(
            peer,
            None,
            None,
            &Answer { result: Err(err.clone()), index: 0, leader: peer.leader() },
        );
        return Some((status_of(err.code), reply));
    };
    if obj.contains_key("jsonrpc") {
        jsonrpc(peer, meta, obj).await
    } else {
        Some(envelope_a(peer, meta, obj).await)
    }
}

/// Reads an optional string member of the context.
fn context_str(ctx: &Map<String, Value>, key: &str) -> Result<Option<String>, OpError> {
    match ctx.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(OpError::invalid(key, format!("context field '{key}' must be a string"))),
    }
}

/// The context members both envelopes may carry, merged over the headers.
fn call_meta(meta: &RequestMeta, ctx: Option<&Map<String, Value>>) -> Result<RequestMeta, OpError> {
    let mut out = meta.clone();
    if let Some(ctx) = ctx {
        if let Some(t) = context_str(ctx, "token")? {
            out.token = Some(t);
        }
        if let Some(ns) = context_str(ctx, "ns")? {
            out.ns = Some(ns);
        }
        if let Some(id) = context_str(ctx, "request_id")? {
            out.request_id = Some(id);
        }
    }
    Ok(out)
}

async fn envelope_a(
    peer: &Peer,
    meta: &RequestMeta,
    mut obj: Map<String, Value>,
) -> (StatusCode, Value) {
    let fail = |op: Option<&str>, rid: Option<&str>, e: OpError| {
        let answer = Answer { result: Err(e.clone()), index: 0, leader: peer.leader() };
        (status_of(e.code), envelope_a_reply(peer, op, rid, &answer))
    };
    let ctx = match obj.remove("context") {
        Some(Value::Object(ctx)) => ctx,
        Some(_) => {
            return fail(None, None, OpError::invalid("context", "'context' must be a JSON object"))
        }
        None => {
            let msg =
                "the body must be {\"context\": {\"op\": ...}, \"data\": {...}} or JSON-RPC 2.0";
            return fail(None, None, OpError::invalid("context", msg));
        }
    };
    let op = match ctx.get("op") {
        Some(Value::String(op)) if !op.is_empty() => op.clone(),
        Some(_) => {
            return fail(None, None, OpError::invalid("op", "context field 'op' must be a string"))
        }
        None => return fail(None, None, OpError::invalid("op", "missing context field 'op'")),
    };
    let m = match call_meta(meta, Some(&ctx)) {
        Ok(m) => m,
        Err(e) => return fail(Some(&op), None, e),
    };
    let data = obj.remove("data").unwrap_or(Value::Null);
    let call =
        Call { op: op.clone(), data, token: m.token, ns: m.ns, request_id: m.request_id.clone() };
    let answer = peer.handle(call).await;
    let status = match &answer.result {
        Ok(_) => StatusCode::OK,
        Err(e) => status_of(e.code),
    };
    (status, envelope_a_reply(peer, Some(&op), m.request_id.as_deref(), &answer))
}

fn envelope_a_reply(
    peer: &Peer,
    op: Option<&str>,
    request_id: Option<&str>,
    answer: &Answer,
) -> Value {
    let leader = answer.leader.or_else(|| peer.leader());
    let mut context = json!({
        "op": op,
        "status": if answer.result.is_ok() { "ok" } else { "error" },
        "served_by": peer.id,
        "leader": leader,
    });
    if let Some(id) = request_id {
        context["request_id"] = json!(id);
    }
    match &answer.result {
        Ok(data) => {
            if answer.index > 0 {
                context["index"] = json!(answer.index);
            }
            json!({"context": context, "data": data})
        }
        Err(e) => json!({"context": context, "error": error_json(e)}),
    }
}

fn jsonrpc_error(id: Value, code: i64, message: &str, data: Option<Value>) -> Value {
    let mut error = json!({"code": code, "message": message});
    if let Some(d) = data {
        error["data"] = d;
    }
    json!({"jsonrpc": "2.0", "id": id, "error": error})
}

/// The JSON-RPC error code for a vsched error code.
fn jsonrpc_code(code: ErrorCode) -> i64 {
    match code {
        ErrorCode::UnknownOp => -32601,
        ErrorCode::InvalidArgument => -32602,
        _ => -32000,
    }
}

async fn jsonrpc(
    peer: &Peer,
    meta: &RequestMeta,
    mut obj: Map<String, Value>,
) -> Option<(StatusCode, Value)> {
    let notification = !obj.contains_key("id");
    let id = obj.remove("id").unwrap_or(Value::Null);
    let invalid = |message: &str| {
        Some((StatusCode::BAD_REQUEST, jsonrpc_error(id.clone(), -32600, message, None)))
    };
    if !matches!(id, Value::Null | Value::String(_) | Value::Number(_)) {
        return invalid("'id' must be a string, a number or null");
    }
    if obj.get("jsonrpc") != Some(&json!("2.0")) {
        return invalid("'jsonrpc' must be \"2.0\"");
    }
    let method = match obj.remove("method") {
        Some(Value::String(m)) => m,
        _ => return invalid("'method' must be a string"),
    };
    let params = match obj.remove("params") {
        None | Some(Value::Null) => Value::Null,
        Some(Value::Object(p)) => Value::Object(p),
        Some(_) => {
            let e = OpError::invalid("params", "'params' must be a JSON object of named fields");
            let reply = jsonrpc_reply(
                peer,
                id,
                &Answer { result: Err(e.clone()), index: 0, leader: peer.leader() },
            );
            return Some((status_of(e.code), reply));
        }
    };
    let ctx = match obj.remove("context") {
        Some(Value::Object(ctx)) => Some(ctx),
        None | Some(Value::Null) => None,
        Some(_) => return invalid("'context' must be an object"),
    };
    let m = match call_meta(meta, ctx.as_ref()) {
        Ok(m) => m,
        Err(e) => {
            let reply = jsonrpc_reply(
                peer,
                id,
                &Answer { result: Err(e.clone()), index: 0, leader: peer.leader() },
            );
            return Some((status_of(e.code), reply));
        }
    };

    let call =
        Call { op: method, data: params, token: m.token, ns: m.ns, request_id: m.request_id };
    let answer = peer.handle(call).await;
    if notification {
        return None;
    }
    let status = match &answer.result {
        Ok(_) => StatusCode::OK,
        Err(e) => status_of(e.code),
    };
    Some((status, jsonrpc_reply(peer, id, &answer)))
}

fn jsonrpc_reply(peer: &Peer, id: Value, answer: &Answer) -> Value {
    match &answer.result {
        Ok(data) => json!({"jsonrpc": "2.0", "id": id, "result": data}),
        Err(e) => {
            let mut data = error_json(e);
            data.as_object_mut().expect("error json is an object").remove("message");
            data["served_by"] = json!(peer.id);
            data["leader"] = json!(answer.leader.or_else(|| peer.leader()));
            jsonrpc_error(id, jsonrpc_code(e.code), &e.message, Some(data))
        }
    }
}

async fn healthz(State(peer): State<Arc<Peer>>) -> Response {
    let m = peer.raft.metrics().borrow().clone();
    let body = json!({
        "status": "serving",
        "id": peer.id,
        "raft_state": format!("{:?}", m.state),
        "leader_id": m.current_leader,
        "term": m.current_term,
    });
    (StatusCode::OK, axum::Json(body)).into_response()
}

/// Ready when a leader is known, this peer has received the membership that
/// includes it, and it has applied everything it knows to be committed.
async fn readyz(State(peer): State<Arc<Peer>>) -> Response {
    let leader = peer.leader();
    let member = peer.member(peer.id).is_some();
    let applied = peer.state.read().expect("state lock").last_applied.map(|l| l.index).unwrap_or(0);
    let committed = peer.log.committed_index();
    let ready = leader.is_some() && member && applied >= committed;
    let body = json!({
        "ready": ready,
        "leader_id": leader,
        "member": member,
        "applied_index": applied,
        "commit_index": committed,
    });
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, axum::Json(body)).into_response()
}

async fn metrics(State(peer): State<Arc<Peer>>) -> Response {
    let m = peer.raft.metrics().borrow().clone();
    let met = &peer.metrics;
    met.set_raft("term", m.current_term as f64);
    met.set_raft("leader_id", m.current_leader.unwrap_or(0) as f64);
    met.set_raft("is_leader", if peer.is_leader() { 1.0 } else { 0.0 });
    met.set_raft("last_log_index", m.last_log_index.unwrap_or(0) as f64);
    met.set_raft("commit_index", peer.log.committed_index() as f64);
    met.set_raft("applied_index", m.last_applied.map(|l| l.index).unwrap_or(0) as f64);
    met.set_raft("snapshot_index", m.snapshot.map(|l| l.index).unwrap_or(0) as f64);
    met.set_raft("purged_index", m.purged.map(|l| l.index).unwrap_or(0) as f64);
    met.set_raft("log_entries", peer.log.len() as f64);
    {
        let ms = peer.state.read().expect("state lock");
        for status in vsched_model::types::NodeStatus::NAMES {
            let count = ms.state.nodes().filter(|n| n.status.as_str() == *status).count();
            met.set_nodes(status, count as f64);
        }
    }
    let headers = [(header::CONTENT_TYPE, "text/plain; version=0.0.4")];
    (StatusCode::OK, headers, met.render()).into_response()
}

async fn cluster(State(peer): State<Arc<Peer>>) -> Response {
    (StatusCode::OK, axum::Json(crate::cluster::status_json(&peer))).into_response()
}
