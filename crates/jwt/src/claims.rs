//! The registered claims (RFC 7519 §4.1) checked against config with bounded clock skew, and what a verified
//! token tells the gateway: subject, scopes, `acr`, `amr`, expiry.

use serde_json::{Map, Value};

use crate::JwtError;

/// A token whose signature and claims were verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    pub sub: String,
    /// From the configured scope claim plus the claim → scope mapping, deduplicated, in order.
    pub scopes: Vec<String>,
    pub acr: Option<String>,
    pub amr: Vec<String>,
    /// Expiry, seconds since the Unix epoch.
    pub exp: u64,
}

/// A claim value that grants scopes (`groups` contains `admins` → `admin:*`).
#[derive(Debug, Clone)]
pub struct ClaimScope {
    pub claim: String,
    pub value: String,
    pub scopes: Vec<String>,
}

/// The claim checks of one verifier, built from config.
#[derive(Debug, Clone)]
pub struct ClaimRules {
    pub issuer: String,
    pub audience: Vec<String>,
    pub leeway_secs: u64,
    pub scope_claim: String,
    pub claim_scopes: Vec<ClaimScope>,
}

fn numeric_date(claims: &Map<String, Value>, name: &'static str) -> Result<Option<u64>, JwtError> {
    match claims.get(name) {
        None => Ok(None),
        // NumericDate may carry a fraction; whole seconds are what we compare.
        Some(Value::Number(n)) => {
            match n.as_u64().or_else(|| n.as_f64().filter(|f| f.is_finite() && *f >= 0.0).map(|f| f as u64)) {
                Some(v) => Ok(Some(v)),
                None => Err(JwtError::Claim(name)),
            }
        }
        Some(_) => Err(JwtError::Claim(name)),
    }
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => s.split_whitespace().map(str::to_string).collect(),
        Value::Array(a) => a.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        _ => Vec::new(),
    }
}

impl ClaimRules {
    /// Checks `iss`, `aud`, `exp` (required), `nbf`, `iat` and `sub` (required) at `now` (Unix seconds).
    pub fn check(&self, payload: &[u8], now: u64) -> Result<VerifiedToken, JwtError> {
        let claims: Map<String, Value> =
            serde_json::from_slice(payload).map_err(|_| JwtError::Malformed("payload json"))?;
        let leeway = self.leeway_secs;
        let exp = numeric_date(&claims, "exp")?.ok_or(JwtError::Claim("exp"))?;
        if now > exp.saturating_add(leeway) {
            return Err(JwtError::Expired);
        }
        if let Some(nbf) = numeric_date(&claims, "nbf")? {
            if now.saturating_add(leeway) < nbf {
                return Err(JwtError::NotYetValid);
            }
        }
        if let Some(iat) = numeric_date(&claims, "iat")? {
            if iat > now.saturating_add(leeway) {
                return Err(JwtError::IssuedInFuture);
            }
        }
        match claims.get("iss") {
            Some(Value::String(iss)) if *iss == self.issuer => {}
            _ => return Err(JwtError::WrongIssuer),
        }
        let aud_ok = match claims.get("aud") {
            Some(Value::String(a)) => self.audience.iter().any(|x| x == a),
            Some(Value::Array(list)) => {
                list.iter().filter_map(Value::as_str).any(|a| self.audience.iter().any(|x| x == a))
            }
            _ => false,
        };
        if !aud_ok {
            return Err(JwtError::WrongAudience);
        }
        let sub = match claims.get("sub") {
            Some(Value::String(s)) if !s.is_empty() && s.len() <= 1024 => s.clone(),
            _ => return Err(JwtError::Claim("sub")),
        };
        let mut scopes = claims.get(&self.scope_claim).map(strings).unwrap_or_default();
        for m in &self.claim_scopes {
            let has = match claims.get(&m.claim) {
                Some(Value::String(s)) => *s == m.value,
                Some(Value::Array(a)) => a.iter().any(|v| v.as_str() == Some(&m.value)),
                Some(Value::Bool(b)) => b.to_string() == m.value,
                _ => false,
            };
            if has {
                scopes.extend(m.scopes.iter().cloned());
            }
        }
        let mut seen = std::collections::HashSet::new();
        scopes.retain(|s| seen.insert(s.clone()));
        let acr = match claims.get("acr") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(JwtError::Claim("acr")),
        };
        let amr = match claims.get("amr") {
            None => Vec::new(),
            Some(v @ Value::Array(_)) => strings(v),
            Some(_) => return Err(JwtError::Claim("amr")),
        };
        Ok(VerifiedToken { sub, scopes, acr, amr, exp })
    }
}
