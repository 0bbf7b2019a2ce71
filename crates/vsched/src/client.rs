//! The HTTP client of the CLI: envelope A over `POST /rpc`, with failover across
//! the addresses in `VSCHED_ADDR` and retries of `UNAVAILABLE` under one
//! `request_id`, so a retried write is applied once.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// Default API address when neither `--addr` nor `VSCHED_ADDR` is set.
pub const DEFAULT_ADDR: &str = "http://127.0.0.1:7071";

/// How long a call keeps trying peers before giving up.
const CALL_DEADLINE: Duration = Duration::from_secs(20);

/// How long a call keeps trying when no peer answers at all.
const UNREACHABLE_DEADLINE: Duration = Duration::from_secs(5);

pub struct Client {
    addrs: Vec<String>,
    token: Option<String>,
    http: reqwest::Client,
}

/// Why a call failed.
#[derive(Debug)]
pub enum CallError {
    /// No peer answered at all.
    Unreachable(String),
    /// The cluster answered with an error.
    Op { code: String, message: String, field: Option<String>, details: Option<Value> },
}

/// Turns `host:port` into `http://host:port`.
pub fn normalise_addr(addr: &str) -> String {
    let a = addr.trim().trim_end_matches('/');
    if a.starts_with("http://") || a.starts_with("https://") {
        a.to_string()
    } else {
        format!("http://{a}")
    }
}

impl Client {
    /// Addresses from the flag, else `VSCHED_ADDR`, else the default; the token from
    /// the flag, else `VSCHED_TOKEN`.
    pub fn new(addr: Option<String>, token: Option<String>) -> Client {
        let addrs = addr
            .or_else(|| std::env::var("VSCHED_ADDR").ok())
            .unwrap_or_else(|| DEFAULT_ADDR.to_string());
        let addrs: Vec<String> =
            addrs.split(',').filter(|a| !a.trim().is_empty()).map(normalise_addr).collect();
        let token = token.or_else(|| std::env::var("VSCHED_TOKEN").ok()).filter(|t| !t.is_empty());
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(2))
            .build()
            .expect("HTTP client");
        Client { addrs, token, http }
    }

    pub fn with_addrs(addrs: Vec<String>, token: Option<String>) -> Client {
        let mut c = Client::new(Some(addrs.join(",")), token);
        c.addrs = addrs.iter().map(|a| normalise_addr(a)).collect();
        c
    }

    /// Sends one operation; returns the reply's `data`.
    pub async fn call(&self, op: &str, data: Value, ns: Option<&str>) -> Result<Value, CallError> {
        let request_id = uuid::Uuid::new_v4().to_string();
        let mut context = json!({"op": op, "request_id": request_id});
        if let Some(ns) = ns {
            context["ns"] = json!(ns);
        }
        let body = json!({"context": context, "data": data});

        let started = Instant::now();
        let mut index = 0usize;
        let mut last: CallError = CallError::Unreachable("no address to try".into());
        let mut answered = false;
        while started.elapsed() < CALL_DEADLINE && !self.addrs.is_empty() {
            // A cluster that answers nothing at all is given less time than one
            // that answers UNAVAILABLE while it elects a leader.
            if !answered && started.elapsed() >= UNREACHABLE_DEADLINE {
                break;
            }
            let addr = &self.addrs[index % self.addrs.len()];
            index += 1;
            let mut req = self.http.post(format!("{addr}/rpc")).json(&body);
            if let Some(t) = &self.token {
                req = req.bearer_auth(t);
            }
            match req.send().await {
                Err(e) => last = CallError::Unreachable(format!("{addr}: {e}")),
                Ok(resp) => {
                    answered = true;
                    let reply: Value = match resp.json().await {
                        Ok(v) => v,
                        Err(e) => {
                            last = CallError::Unreachable(format!("{addr}: unreadable reply: {e}"));
                            continue;
                        }
                    };
                    if reply["context"]["status"] == "ok" {
                        return Ok(reply.get("data").cloned().unwrap_or(Value::Null));
                    }
                    let err = &reply["error"];
                    let error = CallError::Op {
                        code: err["code"].as_str().unwrap_or("INTERNAL").to_string(),
                        message: err["message"].as_str().unwrap_or("").to_string(),
                        field: err["field"].as_str().map(String::from),
                        details: err.get("details").cloned(),
                    };
                    let retry =
                        matches!(&error, CallError::Op { code, .. } if code == "UNAVAILABLE");
                    if !retry {
                        return Err(error);
                    }
                    last = error;
                }
            }
            if index % self.addrs.len() == 0 {
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
        Err(last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_get_a_scheme() {
        assert_eq!(normalise_addr("127.0.0.1:7071"), "http://127.0.0.1:7071");
        assert_eq!(normalise_addr("http://h:1/"), "http://h:1");
    }
}
