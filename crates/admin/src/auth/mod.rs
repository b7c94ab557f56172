//! Authentication of the admin API: everything under `/api/` but `/api/login` needs an admin session.
//!
//! ```text
//! POST /api/login   {"username","password","totp"}  → {"token", …}   (Argon2id password + RFC 6238 TOTP)
//! GET  /api/whoami  Authorization: Bearer <token>    → {"username"}
//! GET  /api/status  Authorization: Bearer <token>    → config source, listeners, routes, …
//! POST /api/logout  Authorization: Bearer <token>    → 204
//! ```
//!
//! Files: [`users`] (SQLite store, Argon2id), [`sealing`] (TOTP secrets at rest, AES-256-GCM), [`totp`] (RFC 6238), [`sessions`] (tokens), [`lockout`]
//! (failed-login backoff), [`login`] (handlers), [`guard`] (the middleware), [`status`] (whoami/status),
//! [`mtls`] (HTTPS and client-certificate logins), [`reply`] (problem+json). Security events go to the tracing target [`SECURITY_TARGET`].
//!
//! Owns: who may use the admin API. Must not touch: what the API's own handlers do (they read
//! [`AdminUser`] from the request) or the data path.

pub mod guard;
pub mod lockout;
pub mod login;
pub mod mtls;
pub mod reply;
pub mod sealing;
pub mod sessions;
pub mod status;
pub mod totp;
pub mod users;

use std::path::Path;
use std::sync::Arc;

use portcullis_config::AdminAuthSection;

pub use guard::AdminUser;
pub use status::StatusFn;
pub use users::UserStore;

/// Tracing target of security events (logins, failures, lockouts, logouts).
pub const SECURITY_TARGET: &str = "portcullis::security";

/// Argon2 verifications allowed to run at once.
const ARGON2_SLOTS: usize = 2;

/// Everything the admin API's authentication needs, built once at start.
pub struct AdminAuth {
    /// `None` when `[admin] users_db` is unset: the API refuses everything (503).
    pub store: Option<Arc<UserStore>>,
    pub sessions: sessions::Sessions,
    pub lockouts: lockout::Lockouts,
    pub argon_slots: tokio::sync::Semaphore,
    pub protect_metrics: bool,
    pub status: StatusFn,
    /// HTTPS (and client-certificate logins) for the admin listener, from `[admin.tls]`.
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

impl AdminAuth {
    /// Opens (or creates) the users database at `users_db` (already resolved against the config's directory).
    pub fn new(users_db: Option<&Path>, cfg: &AdminAuthSection, status: StatusFn) -> Result<AdminAuth, String> {
        let store = match users_db {
            Some(p) => Some(Arc::new(UserStore::open(p).map_err(|e| format!("admin.users_db: {e}"))?)),
            None => None,
        };
        Ok(AdminAuth {
            store,
            sessions: sessions::Sessions::new(cfg.session_idle.0, cfg.session_max.0),
            lockouts: lockout::Lockouts::new(cfg.max_failures, cfg.lockout.0, cfg.lockout_max.0),
            argon_slots: tokio::sync::Semaphore::new(ARGON2_SLOTS),
            protect_metrics: cfg.protect_metrics,
            status,
            tls: None,
        })
    }

    /// Serves the admin listener over HTTPS (paths already resolved); with `client_ca`, a verified client
    /// certificate whose CN names an enabled admin user is a login too.
    pub fn with_tls(mut self, cert: &Path, key: &Path, client_ca: Option<&Path>) -> Result<AdminAuth, String> {
        self.tls = Some(mtls::server_config(cert, key, client_ca)?);
        Ok(self)
    }
}

#[cfg(test)]
mod tests;
