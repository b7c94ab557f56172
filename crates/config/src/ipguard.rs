//! The `[ip]` section: allow/deny lists by CIDR (inline and list files), country allow/deny from a MaxMind
//! database, and the per-IP statistics table. Also validates the slow-client keys of `[limits]`
//! (`min_body_rate`, `max_connections_per_ip`).
//!
//! Owns: the shape and validation of these keys. Must not touch: list parsing, lookups or sockets (that is
//! `portcullis-ipguard` and the proxy).

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use serde::Deserialize;

use crate::{ByteSize, Config, ConfigError, Dur};

/// What a request or connection from a denied address gets.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
pub enum DenyAction {
    /// A 403 problem+json answer (the connection stays usable for nothing else: every request is refused).
    #[default]
    #[serde(rename = "403")]
    Forbidden,
    /// Close the connection without an answer; a denied peer is dropped right after accept.
    #[serde(rename = "drop")]
    Drop,
}

/// The header trusted proxies carry the client address in. Only one is believed: a proxy that sets one passes
/// the other through untouched, so believing both would let a client forge the one its proxy ignores.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
pub enum ClientIpHeader {
    #[default]
    #[serde(rename = "x-forwarded-for")]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=...`.
    #[serde(rename = "forwarded")]
    Forwarded,
}

/// `[ip]`: who may connect at all. Empty (the default): everyone, no lookups on the request path.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IpSection {
    /// CIDRs or bare addresses that bypass deny rules, country rules, rate limits and bans.
    #[serde(default)]
    pub allow: Vec<String>,
    /// CIDRs or bare addresses refused.
    #[serde(default)]
    pub deny: Vec<String>,
    /// Allow-list files (FireHOL `.netset` / Spamhaus DROP style: one CIDR or address a line, `#` and `;`
    /// comments), relative to the config file. Reloaded when they change.
    #[serde(default)]
    pub allow_files: Vec<PathBuf>,
    /// Deny-list files, same format.
    #[serde(default)]
    pub deny_files: Vec<PathBuf>,
    /// How often list files and the GeoIP database are checked for changes.
    #[serde(default = "d_reload")]
    pub reload_interval: Dur,
    /// `"403"` (default) or `"drop"`.
    #[serde(default)]
    pub deny_action: DenyAction,
    /// A MaxMind-format country database (`GeoLite2-Country.mmdb` or compatible).
    pub geoip_db: Option<PathBuf>,
    /// ISO 3166-1 alpha-2 codes: when non-empty, only these countries get in (addresses the database does not
    /// know are refused too).
    #[serde(default)]
    pub countries_allow: Vec<String>,
    /// ISO codes refused.
    #[serde(default)]
    pub countries_deny: Vec<String>,
    /// Addresses tracked in the per-IP statistics table (top talkers); a fixed memory cap. 0 turns it off.
    #[serde(default = "d_stats")]
    pub stats_capacity: usize,
}

impl Default for IpSection {
    fn default() -> Self {
        IpSection {
            allow: Vec::new(),
            deny: Vec::new(),
            allow_files: Vec::new(),
            deny_files: Vec::new(),
            reload_interval: d_reload(),
            deny_action: DenyAction::default(),
            geoip_db: None,
            countries_allow: Vec::new(),
            countries_deny: Vec::new(),
            stats_capacity: d_stats(),
        }
    }
}

fn d_reload() -> Dur {
    Dur(Duration::from_secs(2))
}
fn d_stats() -> usize {
    10_000
}

/// The largest statistics table accepted (about 2 KB an entry at worst, so ≤ 200 MB).
pub const MAX_STATS_CAPACITY: usize = 100_000;

/// A minimum body transfer rate: `"1KiB/s"`, `"500B/s"`, or a plain size meaning per second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyRate(pub u64);

impl<'de> Deserialize<'de> for BodyRate {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let size = s.trim().strip_suffix("/s").unwrap_or(&s);
        let v = toml::Value::String(size.to_string());
        ByteSize::deserialize(v)
            .map(|b| BodyRate(b.0))
            .map_err(|_| serde::de::Error::custom(format!("invalid rate {s:?}; write e.g. \"1KiB/s\" or \"500B/s\"")))
    }
}

/// Parses one address or CIDR the way list files and the inline lists write them (`1.2.3.0/24`, `1.2.3.4`,
/// `2001:db8::/32`). A CIDR with host bits set (`1.2.3.4/24`) is accepted and means its network.
pub fn parse_net(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    if s.contains('/') {
        s.parse::<IpNet>().map(|n| n.trunc()).map_err(|_| format!("{s:?} is not a CIDR"))
    } else {
        s.parse::<IpAddr>().map(IpNet::from).map_err(|_| format!("{s:?} is not an IP address or CIDR"))
    }
}

/// Every problem in `[ip]` and the slow-client keys of `[limits]`, with key paths.
pub(crate) fn validate(config: &Config, errors: &mut Vec<ConfigError>) {
    let ip = &config.file.ip;
    for (key, list) in [("allow", &ip.allow), ("deny", &ip.deny)] {
        for (i, s) in list.iter().enumerate() {
            if let Err(msg) = parse_net(s) {
                errors.push(ConfigError::new(format!("ip.{key}[{i}]"), msg));
            }
        }
    }
    for (key, files) in [("allow_files", &ip.allow_files), ("deny_files", &ip.deny_files)] {
        for (i, f) in files.iter().enumerate() {
            let full = config.resolve(f);
            if let Err(e) = std::fs::metadata(&full) {
                errors.push(ConfigError::new(format!("ip.{key}[{i}]"), format!("cannot read {}: {e}", full.display())));
            }
        }
    }
    if ip.reload_interval.0 < Duration::from_millis(100) {
        errors.push(ConfigError::new("ip.reload_interval", "must be at least 100ms"));
    }
    if let Some(db) = &ip.geoip_db {
        let full = config.resolve(db);
        if let Err(e) = std::fs::metadata(&full) {
            errors.push(ConfigError::new("ip.geoip_db", format!("cannot read {}: {e}", full.display())));
        }
    }
    for (key, list) in [("countries_allow", &ip.countries_allow), ("countries_deny", &ip.countries_deny)] {
        for (i, c) in list.iter().enumerate() {
            if c.len() != 2 || !c.bytes().all(|b| b.is_ascii_uppercase()) {
                errors.push(ConfigError::new(
                    format!("ip.{key}[{i}]"),
                    format!("{c:?} is not an ISO 3166-1 alpha-2 country code (two upper-case letters, e.g. \"DE\")"),
                ));
            }
        }
        if !list.is_empty() && ip.geoip_db.is_none() {
            errors.push(ConfigError::new(format!("ip.{key}"), "needs ip.geoip_db"));
        }
    }
    if ip.stats_capacity > MAX_STATS_CAPACITY {
        errors.push(ConfigError::new("ip.stats_capacity", format!("must be at most {MAX_STATS_CAPACITY}")));
    }
    let l = &config.file.limits;
    if l.min_body_rate.is_some_and(|r| r.0 == 0) {
        errors.push(ConfigError::new("limits.min_body_rate", "must be above 0 (leave it out to turn the check off)"));
    }
    if l.max_connections_per_ip == Some(0) {
        errors.push(ConfigError::new("limits.max_connections_per_ip", "must be at least 1 (leave it out for no cap)"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(extra: &str) -> Vec<String> {
        let text = format!("[[listeners]]\nname = \"a\"\naddress = \"127.0.0.1:0\"\n{extra}");
        match Config::from_str_at(&text, None, std::env::temp_dir()) {
            Ok(_) => Vec::new(),
            Err(e) => e.errors.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn nets_parse_like_list_files() {
        assert_eq!(parse_net("1.2.3.4").unwrap().to_string(), "1.2.3.4/32");
        assert_eq!(parse_net(" 1.2.3.4/24 ").unwrap().to_string(), "1.2.3.0/24");
        assert_eq!(parse_net("2001:db8::1").unwrap().to_string(), "2001:db8::1/128");
        assert!(parse_net("1.2.3.4/33").is_err());
        assert!(parse_net("example.com").is_err());
    }

    #[test]
    fn every_problem_has_its_key_path() {
        let e = errors(
            "[ip]\nallow = [\"10.0.0.0/8\", \"nope\"]\ndeny_files = [\"/nonexistent/x.netset\"]\n\
             countries_deny = [\"de\"]\n[limits]\nmin_body_rate = \"0B/s\"\nmax_connections_per_ip = 0\n",
        );
        let all = e.join("\n");
        assert!(all.contains("ip.allow[1]: \"nope\""), "{all}");
        assert!(all.contains("ip.deny_files[0]: cannot read /nonexistent/x.netset"), "{all}");
        assert!(all.contains("ip.countries_deny[0]"), "{all}");
        assert!(all.contains("ip.countries_deny: needs ip.geoip_db"), "{all}");
        assert!(all.contains("limits.min_body_rate"), "{all}");
        assert!(all.contains("limits.max_connections_per_ip"), "{all}");
    }

    #[test]
    fn rates_and_actions_parse() {
        let text = "[[listeners]]\nname = \"a\"\naddress = \"127.0.0.1:0\"\n[ip]\ndeny_action = \"drop\"\n\
                    [limits]\nmin_body_rate = \"1KiB/s\"\nmax_connections_per_ip = 8\n";
        let c = Config::from_str_at(text, None, std::env::temp_dir()).unwrap();
        assert_eq!(c.file.ip.deny_action, DenyAction::Drop);
        assert_eq!(c.file.limits.min_body_rate, Some(BodyRate(1024)));
        assert_eq!(c.file.limits.max_connections_per_ip, Some(8));
        assert!(errors("[limits]\nmin_body_rate = \"fast\"\n").join("").contains("limits.min_body_rate"));
        assert!(errors("[ip]\ndeny_action = \"404\"\n").join("").contains("ip.deny_action"));
    }
}
