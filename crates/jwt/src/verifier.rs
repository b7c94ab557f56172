//! The verifier: one token in, a [`VerifiedToken`] or a [`JwtError`] out. Signature first (the algorithm comes
//! from the allow-list and must be one the key itself accepts), then the claims.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use portcullis_config::{Config, JwtSection, MAX_JWT_LEEWAY};

use crate::alg::Algorithm;
use crate::claims::{ClaimRules, ClaimScope, VerifiedToken};
use crate::jwk::VerifyKey;
use crate::source::{KeySource, KeyStore};
use crate::token;
use crate::JwtError;

/// Everything a verifier is built from, with paths resolved (see [`JwtConfig::from_section`]).
#[derive(Clone)]
pub struct JwtConfig {
    pub keys: KeySource,
    pub issuer: String,
    pub audience: Vec<String>,
    pub algorithms: Vec<Algorithm>,
    /// Clock skew for `exp`/`nbf`/`iat`; clamped to 5 minutes.
    pub leeway: Duration,
    pub scope_claim: String,
    pub claim_scopes: Vec<ClaimScope>,
    pub refresh: Duration,
    pub refresh_min_interval: Duration,
    pub fetch_timeout: Duration,
    /// Shared secret for HS256; without it HS256 is never accepted.
    pub hs256_secret: Option<Vec<u8>>,
}

impl std::fmt::Debug for JwtConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtConfig")
            .field("keys", &self.keys)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("algorithms", &self.algorithms)
            .field("hs256_secret", &self.hs256_secret.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

impl JwtConfig {
    /// Defaults for everything but the keys, issuer and audience (as the config file's defaults).
    pub fn new(keys: KeySource, issuer: &str, audience: &[&str]) -> JwtConfig {
        JwtConfig {
            keys,
            issuer: issuer.into(),
            audience: audience.iter().map(|s| s.to_string()).collect(),
            algorithms: vec![Algorithm::RS256, Algorithm::PS256, Algorithm::ES256, Algorithm::EdDSA],
            leeway: Duration::from_secs(60),
            scope_claim: "scope".into(),
            claim_scopes: Vec::new(),
            refresh: Duration::from_secs(300),
            refresh_min_interval: Duration::from_secs(30),
            fetch_timeout: Duration::from_secs(5),
            hs256_secret: None,
        }
    }

    /// From a validated `[jwt]` section; relative paths resolve against the config's directory.
    pub fn from_section(s: &JwtSection, config: &Config) -> Result<JwtConfig, String> {
        let keys = match (&s.jwks_file, &s.jwks_url) {
            (Some(f), None) => KeySource::File(config.resolve(f)),
            (None, Some(u)) => KeySource::Url(u.clone()),
            _ => return Err("jwt: needs exactly one of jwks_file, jwks_url".into()),
        };
        let algorithms = s
            .algorithms
            .iter()
            .enumerate()
            .map(|(i, a)| Algorithm::parse(a).ok_or_else(|| format!("jwt.algorithms[{i}]: unknown algorithm {a:?}")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(JwtConfig {
            keys,
            issuer: s.issuer.clone(),
            audience: s.audience.to_vec(),
            algorithms,
            leeway: s.leeway.0,
            scope_claim: s.scope_claim.clone(),
            claim_scopes: s
                .claim_scopes
                .iter()
                .map(|c| ClaimScope { claim: c.claim.clone(), value: c.value.clone(), scopes: c.scopes.clone() })
                .collect(),
            refresh: s.refresh.0,
            refresh_min_interval: s.refresh_min_interval.0,
            fetch_timeout: s.fetch_timeout.0,
            hs256_secret: s.hs256_secret.as_ref().map(|x| x.0.as_bytes().to_vec()),
        })
    }
}

/// Verifies bearer tokens against one key source and one set of claim rules.
///
/// Built once per config (inside a Tokio runtime the periodic refresh and unknown-`kid` refreshes run on it;
/// without one the keys stay as loaded). Dropping the verifier stops its refresh task.
pub struct JwtVerifier {
    store: Arc<KeyStore>,
    allowed: Vec<Algorithm>,
    rules: ClaimRules,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for JwtVerifier {
    fn drop(&mut self) {
        if let Some(t) = &self.task {
            t.abort();
        }
    }
}

impl JwtVerifier {
    /// Loads the keys (a URL is fetched now, bounded by `fetch_timeout`) and starts the refresh task.
    pub fn build(cfg: &JwtConfig) -> Result<JwtVerifier, String> {
        let mut allowed = cfg.algorithms.clone();
        allowed.dedup();
        let hmac = match (&cfg.hs256_secret, allowed.contains(&Algorithm::HS256)) {
            (Some(secret), true) if secret.len() >= 32 => Some(VerifyKey::hmac(secret)),
            (Some(_), true) => return Err("jwt.hs256_secret: must be at least 32 bytes".into()),
            // HS256 without a secret is never accepted.
            (None, true) => {
                allowed.retain(|a| *a != Algorithm::HS256);
                None
            }
            (_, false) => None,
        };
        if allowed.is_empty() {
            return Err("jwt.algorithms: no usable algorithm".into());
        }
        let what = match &cfg.keys {
            KeySource::File(_) => "jwt.jwks_file",
            KeySource::Url(_) => "jwt.jwks_url",
        };
        let store =
            KeyStore::build(cfg.keys.clone(), allowed.clone(), hmac, cfg.fetch_timeout, cfg.refresh_min_interval)
                .map_err(|e| format!("{what}: {e}"))?;
        let task = if cfg.refresh.is_zero() { None } else { store.spawn_periodic(cfg.refresh) };
        let rules = ClaimRules {
            issuer: cfg.issuer.clone(),
            audience: cfg.audience.clone(),
            leeway_secs: cfg.leeway.min(MAX_JWT_LEEWAY).as_secs(),
            scope_claim: cfg.scope_claim.clone(),
            claim_scopes: cfg.claim_scopes.clone(),
        };
        Ok(JwtVerifier { store, allowed, rules, task })
    }

    /// Verifies `token` at `now` (seconds since the Unix epoch). Never blocks: an unknown `kid` starts a
    /// rate-limited background refresh and this token is refused.
    pub fn verify(&self, token: &str, now: u64) -> Result<VerifiedToken, JwtError> {
        match self.verify_once(token, now) {
            Err(JwtError::UnknownKey) => {
                self.store.kick();
                Err(JwtError::UnknownKey)
            }
            r => r,
        }
    }

    /// Like [`JwtVerifier::verify`], but on an unknown `kid` waits for one rate-limited refresh and tries again
    /// (refresh once, then reject).
    pub async fn verify_refreshing(&self, token: &str, now: u64) -> Result<VerifiedToken, JwtError> {
        match self.verify_once(token, now) {
            Err(JwtError::UnknownKey) if self.store.take_kid_refresh_slot() => {
                let timeout = self.store.fetch_timeout() + Duration::from_secs(1);
                let _ = tokio::time::timeout(timeout, self.store.refresh()).await;
                self.verify_once(token, now)
            }
            r => r,
        }
    }

    fn verify_once(&self, token: &str, now: u64) -> Result<VerifiedToken, JwtError> {
        let parts = token::split(token)?;
        let alg =
            Algorithm::parse(&parts.alg).filter(|a| self.allowed.contains(a)).ok_or(JwtError::AlgorithmNotAllowed)?;
        let keys = self.store.keys.load();
        if keys.is_empty() {
            return Err(JwtError::KeysUnavailable);
        }
        let key = match &parts.kid {
            Some(kid) => keys.get(kid).ok_or(JwtError::UnknownKey)?,
            None => keys.only_key_for(alg).ok_or(JwtError::UnknownKey)?,
        };
        if !key.accepts(alg) {
            return Err(JwtError::KeyAlgorithmMismatch);
        }
        if !key.verify(alg, parts.signing_input, &parts.signature) {
            return Err(JwtError::BadSignature);
        }
        self.rules.check(&parts.payload, now)
    }

    /// How many times keys were loaded successfully (the first load included).
    pub fn key_loads(&self) -> u64 {
        self.store.loads.load(Ordering::Relaxed)
    }

    /// Seconds since the Unix epoch, for [`JwtVerifier::verify`].
    pub fn now() -> u64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
    }
}
