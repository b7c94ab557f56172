//! The bans API: `GET /api/bans` lists active bans, `POST /api/bans` adds one (`{"ip", "duration", "reason"}`),
//! `DELETE /api/bans/{ip}` lifts one. Each change is a security event (`portcullis::security`).
//!
//! Mountable routes only: the admin API's authentication wraps them where the admin router is assembled.
//! Owns: the HTTP shape of ban management. Must not touch: how bans are stored or enforced (portcullis-store,
//! portcullis-limits).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::Router;
use portcullis_store::{unix_ms, Ban, Store};
use serde::Deserialize;

const SECURITY_TARGET: &str = "portcullis::security";
/// Longest manual ban (a year): beyond that an operator wants a deny list, not a ban.
const MAX_DURATION: Duration = Duration::from_secs(366 * 24 * 3600);
const MAX_REASON: usize = 200;

/// What the bans API needs from the gateway.
#[derive(Clone)]
pub struct BansState {
    /// The store the running config uses (it can change on reload, so it is looked up per call).
    pub store: Arc<dyn Fn() -> Option<Arc<Store>> + Send + Sync>,
    /// Told `"ban"` or `"unban"` after each change (for metrics).
    pub on_change: Arc<dyn Fn(&'static str) + Send + Sync>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewBan {
    ip: String,
    /// `"10m"`, `"1h"`, `"2d"`.
    duration: String,
    #[serde(default)]
    reason: Option<String>,
}

/// `/api/bans` and `/api/bans/{ip}`.
pub fn routes(state: BansState) -> Router {
    Router::new().route("/api/bans", get(list).post(add)).route("/api/bans/{ip}", delete(remove)).with_state(state)
}

fn problem(status: StatusCode, detail: &str) -> Response {
    let body = serde_json::json!({
        "type": "about:blank",
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "detail": detail,
    });
    (status, [(header::CONTENT_TYPE, "application/problem+json")], body.to_string()).into_response()
}

fn ban_json(b: &Ban, now_ms: u64) -> serde_json::Value {
    serde_json::json!({
        "ip": b.ip.to_string(),
        "until_ms": b.until_ms,
        "remaining_seconds": b.remaining_secs(now_ms),
        "level": b.level,
        "reason": b.reason,
    })
}

fn not_ready() -> Response {
    problem(StatusCode::SERVICE_UNAVAILABLE, "The traffic state store is not ready.")
}

fn unavailable(e: impl std::fmt::Display) -> Response {
    tracing::warn!(error = %e, "bans API: store call failed");
    problem(StatusCode::SERVICE_UNAVAILABLE, "The traffic state store did not answer; retry shortly.")
}

async fn list(State(s): State<BansState>) -> Response {
    let Some(store) = (s.store)() else {
        return not_ready();
    };
    match store.ban_list().await {
        Ok(bans) => {
            let now = unix_ms();
            let v: Vec<_> = bans.iter().map(|b| ban_json(b, now)).collect();
            axum::Json(serde_json::json!({ "bans": v })).into_response()
        }
        Err(e) => unavailable(e),
    }
}

async fn add(State(s): State<BansState>, body: Bytes) -> Response {
    let req: NewBan = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return problem(StatusCode::BAD_REQUEST, &format!("Expected {{\"ip\", \"duration\", \"reason\"}}: {e}"))
        }
    };
    let Ok(ip) = req.ip.trim().parse::<IpAddr>() else {
        return problem(StatusCode::BAD_REQUEST, "ip: not an IP address");
    };
    let duration = match humantime::parse_duration(req.duration.trim()) {
        Ok(d) if d >= Duration::from_secs(1) && d <= MAX_DURATION => d,
        Ok(_) => return problem(StatusCode::BAD_REQUEST, "duration: must be between 1s and 366d"),
        Err(_) => return problem(StatusCode::BAD_REQUEST, "duration: write e.g. \"10m\", \"1h\", \"2d\""),
    };
    let reason = req.reason.unwrap_or_else(|| "manual".into());
    if reason.len() > MAX_REASON || reason.chars().any(char::is_control) {
        return problem(StatusCode::BAD_REQUEST, "reason: at most 200 characters, no control characters");
    }
    let Some(store) = (s.store)() else {
        return not_ready();
    };
    let now = unix_ms();
    let ban = Ban { ip, until_ms: now + duration.as_millis() as u64, level: 0, reason };
    if let Err(e) = store.ban_set(ban.clone()).await {
        return unavailable(e);
    }
    (s.on_change)("ban");
    tracing::warn!(
        target: SECURITY_TARGET,
        event = "ban",
        client_ip = %ip,
        policy = "admin",
        level = 0,
        ban_seconds = duration.as_secs(),
        until_ms = ban.until_ms,
        reason = %ban.reason,
        "client banned by an operator",
    );
    (StatusCode::CREATED, axum::Json(ban_json(&ban, now))).into_response()
}

async fn remove(State(s): State<BansState>, Path(ip): Path<String>) -> Response {
    let Ok(ip) = ip.parse::<IpAddr>() else {
        return problem(StatusCode::BAD_REQUEST, "not an IP address");
    };
    let Some(store) = (s.store)() else {
        return not_ready();
    };
    match store.ban_remove(ip).await {
        Ok(true) => {
            (s.on_change)("unban");
            tracing::warn!(target: SECURITY_TARGET, event = "unban", client_ip = %ip, "ban lifted by an operator");
            StatusCode::NO_CONTENT.into_response()
        }
        Ok(false) => problem(StatusCode::NOT_FOUND, "No active ban for this address."),
        Err(e) => unavailable(e),
    }
}
