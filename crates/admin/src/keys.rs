//! The API key lifecycle over the admin API, the same operations as `portcullis keys …`:
//!
//! ```text
//! GET  /api/keys                 list (never secrets)
//! POST /api/keys                 {"name", "scopes": [...], "expires": "30d", "rate_limit": "100/min", "quota", "env"}
//!                                → 201 with "key": the secret, shown once
//! GET  /api/keys/{id}            one key and its recent audit events
//! POST /api/keys/{id}/rotate     {"overlap": "1h"} → 200 with the new "key"
//! POST /api/keys/{id}/revoke     → 200
//! POST /api/keys/{id}/expire     → 200
//! ```
//!
//! Mountable on the admin router ([`router`]); authentication is the admin plane's job: its middleware puts
//! an [`AdminActor`] in the request extensions, which becomes the audit actor `admin:<user>` (without one,
//! `admin:anonymous`). Store calls are blocking SQLite transactions, so they run on the blocking pool.
//!
//! Owns: the HTTP shape of key management. Must not touch: key format, hashing or storage (`portcullis-keys`).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use portcullis_keys::{now_ms, rfc3339, KeyEnv, KeyLimits, KeyManager, LifecycleError, NewKey, Rate, StoreError};
use serde::Deserialize;

/// The authenticated admin user, inserted by the admin-plane session guard (`crate::auth::guard`).
pub use crate::AdminUser as AdminActor;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    name: String,
    #[serde(default)]
    scopes: Vec<String>,
    expires: Option<String>,
    rate_limit: Option<String>,
    quota: Option<String>,
    env: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RotateBody {
    overlap: Option<String>,
}

/// A refusal, answered as RFC 9457 problem+json.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    detail: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "type": "about:blank",
            "title": self.status.canonical_reason().unwrap_or("Error"),
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        (self.status, [(header::CONTENT_TYPE, "application/problem+json")], body.to_string()).into_response()
    }
}

fn problem(status: StatusCode, detail: impl Into<String>) -> ApiError {
    ApiError { status, detail: detail.into() }
}

fn lifecycle_error(e: LifecycleError) -> ApiError {
    match e {
        LifecycleError::Invalid(m) => problem(StatusCode::BAD_REQUEST, m),
        LifecycleError::Store(StoreError::NotFound(id)) => {
            problem(StatusCode::NOT_FOUND, format!("no key with id {id:?}"))
        }
        LifecycleError::Store(StoreError::Revoked(id)) => {
            problem(StatusCode::CONFLICT, format!("key {id:?} is revoked"))
        }
        LifecycleError::Store(StoreError::Exists(id)) => problem(StatusCode::CONFLICT, format!("key {id:?} exists")),
        LifecycleError::Store(e) => {
            tracing::error!(error = %e, "admin api: key store error");
            problem(StatusCode::SERVICE_UNAVAILABLE, "The key store is unavailable.")
        }
    }
}

fn actor(a: Option<Extension<AdminActor>>) -> String {
    format!("admin:{}", a.map_or_else(|| "anonymous".to_string(), |Extension(AdminActor(u))| u))
}

fn duration(field: &str, s: &str) -> Result<Duration, ApiError> {
    humantime::parse_duration(s).map_err(|e| problem(StatusCode::BAD_REQUEST, format!("{field}: {s:?}: {e}")))
}

fn rate(field: &str, s: Option<&str>) -> Result<Option<Rate>, ApiError> {
    s.map(|s| Rate::parse(s).map_err(|e| problem(StatusCode::BAD_REQUEST, format!("{field}: {e}")))).transpose()
}

/// Runs a blocking store operation off the async workers.
async fn blocking<T>(f: impl FnOnce() -> Result<T, ApiError> + Send + 'static) -> Response
where
    T: IntoResponse + Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => v.into_response(),
        Ok(Err(r)) => r.into_response(),
        Err(_) => problem(StatusCode::INTERNAL_SERVER_ERROR, "The operation failed.").into_response(),
    }
}

/// The key-management routes, to merge into the admin router.
pub fn router(manager: KeyManager) -> Router {
    Router::new()
        .route("/api/keys", get(list).post(create))
        .route("/api/keys/{id}", get(show))
        .route("/api/keys/{id}/rotate", post(rotate))
        .route("/api/keys/{id}/revoke", post(revoke))
        .route("/api/keys/{id}/expire", post(expire))
        .with_state(Arc::new(manager))
}

type M = State<Arc<KeyManager>>;

async fn list(State(m): M) -> Response {
    blocking(move || {
        let now = now_ms();
        let keys = m.store.list().map_err(|e| lifecycle_error(e.into()))?;
        Ok(Json(serde_json::Value::Array(keys.iter().map(|k| k.to_json(now)).collect())))
    })
    .await
}

async fn show(State(m): M, Path(id): Path<String>) -> Response {
    blocking(move || {
        let k = m.store.get(&id).map_err(|e| lifecycle_error(e.into()))?;
        let k = k.ok_or_else(|| problem(StatusCode::NOT_FOUND, format!("no key with id {id:?}")))?;
        let audit = m.store.audit(Some(&id), 50).map_err(|e| lifecycle_error(e.into()))?;
        let mut v = k.to_json(now_ms());
        v["audit"] = audit
            .iter()
            .map(|e| serde_json::json!({"at": rfc3339(e.at), "actor": e.actor, "action": e.action, "detail": e.detail}))
            .collect();
        Ok(Json(v))
    })
    .await
}

async fn create(
    State(m): M,
    a: Option<Extension<AdminActor>>,
    body: Result<Json<CreateBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Json(b) = match body {
        Ok(b) => b,
        Err(e) => return problem(StatusCode::BAD_REQUEST, e.body_text()).into_response(),
    };
    let new = match (|| {
        Ok::<_, ApiError>(NewKey {
            name: b.name.clone(),
            scopes: b.scopes.clone(),
            expires_in: b.expires.as_deref().map(|s| duration("expires", s)).transpose()?,
            limits: KeyLimits {
                rate_limit: rate("rate_limit", b.rate_limit.as_deref())?,
                quota: rate("quota", b.quota.as_deref())?,
            },
            env: match b.env.as_deref() {
                None => None,
                Some(e) => {
                    Some(KeyEnv::parse(e).ok_or_else(|| problem(StatusCode::BAD_REQUEST, "env: use live or test"))?)
                }
            },
        })
    })() {
        Ok(n) => n,
        Err(r) => return r.into_response(),
    };
    let actor = actor(a);
    blocking(move || {
        let issued = m.create(&new, &actor).map_err(lifecycle_error)?;
        let mut v = issued.record.to_json(now_ms());
        v["key"] = serde_json::Value::String(issued.key);
        Ok((StatusCode::CREATED, [(header::CACHE_CONTROL, "no-store")], Json(v)))
    })
    .await
}

async fn rotate(
    State(m): M,
    Path(id): Path<String>,
    a: Option<Extension<AdminActor>>,
    body: axum::body::Bytes,
) -> Response {
    let b: RotateBody = if body.is_empty() {
        RotateBody::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(b) => b,
            Err(e) => return problem(StatusCode::BAD_REQUEST, format!("invalid JSON body: {e}")).into_response(),
        }
    };
    let overlap = match b.overlap.as_deref().map(|s| duration("overlap", s)).transpose() {
        Ok(o) => o.unwrap_or(Duration::ZERO),
        Err(r) => return r.into_response(),
    };
    let actor = actor(a);
    blocking(move || {
        let issued = m.rotate(&id, overlap, &actor).map_err(lifecycle_error)?;
        let mut v = issued.record.to_json(now_ms());
        v["key"] = serde_json::Value::String(issued.key);
        Ok(([(header::CACHE_CONTROL, "no-store")], Json(v)))
    })
    .await
}

async fn revoke(State(m): M, Path(id): Path<String>, a: Option<Extension<AdminActor>>) -> Response {
    let actor = actor(a);
    blocking(move || {
        m.revoke(&id, &actor).map_err(lifecycle_error)?;
        Ok(Json(serde_json::json!({"id": id, "state": "revoked"})))
    })
    .await
}

async fn expire(State(m): M, Path(id): Path<String>, a: Option<Extension<AdminActor>>) -> Response {
    let actor = actor(a);
    blocking(move || {
        m.expire(&id, &actor).map_err(lifecycle_error)?;
        Ok(Json(serde_json::json!({"id": id, "state": "expired"})))
    })
    .await
}
