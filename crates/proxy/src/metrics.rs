//! Metric names (one place, Prometheus style: base units, no client IPs or raw paths as labels) and the
//! registry the admin listener serves.
//!
//! Per-route handles are created once when a config is built, so the request path only bumps atomics.

use std::sync::Arc;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

pub const REQUESTS_TOTAL: &str = "portcullis_requests";
pub const REQUEST_DURATION_SECONDS: &str = "portcullis_request_duration_seconds";
pub const UPSTREAM_DURATION_SECONDS: &str = "portcullis_upstream_duration_seconds";
pub const IN_FLIGHT: &str = "portcullis_in_flight_requests";
pub const CONNECTIONS_OPEN: &str = "portcullis_connections_open";
pub const UPSTREAM_HEALTHY_TARGETS: &str = "portcullis_upstream_healthy_targets";
pub const UPSTREAM_ERRORS_TOTAL: &str = "portcullis_upstream_errors";
pub const UPSTREAM_RETRIES_TOTAL: &str = "portcullis_upstream_retries";
pub const CONFIG_RELOADS_TOTAL: &str = "portcullis_config_reloads";
pub const REFUSED_TOTAL: &str = "portcullis_refused_requests";
pub const IP_DECISIONS_TOTAL: &str = "portcullis_ip_decisions";
pub const CONNECTIONS_REFUSED_TOTAL: &str = "portcullis_connections_refused";
pub const SLOW_CLIENTS_TOTAL: &str = "portcullis_slow_clients";
pub const H2_CONNECTION_ERRORS_TOTAL: &str = "portcullis_h2_connection_errors";
// `portcullis_waf_phase_seconds` is named and registered by `portcullis_waf_protection::PhaseTimes`.

type Labels = Vec<(&'static str, String)>;

/// Every metric Portcullis exports.
pub struct Metrics {
    registry: Registry,
    requests: Family<Labels, Counter>,
    duration: Family<Labels, Histogram>,
    upstream_duration: Family<Labels, Histogram>,
    pub in_flight: Gauge,
    pub connections: Gauge,
    healthy: Family<Labels, Gauge>,
    upstream_errors: Family<Labels, Counter>,
    retries: Family<Labels, Counter>,
    reloads: Family<Labels, Counter>,
    refused: Family<Labels, Counter>,
    /// IP allow/deny decisions and the per-IP statistics table; outlive config reloads.
    pub ipguard: portcullis_ipguard::GuardShared,
    /// The WAF engine's time per phase; outlives config reloads (each new WAF protection counts into it).
    pub waf: portcullis_waf_protection::PhaseTimes,
    conn_refused: Family<Labels, Counter>,
    slow_clients: Family<Labels, Counter>,
    h2_errors: Family<Labels, Counter>,
}

/// Counters for one route, by status class (1xx..5xx), and its latency histogram.
#[derive(Clone)]
pub struct RouteMetrics {
    by_class: [Counter; 5],
    pub duration: Histogram,
    pub upstream_duration: Histogram,
}

impl RouteMetrics {
    pub fn observe(&self, status: u16, seconds: f64) {
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        self.by_class[class].inc();
        self.duration.observe(seconds);
    }
}

fn latency_buckets() -> impl Iterator<Item = f64> {
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0].into_iter()
}

impl Metrics {
    pub fn new() -> Arc<Self> {
        let mut registry = Registry::default();
        let requests = Family::<Labels, Counter>::default();
        let duration = Family::<Labels, Histogram>::new_with_constructor(|| Histogram::new(latency_buckets()));
        let upstream_duration = Family::<Labels, Histogram>::new_with_constructor(|| Histogram::new(latency_buckets()));
        let in_flight = Gauge::default();
        let connections = Gauge::default();
        let healthy = Family::default();
        let upstream_errors = Family::default();
        let retries = Family::default();
        let reloads = Family::default();
        let refused = Family::default();
        registry.register(REQUESTS_TOTAL, "Requests answered, by route and status class", requests.clone());
        registry.register(REQUEST_DURATION_SECONDS, "Time from request head to response end", duration.clone());
        registry.register(
            UPSTREAM_DURATION_SECONDS,
            "Time from sending upstream to the response head",
            upstream_duration.clone(),
        );
        registry.register(IN_FLIGHT, "Requests being served", in_flight.clone());
        registry.register(CONNECTIONS_OPEN, "Open client connections", connections.clone());
        registry.register(UPSTREAM_HEALTHY_TARGETS, "Targets taking traffic, by upstream group", healthy.clone());
        registry.register(
            UPSTREAM_ERRORS_TOTAL,
            "Failed upstream attempts, by upstream and kind",
            upstream_errors.clone(),
        );
        registry.register(UPSTREAM_RETRIES_TOTAL, "Retried upstream attempts, by upstream", retries.clone());
        registry.register(CONFIG_RELOADS_TOTAL, "Config reloads, by result", reloads.clone());
        registry.register(REFUSED_TOTAL, "Requests refused by Portcullis itself, by reason", refused.clone());
        let ipguard = portcullis_ipguard::GuardShared::new(portcullis_config::IpSection::default().stats_capacity);
        registry.register(
            IP_DECISIONS_TOTAL,
            "IP allow/deny decisions, by decision and reason",
            ipguard.decisions.clone(),
        );
        let waf = portcullis_waf_protection::PhaseTimes::default();
        waf.register(&mut registry);
        let (conn_refused, slow_clients, h2_errors) = (Family::default(), Family::default(), Family::default());
        registry.register(
            CONNECTIONS_REFUSED_TOTAL,
            "Connections closed at accept, by reason (per-IP cap, PROXY protocol, deny list)",
            conn_refused.clone(),
        );
        registry.register(
            SLOW_CLIENTS_TOTAL,
            "Clients cut off for being slow, by kind (header_timeout, slow_body)",
            slow_clients.clone(),
        );
        registry.register(
            H2_CONNECTION_ERRORS_TOTAL,
            "HTTP/2 connections closed on a protocol error, by kind (reset_flood, protocol)",
            h2_errors.clone(),
        );
        Arc::new(Metrics {
            registry,
            requests,
            duration,
            upstream_duration,
            in_flight,
            connections,
            healthy,
            upstream_errors,
            retries,
            reloads,
            refused,
            ipguard,
            waf,
            conn_refused,
            slow_clients,
            h2_errors,
        })
    }

    /// Handles for one route (route names come from config, so the label set is bounded).
    pub fn route(&self, route: &str) -> RouteMetrics {
        let class = |c: &str| {
            self.requests.get_or_create(&vec![("route", route.to_string()), ("status", c.to_string())]).clone()
        };
        let labels = vec![("route", route.to_string())];
        RouteMetrics {
            by_class: [class("1xx"), class("2xx"), class("3xx"), class("4xx"), class("5xx")],
            duration: self.duration.get_or_create(&labels).clone(),
            upstream_duration: self.upstream_duration.get_or_create(&labels).clone(),
        }
    }

    pub fn healthy_targets(&self, upstream: &str) -> Gauge {
        self.healthy.get_or_create(&vec![("upstream", upstream.to_string())]).clone()
    }

    pub fn upstream_error(&self, upstream: &str, kind: &'static str) {
        self.upstream_errors.get_or_create(&vec![("upstream", upstream.to_string()), ("kind", kind.to_string())]).inc();
    }

    pub fn retry(&self, upstream: &str) {
        self.retries.get_or_create(&vec![("upstream", upstream.to_string())]).inc();
    }

    pub fn reload(&self, ok: bool) {
        let result = if ok { "success" } else { "failure" };
        self.reloads.get_or_create(&vec![("result", result.to_string())]).inc();
    }

    pub fn refused(&self, reason: &'static str) {
        self.refused.get_or_create(&vec![("reason", reason.to_string())]).inc();
    }

    pub fn connection_refused(&self, reason: &'static str) {
        self.conn_refused.get_or_create(&vec![("reason", reason.to_string())]).inc();
    }

    pub fn slow_client(&self, kind: &'static str) {
        self.slow_clients.get_or_create(&vec![("kind", kind.to_string())]).inc();
    }

    pub fn h2_error(&self, kind: &'static str) {
        self.h2_errors.get_or_create(&vec![("kind", kind.to_string())]).inc();
    }

    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Encoding into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}
