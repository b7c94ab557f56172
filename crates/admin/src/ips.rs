//! Per-IP statistics over the admin API: `GET /api/ips?limit=N` (the top clients by activity, default 50, at
//! most 1000) and `GET /api/ips/{ip}` (one address). Read-only; the table is kept by `portcullis-ipguard`.
//!
//! Owns: these two routes and their JSON. Must not touch: authentication (layered on the admin router as a
//! whole) or the statistics themselves.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use portcullis_ipguard::IpStats;
use serde::Deserialize;

const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 1000;

/// The routes, ready to merge into the admin router.
pub fn routes(stats: Arc<IpStats>) -> Router {
    Router::new().route("/api/ips", get(top)).route("/api/ips/{ip}", get(one)).with_state(stats)
}

#[derive(Deserialize)]
struct TopQuery {
    limit: Option<usize>,
}

fn problem(status: StatusCode, detail: &str) -> Response {
    let body = serde_json::json!({
        "type": "about:blank",
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "detail": detail,
    });
    ([(header::CONTENT_TYPE, "application/problem+json")], (status, body.to_string())).into_response()
}

async fn top(
    State(stats): State<Arc<IpStats>>,
    q: Result<Query<TopQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(q)) = q else {
        return problem(StatusCode::BAD_REQUEST, "limit must be a positive integer");
    };
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let clients = stats.top(limit);
    Json(serde_json::json!({
        "capacity": stats.capacity(),
        "tracked": stats.len(),
        "clients": clients,
    }))
    .into_response()
}

async fn one(State(stats): State<Arc<IpStats>>, Path(ip): Path<String>) -> Response {
    let Ok(ip) = ip.parse::<IpAddr>() else {
        return problem(StatusCode::BAD_REQUEST, "not an IP address");
    };
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    };
    match stats.get(ip) {
        Some(s) => Json(s).into_response(),
        None => problem(StatusCode::NOT_FOUND, "this address is not among the tracked clients"),
    }
}
