//! The `[jwt]` section (how bearer tokens are verified: keys, algorithms, issuer, audience, clock skew, scopes)
//! and the per-route `jwt = { required, scopes, step_up }` policy, with their validation.
//!
//! Owns: the shape and the checks of these keys. Must not touch: token parsing or key material (that is
//! `portcullis-jwt`, which builds its verifier from a validated section).

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::{Config, ConfigError, Dur};

/// Algorithms a token may be signed with when `algorithms` is not given (asymmetric only).
pub const DEFAULT_JWT_ALGORITHMS: &[&str] = &["RS256", "PS256", "ES256", "EdDSA"];
/// Every algorithm name the verifier knows.
pub const KNOWN_JWT_ALGORITHMS: &[&str] =
    &["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA", "HS256"];
/// The largest clock skew allowed for `exp`/`nbf`/`iat`.
pub const MAX_JWT_LEEWAY: Duration = Duration::from_secs(300);

/// A secret from the config: never shown by `Debug`, so a config dump cannot leak it.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct SecretString(pub String);

impl std::fmt::Debug for SecretString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("\"<redacted>\"")
    }
}

/// One string or a list of strings (`aud = "api"` or `aud = ["api", "admin"]`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

/// `[jwt]`: how bearer tokens (JWS compact, RFC 7515/7519) are verified.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtSection {
    /// A JWKS file (RFC 7517), relative to the config file. One of `jwks_file` / `jwks_url`.
    pub jwks_file: Option<PathBuf>,
    /// A JWKS URL (`https://idp.example/.well-known/jwks.json`), fetched at load and then refreshed.
    pub jwks_url: Option<String>,
    /// Required `iss` value.
    pub issuer: String,
    /// Accepted `aud` values; a token must name at least one of them.
    pub audience: OneOrMany,
    /// Allowed `alg` values. `none` is never accepted; `HS256` only together with `hs256_secret`.
    #[serde(default = "d_algorithms")]
    pub algorithms: Vec<String>,
    /// Clock skew tolerated for `exp`, `nbf` and `iat` (at most 5 minutes).
    #[serde(default = "d_leeway")]
    pub leeway: Dur,
    /// The claim scopes come from: a space-separated string (`scope`) or an array (`scp`, `permissions`).
    #[serde(default = "d_scope_claim")]
    pub scope_claim: String,
    /// Extra scopes granted when a claim holds a value (`{ claim = "groups", value = "admins", scopes = [...] }`).
    #[serde(default)]
    pub claim_scopes: Vec<ClaimScopeSection>,
    /// How often the key set is re-read (URL or file).
    #[serde(default = "d_refresh")]
    pub refresh: Dur,
    /// A token with an unknown `kid` triggers a re-read at most this often (an attacker cannot make us fetch on
    /// every request).
    #[serde(default = "d_refresh_min")]
    pub refresh_min_interval: Dur,
    /// Timeout for one JWKS fetch.
    #[serde(default = "d_fetch_timeout")]
    pub fetch_timeout: Dur,
    /// Shared secret for HS256 (at least 32 bytes). Without it HS256 is refused whatever `algorithms` says.
    pub hs256_secret: Option<SecretString>,
}

/// A claim value that grants scopes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimScopeSection {
    pub claim: String,
    pub value: String,
    pub scopes: Vec<String>,
}

/// Step-up authentication a route demands (RFC 9470): the token's `acr` must be one of `acr_values`, and (if
/// given) its `amr` must contain one of `amr`. Embeddable by any route auth policy.
#[derive(Debug, Clone, Deserialize, Default, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct StepUpSection {
    #[serde(default)]
    pub acr_values: Vec<String>,
    #[serde(default)]
    pub amr: Vec<String>,
}

/// Per route: `jwt = { required = true, scopes = ["items:read"], step_up = { acr_values = ["mfa"] } }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteJwtSection {
    /// Without a token the request is refused (401). `false`: a token is verified if present, and a bad one is
    /// still refused.
    #[serde(default = "d_true")]
    pub required: bool,
    /// Every one of these scopes must be granted (403 otherwise).
    #[serde(default)]
    pub scopes: Vec<String>,
    pub step_up: Option<StepUpSection>,
}

fn d_true() -> bool {
    true
}
fn d_algorithms() -> Vec<String> {
    DEFAULT_JWT_ALGORITHMS.iter().map(|s| s.to_string()).collect()
}
fn d_leeway() -> Dur {
    Dur(Duration::from_secs(60))
}
fn d_scope_claim() -> String {
    "scope".into()
}
fn d_refresh() -> Dur {
    Dur(Duration::from_secs(300))
}
fn d_refresh_min() -> Dur {
    Dur(Duration::from_secs(30))
}
fn d_fetch_timeout() -> Dur {
    Dur(Duration::from_secs(5))
}

/// Checks `[jwt]` and every route's `jwt`, appending each problem with its key path.
pub(crate) fn validate(config: &Config, errors: &mut Vec<ConfigError>) {
    let f = &config.file;
    let mut err = |p: &str, m: String| errors.push(ConfigError::new(p, m));
    if let Some(j) = &f.jwt {
        match (&j.jwks_file, &j.jwks_url) {
            (None, None) => err("jwt", "needs jwks_file or jwks_url".into()),
            (Some(_), Some(_)) => err("jwt", "use only one of jwks_file, jwks_url".into()),
            (Some(file), None) => {
                let full = config.resolve(file);
                if let Err(e) = std::fs::metadata(&full) {
                    err("jwt.jwks_file", format!("cannot read {}: {e}", full.display()));
                }
            }
            (None, Some(url)) => {
                let ok = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
                if ok.is_none_or(str::is_empty) || http::Uri::try_from(url.as_str()).is_err() {
                    err("jwt.jwks_url", format!("{url:?} is not an http(s) URL"));
                }
            }
        }
        if j.issuer.is_empty() {
            err("jwt.issuer", "must not be empty".into());
        }
        let aud = j.audience.to_vec();
        if aud.is_empty() || aud.iter().any(String::is_empty) {
            err("jwt.audience", "needs at least one non-empty audience".into());
        }
        if j.algorithms.is_empty() {
            err("jwt.algorithms", "needs at least one algorithm".into());
        }
        for (i, a) in j.algorithms.iter().enumerate() {
            if !KNOWN_JWT_ALGORITHMS.contains(&a.as_str()) {
                err(
                    &format!("jwt.algorithms[{i}]"),
                    format!("{a:?} is not one of {}", KNOWN_JWT_ALGORITHMS.join(", ")),
                );
            } else if a == "HS256" && j.hs256_secret.is_none() {
                err(&format!("jwt.algorithms[{i}]"), "HS256 needs jwt.hs256_secret".into());
            }
        }
        if let Some(s) = &j.hs256_secret {
            if s.0.len() < 32 {
                err("jwt.hs256_secret", "must be at least 32 bytes".into());
            }
        }
        if j.leeway.0 > MAX_JWT_LEEWAY {
            err("jwt.leeway", "must be at most 5m".into());
        }
        if j.refresh.0.is_zero() {
            err("jwt.refresh", "must be more than 0".into());
        }
        if j.fetch_timeout.0.is_zero() {
            err("jwt.fetch_timeout", "must be more than 0".into());
        }
        if j.scope_claim.is_empty() {
            err("jwt.scope_claim", "must not be empty".into());
        }
        for (i, c) in j.claim_scopes.iter().enumerate() {
            if c.claim.is_empty() || c.scopes.is_empty() {
                err(&format!("jwt.claim_scopes[{i}]"), "needs a claim and at least one scope".into());
            }
        }
    }
    for (i, r) in f.routes.iter().enumerate() {
        let Some(rj) = &r.jwt else { continue };
        let p = format!("routes[{i}].jwt");
        if f.jwt.is_none() {
            err(&p, "needs a [jwt] section (keys, issuer, audience)".into());
        }
        if rj.scopes.iter().any(|s| s.is_empty() || s.contains(char::is_whitespace) || s.contains('"')) {
            err(&format!("{p}.scopes"), "scopes must be non-empty, without spaces or quotes".into());
        }
        if let Some(s) = &rj.step_up {
            validate_step_up(&format!("{p}.step_up"), s, &mut |p, m| err(&p, m));
        }
    }
}

/// Checks one `step_up` table (in `routes.jwt` or `routes.auth`); `p` is its key path.
pub(crate) fn validate_step_up(p: &str, s: &StepUpSection, err: &mut impl FnMut(String, String)) {
    if s.acr_values.is_empty() && s.amr.is_empty() {
        err(p.to_string(), "needs acr_values or amr".into());
    }
    if s.acr_values
        .iter()
        .chain(&s.amr)
        .any(|v| v.is_empty() || !v.bytes().all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\'))
    {
        err(p.to_string(), "values must be non-empty printable ASCII without quotes".into());
    }
}
