//! `POST /api/login` (`{"username", "password", "totp"}` → a session token) and `POST /api/logout`.
//!
//! The scheme: password **and** a TOTP code once, at login; then the session token on every request. A TOTP
//! code is single-use, so sending one per request cannot work for several calls. Order of a login: lockout
//! check (locked: 429, nothing else is done) → Argon2 verification, against a dummy hash for unknown names →
//! TOTP code (±1 step) → the matched step is marked used, atomically (a replayed code fails). Every failure
//! gets the same 401 body; the reason goes to the security log (target `portcullis::security`) together
//! with the user name and client address — never the password, the code or the token.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use portcullis_pipeline::Problem;
use serde::Deserialize;

use super::lockout::LockKey;
use super::users::{self, UserStore};
use super::{guard, reply, totp, AdminAuth, SECURITY_TARGET};

/// Stands for a user name that is not a valid one (never a real user: `<` is not allowed in names).
const INVALID_NAME: &str = "<invalid>";

/// Largest login body read.
const MAX_BODY: usize = 8 * 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginRequest {
    username: String,
    password: String,
    #[serde(default)]
    totp: Option<String>,
}

/// Why a login failed, for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    UnknownUser,
    BadPassword,
    Disabled,
    MissingTotp,
    BadTotp,
    ReplayedTotp,
}

impl Failure {
    fn as_str(self) -> &'static str {
        match self {
            Failure::UnknownUser => "unknown user",
            Failure::BadPassword => "wrong password",
            Failure::Disabled => "user disabled",
            Failure::MissingTotp => "no TOTP code",
            Failure::BadTotp => "wrong TOTP code",
            Failure::ReplayedTotp => "TOTP code already used",
        }
    }
}

/// Checks one set of credentials (blocking: Argon2 and SQLite). Constant work up to the password check
/// whether or not the user exists.
pub fn check_credentials(
    store: &UserStore,
    username: &str,
    password: &str,
    code: Option<&str>,
    unix_now: u64,
) -> Result<Result<(), Failure>, users::UserError> {
    let rec = if users::valid_username(username) { store.get(username)? } else { None };
    let hash = rec.as_ref().map_or(users::dummy_hash(), |r| r.password_hash.as_str());
    let password_ok = users::verify_password(password, hash);
    let Some(rec) = rec else { return Ok(Err(Failure::UnknownUser)) };
    if !password_ok {
        return Ok(Err(Failure::BadPassword));
    }
    if rec.disabled {
        return Ok(Err(Failure::Disabled));
    }
    let Some(code) = code.filter(|c| !c.trim().is_empty()) else { return Ok(Err(Failure::MissingTotp)) };
    let Some(step) = totp::verify(&rec.totp_secret, code, unix_now) else { return Ok(Err(Failure::BadTotp)) };
    if !store.accept_step(&rec.username, step)? {
        return Ok(Err(Failure::ReplayedTotp));
    }
    Ok(Ok(()))
}

fn client_ip(req: &Request) -> IpAddr {
    req.extensions().get::<ConnectInfo<SocketAddr>>().map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip())
}

fn bad_request(detail: &str) -> Response {
    reply::problem(Problem::new(StatusCode::BAD_REQUEST, detail))
}

pub async fn login(State(auth): State<Arc<AdminAuth>>, req: Request) -> Response {
    let ip = client_ip(&req);
    let Some(store) = auth.store.clone() else {
        return reply::not_set_up();
    };
    let body = match axum::body::to_bytes(req.into_body(), MAX_BODY).await {
        Ok(b) => b,
        Err(_) => return bad_request("The login body is unreadable or larger than 8 KiB."),
    };
    let mut creds: LoginRequest = match serde_json::from_slice(&body) {
        Ok(c) => c,
        Err(_) => {
            return bad_request(
                "Send a JSON object {\"username\": …, \"password\": …, \"totp\": \"123456\"} with Content-Type application/json.",
            )
        }
    };
    // A name that cannot exist is neither kept as a lockout key nor logged as sent (it may be anything up to
    // the body limit, or a password typed into the wrong field): the per-address count covers it.
    if !users::valid_username(&creds.username) {
        creds.username = INVALID_NAME.to_string();
    }
    let now = Instant::now();
    let user_key = LockKey::User(creds.username.clone());
    let ip_key = LockKey::ip(ip);
    let locked = [&user_key, &ip_key].into_iter().filter_map(|k| auth.lockouts.locked_for(k, now)).max();
    if let Some(retry) = locked {
        tracing::warn!(target: SECURITY_TARGET, event = "admin_login_refused", user = ?creds.username, client_ip = %ip,
            reason = "locked out", retry_after_secs = retry.as_secs());
        return reply::locked_out(retry);
    }

    // Argon2 at 19 MiB per verification: at most two at once, so a login flood queues instead of eating memory.
    let Ok(_slot) = auth.argon_slots.acquire().await else { return reply::internal() };
    let unix = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let username = creds.username.clone();
    let checked = {
        let store = store.clone();
        tokio::task::spawn_blocking(move || {
            check_credentials(&store, &creds.username, &creds.password, creds.totp.as_deref(), unix)
        })
        .await
    };
    let outcome = match checked {
        Ok(Ok(o)) => o,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "admin users store");
            return reply::internal();
        }
        Err(e) => {
            tracing::error!(error = %e, "admin login check panicked");
            return reply::internal();
        }
    };
    let now = Instant::now();
    match outcome {
        Ok(()) => {
            auth.lockouts.clear(&user_key);
            if let Err(e) = store.record_login(&username) {
                tracing::warn!(error = %e, "admin users store: cannot record the login");
            }
            let token = auth.sessions.create(&username, now);
            tracing::info!(target: SECURITY_TARGET, event = "admin_login", user = ?username, client_ip = %ip);
            let body = serde_json::json!({
                "token": token,
                "token_type": "Bearer",
                "idle_timeout_secs": auth.sessions.idle().as_secs(),
                "expires_in_secs": auth.sessions.max().as_secs(),
            });
            let mut resp = axum::Json(body).into_response();
            resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            resp
        }
        Err(why) => {
            if why != Failure::UnknownUser {
                // Not awaited: the counter update is a synced SQLite write (tens of ms), and waiting for it
                // only for existing users would tell a client which names exist.
                let (store, name) = (store.clone(), username.clone());
                tokio::task::spawn_blocking(move || {
                    if let Err(e) = store.record_failure(&name) {
                        tracing::warn!(error = %e, "admin users store: cannot record the failure");
                    }
                });
            }
            let lock_user = auth.lockouts.fail(user_key, now);
            let lock_ip = auth.lockouts.fail(ip_key, now);
            tracing::warn!(target: SECURITY_TARGET, event = "admin_login_failed", user = ?username, client_ip = %ip,
                reason = why.as_str(),
                lockout_secs = lock_user.max(lock_ip).map(|d| d.as_secs()));
            reply::unauthorized("Invalid user name, password or one-time code.", false)
        }
    }
}

pub async fn logout(
    State(auth): State<Arc<AdminAuth>>,
    user: axum::Extension<guard::AdminUser>,
    req: Request,
) -> Response {
    if let Some(token) = guard::bearer(req.headers()) {
        auth.sessions.revoke(token);
    }
    tracing::info!(target: SECURITY_TARGET, event = "admin_logout", user = ?user.0 .0);
    StatusCode::NO_CONTENT.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_check_every_failure_and_replay() {
        let dir = tempfile::tempdir().unwrap();
        let store = UserStore::open(&dir.path().join("u.db")).unwrap();
        let secret = store.add_user("alice", "a long enough password").unwrap();
        let t = 1_700_000_000;
        let code = totp::code_at(&secret, t);
        let pw = "a long enough password";
        let check = |u: &str, p: &str, c: Option<&str>, t| check_credentials(&store, u, p, c, t).unwrap();
        assert_eq!(check("nobody", pw, Some(&code), t), Err(Failure::UnknownUser));
        assert_eq!(check("bad name!", pw, Some(&code), t), Err(Failure::UnknownUser));
        assert_eq!(check("alice", "wrong password!", Some(&code), t), Err(Failure::BadPassword));
        assert_eq!(check("alice", pw, None, t), Err(Failure::MissingTotp));
        let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);
        assert_eq!(check("alice", pw, Some(&wrong), t), Err(Failure::BadTotp));
        assert_eq!(check("alice", pw, Some(&code), t), Ok(()));
        assert_eq!(check("alice", pw, Some(&code), t), Err(Failure::ReplayedTotp));
        // The previous step's code, still inside the ±1 window, is older than the used one: refused too.
        let prev = totp::code_at(&secret, t - 30);
        assert_eq!(check("alice", pw, Some(&prev), t), Err(Failure::ReplayedTotp));
        assert_eq!(check("alice", pw, Some(&totp::code_at(&secret, t + 30)), t + 30), Ok(()));
        store.set_disabled("alice", true).unwrap();
        assert_eq!(check("alice", pw, Some(&totp::code_at(&secret, t + 60)), t + 60), Err(Failure::Disabled));
    }
}
