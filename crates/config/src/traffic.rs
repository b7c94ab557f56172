//! The `[traffic]` section: where shared state lives (memory or Redis) and what happens when it is unreachable,
//! load shedding (in-flight caps), named rate limits and automatic-ban policies. Routes pick limits by name with
//! `rate_limits = [...]`.
//!
//! ```toml
//! [traffic]
//! store = "redis"                        # or "memory" (default)
//! redis_url = "redis://127.0.0.1:6379"   # or redis_cluster = ["redis://10.0.0.1:7000", ...]
//! redis_timeout = "50ms"
//! on_store_error = "fail_open"           # or "fail_closed" (503)
//! max_in_flight = 10000
//! max_in_flight_per_client = 100
//! default_rate_limits = ["per-ip"]       # for routes that name none
//!
//! [[traffic.rate_limits]]
//! name = "login"
//! key = "ip"                             # ip | identity | header:NAME | route | global, joined with '+'
//! rate = "10/min"
//! burst = 10
//!
//! [[traffic.ban_policies]]
//! name = "waf-abuse"
//! trigger = "waf_block"                  # waf_block | status:401 | status:404 | rate_limited
//! count = 20
//! within = "1m"
//! ban_for = "10m"
//! escalate = 2.0
//! ```
//!
//! Owns: the shape, defaults and validation of these keys. Must not touch: limiter state (portcullis-limits and
//! portcullis-store build it from the validated values).

use std::time::Duration;

use serde::Deserialize;

use crate::{ConfigError, ConfigFile, Dur};

/// Where limiter counters and bans live.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum StoreKind {
    /// In this process, bounded in size (the embedded default; each gateway enforces its own limits).
    #[default]
    Memory,
    /// Shared through Redis, so a fleet of gateways enforces one limit.
    Redis,
}

/// What a request gets when the shared store does not answer in time.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum OnStoreError {
    /// Fall back to this gateway's own in-memory limits until the store answers again.
    #[default]
    FailOpen,
    /// Refuse with 503 + `Retry-After` while the store is unreachable.
    FailClosed,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrafficSection {
    #[serde(default)]
    pub store: StoreKind,
    /// Standalone Redis (`redis://[:password@]host:port[/db]`, `rediss://` for TLS is not built in).
    pub redis_url: Option<String>,
    /// Redis Cluster seed nodes (`redis://host:port` each); instead of `redis_url`.
    #[serde(default)]
    pub redis_cluster: Vec<String>,
    /// Bound on every Redis call; beyond it `on_store_error` applies.
    #[serde(default = "d_redis_timeout")]
    pub redis_timeout: Dur,
    #[serde(default)]
    pub on_store_error: OnStoreError,
    /// Prefix of every Redis key (several deployments can share one Redis).
    #[serde(default = "d_prefix")]
    pub key_prefix: String,
    /// Keys the in-memory store (and the fail-open fallback) holds at most; beyond, the closest to expiry go.
    #[serde(default = "d_memory_keys")]
    pub memory_max_keys: usize,
    /// Requests in flight on this gateway; beyond it new requests get 503 + `Retry-After` (load shedding).
    pub max_in_flight: Option<usize>,
    /// Requests in flight per client IP on this gateway; beyond it 503 + `Retry-After`.
    pub max_in_flight_per_client: Option<usize>,
    /// Limits applied to routes that do not set `rate_limits`.
    #[serde(default)]
    pub default_rate_limits: Vec<String>,
    #[serde(default)]
    pub rate_limits: Vec<RateLimitSection>,
    #[serde(default)]
    pub ban_policies: Vec<BanPolicySection>,
}

impl Default for TrafficSection {
    fn default() -> Self {
        TrafficSection {
            store: StoreKind::Memory,
            redis_url: None,
            redis_cluster: Vec::new(),
            redis_timeout: d_redis_timeout(),
            on_store_error: OnStoreError::FailOpen,
            key_prefix: d_prefix(),
            memory_max_keys: d_memory_keys(),
            max_in_flight: None,
            max_in_flight_per_client: None,
            default_rate_limits: Vec::new(),
            rate_limits: Vec::new(),
            ban_policies: Vec::new(),
        }
    }
}

/// One named rate limit.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSection {
    pub name: String,
    /// What is counted separately: `ip`, `identity`, `header:NAME`, `route`, `global`, or several joined with
    /// `+` (`ip+route`).
    #[serde(default = "d_key")]
    pub key: String,
    /// Sustained rate: `"10/min"`, `"100/s"`, `"5000/h"`, `"1000/day"`, or `"N/<duration>"` (`"50/10s"`).
    pub rate: String,
    /// Requests allowed at once from a rested key; default: the rate's count.
    pub burst: Option<u32>,
}

/// What a ban policy counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BanTrigger {
    /// The WAF refused the request.
    WafBlock,
    /// The final response had this status.
    Status(u16),
    /// A rate limit refused the request.
    RateLimited,
}

/// One automatic-ban policy: `count` triggers within `within` → ban for `ban_for`, longer on each repeat.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BanPolicySection {
    pub name: String,
    /// `waf_block`, `status:NNN` or `rate_limited`.
    pub trigger: String,
    pub count: u32,
    pub within: Dur,
    pub ban_for: Dur,
    /// Each repeat ban lasts this many times longer than the one before (1.0: always `ban_for`).
    #[serde(default = "d_escalate")]
    pub escalate: f64,
    /// Escalated bans last at most this long.
    #[serde(default = "d_max_ban")]
    pub max_ban: Dur,
    /// An IP not banned for this long starts again at `ban_for`.
    #[serde(default = "d_forget")]
    pub forget_after: Dur,
}

/// One part of a rate-limit key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyPart {
    Ip,
    /// The verified identity's subject; requests without one are counted by IP.
    Identity,
    /// A request header's value (name lowercased); requests without it share one bucket.
    Header(String),
    Route,
    Global,
}

/// Parses `"10/min"`, `"100/s"`, `"50/10s"` into (count, period).
pub fn parse_rate(s: &str) -> Result<(u64, Duration), String> {
    let bad = || format!("invalid rate {s:?}; write e.g. \"10/min\", \"100/s\", \"5000/h\" or \"50/10s\"");
    let (n, per) = s.split_once('/').ok_or_else(bad)?;
    let n: u64 = n.trim().parse().map_err(|_| bad())?;
    let period = match per.trim() {
        "s" | "sec" | "second" => Duration::from_secs(1),
        "m" | "min" | "minute" => Duration::from_secs(60),
        "h" | "hour" => Duration::from_secs(3600),
        "d" | "day" => Duration::from_secs(86_400),
        other => humantime::parse_duration(other).map_err(|_| bad())?,
    };
    if n == 0 {
        return Err(format!("rate {s:?} allows nothing; remove the limit or set a count above 0"));
    }
    if period.is_zero() {
        return Err(format!("rate {s:?} has a zero period"));
    }
    // The limiter counts in microseconds (Redis's clock); one request per microsecond is the finest rate.
    if period.as_micros() / u128::from(n) == 0 {
        return Err(format!("rate {s:?} is finer than one request per microsecond"));
    }
    Ok((n, period))
}

/// Parses a key spec (`"ip+route"`) into its parts.
pub fn parse_key(s: &str) -> Result<Vec<KeyPart>, String> {
    let mut parts = Vec::new();
    for p in s.split('+') {
        let p = p.trim();
        let part = match p {
            "ip" => KeyPart::Ip,
            "identity" => KeyPart::Identity,
            "route" => KeyPart::Route,
            "global" => KeyPart::Global,
            _ => match p.strip_prefix("header:") {
                Some(h) if http::HeaderName::from_bytes(h.trim().as_bytes()).is_ok() => {
                    KeyPart::Header(h.trim().to_ascii_lowercase())
                }
                _ => {
                    return Err(format!(
                        "unknown key part {p:?}; use ip, identity, header:NAME, route or global (joined with '+')"
                    ))
                }
            },
        };
        if parts.contains(&part) {
            return Err(format!("key part {p:?} appears twice"));
        }
        parts.push(part);
    }
    Ok(parts)
}

/// Parses a ban trigger (`"waf_block"`, `"status:401"`, `"rate_limited"`).
pub fn parse_trigger(s: &str) -> Result<BanTrigger, String> {
    match s {
        "waf_block" => Ok(BanTrigger::WafBlock),
        "rate_limited" => Ok(BanTrigger::RateLimited),
        _ => match s.strip_prefix("status:").map(|c| c.trim().parse::<u16>()) {
            Some(Ok(code)) if (100..=599).contains(&code) => Ok(BanTrigger::Status(code)),
            _ => Err(format!("unknown trigger {s:?}; use waf_block, status:NNN or rate_limited")),
        },
    }
}

/// Checks `[traffic]` and every route's `rate_limits`; pushes each problem with its key path.
pub(crate) fn validate_traffic(f: &ConfigFile, errors: &mut Vec<ConfigError>) {
    let t = &f.traffic;
    let mut err = |p: String, m: String| errors.push(ConfigError::new(p, m));
    match t.store {
        StoreKind::Redis => match (&t.redis_url, t.redis_cluster.is_empty()) {
            (None, true) => err("traffic.redis_url".into(), "required with store = \"redis\"".into()),
            (Some(_), false) => err("traffic.redis_cluster".into(), "set redis_url or redis_cluster, not both".into()),
            (Some(u), true) if !redis_url_ok(u) => {
                err("traffic.redis_url".into(), format!("{u:?} is not a redis:// or redis+unix:// URL"))
            }
            _ => {
                for (i, u) in t.redis_cluster.iter().enumerate() {
                    if !u.starts_with("redis://") {
                        err(format!("traffic.redis_cluster[{i}]"), format!("{u:?} is not a redis:// URL"));
                    }
                }
            }
        },
        StoreKind::Memory => {
            if t.redis_url.is_some() || !t.redis_cluster.is_empty() {
                err("traffic.store".into(), "Redis addresses are set but store = \"memory\"".into());
            }
        }
    }
    if t.redis_timeout.0.is_zero() || t.redis_timeout.0 > Duration::from_secs(5) {
        err("traffic.redis_timeout".into(), "must be more than 0 and at most 5s".into());
    }
    if t.memory_max_keys < 1024 {
        err("traffic.memory_max_keys".into(), "must be at least 1024".into());
    }
    if t.key_prefix.is_empty() || t.key_prefix.contains(['{', '}', ' ']) {
        err("traffic.key_prefix".into(), "must be non-empty, without braces or spaces".into());
    }
    if t.max_in_flight == Some(0) {
        err("traffic.max_in_flight".into(), "must be at least 1 (omit it for no cap)".into());
    }
    if t.max_in_flight_per_client == Some(0) {
        err("traffic.max_in_flight_per_client".into(), "must be at least 1 (omit it for no cap)".into());
    }
    let mut names = std::collections::HashMap::new();
    for (i, r) in t.rate_limits.iter().enumerate() {
        let p = format!("traffic.rate_limits[{i}]");
        if r.name.is_empty() {
            err(format!("{p}.name"), "must not be empty".into());
        } else if let Some(j) = names.insert(r.name.as_str(), i) {
            err(format!("{p}.name"), format!("duplicate rate limit name {:?} (also traffic.rate_limits[{j}])", r.name));
        }
        if let Err(m) = parse_key(&r.key) {
            err(format!("{p}.key"), m);
        }
        if let Err(m) = parse_rate(&r.rate) {
            err(format!("{p}.rate"), m);
        }
        if r.burst == Some(0) {
            err(format!("{p}.burst"), "must be at least 1".into());
        }
    }
    let known = |n: &str| t.rate_limits.iter().any(|r| r.name == n);
    for (i, n) in t.default_rate_limits.iter().enumerate() {
        if !known(n) {
            err(format!("traffic.default_rate_limits[{i}]"), format!("no rate limit named {n:?}"));
        }
    }
    for (ri, route) in f.routes.iter().enumerate() {
        for (i, n) in route.rate_limits.iter().flatten().enumerate() {
            if !known(n) {
                err(format!("routes[{ri}].rate_limits[{i}]"), format!("no rate limit named {n:?}"));
            }
        }
    }
    let mut names = std::collections::HashMap::new();
    for (i, b) in t.ban_policies.iter().enumerate() {
        let p = format!("traffic.ban_policies[{i}]");
        if b.name.is_empty() {
            err(format!("{p}.name"), "must not be empty".into());
        } else if let Some(j) = names.insert(b.name.as_str(), i) {
            err(
                format!("{p}.name"),
                format!("duplicate ban policy name {:?} (also traffic.ban_policies[{j}])", b.name),
            );
        }
        if let Err(m) = parse_trigger(&b.trigger) {
            err(format!("{p}.trigger"), m);
        }
        if b.count == 0 {
            err(format!("{p}.count"), "must be at least 1".into());
        }
        if b.within.0 < Duration::from_millis(1) {
            err(format!("{p}.within"), "must be at least 1ms".into());
        }
        if b.ban_for.0 < Duration::from_secs(1) {
            err(format!("{p}.ban_for"), "must be at least 1s".into());
        }
        if !(1.0..=100.0).contains(&b.escalate) {
            err(format!("{p}.escalate"), "must be between 1.0 and 100.0".into());
        }
        if b.max_ban.0 < b.ban_for.0 {
            err(format!("{p}.max_ban"), "must be at least ban_for".into());
        }
    }
}

fn redis_url_ok(u: &str) -> bool {
    u.starts_with("redis://") || u.starts_with("redis+unix://") || u.starts_with("unix://")
}

fn d_redis_timeout() -> Dur {
    Dur(Duration::from_millis(50))
}
fn d_prefix() -> String {
    "portcullis".into()
}
fn d_memory_keys() -> usize {
    1_000_000
}
fn d_key() -> String {
    "ip".into()
}
fn d_escalate() -> f64 {
    2.0
}
fn d_max_ban() -> Dur {
    Dur(Duration::from_secs(24 * 3600))
}
fn d_forget() -> Dur {
    Dur(Duration::from_secs(24 * 3600))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse() {
        assert_eq!(parse_rate("10/min").unwrap(), (10, Duration::from_secs(60)));
        assert_eq!(parse_rate("50/10s").unwrap(), (50, Duration::from_secs(10)));
        assert!(parse_rate("0/s").is_err());
        assert!(parse_rate("ten/s").is_err());
        assert!(parse_rate("2000000/s").is_err());
    }

    #[test]
    fn keys_parse() {
        assert_eq!(parse_key("ip+route").unwrap(), vec![KeyPart::Ip, KeyPart::Route]);
        assert_eq!(parse_key("header:X-Tenant").unwrap(), vec![KeyPart::Header("x-tenant".into())]);
        assert!(parse_key("ip+ip").is_err());
        assert!(parse_key("cookie:a").is_err());
    }

    #[test]
    fn triggers_parse() {
        assert_eq!(parse_trigger("status:401").unwrap(), BanTrigger::Status(401));
        assert_eq!(parse_trigger("waf_block").unwrap(), BanTrigger::WafBlock);
        assert!(parse_trigger("status:99").is_err());
    }
}
