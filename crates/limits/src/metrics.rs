//! Metric names for traffic decisions (one place, Prometheus style; labels are limit/policy names from config
//! and fixed words — never client IPs) and the registry they live in.
//!
//! The proxy's registry is private to it, so these live in their own registry, kept for the whole process (it
//! survives config reloads) and appended to the proxy's exposition by [`append_metrics`].

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

pub const RATE_LIMIT_DECISIONS_TOTAL: &str = "portcullis_rate_limit_decisions";
pub const SHED_TOTAL: &str = "portcullis_shed_requests";
pub const BANNED_REQUESTS_TOTAL: &str = "portcullis_banned_requests";
pub const BANNED_CONNECTIONS_TOTAL: &str = "portcullis_banned_connections";
pub const BANS_ISSUED_TOTAL: &str = "portcullis_bans_issued";
pub const BANS_LIFTED_TOTAL: &str = "portcullis_bans_lifted";
pub const STORE_ERRORS_TOTAL: &str = "portcullis_store_errors";
pub const LIMITED_IN_FLIGHT: &str = "portcullis_limits_in_flight_requests";

type Labels = Vec<(&'static str, String)>;

/// Every traffic-decision metric.
pub struct LimitsMetrics {
    registry: Registry,
    decisions: Family<Labels, Counter>,
    shed: Family<Labels, Counter>,
    pub banned_requests: Counter,
    pub banned_connections: Counter,
    bans_issued: Family<Labels, Counter>,
    pub bans_lifted: Counter,
    store_errors: Family<Labels, Counter>,
    pub in_flight: Gauge,
}

impl LimitsMetrics {
    pub fn new() -> LimitsMetrics {
        let mut registry = Registry::default();
        let decisions = Family::default();
        let shed = Family::default();
        let banned_requests = Counter::default();
        let banned_connections = Counter::default();
        let bans_issued = Family::default();
        let bans_lifted = Counter::default();
        let store_errors = Family::default();
        let in_flight = Gauge::default();
        registry.register(
            RATE_LIMIT_DECISIONS_TOTAL,
            "Rate-limit checks, by limit and result (allowed, limited)",
            decisions.clone(),
        );
        registry.register(SHED_TOTAL, "Requests shed with 503, by scope (global, client)", shed.clone());
        registry.register(
            BANNED_REQUESTS_TOTAL,
            "Requests refused because the client IP is banned",
            banned_requests.clone(),
        );
        registry.register(
            BANNED_CONNECTIONS_TOTAL,
            "Connections closed at accept because the peer is banned",
            banned_connections.clone(),
        );
        registry.register(BANS_ISSUED_TOTAL, "Bans issued, by policy (or admin)", bans_issued.clone());
        registry.register(BANS_LIFTED_TOTAL, "Bans lifted through the admin API", bans_lifted.clone());
        registry.register(
            STORE_ERRORS_TOTAL,
            "State store calls that failed or timed out, by kind and the failure mode applied",
            store_errors.clone(),
        );
        registry.register(LIMITED_IN_FLIGHT, "Requests counted against the in-flight caps", in_flight.clone());
        LimitsMetrics {
            registry,
            decisions,
            shed,
            banned_requests,
            banned_connections,
            bans_issued,
            bans_lifted,
            store_errors,
            in_flight,
        }
    }

    /// A counter handle for one limit's result, created at build time so the request path only bumps it.
    pub fn decision(&self, limit: &str, result: &'static str) -> Counter {
        self.decisions.get_or_create(&vec![("limit", limit.to_string()), ("result", result.to_string())]).clone()
    }

    pub fn shed(&self, scope: &'static str) {
        self.shed.get_or_create(&vec![("scope", scope.to_string())]).inc();
    }

    pub fn ban_issued(&self, policy: &str) {
        self.bans_issued.get_or_create(&vec![("policy", policy.to_string())]).inc();
    }

    pub fn store_error(&self, kind: &'static str, mode: &'static str) {
        self.store_errors.get_or_create(&vec![("kind", kind.to_string()), ("mode", mode.to_string())]).inc();
    }

    /// Appends these metrics to a Prometheus/OpenMetrics exposition (replacing its `# EOF` terminator).
    pub fn append_to(&self, out: &mut String) {
        if let Some(stripped) = out.strip_suffix("# EOF\n") {
            out.truncate(stripped.len());
        }
        // Encoding into a String cannot fail.
        let _ = encode(out, &self.registry);
    }
}

impl Default for LimitsMetrics {
    fn default() -> Self {
        Self::new()
    }
}
