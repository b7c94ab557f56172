//! The built-in demo API: a little shop that `portcullis demo` serves on loopback and puts behind the
//! gateway, so every protection can be tried without setting anything up.
//!
//! It is deliberately naive, like many real APIs: it announces its stack in `Server` / `X-Powered-By`,
//! returns personal data (an email and a test card number) in profiles, and echoes search terms.
//! Owns: the demo's endpoints and data. Must not touch: anything of the gateway.

use std::net::SocketAddr;

use axum::extract::{Path, Query};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

/// The demo's login: these credentials succeed.
pub const DEMO_USER: &str = "alice";
pub const DEMO_PASSWORD: &str = "wonderland";

struct Item {
    id: u32,
    name: &'static str,
    price_cents: u32,
}

const ITEMS: &[Item] = &[
    Item { id: 1, name: "Portcullis mug", price_cents: 1200 },
    Item { id: 2, name: "Castle gate sticker pack", price_cents: 450 },
    Item { id: 3, name: "Drawbridge hoodie", price_cents: 4900 },
    Item { id: 4, name: "O'Reilly books bundle", price_cents: 8900 },
    Item { id: 5, name: "Moat repair kit", price_cents: 2500 },
];

fn item_json(i: &Item) -> Value {
    json!({ "id": i.id, "name": i.name, "price": format!("{}.{:02}", i.price_cents / 100, i.price_cents % 100) })
}

/// The demo API's routes.
pub fn app() -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/api/login", post(login))
        .route("/api/items", get(items))
        .route("/api/items/{id}", get(item))
        .route("/api/users/{id}", get(user))
        .route("/api/search", get(search))
        .layer(axum::middleware::map_response(|mut r: Response| async move {
            // What a careless stack leaks; the gateway's header policy strips it.
            r.headers_mut()
                .insert(HeaderName::from_static("server"), HeaderValue::from_static("demo-shop/1.0 (Ubuntu)"));
            r.headers_mut().insert(HeaderName::from_static("x-powered-by"), HeaderValue::from_static("Express"));
            r
        }))
}

#[derive(Deserialize)]
struct Login {
    username: String,
    password: String,
}

async fn login(body: Result<Json<Login>, axum::extract::rejection::JsonRejection>) -> Response {
    match body {
        Ok(Json(l)) if l.username == DEMO_USER && l.password == DEMO_PASSWORD => {
            Json(json!({ "token": "demo-session-7f3a9c", "user": DEMO_USER })).into_response()
        }
        Ok(_) => (StatusCode::UNAUTHORIZED, Json(json!({ "error": "invalid credentials" }))).into_response(),
        Err(_) => {
            (StatusCode::BAD_REQUEST, Json(json!({ "error": "expected JSON {username, password}" }))).into_response()
        }
    }
}

async fn items() -> Json<Value> {
    Json(json!({ "items": ITEMS.iter().map(item_json).collect::<Vec<_>>() }))
}

async fn item(Path(id): Path<String>) -> Response {
    match id.parse::<u32>().ok().and_then(|id| ITEMS.iter().find(|i| i.id == id)) {
        Some(i) => Json(item_json(i)).into_response(),
        None => (StatusCode::NOT_FOUND, Json(json!({ "error": "no such item" }))).into_response(),
    }
}

async fn user(Path(id): Path<String>) -> Response {
    match id.parse::<u32>() {
        Ok(n @ 1..=3) => {
            let i = n as usize - 1;
            let name = ["Alice Liddell", "Bob Gatekeeper", "Carol Moat"][i];
            let email = ["alice@example.com", "bob@example.com", "carol@example.com"][i];
            Json(json!({
            "id": n,
            "name": name,
            "email": email,
            // A well-known test card number (Visa), the kind of data a leaky API returns.
            "card": "4111 1111 1111 1111",
            "address": "1 Castle Road, Gateham",
            }))
            .into_response()
        }
        _ => (StatusCode::NOT_FOUND, Json(json!({ "error": "no such user" }))).into_response(),
    }
}

#[derive(Deserialize)]
struct SearchQuery {
    #[serde(default)]
    q: String,
}

async fn search(Query(q): Query<SearchQuery>) -> Json<Value> {
    let needle = q.q.to_lowercase();
    let hits: Vec<Value> = ITEMS.iter().filter(|i| i.name.to_lowercase().contains(&needle)).map(item_json).collect();
    Json(json!({ "query": q.q, "results": hits }))
}

/// Serves the demo API on `addr` in the background; returns the bound address.
pub async fn serve(addr: SocketAddr) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app()).await {
            tracing::error!(error = %e, "demo API failed");
        }
    });
    Ok((local, task))
}
