//! What is stored about a key (never the key itself), and the per-key limits attached to it.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::format::KeyEnv;
use crate::hasher::KeyHash;

/// Milliseconds since the Unix epoch: the store's one time unit.
pub type Millis = i64;

pub fn now_ms() -> Millis {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// Renders a millisecond timestamp as RFC 3339 (UTC, seconds).
pub fn rfc3339(ms: Millis) -> String {
    let t = UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_seconds(t).to_string()
}

/// Administrative state. Expiry is not a status: it follows from `expires`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    Active,
    Revoked,
}

impl KeyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Active => "active",
            KeyStatus::Revoked => "revoked",
        }
    }

    pub fn parse(s: &str) -> Option<KeyStatus> {
        match s {
            "active" => Some(KeyStatus::Active),
            "revoked" => Some(KeyStatus::Revoked),
            _ => None,
        }
    }
}

/// A request budget: `count` per `per` (`"100/min"`, `"5000/hour"`, `"10/s"`, `"100000/day"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub count: u64,
    pub per: Duration,
}

impl Rate {
    pub fn parse(s: &str) -> Result<Rate, String> {
        let (n, unit) = s.trim().split_once('/').ok_or_else(|| format!("{s:?}: write COUNT/UNIT, e.g. 100/min"))?;
        let count: u64 = n.trim().parse().map_err(|_| format!("{s:?}: {n:?} is not a whole number"))?;
        if count == 0 {
            return Err(format!("{s:?}: the count must be at least 1"));
        }
        let per = match unit.trim() {
            "s" | "sec" | "second" => Duration::from_secs(1),
            "m" | "min" | "minute" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3600),
            "d" | "day" => Duration::from_secs(86_400),
            u => return Err(format!("{s:?}: unit {u:?} is not one of s, min, hour, day")),
        };
        Ok(Rate { count, per })
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.per.as_secs() {
            1 => "s",
            60 => "min",
            3600 => "hour",
            _ => "day",
        };
        write!(f, "{}/{unit}", self.count)
    }
}

/// Per-key limits, stored with the key and put in the request's extensions on success so the rate limiter
/// (traffic-defence protection) can enforce them by key id. This crate stores and exposes them; it does not
/// count requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KeyLimits {
    pub rate_limit: Option<Rate>,
    pub quota: Option<Rate>,
}

/// One stored key.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyRecord {
    pub id: String,
    pub name: String,
    pub env: KeyEnv,
    pub hash: KeyHash,
    pub scopes: Vec<String>,
    pub created: Millis,
    pub expires: Option<Millis>,
    pub status: KeyStatus,
    pub limits: KeyLimits,
    pub last_used: Option<Millis>,
    pub last_ip: Option<String>,
    /// The hash of the key before the last rotation, and until when it is still accepted.
    pub prev_hash: Option<KeyHash>,
    pub prev_until: Option<Millis>,
}

impl fmt::Debug for KeyRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRecord")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("env", &self.env)
            .field("scopes", &self.scopes)
            .field("status", &self.status)
            .field("expires", &self.expires)
            .finish_non_exhaustive()
    }
}

impl KeyRecord {
    /// `active`, `revoked` or `expired`, as of `now`.
    pub fn state(&self, now: Millis) -> &'static str {
        match self.status {
            KeyStatus::Revoked => "revoked",
            KeyStatus::Active if self.expires.is_some_and(|e| e <= now) => "expired",
            KeyStatus::Active => "active",
        }
    }

    /// The public view: everything but hashes.
    pub fn to_json(&self, now: Millis) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "name": self.name,
            "env": self.env.as_str(),
            "scopes": self.scopes,
            "state": self.state(now),
            "created": rfc3339(self.created),
            "expires": self.expires.map(rfc3339),
            "rate_limit": self.limits.rate_limit.map(|r| r.to_string()),
            "quota": self.limits.quota.map(|r| r.to_string()),
            "last_used": self.last_used.map(rfc3339),
            "last_ip": self.last_ip,
            "previous_secret_valid_until": self.prev_until.filter(|u| *u > now).map(rfc3339),
        })
    }
}

/// Whether `granted` (a key's scope) covers `required`: equal, `*`, or a `prefix:*` wildcard (`users:*` covers
/// `users:read`).
pub fn scope_covers(granted: &str, required: &str) -> bool {
    granted == required
        || granted == "*"
        || granted.strip_suffix('*').is_some_and(|p| p.ends_with(':') && required.starts_with(p))
}

/// A scope is 1–64 characters of `A-Za-z0-9 : _ - .`, optionally ending in `*`.
pub fn valid_scope(s: &str) -> bool {
    let body = s.strip_suffix('*').unwrap_or(s);
    !s.is_empty()
        && s.len() <= 64
        && body.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'_' | b'-' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates() {
        assert_eq!(Rate::parse("100/min").unwrap(), Rate { count: 100, per: Duration::from_secs(60) });
        assert_eq!(Rate::parse("100/min").unwrap().to_string(), "100/min");
        assert!(Rate::parse("0/min").is_err());
        assert!(Rate::parse("100").is_err());
        assert!(Rate::parse("x/min").is_err());
        assert!(Rate::parse("1/fortnight").is_err());
    }

    #[test]
    fn scopes() {
        assert!(scope_covers("users:read", "users:read"));
        assert!(scope_covers("users:*", "users:read"));
        assert!(scope_covers("*", "anything"));
        assert!(!scope_covers("users:read", "users:write"));
        assert!(!scope_covers("users*", "usersx:read"));
        assert!(!scope_covers("users:*", "orders:read"));
        assert!(valid_scope("users:read") && valid_scope("users:*") && valid_scope("*"));
        assert!(!valid_scope("") && !valid_scope("a b") && !valid_scope("a,b"));
    }
}
