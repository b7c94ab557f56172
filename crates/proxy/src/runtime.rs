//! Everything built from one validated config: the router, upstream groups (with pools and health checks),
//! the ordered protections and the limits. Swapped atomically on reload; requests in flight keep the one
//! they started with.

use std::collections::HashMap;
use std::sync::Arc;

use ipnet::IpNet;
use portcullis_config::Config;
use portcullis_headers::HeaderPolicy;
use portcullis_keys::AuthProtection;
use portcullis_pipeline::{Phases, Protection};
use portcullis_waf_protection::WafProtection;

use crate::metrics::Metrics;
use crate::router::{Route, Router};
use crate::tls::CertSet;
use crate::upstream::UpstreamGroup;

/// Protocol limits checked on every request.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_header_bytes: usize,
    pub max_headers: usize,
    pub max_uri_bytes: usize,
}

pub struct Runtime {
    pub config: Config,
    pub router: Router,
    pub protections: Vec<Arc<dyn Protection>>,
    /// Union of the protections' phases, to skip whole phases nobody uses.
    pub phases: Phases,
    pub limits: Limits,
    pub trusted_proxies: Vec<IpNet>,
    /// The IP allow/deny protection (also in `protections`), for the accept path's per-IP cap exemption.
    pub ipguard: Option<Arc<portcullis_ipguard::IpGuard>>,
}

impl Runtime {
    /// Builds the runtime and loads each TLS listener's certificates. Must run inside the Tokio runtime
    /// (health checks start here). Any error leaves nothing running.
    pub fn build(config: Config, metrics: &Arc<Metrics>) -> Result<(Runtime, HashMap<String, CertSet>), String> {
        let f = &config.file;
        let mut certs = HashMap::new();
        for (i, l) in f.listeners.iter().enumerate() {
            if let Some(tls) = &l.tls {
                let key = format!("listeners[{i}]");
                certs.insert(
                    l.name.clone(),
                    CertSet::load(tls, &config, &key)?.with_client_auth(l.client_auth.as_ref(), &config, &key)?,
                );
            }
        }
        let upstreams = f
            .upstreams
            .iter()
            .map(|u| UpstreamGroup::build(u, &config, metrics.clone()))
            .collect::<Result<Vec<_>, _>>()?;
        let routes = f
            .routes
            .iter()
            .map(|r| Route::build(r, &upstreams, f.limits.max_body_bytes.0, metrics.route(&r.name)))
            .collect::<Result<Vec<_>, _>>()?;
        let mut protections: Vec<Arc<dyn Protection>> = Vec::new();
        // IP allow/deny first: a denied address costs one lookup and never reaches the others.
        metrics.ipguard.stats.set_capacity(f.ip.stats_capacity);
        let ipguard = portcullis_ipguard::IpGuard::build(&config, &metrics.ipguard)?.map(Arc::new);
        if let Some(g) = &ipguard {
            protections.push(g.clone());
        }
        if f.headers.enabled {
            protections.push(Arc::new(HeaderPolicy::build(&f.headers).map_err(|e| e.to_string())?));
        }
        // Identity before rate limits and the WAF: strips client-sent X-Portcullis-* headers on every route,
        // then applies each route's auth policy (API keys, mTLS; JWT once a bearer verifier is plugged in).
        // The `[jwt]` verifier serves both `routes.jwt` and `routes.auth.methods = ["jwt"]`.
        let jwt = portcullis_jwt::JwtAuth::build(&config)?;
        let bearer = jwt.as_ref().map(|j| {
            Arc::new(portcullis_jwt::JwtBearer::new(j.shared_verifier()).with_route_step_up(&config))
                as Arc<dyn portcullis_keys::BearerVerifier>
        });
        protections.push(Arc::new(AuthProtection::build(&config, bearer).map_err(|e| e.to_string())?));
        // Bearer tokens (JWT) per route, after the client's X-Portcullis-* copies are gone.
        if let Some(jwt) = jwt {
            protections.push(Arc::new(jwt));
        }
        // Bans, load shedding and rate limits (keyed by IP, identity, header, route): before everything that
        // inspects the request.
        protections.push(Arc::new(portcullis_limits::TrafficGuard::build(&config).map_err(|e| e.to_string())?));
        // Per-key rate limit and quota (API keys), in the same store as the traffic limits.
        if let Some(g) = portcullis_keys::KeyLimitGuard::build(&config).map_err(|e| format!("keys limits: {e}"))? {
            protections.push(Arc::new(g));
        }
        // The WAF after the header policy; absent (no cost at all) when no route runs it.
        if let Some(waf) = WafProtection::build(&config).map_err(|e| e.to_string())? {
            protections.push(Arc::new(waf.with_phase_times(&metrics.waf)));
        }
        let phases = protections.iter().fold(Phases::default(), |acc, p| acc.union(p.phases()));
        let limits = Limits {
            max_header_bytes: f.limits.max_header_bytes.as_usize(),
            max_headers: f.limits.max_headers,
            max_uri_bytes: f.limits.max_uri_bytes.as_usize(),
        };
        let trusted_proxies = f.server.trusted_proxies.clone();
        Ok((
            Runtime { router: Router::new(routes), protections, phases, limits, trusted_proxies, ipguard, config },
            certs,
        ))
    }
}
