//! The guarded router as other parts use it: their `/api/*` routes merged behind the session guard, reading
//! [`AdminUser`] as the audit actor.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::Extension;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use axum::Router;
use tower::ServiceExt;

use super::{AdminAuth, AdminUser};
use crate::{router_with_api, AdminState};

fn app(dir: &std::path::Path, users: bool) -> (Router, Arc<AdminAuth>) {
    let db = dir.join("users.db");
    let auth = Arc::new(
        AdminAuth::new(Some(&db), &Default::default(), Arc::new(|| serde_json::json!({"routes": 3}))).unwrap(),
    );
    if users {
        auth.store.as_ref().unwrap().add_user("alice", "a long enough password").unwrap();
    }
    let state = AdminState { metrics: Arc::new(|| "# EOF\n".to_string()), ready: Arc::new(AtomicBool::new(true)) };
    let api = Router::new().route(
        "/api/keys",
        get(|Extension(AdminUser(actor)): Extension<AdminUser>| async move { format!("keys listed by {actor}") }),
    );
    (router_with_api(state, auth.clone(), api), auth)
}

async fn call(app: &Router, path: &str, token: Option<&str>) -> (StatusCode, String) {
    let mut req = Request::get(path);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let resp = app.clone().oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
    let status = resp.status();
    let body = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn merged_api_routes_are_guarded_and_see_the_admin_user() {
    let dir = tempfile::tempdir().unwrap();
    let (app, auth) = app(dir.path(), true);
    assert_eq!(call(&app, "/api/keys", None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(call(&app, "/api/keys", Some("nope")).await.0, StatusCode::UNAUTHORIZED);
    let token = auth.sessions.create("alice", Instant::now());
    assert_eq!(call(&app, "/api/keys", Some(&token)).await, (StatusCode::OK, "keys listed by alice".into()));
    let (status, body) = call(&app, "/api/status", Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("\"routes\":3") && body.contains("\"admin_sessions\":1"), "{body}");
    assert_eq!(call(&app, "/api/unknown", Some(&token)).await.0, StatusCode::NOT_FOUND);
    // Open endpoints stay open.
    assert_eq!(call(&app, "/healthz", None).await.0, StatusCode::OK);
    assert_eq!(call(&app, "/metrics", None).await.0, StatusCode::OK);
    // A session of a user disabled since: refused, and the session is gone.
    auth.store.as_ref().unwrap().set_disabled("alice", true).unwrap();
    assert_eq!(call(&app, "/api/keys", Some(&token)).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(auth.sessions.count(), 0);
}

#[tokio::test]
async fn without_users_the_api_answers_503_with_how_to_fix_it() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _) = app(dir.path(), false);
    let (status, body) = call(&app, "/api/keys", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.contains("portcullis admin add-user"), "{body}");
}
