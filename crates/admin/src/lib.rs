//! The admin listener: `/healthz` (the process is alive), `/readyz` (the gateway is serving traffic) and
//! `/metrics` (Prometheus text format). Loopback by default; later issues add the authenticated admin API.
//!
//! Owns: the admin HTTP surface. Must not touch: the data path (it only reads what the gateway exposes).

pub mod bans;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

/// What the admin endpoints read.
#[derive(Clone)]
pub struct AdminState {
    /// Renders every metric in Prometheus text format.
    pub metrics: Arc<dyn Fn() -> String + Send + Sync>,
    /// True once listeners are bound and the config is loaded; false again while draining.
    pub ready: Arc<AtomicBool>,
    /// The bans API (`/api/bans`), when the gateway provides a state store.
    pub bans: Option<bans::BansState>,
}

pub fn router(state: AdminState) -> Router {
    let bans = state.bans.clone();
    let r = Router::new()
        .route("/healthz", get(|| async { (StatusCode::OK, "ok\n") }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state);
    match bans {
        Some(b) => r.merge(bans::routes(b)),
        None => r,
    }
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
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let app = router(state);
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "admin listener failed");
        }
    });
    Ok((local, task))
}
