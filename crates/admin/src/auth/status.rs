//! `GET /api/whoami` and `GET /api/status`: the first guarded endpoints, and what an operator checks after
//! logging in. The status comes from a closure the binary provides, so this crate does not depend on the
//! proxy.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use portcullis_pipeline::Problem;

use super::guard::AdminAuthMethod;
use super::{reply, AdminAuth, AdminUser};

/// Renders the gateway's status (config source, load time, listeners, routes) as JSON.
pub type StatusFn = Arc<dyn Fn() -> serde_json::Value + Send + Sync>;

pub async fn whoami(
    State(auth): State<Arc<AdminAuth>>,
    Extension(user): Extension<AdminUser>,
    Extension(method): Extension<AdminAuthMethod>,
) -> Response {
    Json(serde_json::json!({
        "username": user.0,
        "auth": method.0,
        "session_idle_timeout_secs": auth.sessions.idle().as_secs(),
    }))
    .into_response()
}

pub async fn status(State(auth): State<Arc<AdminAuth>>) -> Response {
    let mut v = (auth.status)();
    if let Some(obj) = v.as_object_mut() {
        obj.insert("admin_sessions".into(), auth.sessions.count().into());
    }
    Json(v).into_response()
}

/// Any other `/api/*` path, behind the guard, so an anonymous client cannot probe which routes exist.
pub async fn api_not_found() -> Response {
    reply::problem(Problem::new(StatusCode::NOT_FOUND, "No admin API endpoint matches this request."))
}
