//! The `ipguard` protection: runs first. At accept (with `deny_action = "drop"`) the peer address decides; at
//! the request-header phase the client address (the trusted-proxy one) decides. Allow-listed clients skip deny
//! and country rules and are marked `ctx.allowlisted` so rate limits and bans skip them too. Every request is
//! counted in the per-IP statistics at the logging phase, with the refusal reason when it was refused.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::{ArcSwap, ArcSwapOption};
use http::StatusCode;
use portcullis_config::{Config, DenyAction};
use portcullis_pipeline::{ConnInfo, Phases, Problem, Protection, RequestCtx, Verdict};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

use crate::geo::GeoDb;
use crate::lists::{watch, ListSources, Lists};
use crate::stats::IpStats;

/// Labels of the decision counter: `decision` (`allowlisted`, `refused`) and `reason`.
pub type DecisionLabels = Vec<(&'static str, String)>;

/// What outlives a config reload: the statistics table and the decision counter (registered by the proxy
/// under `portcullis_ip_decisions_total`).
#[derive(Clone)]
pub struct GuardShared {
    pub stats: Arc<IpStats>,
    pub decisions: Family<DecisionLabels, Counter>,
}

impl GuardShared {
    pub fn new(stats_capacity: usize) -> GuardShared {
        GuardShared { stats: Arc::new(IpStats::new(stats_capacity)), decisions: Family::default() }
    }

    fn counter(&self, decision: &str, reason: &str) -> Counter {
        self.decisions.get_or_create(&vec![("decision", decision.to_string()), ("reason", reason.to_string())]).clone()
    }
}

/// Refusal reasons, as the statistics and the metric name them.
pub const REASON_DENY_LIST: &str = "ip_deny";
pub const REASON_COUNTRY: &str = "country";

/// Marks a request ipguard refused, so the logging phase records the precise reason.
#[derive(Debug, Clone, Copy)]
struct Refused(&'static str);

struct Counters {
    allowlisted: Counter,
    deny_list: Counter,
    country: Counter,
}

struct Inner {
    sources: ListSources,
    lists: ArcSwap<Lists>,
    geo_path: Option<PathBuf>,
    geo: ArcSwapOption<GeoDb>,
}

impl Inner {
    /// Re-reads list files and the database; whatever fails to load keeps its previous generation.
    fn reload(&self) {
        match self.sources.load() {
            Ok(l) => {
                tracing::info!(allow_ranges = l.allow.ranges(), deny_ranges = l.deny.ranges(), "ip lists reloaded");
                self.lists.store(Arc::new(l));
            }
            Err(e) => tracing::error!(error = %e, "ip list reload rejected; the previous lists stay in force"),
        }
        if let Some(p) = &self.geo_path {
            match GeoDb::open(p) {
                Ok(db) => {
                    tracing::info!(path = %p.display(), "geoip database reloaded");
                    self.geo.store(Some(Arc::new(db)));
                }
                Err(e) => tracing::error!(error = %e, "geoip reload rejected; the previous database stays in force"),
            }
        }
    }
}

/// The protection. Built from `[ip]`; present whenever lists, country rules or statistics are configured.
pub struct IpGuard {
    inner: Arc<Inner>,
    filtering: bool,
    countries_allow: Vec<[u8; 2]>,
    countries_deny: Vec<[u8; 2]>,
    action: DenyAction,
    shared: GuardShared,
    counters: Counters,
    watcher: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for IpGuard {
    fn drop(&mut self) {
        if let Some(w) = &self.watcher {
            w.abort();
        }
    }
}

fn code(s: &str) -> [u8; 2] {
    let b = s.as_bytes();
    [b.first().copied().unwrap_or(0), b.get(1).copied().unwrap_or(0)]
}

impl IpGuard {
    /// Builds from validated config: reads list files (errors name file:line) and opens the database. `None`
    /// when `[ip]` asks for nothing. Starts the file watcher when running inside Tokio.
    pub fn build(config: &Config, shared: &GuardShared) -> Result<Option<IpGuard>, String> {
        let ip = &config.file.ip;
        let parse = |list: &[String], key: &str| -> Result<Vec<ipnet::IpNet>, String> {
            list.iter()
                .enumerate()
                .map(|(i, s)| portcullis_config::parse_net(s).map_err(|e| format!("ip.{key}[{i}]: {e}")))
                .collect()
        };
        let sources = ListSources {
            allow: parse(&ip.allow, "allow")?,
            deny: parse(&ip.deny, "deny")?,
            allow_files: ip.allow_files.iter().map(|f| config.resolve(f)).collect(),
            deny_files: ip.deny_files.iter().map(|f| config.resolve(f)).collect(),
        };
        let geo_path = ip.geoip_db.as_ref().map(|p| config.resolve(p));
        let filtering = !sources.is_empty() || !ip.countries_allow.is_empty() || !ip.countries_deny.is_empty();
        if !filtering && ip.stats_capacity == 0 {
            return Ok(None);
        }
        let lists = sources.load().map_err(|e| format!("ip list: {e}"))?;
        let geo = match &geo_path {
            Some(p) => Some(Arc::new(GeoDb::open(p).map_err(|e| format!("ip.geoip_db: {e}"))?)),
            None => None,
        };
        let mut files: Vec<PathBuf> = sources.allow_files.iter().chain(&sources.deny_files).cloned().collect();
        files.extend(geo_path.iter().cloned());
        let inner =
            Arc::new(Inner { sources, lists: ArcSwap::from_pointee(lists), geo_path, geo: ArcSwapOption::new(geo) });
        let watcher = watch(Arc::downgrade(&inner), files, ip.reload_interval.0, Inner::reload);
        let counters = Counters {
            allowlisted: shared.counter("allowlisted", "allow_list"),
            deny_list: shared.counter("refused", REASON_DENY_LIST),
            country: shared.counter("refused", REASON_COUNTRY),
        };
        Ok(Some(IpGuard {
            inner,
            filtering,
            countries_allow: ip.countries_allow.iter().map(|c| code(c)).collect(),
            countries_deny: ip.countries_deny.iter().map(|c| code(c)).collect(),
            action: ip.deny_action,
            shared: shared.clone(),
            counters,
            watcher,
        }))
    }

    /// Why `ip` must be refused (with a log line's worth of detail), or `None`. Allow-listed addresses are
    /// never refused; the bool says whether `ip` is allow-listed.
    pub fn decide(&self, ip: IpAddr) -> (bool, Option<(&'static str, String)>) {
        if !self.filtering {
            return (false, None);
        }
        let lists = self.inner.lists.load();
        if lists.allow.contains(ip) {
            return (true, None);
        }
        if lists.deny.contains(ip) {
            return (false, Some((REASON_DENY_LIST, "client address on a deny list".to_string())));
        }
        if self.countries_allow.is_empty() && self.countries_deny.is_empty() {
            return (false, None);
        }
        let geo = self.inner.geo.load();
        let country = geo.as_ref().and_then(|g| g.country(ip));
        let name = |c: Option<[u8; 2]>| c.map_or("unknown".to_string(), |c| String::from_utf8_lossy(&c).into_owned());
        if let Some(c) = country {
            if self.countries_deny.contains(&c) {
                return (false, Some((REASON_COUNTRY, format!("country {} denied", name(country)))));
            }
        }
        if !self.countries_allow.is_empty() && !country.is_some_and(|c| self.countries_allow.contains(&c)) {
            return (false, Some((REASON_COUNTRY, format!("country {} not allowed", name(country)))));
        }
        (false, None)
    }

    /// Whether `ip` is on an allow list (cheap: no country lookup).
    pub fn is_allowlisted(&self, ip: IpAddr) -> bool {
        self.filtering && self.inner.lists.load().allow.contains(ip)
    }

    fn count(&self, reason: &str) {
        match reason {
            REASON_DENY_LIST => self.counters.deny_list.inc(),
            _ => self.counters.country.inc(),
        };
    }

    /// The statistics table (shared across reloads).
    pub fn stats(&self) -> &Arc<IpStats> {
        &self.shared.stats
    }
}

impl Protection for IpGuard {
    fn name(&self) -> &'static str {
        "ipguard"
    }

    fn phases(&self) -> Phases {
        Phases {
            connection: self.filtering && self.action == DenyAction::Drop,
            request_headers: self.filtering,
            logging: true,
            ..Phases::default()
        }
    }

    fn connection_filter(&self, conn: &ConnInfo) -> Verdict {
        if self.action != DenyAction::Drop {
            return Verdict::Continue;
        }
        match self.decide(conn.peer.ip()) {
            (_, Some((reason, detail))) => {
                self.count(reason);
                self.shared.stats.record_block(conn.peer.ip(), reason);
                tracing::debug!(peer = %conn.peer, reason = %detail, "connection dropped");
                Verdict::Close
            }
            _ => Verdict::Continue,
        }
    }

    fn request_headers_filter(&self, ctx: &mut RequestCtx, _req: &mut http::request::Parts) -> Verdict {
        match self.decide(ctx.client_ip) {
            (true, _) => {
                ctx.allowlisted = true;
                self.counters.allowlisted.inc();
                Verdict::Continue
            }
            (false, None) => Verdict::Continue,
            (false, Some((reason, detail))) => {
                self.count(reason);
                ctx.refused_by = Some("ipguard");
                ctx.refused_reason = Some(detail.clone().into_boxed_str());
                ctx.extensions.insert(Refused(reason));
                match self.action {
                    DenyAction::Drop => Verdict::Close,
                    DenyAction::Forbidden => Verdict::respond(
                        Problem::new(StatusCode::FORBIDDEN, "Access from your network is not allowed.")
                            .with_log_reason(detail),
                    ),
                }
            }
        }
    }

    fn logging(&self, ctx: &RequestCtx, _status: u16) {
        let reason = ctx.extensions.get::<Refused>().map(|r| r.0).or(ctx.refused_by);
        self.shared.stats.record_request(ctx.client_ip, reason);
    }
}
