//! The admin listener: `/healthz` (the process is alive), `/readyz` (the gateway is serving traffic) and
//! `/metrics` (Prometheus text format). Loopback by default. With [`serve_with_api`], also the admin API under
//! `/api/`, where every route but `/api/login` needs an admin session ([`auth`]: Argon2id password + TOTP).
//! `/healthz`, `/readyz` and `/metrics` stay open: probes and Prometheus scrapers cannot do TOTP, they reveal
//! no secrets, and the listener is loopback-only by default (`[admin.auth] protect_metrics = true` guards
//! `/metrics` too).
//!
//! Owns: the admin HTTP surface. Must not touch: the data path (it only reads what the gateway exposes).

pub mod bans;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

pub mod auth;

pub use auth::{AdminAuth, AdminUser};

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{any, get, post};
use axum::Router;

pub mod ips;
pub mod keys;

/// What the admin endpoints read.
#[derive(Clone)]
pub struct AdminState {
    /// Renders every metric in Prometheus text format.
    pub metrics: Arc<dyn Fn() -> String + Send + Sync>,
    /// True once listeners are bound and the config is loaded; false again while draining.
    pub ready: Arc<AtomicBool>,
}

/// The open routes only (health, readiness, metrics). The admin API (`/api/*`) exists only behind the session
/// guard: see [`router_with_api`].
pub fn router(state: AdminState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { (StatusCode::OK, "ok\n") }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// The admin listener's routes plus the guarded admin API: `api` holds the other admin endpoints (full paths,
/// e.g. `/api/keys`), already given their state; they run behind the session guard and read the
/// [`AdminUser`] extension as the audit actor.
pub fn router_with_api(state: AdminState, auth: Arc<AdminAuth>, api: Router) -> Router {
    let mut guarded = Router::new()
        .route("/api/whoami", get(auth::status::whoami))
        .route("/api/status", get(auth::status::status))
        .route("/api/logout", post(auth::login::logout))
        .route("/api/{*rest}", any(auth::status::api_not_found))
        .with_state(auth.clone())
        .merge(api);
    let mut open = Router::new()
        .route("/healthz", get(|| async { (StatusCode::OK, "ok\n") }))
        .route("/readyz", get(readyz))
        .with_state(state.clone());
    if auth.protect_metrics {
        guarded = guarded.merge(Router::new().route("/metrics", get(metrics)).with_state(state));
    } else {
        open = open.merge(Router::new().route("/metrics", get(metrics)).with_state(state));
    }
    let guarded = guarded.layer(axum::middleware::from_fn_with_state(auth.clone(), auth::guard::require_session));
    let login = Router::new()
        .route("/api/login", post(auth::login::login))
        .layer(axum::extract::DefaultBodyLimit::max(8 * 1024))
        .with_state(auth);
    open.merge(login).merge(guarded)
}

async fn readyz(State(s): State<AdminState>) -> impl IntoResponse {
    if s.ready.load(Ordering::Relaxed) {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
    }
}

async fn metrics(State(s): State<AdminState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], (s.metrics)())
}

/// Binds the admin listener and serves it in the background.
pub async fn serve(addr: SocketAddr, state: AdminState) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    serve_router(addr, router(state)).await
}

/// Binds the admin listener with the guarded admin API ([`router_with_api`]) and serves it in the background,
/// over HTTPS when `auth` has a TLS config (`[admin.tls]`).
pub async fn serve_with_api(
    addr: SocketAddr,
    state: AdminState,
    auth: Arc<AdminAuth>,
    api: Router,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let tls = auth.tls.clone();
    let app = router_with_api(state, auth, api);
    match tls {
        None => serve_router(addr, app).await,
        Some(config) => {
            let listener = tokio::net::TcpListener::bind(addr).await?;
            let local = listener.local_addr()?;
            Ok((local, tokio::spawn(auth::mtls::serve_tls(listener, config, app))))
        }
    }
}

async fn serve_router(addr: SocketAddr, app: Router) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    // The peer address feeds the per-client login lockout.
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "admin listener failed");
        }
    });
    Ok((local, task))
}

/// Like [`serve`], with `extra` routes (e.g. [`keys::router`]) merged into the admin router.
pub async fn serve_with(
    addr: SocketAddr,
    state: AdminState,
    extra: Router,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let app = router(state).merge(extra);
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "admin listener failed");
        }
    });
    Ok((local, task))
}
