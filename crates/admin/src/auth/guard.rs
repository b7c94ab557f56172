//! The middleware in front of every `/api/*` route but `/api/login`: a live session (`Authorization: Bearer
//! <token>`) of a user who is still enabled, else 401 (or 503 while no admin user exists). The user's name
//! goes into the request as [`AdminUser`], the audit actor for handlers. A client certificate verified
//! against `[admin.tls] client_ca` whose CN names an enabled admin user counts as a session.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap};
use axum::middleware::Next;
use axum::response::Response;

use super::mtls::ClientCertUser;
use super::{reply, AdminAuth, SECURITY_TARGET};

/// The authenticated admin, as a request extension: `Extension(AdminUser(name))` in a handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminUser(pub String);

/// How the admin of this request authenticated: `"session"` (password + TOTP login) or `"mtls"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdminAuthMethod(pub &'static str);

/// The bearer token of a request, if it carries one.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

pub async fn require_session(State(auth): State<Arc<AdminAuth>>, mut req: Request, next: Next) -> Response {
    let Some(store) = auth.store.as_ref() else {
        return reply::not_set_up();
    };
    // A client certificate verified against [admin.tls] client_ca, naming an enabled admin user.
    if let Some(ClientCertUser(cn)) = req.extensions().get::<ClientCertUser>().cloned() {
        match store.is_active(&cn) {
            Ok(true) => {
                req.extensions_mut().insert(AdminUser(cn));
                req.extensions_mut().insert(AdminAuthMethod("mtls"));
                return next.run(req).await;
            }
            Ok(false) => {
                tracing::warn!(target: SECURITY_TARGET, event = "admin_cert_refused", user = ?cn,
                    reason = "client certificate names no enabled admin user");
            }
            Err(e) => {
                tracing::error!(error = %e, "admin users store");
                return reply::internal();
            }
        }
    }
    let Some(token) = bearer(req.headers()) else {
        // Point 5 of the secure default: with nobody able to log in, say how to set the API up.
        return match store.active_count() {
            Ok(0) => reply::not_set_up(),
            Ok(_) => reply::unauthorized("This admin API needs a session: POST /api/login first.", false),
            Err(e) => {
                tracing::error!(error = %e, "admin users store");
                reply::internal()
            }
        };
    };
    let Some(user) = auth.sessions.validate(token, Instant::now()) else {
        return reply::unauthorized("The session is unknown or has expired; log in again.", true);
    };
    // SQLite point query on every admin request: microseconds, and it makes `admin disable-user` effective at
    // once, also for sessions opened before it.
    match store.is_active(&user) {
        Ok(true) => {}
        Ok(false) => {
            auth.sessions.revoke_user(&user);
            tracing::warn!(target: SECURITY_TARGET, event = "admin_session_ended", user = ?user, reason = "user disabled or removed");
            return reply::unauthorized("The session is unknown or has expired; log in again.", true);
        }
        Err(e) => {
            tracing::error!(error = %e, "admin users store");
            return reply::internal();
        }
    }
    req.extensions_mut().insert(AdminUser(user));
    req.extensions_mut().insert(AdminAuthMethod("session"));
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_parsing() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert(header::AUTHORIZATION, "Bearer abc".parse().unwrap());
        assert_eq!(bearer(&h), Some("abc"));
        h.insert(header::AUTHORIZATION, "bearer  abc ".parse().unwrap());
        assert_eq!(bearer(&h), Some("abc"));
        h.insert(header::AUTHORIZATION, "Basic YTpi".parse().unwrap());
        assert_eq!(bearer(&h), None);
        h.insert(header::AUTHORIZATION, "Bearer ".parse().unwrap());
        assert_eq!(bearer(&h), None);
    }
}
