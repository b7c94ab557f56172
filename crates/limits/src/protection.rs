//! The traffic-defence protection: bans (connection and request-header phases), load shedding, rate limits
//! (request headers), RateLimit fields on responses (response headers), and in the logging phase the in-flight
//! release and the automatic-ban policies.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::Hasher;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use http::header::RETRY_AFTER;
use http::{request, response, HeaderValue, StatusCode};
use portcullis_config::{parse_key, parse_rate, parse_trigger, BanTrigger, Config, KeyPart, OnStoreError, StoreKind};
use portcullis_pipeline::{ConnInfo, PhaseStep, Phases, Problem, Protection, RateLimitTicket, RequestCtx, Verdict};
use portcullis_store::prehashed::BuildPassThrough;
use portcullis_store::{Ban, Escalation, Gcra, MemoryStore, RateDecision, RedisTarget, Store, StoreError, StoreSpec};
use prometheus_client::metrics::counter::Counter;

use crate::fields::{self, ceil_secs, RATELIMIT, RATELIMIT_POLICY};
use crate::key::{hash_name, hash_parts, limit_key};
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
    /// `"name";r=`, the constant start of this limit's RateLimit member on allowed responses.
    state_prefix: Box<str>,
    /// With the in-memory store: its seeded key hasher with the name already fed, so a request hashes only its
    /// own parts (the name was a third of the hashing).
    key_prefix: Option<DefaultHasher>,
    parts: Vec<KeyPart>,
    gcra: Gcra,
    count: u64,
    period: Duration,
    /// `"10/min per ip"`, for the access log.
    describe: Box<str>,
    allowed: Counter,
    limited: Counter,
}

/// The limits one route checks, with what its responses carry.
struct RouteLimits {
    limits: Vec<usize>,
    /// The RateLimit-Policy field: constant per set, made once (a response takes a reference-counted copy).
    policy: HeaderValue,
    /// Bytes the RateLimit field's members can take, so it is built in one allocation.
    state_len: usize,
}

/// The RateLimit field's text of a set with more limits than [`RateLimitTicket::INLINE`], whose numbers do not
/// fit in the ticket (rare: such sets pay the extension map).
#[derive(Clone)]
struct StateText(HeaderValue);

struct BanPolicy {
    name: Box<str>,
    trigger: BanTrigger,
    count: u64,
    within: Duration,
    escalation: Escalation,
}

/// Rate limits, load shedding and bans, built from `[traffic]`.
pub struct TrafficGuard {
    traffic: &'static Traffic,
    store: Arc<Store>,
    fallback: Arc<MemoryStore>,
    on_error: OnStoreError,
    limits: Vec<Limit>,
    /// Every route's limit set; `ctx.rate_limit.fields_of` numbers them.
    sets: Vec<RouteLimits>,
    /// Route names come from the config, not from clients: hashed with FNV rather than SipHash.
    routes: HashMap<Box<str>, u32, BuildPassThrough>,
    default_route: Option<u32>,
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
                state_prefix: fields::state_prefix(&l.name),
                key_prefix: store.local().map(|m| {
                    let mut h = m.key_hasher();
                    hash_name(&mut h, &l.name);
                    h
                }),
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
            let state_len = idx.iter().map(|&i| limits[i].quoted.len() + fields::MEMBER_EXTRA).sum();
            Ok(Some(RouteLimits { limits: idx, policy: fields::value(&policy), state_len }))
        };
        let mut sets = Vec::new();
        let mut number = |set: Option<RouteLimits>| {
            set.map(|s| {
                sets.push(s);
                // As many sets as routes, plus one: far below u32::MAX.
                u32::try_from(sets.len() - 1).unwrap_or(u32::MAX)
            })
        };
        let default_route = number(index(&t.default_rate_limits)?);
        let mut routes = HashMap::default();
        for r in &config.file.routes {
            let set = match &r.rate_limits {
                Some(names) => index(names)?,
                None => index(&t.default_rate_limits)?,
            };
            if let Some(n) = number(set) {
                routes.insert(r.name.as_str().into(), n);
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
            sets,
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

    /// The part of the headers phase that never waits: bans, load shedding, and which limits apply (the set's
    /// number and the set). `Err` is the verdict already reached; `Ok(None)` means no limits apply. Held
    /// in-flight slots are recorded in `ctx.rate_limit` for logging to release.
    fn admit(&self, ctx: &mut RequestCtx) -> Result<Option<(u32, &RouteLimits)>, Verdict> {
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
        if let Some(max) = self.max_in_flight {
            if !self.traffic.in_flight.acquire_global(max) {
                return Err(self.shed(ctx, "global"));
            }
            ctx.rate_limit.global_slot = true;
            self.traffic.metrics.in_flight.inc();
        }
        if let Some(max) = self.max_per_client {
            if !self.traffic.in_flight.acquire_client(ctx.client_ip, max) {
                return Err(self.shed(ctx, "client"));
            }
            ctx.rate_limit.client_slot = true;
        }
        let n = match ctx.route.as_deref() {
            Some(r) => self.routes.get(r).copied(),
            None => self.default_route,
        };
        Ok(n.map(|n| (n, &self.sets[n as usize])))
    }

    /// One limit's store answer for this request: in memory through the key's parts hashed directly, at the
    /// request's start time (no key text, no second clock read); otherwise by the key text every gateway
    /// computes alike.
    fn check(&self, limit: &Limit, ctx: &RequestCtx, req: &request::Parts) -> Result<RateDecision, Box<Problem>> {
        if let (Some(m), Some(prefix)) = (self.store.local(), &limit.key_prefix) {
            let mut h = prefix.clone();
            hash_parts(&mut h, &limit.parts, ctx, req);
            return Ok(m.rate_check_hashed(h.finish(), &limit.gcra, ctx.started));
        }
        let key = limit_key(&limit.name, &limit.parts, ctx, req);
        self.decided(&key, limit, self.store.rate_check(&key, &limit.gcra))
    }

    /// Applies the decision of the set's `n`th limit: `Some` is the refusal, `None` keeps the limit's numbers
    /// for the RateLimit field (in the ticket, or in `text` for a set too large for it) and goes on to the next.
    fn apply(
        &self,
        ctx: &mut RequestCtx,
        n: usize,
        text: &mut Option<String>,
        set: &RouteLimits,
        limit: &Limit,
        decision: Result<RateDecision, Box<Problem>>,
    ) -> Option<Verdict> {
        let d = match decision {
            Ok(d) => d,
            Err(problem) => {
                ctx.refused_reason = problem.log_reason.clone().map(String::into_boxed_str);
                return Some(Verdict::Respond(problem));
            }
        };
        if d.allowed {
            limit.allowed.inc();
            match text {
                Some(state) => fields::state_member_quoted(state, &limit.quoted, d.remaining, d.reset_after),
                None => ctx.rate_limit.state[n] = (d.remaining, ceil_secs(d.reset_after)),
            }
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
        ctx.rate_limit.rate_limited = true;
        Some(Self::refuse(ctx, format!("rate limit {}: {}", limit.name, limit.describe), p))
    }

    /// The RateLimit field's text of set `set`, built during the checks only when its numbers do not fit in
    /// the ticket.
    fn state_text(set: &RouteLimits) -> Option<String> {
        (set.limits.len() > RateLimitTicket::INLINE).then(|| String::with_capacity(set.state_len))
    }

    /// Every limit passed: the response phase adds set `n`'s RateLimit fields.
    fn admitted(ctx: &mut RequestCtx, n: u32, text: Option<String>) -> Verdict {
        ctx.rate_limit.fields_of = Some(n);
        if let Some(state) = text {
            ctx.extensions.insert(StateText(fields::value_owned(state)));
        }
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
            response_headers: !self.sets.is_empty(),
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
        let (n, set) = match self.admit(ctx) {
            Err(v) => return v,
            Ok(None) => return Verdict::Continue,
            Ok(Some(t)) => t,
        };
        let mut text = Self::state_text(set);
        for (k, &i) in set.limits.iter().enumerate() {
            let limit = &self.limits[i];
            let d = self.check(limit, ctx, req);
            if let Some(refusal) = self.apply(ctx, k, &mut text, set, limit, d) {
                return refusal;
            }
        }
        Self::admitted(ctx, n, text)
    }

    /// With Redis, the limit checks await the store instead of blocking the worker thread; in memory, and on
    /// routes without limits, the synchronous path runs (no allocation, no waiting).
    fn request_headers_step<'a>(&'a self, ctx: &'a mut RequestCtx, req: &'a mut request::Parts) -> PhaseStep<'a> {
        if !self.store.may_wait() {
            return PhaseStep::Done(self.request_headers_filter(ctx, req));
        }
        let (n, set) = match self.admit(ctx) {
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
            let mut text = Self::state_text(set);
            for (k, (&i, key)) in set.limits.iter().zip(&keys).enumerate() {
                let limit = &self.limits[i];
                let one = match &answer {
                    // The store stops at the first refusal, and that refusal returns here before a later limit
                    // is reached; a missing answer is a store fault like any other.
                    Ok(ds) => ds.get(k).copied().ok_or_else(|| StoreError::Redis("no decision for a limit".into())),
                    Err(e) => Err(e.clone()),
                };
                let d = self.decided(key, limit, one);
                if let Some(refusal) = self.apply(ctx, k, &mut text, set, limit, d) {
                    return refusal;
                }
            }
            Self::admitted(ctx, n, text)
        }))
    }

    /// The RateLimit fields of an admitted request, written from the numbers the checks kept: the policy is
    /// the set's constant value, the state is the one value built per response.
    fn response_headers_filter(&self, ctx: &mut RequestCtx, resp: &mut response::Parts) -> Verdict {
        // Taken: the fields go on one response.
        let Some(set) = ctx.rate_limit.fields_of.take().and_then(|n| self.sets.get(n as usize)) else {
            return Verdict::Continue;
        };
        let state = if set.limits.len() <= RateLimitTicket::INLINE {
            let prefixes = set.limits.iter().map(|&i| &*self.limits[i].state_prefix);
            fields::state_value(prefixes, &ctx.rate_limit.state, set.state_len)
        } else {
            match ctx.extensions.remove::<StateText>() {
                Some(t) => t.0,
                None => return Verdict::Continue,
            }
        };
        resp.headers.insert(RATELIMIT_POLICY.clone(), set.policy.clone());
        resp.headers.insert(RATELIMIT.clone(), state);
        Verdict::Continue
    }

    fn logging(&self, ctx: &RequestCtx, status: u16) {
        let ticket = ctx.rate_limit;
        if ticket.global_slot {
            self.traffic.in_flight.release_global();
            self.traffic.metrics.in_flight.dec();
        }
        if ticket.client_slot {
            self.traffic.in_flight.release_client(ctx.client_ip);
        }
        if ctx.allowlisted || self.policies.is_empty() {
            return;
        }
        let rate_limited = ticket.rate_limited;
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
        let mut c = crate::key::tests::ctx_at(ip);
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

    fn response_fields(g: &TrafficGuard, c: &mut RequestCtx) -> (Option<String>, Option<String>) {
        let mut resp = http::Response::new(()).into_parts().0;
        assert!(g.response_headers_filter(c, &mut resp).is_continue());
        let get = |n: &http::HeaderName| resp.headers.get(n).map(|v| v.to_str().unwrap().to_string());
        (get(&RATELIMIT_POLICY), get(&RATELIMIT))
    }

    /// The fields written from the ticket's numbers, for a set that fits the ticket and one that does not; one
    /// response carries them, a refusal carries its own.
    #[test]
    fn ratelimit_fields_from_the_ticket_and_beyond_it() {
        let g = guard(&limit("fields-one", "ip"));
        let mut c = ctx("10.3.0.1");
        assert!(g.request_headers_filter(&mut c, &mut parts()).is_continue());
        assert_eq!(c.rate_limit.state[0], (1, 1800));
        let (policy, state) = response_fields(&g, &mut c);
        assert_eq!(policy.as_deref(), Some(r#""fields-one";q=2;w=3600"#));
        assert_eq!(state.as_deref(), Some(r#""fields-one";r=1;t=1800"#));
        assert_eq!(response_fields(&g, &mut c), (None, None), "the fields go on one response");
        let mut c = ctx("10.3.0.1");
        assert!(g.request_headers_filter(&mut c, &mut parts()).is_continue());
        let mut c = ctx("10.3.0.1");
        match g.request_headers_filter(&mut c, &mut parts()) {
            Verdict::Respond(p) => assert_eq!(p.status, StatusCode::TOO_MANY_REQUESTS),
            _ => panic!("third request passed"),
        }
        assert!(c.rate_limit.rate_limited);
        assert_eq!(response_fields(&g, &mut c), (None, None));

        // Five limits: more than the ticket holds, so the text is built during the checks.
        let names: Vec<String> = (1..=5).map(|i| format!("fields-many-{i}")).collect();
        let mut toml = format!("[traffic]\ndefault_rate_limits = {names:?}\n");
        for (i, n) in names.iter().enumerate() {
            toml.push_str(&format!("[[traffic.rate_limits]]\nname = \"{n}\"\nkey = \"ip\"\nrate = \"{}/h\"\n", i + 2));
        }
        let g = guard(&toml);
        let mut c = ctx("10.3.0.2");
        assert!(g.request_headers_filter(&mut c, &mut parts()).is_continue());
        let (policy, state) = response_fields(&g, &mut c);
        let want_policy: Vec<String> =
            names.iter().enumerate().map(|(i, n)| format!("\"{n}\";q={};w=3600", i + 2)).collect();
        let want_state: Vec<String> =
            names.iter().enumerate().map(|(i, n)| format!("\"{n}\";r={};t={}", i + 1, 3600 / (i + 2))).collect();
        assert_eq!(policy, Some(want_policy.join(", ")));
        assert_eq!(state, Some(want_state.join(", ")));
    }

    /// A held per-client slot is recorded in the ticket and released by logging, also for a request shed on it.
    #[test]
    fn in_flight_slots_released_from_the_ticket() {
        let g = guard("[traffic]\nmax_in_flight_per_client = 1\n");
        let mut first = ctx("10.4.0.1");
        assert!(g.request_headers_filter(&mut first, &mut parts()).is_continue());
        assert!(first.rate_limit.client_slot);
        let mut second = ctx("10.4.0.1");
        match g.request_headers_filter(&mut second, &mut parts()) {
            Verdict::Respond(p) => assert_eq!(p.status, StatusCode::SERVICE_UNAVAILABLE),
            _ => panic!("second request in flight passed"),
        }
        assert!(!second.rate_limit.client_slot);
        g.logging(&second, 503);
        assert!(run(&g, ctx("10.4.0.2")).0, "another client is not affected");
        g.logging(&first, 200);
        assert!(run(&g, ctx("10.4.0.1")).0, "the slot was not released");
        assert!(run(&g, ctx("10.4.0.1")).0);
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
