//! The traffic-defence protection: bans (connection and request-header phases), load shedding, rate limits
//! (request headers), RateLimit fields on responses (response headers), and in the logging phase the in-flight
//! release and the automatic-ban policies.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use http::header::RETRY_AFTER;
use http::{request, response, HeaderValue, StatusCode};
use portcullis_config::{parse_key, parse_rate, parse_trigger, BanTrigger, Config, KeyPart, OnStoreError, StoreKind};
use portcullis_pipeline::{ConnInfo, PhaseStep, Phases, Problem, Protection, RequestCtx, Verdict};
use portcullis_store::prehashed::BuildPassThrough;
use portcullis_store::{Ban, Escalation, Gcra, MemoryStore, RateDecision, RedisTarget, Store, StoreError, StoreSpec};
use prometheus_client::metrics::counter::Counter;

use crate::fields::{self, ceil_secs, RATELIMIT, RATELIMIT_POLICY};
use crate::key::limit_key;
use crate::shared::{traffic, Traffic};

/// Security events (bans, unbans) go to the same target as the WAF's.
pub const SECURITY_TARGET: &str = "portcullis::security";

/// The name in `ctx.refused_by` and logs.
pub const NAME: &str = "limits";

#[derive(Debug, thiserror::Error)]
pub enum LimitsError {
    #[error("traffic.{0}")]
    Config(String),
    #[error("traffic store: {0}")]
    Store(#[from] StoreError),
}

struct Limit {
    name: Box<str>,
    /// `name` as an sf-string, for the RateLimit field.
    quoted: Box<str>,
    parts: Vec<KeyPart>,
    gcra: Gcra,
    count: u64,
    period: Duration,
    /// `"10/min per ip"`, for the access log.
    describe: Box<str>,
    allowed: Counter,
    limited: Counter,
}

struct RouteLimits {
    limits: Vec<usize>,
    policy: HeaderValue,
    /// Bytes the RateLimit field's members can take, so it is built in one allocation.
    state_len: usize,
}

struct BanPolicy {
    name: Box<str>,
    trigger: BanTrigger,
    count: u64,
    within: Duration,
    escalation: Escalation,
}

/// What the limits phase left for later phases of the same request.
#[derive(Clone)]
struct Ticket {
    global: bool,
    client: bool,
    rate_limited: bool,
    /// The RateLimit fields for the response.
    fields: Option<(HeaderValue, HeaderValue)>,
}

/// Rate limits, load shedding and bans, built from `[traffic]`.
pub struct TrafficGuard {
    traffic: &'static Traffic,
    store: Arc<Store>,
    fallback: Arc<MemoryStore>,
    on_error: OnStoreError,
    limits: Vec<Limit>,
    /// Route names come from the config, not from clients: hashed with FNV rather than SipHash.
    routes: HashMap<Box<str>, RouteLimits, BuildPassThrough>,
    default_route: Option<RouteLimits>,
    /// Shared with the background tasks that count toward bans when the store is remote.
    policies: Vec<Arc<BanPolicy>>,
    max_in_flight: Option<usize>,
    max_per_client: Option<usize>,
    /// Peers never dropped at accept: their requests carry other clients' addresses.
    trusted_proxies: Vec<ipnet::IpNet>,
}

/// The store settings in `[traffic]`.
pub fn store_spec(config: &Config) -> StoreSpec {
    let t = &config.file.traffic;
    let redis = match t.store {
        StoreKind::Memory => None,
        StoreKind::Redis if !t.redis_cluster.is_empty() => Some(RedisTarget::Cluster(t.redis_cluster.clone())),
        StoreKind::Redis => t.redis_url.clone().map(RedisTarget::Standalone),
    };
    StoreSpec {
        redis,
        timeout: t.redis_timeout.0,
        key_prefix: t.key_prefix.clone(),
        memory_max_keys: t.memory_max_keys,
    }
}

impl TrafficGuard {
    /// Builds the guard; the store is reused from the previous config when its settings did not change.
    pub fn build(config: &Config) -> Result<TrafficGuard, LimitsError> {
        let t = &config.file.traffic;
        let traffic = traffic();
        let store = traffic.store_for(&store_spec(config))?;
        let fallback = traffic.fallback(t.memory_max_keys);
        let mut limits = Vec::new();
        for (i, l) in t.rate_limits.iter().enumerate() {
            let (count, period) =
                parse_rate(&l.rate).map_err(|e| LimitsError::Config(format!("rate_limits[{i}].rate: {e}")))?;
            let parts = parse_key(&l.key).map_err(|e| LimitsError::Config(format!("rate_limits[{i}].key: {e}")))?;
            let burst = l.burst.unwrap_or(u32::try_from(count).unwrap_or(u32::MAX));
            limits.push(Limit {
                name: l.name.as_str().into(),
                quoted: fields::quoted(&l.name),
                parts,
                gcra: Gcra::new(count, period, burst),
                count,
                period,
                describe: format!("{} per {}", l.rate, l.key).into(),
                allowed: traffic.metrics.decision(&l.name, "allowed"),
                limited: traffic.metrics.decision(&l.name, "limited"),
            });
        }
        let index = |names: &[String]| -> Result<Option<RouteLimits>, LimitsError> {
            let idx = names
                .iter()
                .map(|n| {
                    limits
                        .iter()
                        .position(|l| *l.name == **n)
                        .ok_or_else(|| LimitsError::Config(format!("no rate limit named {n:?}")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            if idx.is_empty() {
                return Ok(None);
            }
            let mut policy = String::new();
            for &i in &idx {
                fields::policy_member(&mut policy, &limits[i].name, limits[i].count, limits[i].period);
            }
            // Per member: the quoted name, `;r=` and `;t=` with up to 20 digits each, and `, `.
            let state_len = idx.iter().map(|&i| limits[i].quoted.len() + 48).sum();
            Ok(Some(RouteLimits { limits: idx, policy: fields::value(&policy), state_len }))
        };
        let default_route = index(&t.default_rate_limits)?;
        let mut routes = HashMap::default();
        for r in &config.file.routes {
            let set = match &r.rate_limits {
                Some(names) => index(names)?,
                None => index(&t.default_rate_limits)?,
            };
            if let Some(set) = set {
                routes.insert(r.name.as_str().into(), set);
            }
        }
        let mut policies = Vec::new();
        for (i, b) in t.ban_policies.iter().enumerate() {
            let trigger = parse_trigger(&b.trigger)
                .map_err(|e| LimitsError::Config(format!("ban_policies[{i}].trigger: {e}")))?;
            policies.push(Arc::new(BanPolicy {
                name: b.name.as_str().into(),
                trigger,
                count: u64::from(b.count),
                within: b.within.0,
                escalation: Escalation {
                    base: b.ban_for.0,
                    factor: b.escalate,
                    max: b.max_ban.0,
                    forget_after: b.forget_after.0,
                },
            }));
        }
        Ok(TrafficGuard {
            traffic,
            store,
            fallback,
            on_error: t.on_store_error,
            limits,
            routes,
            default_route,
            policies,
            max_in_flight: t.max_in_flight,
            max_per_client: t.max_in_flight_per_client,
            trusted_proxies: config.file.server.trusted_proxies.clone(),
        })
    }

    /// The store this guard uses.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    fn ban_of(&self, ip: IpAddr) -> Option<Ban> {
        self.store.ban_lookup(ip).or_else(|| match self.fallback.has_bans() {
            true => self.fallback.ban_get(ip, portcullis_store::unix_ms()),
            // No local bans (the usual case): no clock read.
            false => None,
        })
    }

    /// One limit check's store answer, with the failure mode applied. `Err` is the 503 to answer under
    /// `fail_closed`.
    fn decided(
        &self,
        key: &str,
        limit: &Limit,
        answer: Result<RateDecision, StoreError>,
    ) -> Result<RateDecision, Box<Problem>> {
        match answer {
            Ok(d) => Ok(d),
            Err(e) => {
                let kind = e.kind();
                match self.on_error {
                    OnStoreError::FailOpen => {
                        self.traffic.metrics.store_error(kind, "fail_open");
                        Ok(self.fallback.rate_check(key, &limit.gcra))
                    }
                    OnStoreError::FailClosed => {
                        self.traffic.metrics.store_error(kind, "fail_closed");
                        Err(store_unavailable(format!("rate limit {}: state store unavailable ({e})", limit.name)))
                    }
                }
            }
        }
    }

    fn refuse(ctx: &mut RequestCtx, reason: String, problem: Problem) -> Verdict {
        ctx.refused_reason = Some(reason.into_boxed_str());
        Verdict::respond(problem)
    }

    fn shed(&self, ctx: &mut RequestCtx, scope: &'static str) -> Verdict {
        self.traffic.metrics.shed(scope);
        let p = Problem::new(StatusCode::SERVICE_UNAVAILABLE, "The service is busy; retry shortly.")
            .with_header(RETRY_AFTER, HeaderValue::from_static("1"));
        let reason =
            if scope == "global" { "load shed: gateway in-flight cap" } else { "load shed: client in-flight cap" };
        Self::refuse(ctx, reason.to_string(), p)
    }

    /// The part of the headers phase that never waits: bans, load shedding, and which limits apply. `Err` is
    /// the verdict already reached; `Ok(None)` means no limits apply (the ticket is stored).
    fn admit(&self, ctx: &mut RequestCtx) -> Result<Option<(Ticket, &RouteLimits)>, Verdict> {
        if ctx.allowlisted {
            return Err(Verdict::Continue);
        }
        if let Some(ban) = self.ban_of(ctx.client_ip) {
            self.traffic.metrics.banned_requests.inc();
            let secs = ban.remaining_secs(portcullis_store::unix_ms()).max(1);
            let p = Problem::new(StatusCode::FORBIDDEN, "Your address is temporarily blocked.")
                .with_header(RETRY_AFTER, fields::value(&secs.to_string()));
            return Err(Self::refuse(ctx, format!("banned: {}", ban.reason), p));
        }
        let mut ticket = Ticket { global: false, client: false, rate_limited: false, fields: None };
        if let Some(max) = self.max_in_flight {
            if !self.traffic.in_flight.acquire_global(max) {
                return Err(self.shed(ctx, "global"));
            }
            ticket.global = true;
            self.traffic.metrics.in_flight.inc();
        }
        if let Some(max) = self.max_per_client {
            if !self.traffic.in_flight.acquire_client(ctx.client_ip, max) {
                ctx.extensions.insert(ticket);
                return Err(self.shed(ctx, "client"));
            }
            ticket.client = true;
        }
        let set = match ctx.route.as_deref() {
            Some(r) => self.routes.get(r),
            None => self.default_route.as_ref(),
        };
        match set {
            Some(set) => Ok(Some((ticket, set))),
            None => {
                // Only a held in-flight slot needs the ticket later (logging releases it); storing an empty one
                // cost an allocation on every request of a gateway without limits.
                if ticket.global || ticket.client {
                    ctx.extensions.insert(ticket);
                }
                Ok(None)
            }
        }
    }

    /// Applies one limit's decision: `Some` is the refusal (the ticket is stored), `None` adds the limit's
    /// state to the RateLimit field and goes on to the next.
    fn apply(
        &self,
        ctx: &mut RequestCtx,
        ticket: &mut Ticket,
        state: &mut String,
        set: &RouteLimits,
        limit: &Limit,
        decision: Result<RateDecision, Box<Problem>>,
    ) -> Option<Verdict> {
        let d = match decision {
            Ok(d) => d,
            Err(problem) => {
                ctx.extensions.insert(ticket.clone());
                ctx.refused_reason = problem.log_reason.clone().map(String::into_boxed_str);
                return Some(Verdict::Respond(problem));
            }
        };
        if d.allowed {
            limit.allowed.inc();
            fields::state_member_quoted(state, &limit.quoted, d.remaining, d.reset_after);
            return None;
        }
        limit.limited.inc();
        let mut only = String::new();
        fields::state_member_quoted(&mut only, &limit.quoted, 0, d.retry_after);
        let retry = ceil_secs(d.retry_after).max(1);
        let p = Problem::new(StatusCode::TOO_MANY_REQUESTS, format!("Too many requests; retry in {retry} s."))
            .with_header(RETRY_AFTER, fields::value(&retry.to_string()))
            .with_header(RATELIMIT_POLICY.clone(), set.policy.clone())
            .with_header(RATELIMIT.clone(), fields::value(&only));
        ticket.rate_limited = true;
        ctx.extensions.insert(ticket.clone());
        Some(Self::refuse(ctx, format!("rate limit {}: {}", limit.name, limit.describe), p))
    }

    /// Every limit passed: the ticket carries the RateLimit fields for the response.
    fn admitted(ctx: &mut RequestCtx, mut ticket: Ticket, set: &RouteLimits, state: String) -> Verdict {
        ticket.fields = Some((set.policy.clone(), fields::value_owned(state)));
        ctx.extensions.insert(ticket);
        Verdict::Continue
    }

    /// Counts one trigger toward `policy` and bans at the threshold, without waiting on the calling thread: with
    /// a remote store this runs on the store's thread after the response, so logging never holds a worker.
    fn count_toward_ban(&self, ip: IpAddr, policy: &Arc<BanPolicy>) {
        let key = format!("ban|{}|{}", policy.name, ip);
        // Counting falls back to this gateway's own counters whatever the failure mode (a ban policy never
        // refuses the request being logged). Banning exactly at the threshold: the shared counter is atomic, so
        // across a fleet one gateway bans, once per window.
        if !self.store.may_wait() {
            let n = self
                .store
                .count_hit(&key, policy.within)
                .unwrap_or_else(|_| self.fallback.count_hit(&key, policy.within));
            if n == policy.count {
                let ban = self.store.ban_escalate(ip, &policy.escalation, &policy.name);
                announce(self.traffic, &self.fallback, ip, policy, ban, n);
            }
            return;
        }
        let (store, fallback, traffic, policy) =
            (self.store.clone(), self.fallback.clone(), self.traffic, policy.clone());
        self.store.detach(async move {
            let n = match store.count_hit_async(&key, policy.within).await {
                Ok(n) => n,
                Err(_) => fallback.count_hit(&key, policy.within),
            };
            if n == policy.count {
                let ban = store.ban_escalate_async(ip, &policy.escalation, &policy.name).await;
                announce(traffic, &fallback, ip, &policy, ban, n);
            }
        });
    }
}

/// Records a ban the store made (or, when it failed, makes it on this gateway alone: an attacker must not
/// profit from the store being away), then counts and logs it as a security event.
fn announce(
    traffic: &Traffic,
    fallback: &MemoryStore,
    ip: IpAddr,
    policy: &BanPolicy,
    ban: Result<Ban, StoreError>,
    hits: u64,
) {
    let ban = match ban {
        Ok(b) => b,
        Err(e) => {
            traffic.metrics.store_error(e.kind(), "local_ban");
            fallback.ban_escalate(ip, &policy.escalation, &policy.name, portcullis_store::unix_ms())
        }
    };
    traffic.metrics.ban_issued(&policy.name);
    let secs = ban.remaining_secs(portcullis_store::unix_ms());
    tracing::warn!(
        target: SECURITY_TARGET,
        event = "ban",
        client_ip = %ip,
        policy = %policy.name,
        level = ban.level,
        ban_seconds = secs,
        until_ms = ban.until_ms,
        hits,
        within_ms = policy.within.as_millis() as u64,
        "client banned",
    );
}

/// The 503 for a request whose limit could not be checked under `on_store_error = "fail_closed"`; `reason` goes
/// to the log only. Shared with the per-key limits (portcullis-keys).
pub fn store_unavailable(reason: String) -> Box<Problem> {
    Box::new(
        Problem::new(StatusCode::SERVICE_UNAVAILABLE, "The service is temporarily unavailable; retry shortly.")
            .with_header(RETRY_AFTER, HeaderValue::from_static("1"))
            .with_log_reason(reason),
    )
}

impl Protection for TrafficGuard {
    fn name(&self) -> &'static str {
        NAME
    }

    fn phases(&self) -> Phases {
        Phases {
            connection: true,
            request_headers: true,
            response_headers: !self.routes.is_empty() || self.default_route.is_some(),
            logging: true,
            ..Phases::default()
        }
    }

    /// A banned peer address is dropped at accept (local lookup only; no I/O).
    fn connection_filter(&self, conn: &ConnInfo) -> Verdict {
        let peer = conn.peer.ip();
        if self.trusted_proxies.iter().any(|n| n.contains(&peer)) {
            return Verdict::Continue;
        }
        if self.ban_of(peer).is_some() {
            self.traffic.metrics.banned_connections.inc();
            return Verdict::Close;
        }
        Verdict::Continue
    }

    fn request_headers_filter(&self, ctx: &mut RequestCtx, req: &mut request::Parts) -> Verdict {
        let (mut ticket, set) = match self.admit(ctx) {
            Err(v) => return v,
            Ok(None) => return Verdict::Continue,
            Ok(Some(t)) => t,
        };
        let mut state = String::with_capacity(set.state_len);
        for &i in &set.limits {
            let limit = &self.limits[i];
            let key = limit_key(&limit.name, &limit.parts, ctx, req);
            let d = self.decided(&key, limit, self.store.rate_check(&key, &limit.gcra));
            if let Some(refusal) = self.apply(ctx, &mut ticket, &mut state, set, limit, d) {
                return refusal;
            }
        }
        Self::admitted(ctx, ticket, set, state)
    }

    /// With Redis, the limit checks await the store instead of blocking the worker thread; in memory, and on
    /// routes without limits, the synchronous path runs (no allocation, no waiting).
    fn request_headers_step<'a>(&'a self, ctx: &'a mut RequestCtx, req: &'a mut request::Parts) -> PhaseStep<'a> {
        if !self.store.may_wait() {
            return PhaseStep::Done(self.request_headers_filter(ctx, req));
        }
        let (mut ticket, set) = match self.admit(ctx) {
            Err(v) => return PhaseStep::Done(v),
            Ok(None) => return PhaseStep::Done(Verdict::Continue),
            Ok(Some(t)) => t,
        };
        PhaseStep::Wait(Box::pin(async move {
            // All the route's limits in one store call: one round trip, however many limits there are.
            let keys: Vec<String> =
                set.limits.iter().map(|&i| limit_key(&self.limits[i].name, &self.limits[i].parts, ctx, req)).collect();
            let checks: Vec<(&str, Gcra)> =
                set.limits.iter().zip(&keys).map(|(&i, k)| (k.as_str(), self.limits[i].gcra)).collect();
            let answer = self.store.rate_checks_async(&checks).await;
            let mut state = String::with_capacity(set.state_len);
            for (n, (&i, key)) in set.limits.iter().zip(&keys).enumerate() {
                let limit = &self.limits[i];
                let one = match &answer {
                    // The store stops at the first refusal, and that refusal returns here before a later limit
                    // is reached; a missing answer is a store fault like any other.
                    Ok(ds) => ds.get(n).copied().ok_or_else(|| StoreError::Redis("no decision for a limit".into())),
                    Err(e) => Err(e.clone()),
                };
                let d = self.decided(key, limit, one);
                if let Some(refusal) = self.apply(ctx, &mut ticket, &mut state, set, limit, d) {
                    return refusal;
                }
            }
            Self::admitted(ctx, ticket, set, state)
        }))
    }

    fn response_headers_filter(&self, ctx: &mut RequestCtx, resp: &mut response::Parts) -> Verdict {
        // Taken, not cloned: nothing reads the fields after this phase.
        if let Some((policy, state)) = ctx.extensions.get_mut::<Ticket>().and_then(|t| t.fields.take()) {
            resp.headers.insert(RATELIMIT_POLICY.clone(), policy);
            resp.headers.insert(RATELIMIT.clone(), state);
        }
        Verdict::Continue
    }

    fn logging(&self, ctx: &RequestCtx, status: u16) {
        let ticket = ctx.extensions.get::<Ticket>();
        if let Some(t) = ticket {
            if t.global {
                self.traffic.in_flight.release_global();
                self.traffic.metrics.in_flight.dec();
            }
            if t.client {
                self.traffic.in_flight.release_client(ctx.client_ip);
            }
        }
        if ctx.allowlisted || self.policies.is_empty() {
            return;
        }
        let rate_limited = ticket.is_some_and(|t| t.rate_limited);
        for p in &self.policies {
            let hit = match p.trigger {
                BanTrigger::WafBlock => ctx.refused_by == Some("waf"),
                BanTrigger::Status(code) => status == code,
                BanTrigger::RateLimited => rate_limited,
            };
            if hit {
                self.count_toward_ban(ctx.client_ip, p);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_pipeline::{AuthMethod, Identity};

    fn guard(traffic_toml: &str) -> TrafficGuard {
        let text = format!(
            "[[listeners]]\nname = \"http\"\naddress = \"127.0.0.1:0\"\n[[routes]]\nname = \"all\"\nrespond = {{ status = 200 }}\n{traffic_toml}"
        );
        let config = Config::from_str_at(&text, None, ".".into()).unwrap();
        TrafficGuard::build(&config).unwrap()
    }

    fn ctx(ip: &str) -> RequestCtx {
        let conn = ConnInfo {
            peer: format!("{ip}:1000").parse().unwrap(),
            local: "127.0.0.1:80".parse().unwrap(),
            tls: false,
            sni: None,
            listener: "http".into(),
            client_cert: None,
        };
        let mut c = RequestCtx::new("r".into(), conn);
        c.route = Some("all".into());
        c
    }

    fn parts() -> request::Parts {
        http::Request::get("/").body(()).unwrap().into_parts().0
    }

    fn identity(subject: &str) -> Identity {
        Identity { subject: subject.into(), method: AuthMethod::ApiKey, scopes: Vec::new() }
    }

    /// Each test uses its own limit name: the store is process-wide, like in the gateway.
    fn limit(name: &str, key: &str) -> String {
        format!(
            "[traffic]\ndefault_rate_limits = [\"{name}\"]\n[[traffic.rate_limits]]\nname = \"{name}\"\nkey = \"{key}\"\nrate = \"2/h\"\n"
        )
    }

    fn run(g: &TrafficGuard, mut c: RequestCtx) -> (bool, RequestCtx) {
        let v = g.request_headers_filter(&mut c, &mut parts());
        g.logging(&c, 200);
        (v.is_continue(), c)
    }

    #[test]
    fn identity_limits_follow_the_subject_across_addresses() {
        let g = guard(&limit("by-identity", "identity"));
        let with = |ip: &str, sub: &str| {
            let mut c = ctx(ip);
            c.identity = Some(identity(sub));
            c
        };
        assert!(run(&g, with("10.0.0.1", "key-a")).0);
        assert!(run(&g, with("10.0.0.2", "key-a")).0);
        let (ok, c) = run(&g, with("10.0.0.3", "key-a"));
        assert!(!ok);
        assert_eq!(c.refused_reason.as_deref(), Some("rate limit by-identity: 2/h per identity"));
        assert!(run(&g, with("10.0.0.3", "key-b")).0);
        // Without an identity the address is the key.
        assert!(run(&g, ctx("10.0.0.9")).0);
        assert!(run(&g, ctx("10.0.0.9")).0);
        assert!(!run(&g, ctx("10.0.0.9")).0);
    }

    #[test]
    fn allowlisted_requests_skip_limits_and_bans() {
        let g = guard(&limit("allow", "ip"));
        for _ in 0..5 {
            let mut c = ctx("10.1.0.1");
            c.allowlisted = true;
            assert!(run(&g, c).0);
        }
        assert!(run(&g, ctx("10.1.0.1")).0, "allow-listed requests did not count");
    }

    #[test]
    fn combined_keys_separate_routes_and_global_counts_everyone() {
        let g = guard(&limit("everyone", "global"));
        assert!(run(&g, ctx("10.2.0.1")).0);
        assert!(run(&g, ctx("10.2.0.2")).0);
        assert!(!run(&g, ctx("10.2.0.3")).0);
        let g = guard(&limit("ip-route", "ip+route"));
        let other_route = || {
            let mut c = ctx("10.2.0.1");
            c.route = Some("elsewhere".into());
            c
        };
        assert!(run(&g, ctx("10.2.0.1")).0);
        assert!(run(&g, ctx("10.2.0.1")).0);
        assert!(!run(&g, ctx("10.2.0.1")).0);
        // "elsewhere" has no limits configured (routes map), so it passes regardless.
        assert!(run(&g, other_route()).0);
    }
}
