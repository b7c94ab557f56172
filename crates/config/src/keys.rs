//! Config for API keys (`[keys]`) and the per-route auth policy (`routes[].auth`), and their validation.
//!
//! ```toml
//! [keys]
//! db = "keys.db"                 # SQLite file, relative to the config file
//! secret_file = "keys.secret"    # HMAC server secret (≥ 32 bytes), or: secret_env = "PORTCULLIS_KEYS_SECRET"
//! header = "x-api-key"           # where clients send the key
//! bearer = true                  # also accept `Authorization: Bearer pcl_…`
//! allow_query = false            # a key in the query string is refused with 401 unless true
//! # store = "redis://127.0.0.1:6379"   # instead of db: one key store for a fleet
//!
//! [[routes]]
//! name = "users"
//! auth = { methods = ["api_key"], require = "any", scopes = ["users:read"], method_scopes = { DELETE = ["users:admin"] } }
//!
//! [[routes]]
//! name = "payouts"
//! auth = { methods = ["jwt"], step_up = { acr_values = ["mfa"], amr = ["otp", "hwk"] } }
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::jwt::validate_step_up;
use crate::{Config, ConfigError, Dur, StepUpSection};

/// The API key store and how clients present keys.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeysSection {
    /// The SQLite key store (created if missing; the directory must exist). Relative to the config file.
    /// Required unless `store` names a Redis server.
    #[serde(default)]
    pub db: PathBuf,
    /// A fleet key store instead of SQLite: `"redis://[:password@]host:port[/db]"`. Every gateway, CLI and
    /// admin API pointed at it shares the keys; revocations reach every gateway within `poll_interval`.
    pub store: Option<String>,
    /// Prefix of every Redis key the key store writes.
    #[serde(default = "d_redis_prefix")]
    pub redis_prefix: String,
    /// Read/write timeout of one Redis key-store call (a cache miss waits at most this long).
    #[serde(default = "d_redis_timeout")]
    pub redis_timeout: Dur,
    /// File holding the HMAC server secret (at least 32 bytes; trailing whitespace ignored).
    pub secret_file: Option<PathBuf>,
    /// Environment variable holding the server secret (instead of `secret_file`).
    pub secret_env: Option<String>,
    /// Request header carrying the key.
    #[serde(default = "d_header")]
    pub header: String,
    /// Also accept `Authorization: Bearer pcl_…` (a bearer token without the `pcl_` prefix is left to JWT).
    #[serde(default = "d_true")]
    pub bearer: bool,
    /// Accept a key in the query string (`?api_key=`). Off by default: URLs end up in logs, caches and
    /// browser history. Routes may override it.
    #[serde(default)]
    pub allow_query: bool,
    /// The query parameter read when `allow_query` is on.
    #[serde(default = "d_query_param")]
    pub query_param: String,
    /// The `realm` in `WWW-Authenticate` challenges.
    #[serde(default = "d_realm")]
    pub realm: String,
    /// Verified key records are cached this long at most (changes are also signalled, see `poll_interval`).
    #[serde(default = "d_cache_ttl")]
    pub cache_ttl: Dur,
    /// How often the store is polled for changes (revocations take effect within this); at most 1s.
    #[serde(default = "d_poll")]
    pub poll_interval: Dur,
    /// How often last-used time and source IP are written (batched, never a write per request).
    #[serde(default = "d_flush")]
    pub usage_flush: Dur,
}

/// Which credential kinds a route accepts.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethodName {
    ApiKey,
    Jwt,
    Mtls,
}

impl AuthMethodName {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethodName::ApiKey => "api_key",
            AuthMethodName::Jwt => "jwt",
            AuthMethodName::Mtls => "mtls",
        }
    }
}

/// Whether one accepted credential suffices or every listed method must succeed.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum AuthRequire {
    #[default]
    Any,
    All,
}

/// A route's auth policy.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteAuthSection {
    /// Accepted methods, in the order they are tried: `api_key`, `jwt`, `mtls`.
    pub methods: Vec<AuthMethodName>,
    #[serde(default)]
    pub require: AuthRequire,
    /// Scopes the credential must hold for every request on this route (403 without).
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Extra scopes per method (`{ POST = ["users:write"] }`).
    #[serde(default)]
    pub method_scopes: BTreeMap<String, Vec<String>>,
    /// Overrides `keys.allow_query` for this route.
    pub allow_query: Option<bool>,
    /// Step-up (RFC 9470) for JWT credentials on this route: `{ acr_values = ["mfa"], amr = ["otp", "hwk"] }`.
    pub step_up: Option<StepUpSection>,
}

fn d_true() -> bool {
    true
}
fn d_redis_prefix() -> String {
    "portcullis:keys".into()
}
fn d_redis_timeout() -> Dur {
    Dur(Duration::from_millis(500))
}
fn d_header() -> String {
    "x-api-key".into()
}
fn d_query_param() -> String {
    "api_key".into()
}
fn d_realm() -> String {
    "portcullis".into()
}
fn d_cache_ttl() -> Dur {
    Dur(Duration::from_secs(30))
}
fn d_poll() -> Dur {
    Dur(Duration::from_millis(250))
}
fn d_flush() -> Dur {
    Dur(Duration::from_secs(5))
}

/// A URL without its password, for messages.
fn redacted(url: &str) -> String {
    match url.split_once('@') {
        Some((_, host)) => format!("…@{host}"),
        None => url.to_string(),
    }
}

/// Same rule as the keys crate's scopes: 1–64 of `A-Za-z0-9:_-.`, optionally ending in `*`.
fn valid_scope(s: &str) -> bool {
    let body = s.strip_suffix('*').unwrap_or(s);
    !s.is_empty()
        && s.len() <= 64
        && body.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'_' | b'-' | b'.'))
}

/// Checks `[keys]` and every `routes[].auth`, pushing each problem with its key path.
pub(crate) fn validate(config: &Config, errors: &mut Vec<ConfigError>) {
    let f = &config.file;
    let mut err = |p: String, m: String| errors.push(ConfigError::new(p, m));
    if let Some(k) = &f.keys {
        match (&k.secret_file, &k.secret_env) {
            (None, None) => err("keys".into(), "set secret_file or secret_env (the HMAC server secret)".into()),
            (Some(_), Some(_)) => err("keys".into(), "set only one of secret_file and secret_env".into()),
            (Some(file), None) => {
                let full = config.resolve(file);
                match std::fs::metadata(&full) {
                    Err(e) => err("keys.secret_file".into(), format!("cannot read {}: {e}", full.display())),
                    Ok(m) if m.len() < 32 => err(
                        "keys.secret_file".into(),
                        format!("{} holds {} bytes; the secret needs at least 32", full.display(), m.len()),
                    ),
                    Ok(_) => {}
                }
            }
            (None, Some(var)) => {
                if var.is_empty() || var.contains('=') || var.contains('\0') {
                    err("keys.secret_env".into(), format!("{var:?} is not an environment variable name"));
                }
            }
        }
        if let Some(url) = &k.store {
            if !url.starts_with("redis://") && !url.starts_with("rediss://") {
                err("keys.store".into(), format!("{:?} is not a redis:// URL", redacted(url)));
            }
            if !k.db.as_os_str().is_empty() {
                err("keys.db".into(), "set only one of db (SQLite) and store (Redis)".into());
            }
            if k.redis_prefix.is_empty() || k.redis_prefix.contains(char::is_whitespace) {
                err("keys.redis_prefix".into(), "must be non-empty and without spaces".into());
            }
            if k.redis_timeout.0.is_zero() {
                err("keys.redis_timeout".into(), "must be more than 0".into());
            }
        } else if k.db.as_os_str().is_empty() {
            err("keys.db".into(), "set db (a SQLite file) or store (redis://…)".into());
        } else if let Some(dir) = config.resolve(&k.db).parent() {
            if !dir.as_os_str().is_empty() && !dir.is_dir() {
                err("keys.db".into(), format!("directory {} does not exist", dir.display()));
            }
        }
        if http::HeaderName::from_bytes(k.header.as_bytes()).is_err() {
            err("keys.header".into(), format!("{:?} is not a header name", k.header));
        } else if k.header.eq_ignore_ascii_case("authorization") {
            err("keys.header".into(), "use bearer = true for the Authorization header".into());
        }
        if k.query_param.is_empty() || k.query_param.contains(['&', '=', '#']) {
            err("keys.query_param".into(), format!("{:?} is not a query parameter name", k.query_param));
        }
        if k.realm.contains(['"', '\\']) || http::HeaderValue::from_str(&k.realm).is_err() {
            err("keys.realm".into(), "must be printable and contain no quote or backslash".into());
        }
        if k.poll_interval.0.is_zero() || k.poll_interval.0 > Duration::from_secs(1) {
            err("keys.poll_interval".into(), "must be more than 0 and at most 1s (revocations take this long)".into());
        }
        if k.cache_ttl.0.is_zero() {
            err("keys.cache_ttl".into(), "must be more than 0".into());
        }
        if k.usage_flush.0.is_zero() {
            err("keys.usage_flush".into(), "must be more than 0".into());
        }
    }
    for (i, r) in f.routes.iter().enumerate() {
        let Some(a) = &r.auth else { continue };
        let p = format!("routes[{i}].auth");
        if a.methods.is_empty() {
            err(format!("{p}.methods"), "at least one of api_key, jwt, mtls is required".into());
        }
        for (k, m) in a.methods.iter().enumerate() {
            if a.methods[..k].contains(m) {
                err(format!("{p}.methods[{k}]"), format!("{:?} is listed twice", m.as_str()));
            }
            if *m == AuthMethodName::ApiKey && f.keys.is_none() {
                err(format!("{p}.methods[{k}]"), "api_key needs a [keys] section (db and secret)".into());
            }
            if *m == AuthMethodName::Jwt && f.jwt.is_none() {
                err(format!("{p}.methods[{k}]"), "jwt needs a [jwt] section (keys, issuer, audience)".into());
            }
        }
        for (k, s) in a.scopes.iter().enumerate() {
            if !valid_scope(s) {
                err(
                    format!("{p}.scopes[{k}]"),
                    format!("{s:?} is not a scope (A-Z a-z 0-9 : _ - ., optional trailing *)"),
                );
            }
        }
        for (method, scopes) in &a.method_scopes {
            if http::Method::from_bytes(method.as_bytes()).is_err() || method.to_ascii_uppercase() != *method {
                err(format!("{p}.method_scopes.{method}"), format!("{method:?} is not an upper-case HTTP method"));
            }
            for (k, s) in scopes.iter().enumerate() {
                if !valid_scope(s) {
                    err(format!("{p}.method_scopes.{method}[{k}]"), format!("{s:?} is not a scope"));
                }
            }
        }
        if a.allow_query == Some(true) && !a.methods.contains(&AuthMethodName::ApiKey) {
            err(format!("{p}.allow_query"), "only applies to routes that accept api_key".into());
        }
        if let Some(s) = &a.step_up {
            if !a.methods.contains(&AuthMethodName::Jwt) {
                err(format!("{p}.step_up"), "only applies to routes that accept jwt (acr/amr are JWT claims)".into());
            }
            validate_step_up(&format!("{p}.step_up"), s, &mut err);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use crate::Config;

    const BASE: &str = "[[listeners]]\nname = \"web\"\naddress = \"127.0.0.1:18080\"\n[[upstreams]]\nname = \"shop\"\ntargets = [\"127.0.0.1:3000\"]\n";

    fn errors(text: &str) -> Vec<String> {
        match Config::from_str_at(text, None, PathBuf::from(".")) {
            Ok(_) => vec![],
            Err(e) => e.errors.iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn a_route_policy_with_keys_validates() {
        let text = format!(
            "{BASE}[keys]\ndb = \"k.db\"\nsecret_env = \"S\"\n[[routes]]\nname = \"a\"\nupstream = \"shop\"\nauth = {{ methods = [\"api_key\", \"mtls\"], scopes = [\"users:read\"], method_scopes = {{ POST = [\"users:write\"] }} }}\n"
        );
        assert_eq!(errors(&text), Vec::<String>::new());
    }

    #[test]
    fn every_problem_names_its_key_path() {
        let text = format!(
            "{BASE}[keys]\ndb = \"no/such/dir/k.db\"\nheader = \"bad header\"\npoll_interval = \"5s\"\n[[routes]]\nname = \"a\"\nupstream = \"shop\"\nauth = {{ methods = [\"api_key\", \"api_key\"], scopes = [\"a b\"], method_scopes = {{ get = [\"x\"] }} }}\n"
        );
        let e = errors(&text);
        let has = |p: &str| e.iter().any(|x| x.starts_with(p));
        assert!(has("keys: set secret_file or secret_env"), "{e:#?}");
        assert!(has("keys.db: directory"), "{e:#?}");
        assert!(has("keys.header:"), "{e:#?}");
        assert!(has("keys.poll_interval:"), "{e:#?}");
        assert!(has("routes[0].auth.methods[1]: \"api_key\" is listed twice"), "{e:#?}");
        assert!(has("routes[0].auth.scopes[0]:"), "{e:#?}");
        assert!(has("routes[0].auth.method_scopes.get:"), "{e:#?}");
        assert_eq!(e.len(), 7, "{e:#?}");
    }

    #[test]
    fn jwt_needs_its_section_and_step_up_needs_jwt() {
        let e = errors(&format!(
            "{BASE}[[routes]]\nname = \"a\"\nupstream = \"shop\"\nauth = {{ methods = [\"mtls\", \"jwt\"], step_up = {{ acr_values = [\"mfa\"] }} }}\n[[routes]]\nname = \"b\"\nupstream = \"shop\"\nauth = {{ methods = [\"mtls\"], step_up = {{}} }}\n"
        ));
        assert_eq!(
            e,
            vec![
                "routes[0].auth.methods[1]: jwt needs a [jwt] section (keys, issuer, audience)",
                "routes[1].auth.step_up: only applies to routes that accept jwt (acr/amr are JWT claims)",
                "routes[1].auth.step_up: needs acr_values or amr",
            ]
        );
    }

    #[test]
    fn api_key_needs_a_keys_section_and_unknown_methods_are_refused() {
        let e = errors(&format!(
            "{BASE}[[routes]]\nname = \"a\"\nupstream = \"shop\"\nauth = {{ methods = [\"api_key\"] }}\n"
        ));
        assert_eq!(e, vec!["routes[0].auth.methods[0]: api_key needs a [keys] section (db and secret)"]);
        let e = errors(&format!(
            "{BASE}[[routes]]\nname = \"a\"\nupstream = \"shop\"\nauth = {{ methods = [\"password\"] }}\n"
        ));
        assert!(e[0].starts_with("routes[0].auth.methods[0]"), "{e:#?}");
    }
}
