//! `[admin]` keys for the authenticated admin API (`/api/*` on the admin listener): where the admin users live
//! and how logins, sessions and lockouts behave.
//!
//! ```toml
//! [admin]
//! address = "127.0.0.1:9090"
//! users_db = "admin-users.db"     # created on first use (mode 0600); add users with `portcullis admin add-user`
//!
//! [admin.auth]
//! session_idle = "15m"            # a session ends after this long unused …
//! session_max = "8h"              # … and this long after login, whatever happens
//! max_failures = 5                # failed logins (per user name and per client IP) before a lockout
//! lockout = "30s"                 # first lockout; doubles with each further failure …
//! lockout_max = "15m"             # … up to this
//! protect_metrics = false         # true: /metrics needs an admin session too
//!
//! [admin.tls]                     # optional: HTTPS on the admin listener …
//! cert = "admin.pem"
//! key = "admin.key"
//! client_ca = "admin-ca.pem"      # … and a client certificate from this CA, whose CN names an enabled admin
//!                                 # user, authenticates instead of password + TOTP (mTLS)
//! ```
//!
//! Owns: the shape, defaults and checks of these keys. Must not touch: the users database itself (the admin
//! crate opens it).

use std::path::PathBuf;
use std::time::Duration;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;

use crate::{Config, ConfigError, Dur};

/// `[admin.auth]`: login, session and lockout policy of the admin API.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminAuthSection {
    /// Idle timeout of an admin session.
    #[serde(default = "d_idle")]
    pub session_idle: Dur,
    /// Absolute lifetime of an admin session, counted from login.
    #[serde(default = "d_max")]
    pub session_max: Dur,
    /// Failed logins tolerated per user name and per client IP before the first lockout.
    #[serde(default = "d_failures")]
    pub max_failures: u32,
    /// Length of the first lockout; each further failure doubles it.
    #[serde(default = "d_lockout")]
    pub lockout: Dur,
    /// Longest lockout.
    #[serde(default = "d_lockout_max")]
    pub lockout_max: Dur,
    /// Whether `/metrics` needs an admin session. Off by default: a Prometheus scraper cannot do TOTP, the
    /// listener is loopback-only by default, and metrics carry counts, never secrets, IPs or paths.
    #[serde(default)]
    pub protect_metrics: bool,
}

impl Default for AdminAuthSection {
    fn default() -> Self {
        AdminAuthSection {
            session_idle: d_idle(),
            session_max: d_max(),
            max_failures: d_failures(),
            lockout: d_lockout(),
            lockout_max: d_lockout_max(),
            protect_metrics: false,
        }
    }
}

/// `[admin.tls]`: HTTPS for the admin listener, optionally with client certificates (mTLS).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminTlsSection {
    /// PEM certificate chain of the admin listener.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
    /// PEM CA bundle; a client certificate it verifies, with a CN naming an enabled admin user, is a login.
    #[serde(default)]
    pub client_ca: Option<PathBuf>,
}

fn d_idle() -> Dur {
    Dur(Duration::from_secs(15 * 60))
}
fn d_max() -> Dur {
    Dur(Duration::from_secs(8 * 3600))
}
fn d_failures() -> u32 {
    5
}
fn d_lockout() -> Dur {
    Dur(Duration::from_secs(30))
}
fn d_lockout_max() -> Dur {
    Dur(Duration::from_secs(15 * 60))
}

/// Checks the admin-auth keys; every problem comes back with its key path.
pub(crate) fn validate(config: &Config) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    let admin = &config.file.admin;
    let a = &admin.auth;
    if a.session_idle.0.is_zero() {
        errors.push(ConfigError::new("admin.auth.session_idle", "must be longer than 0s"));
    }
    if a.session_max.0 < a.session_idle.0 {
        errors.push(ConfigError::new("admin.auth.session_max", "must not be shorter than admin.auth.session_idle"));
    }
    if a.max_failures == 0 {
        errors.push(ConfigError::new("admin.auth.max_failures", "must be at least 1"));
    }
    if a.lockout.0.is_zero() {
        errors.push(ConfigError::new("admin.auth.lockout", "must be longer than 0s"));
    }
    if a.lockout_max.0 < a.lockout.0 {
        errors.push(ConfigError::new("admin.auth.lockout_max", "must not be shorter than admin.auth.lockout"));
    }
    if let Some(db) = &admin.users_db {
        let full = config.resolve(db);
        if db.as_os_str().is_empty() {
            errors.push(ConfigError::new("admin.users_db", "must not be empty"));
        } else if full.is_dir() {
            errors.push(ConfigError::new("admin.users_db", format!("{} is a directory", full.display())));
        } else if let Some(parent) = full.parent().filter(|p| !p.as_os_str().is_empty() && !p.is_dir()) {
            errors.push(ConfigError::new(
                "admin.users_db",
                format!(
                    "directory {} does not exist (the database file is created, its directory is not)",
                    parent.display()
                ),
            ));
        }
    }
    if let Some(tls) = &admin.tls {
        pem_check(config, "admin.tls.cert", &tls.cert, &mut errors, |pem| {
            let n =
                CertificateDer::pem_slice_iter(pem).collect::<Result<Vec<_>, _>>().map_err(|e| e.to_string())?.len();
            if n == 0 {
                return Err("holds no PEM certificate".into());
            }
            Ok(())
        });
        pem_check(config, "admin.tls.key", &tls.key, &mut errors, |pem| {
            PrivateKeyDer::from_pem_slice(pem).map(drop).map_err(|e| format!("holds no usable PEM private key: {e}"))
        });
        if let Some(ca) = &tls.client_ca {
            pem_check(config, "admin.tls.client_ca", ca, &mut errors, |pem| {
                let n = CertificateDer::pem_slice_iter(pem)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| e.to_string())?
                    .len();
                if n == 0 {
                    return Err("holds no PEM certificate".into());
                }
                Ok(())
            });
        }
    }
    errors
}

fn pem_check(
    config: &Config,
    key: &str,
    file: &std::path::Path,
    errors: &mut Vec<ConfigError>,
    check: impl Fn(&[u8]) -> Result<(), String>,
) {
    let full = config.resolve(file);
    match std::fs::read(&full) {
        Err(e) => errors.push(ConfigError::new(key, format!("cannot read {}: {e}", full.display()))),
        Ok(pem) => {
            if let Err(e) = check(&pem) {
                errors.push(ConfigError::new(key, format!("{}: {e}", full.display())));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use crate::Config;

    const BASE: &str = "[[listeners]]\nname = \"http\"\naddress = \"127.0.0.1:0\"\n";

    fn load(extra: &str) -> Result<Config, String> {
        Config::from_str_at(&format!("{extra}\n{BASE}"), None, PathBuf::from("/tmp")).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let c = load("").unwrap();
        let a = &c.file.admin.auth;
        assert_eq!(a.session_idle.0.as_secs(), 900);
        assert_eq!(a.session_max.0.as_secs(), 8 * 3600);
        assert_eq!(a.max_failures, 5);
        assert!(!a.protect_metrics);
        assert!(c.file.admin.users_db.is_none());
    }

    #[test]
    fn bad_values_name_their_key_paths() {
        let e = load(
            "[admin]\nusers_db = \"/nonexistent-dir-xyz/users.db\"\n[admin.auth]\nsession_idle = \"1h\"\nsession_max = \"10m\"\nmax_failures = 0\nlockout = \"0s\"\n",
        )
        .unwrap_err();
        for path in ["admin.users_db", "admin.auth.session_max", "admin.auth.max_failures", "admin.auth.lockout"] {
            assert!(e.contains(path), "{path} missing in:\n{e}");
        }
        let e = load("[admin.tls]\ncert = \"/nonexistent/a.pem\"\nkey = \"/nonexistent/a.key\"\nclient_ca = \"/nonexistent/ca.pem\"\n")
            .unwrap_err();
        for path in ["admin.tls.cert", "admin.tls.key", "admin.tls.client_ca"] {
            assert!(e.contains(path), "{path} missing in:\n{e}");
        }
    }

    #[test]
    fn unknown_keys_are_refused() {
        let e = load("[admin.auth]\nsesion_idle = \"1m\"\n").unwrap_err();
        assert!(e.contains("sesion_idle"), "{e}");
    }
}
