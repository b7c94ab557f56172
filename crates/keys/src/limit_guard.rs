//! Per-key rate limit and quota, enforced (request-headers phase, after the auth policy put the key's
//! [`KeyLimits`] in the request's extensions).
//!
//! * `rate_limit` (`100/min`) is a GCRA rate with a burst of the whole count, like the traffic limits.
//! * `quota` (`100000/day`) is a fixed window aligned on the Unix epoch (every node agrees where a day starts
//!   without talking to the others; a new window is a new counter, so nothing has to be reset). A refused
//!   request still counts in its window: a client hammering past its quota gains nothing.
//!
//! Both are keyed by key id in the process-wide traffic store (`portcullis_limits::traffic()`: memory, or Redis
//! so a fleet enforces one limit), with `[traffic] on_store_error` deciding what a store failure means. A
//! refusal is 429 problem+json with `Retry-After` and the RateLimit fields; allowed responses get the key's
//! members appended to the RateLimit fields.
//!
//! Owns: the per-key counting policy. Must not touch: how keys are verified (the auth policy), how state is
//! stored (portcullis-store). The store calls sit in [`KeyLimitGuard::count`] alone, so moving to an async
//! store API changes one function.

use std::sync::Arc;
use std::time::Duration;

use http::header::RETRY_AFTER;
use http::{request, response, StatusCode};
use portcullis_config::{Config, OnStoreError};
use portcullis_limits::fields::{self, ceil_secs, RATELIMIT, RATELIMIT_POLICY};
use portcullis_limits::Traffic;
use portcullis_pipeline::{AuthMethod, Phases, Problem, Protection, RequestCtx, Verdict};
use portcullis_store::{Gcra, MemoryStore, RateDecision, Store, StoreError};
use prometheus_client::metrics::counter::Counter;

use crate::record::{KeyLimits, Rate};

/// The name in `ctx.refused_by`, logs and the decision metric's `limit` label.
pub const NAME: &str = "key_limits";
/// RateLimit policy names (and the `limit` label of `portcullis_rate_limit_decisions`).
pub const RATE_POLICY: &str = "api_key_rate";
pub const QUOTA_POLICY: &str = "api_key_quota";

/// One check: what to count.
#[derive(Clone, Copy)]
enum Check {
    Rate(Rate),
    Quota(Rate),
}

/// A store answer: allowed, units left, time until rested/reset, time until the next request passes.
struct Outcome {
    allowed: bool,
    remaining: u64,
    reset: Duration,
    retry: Duration,
}

/// The RateLimit fields for the response: appended to the traffic limits' on an allowed request; on a refusal
/// they replace them (the traffic limits' response phase runs first and would otherwise overwrite the 429's
/// fields with its own, which say nothing about why this request was refused).
#[derive(Clone)]
struct KeyFields {
    policy: String,
    state: String,
    refused: bool,
}

struct Counters {
    allowed: Counter,
    limited: Counter,
}

/// Enforces the per-key limits of requests authenticated by an API key.
pub struct KeyLimitGuard {
    traffic: &'static Traffic,
    store: Arc<Store>,
    fallback: Arc<MemoryStore>,
    on_error: OnStoreError,
    rate: Counters,
    quota: Counters,
}

impl std::fmt::Debug for KeyLimitGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyLimitGuard").field("store", &self.store.kind()).finish_non_exhaustive()
    }
}

impl KeyLimitGuard {
    /// The guard, or `None` when no route accepts API keys (nothing to count, no cost per request). The store
    /// is the one the traffic limits use (the same settings give the same store).
    pub fn build(config: &Config) -> Result<Option<KeyLimitGuard>, StoreError> {
        let f = &config.file;
        let keys_used = f.keys.is_some()
            && f.routes.iter().any(|r| {
                r.auth.as_ref().is_some_and(|a| a.methods.contains(&portcullis_config::AuthMethodName::ApiKey))
            });
        if !keys_used {
            return Ok(None);
        }
        let traffic = portcullis_limits::traffic();
        let store = traffic.store_for(&portcullis_limits::store_spec(config))?;
        let counters = |name: &str| Counters {
            allowed: traffic.metrics.decision(name, "allowed"),
            limited: traffic.metrics.decision(name, "limited"),
        };
        Ok(Some(KeyLimitGuard {
            traffic,
            store,
            fallback: traffic.fallback(f.traffic.memory_max_keys),
            on_error: f.traffic.on_store_error,
            rate: counters(RATE_POLICY),
            quota: counters(QUOTA_POLICY),
        }))
    }

    /// The one place that talks to the store. `Err` is the 503 to answer under `fail_closed`.
    fn count(&self, key_id: &str, check: Check) -> Result<Outcome, Box<Problem>> {
        let now_ms = portcullis_store::unix_ms();
        let (key, shared) = match check {
            Check::Rate(r) => {
                let key = format!("apikey|rate|{key_id}");
                let d = self.store.rate_check(&key, &gcra(r)).map(rate_outcome);
                (key, d)
            }
            Check::Quota(r) => {
                let key = format!("apikey|quota|{key_id}|{}", now_ms / window_ms(r));
                let d = self.store.count_hit(&key, r.per).map(|n| quota_outcome(r, n, now_ms));
                (key, d)
            }
        };
        match shared {
            Ok(o) => Ok(o),
            Err(e) => match self.on_error {
                OnStoreError::FailOpen => {
                    self.traffic.metrics.store_error(e.kind(), "fail_open");
                    Ok(match check {
                        Check::Rate(r) => rate_outcome(self.fallback.rate_check(&key, &gcra(r))),
                        Check::Quota(r) => quota_outcome(r, self.fallback.count_hit(&key, r.per), now_ms),
                    })
                }
                OnStoreError::FailClosed => {
                    self.traffic.metrics.store_error(e.kind(), "fail_closed");
                    Err(portcullis_limits::store_unavailable(format!(
                        "api key {key_id} limits: state store unavailable ({e})"
                    )))
                }
            },
        }
    }
}

fn gcra(r: Rate) -> Gcra {
    Gcra::new(r.count, r.per, u32::try_from(r.count).unwrap_or(u32::MAX))
}

fn window_ms(r: Rate) -> u64 {
    (r.per.as_millis() as u64).max(1)
}

fn rate_outcome(d: RateDecision) -> Outcome {
    Outcome { allowed: d.allowed, remaining: d.remaining, reset: d.reset_after, retry: d.retry_after }
}

/// `n` is this request's place in the window that holds `now_ms`.
fn quota_outcome(r: Rate, n: u64, now_ms: u64) -> Outcome {
    let window = window_ms(r);
    let reset = Duration::from_millis(window - now_ms % window);
    let allowed = n <= r.count;
    Outcome {
        allowed,
        remaining: r.count.saturating_sub(n),
        reset,
        retry: if allowed { Duration::ZERO } else { reset },
    }
}

/// Appends `extra` members to a RateLimit field the traffic limits may already have set.
fn merge(resp: &mut response::Parts, name: &http::HeaderName, extra: &str) {
    let joined = match resp.headers.get(name).and_then(|v| v.to_str().ok()).filter(|v| !v.is_empty()) {
        Some(v) => format!("{v}, {extra}"),
        None => extra.to_string(),
    };
    resp.headers.insert(name.clone(), fields::value(&joined));
}

impl Protection for KeyLimitGuard {
    fn name(&self) -> &'static str {
        NAME
    }

    fn phases(&self) -> Phases {
        Phases { request_headers: true, response_headers: true, ..Phases::default() }
    }

    /// Runs whatever `ctx.allowlisted` says: a quota is the key holder's contract, not a property of the
    /// address the request came from.
    fn request_headers_filter(&self, ctx: &mut RequestCtx, _req: &mut request::Parts) -> Verdict {
        let Some(limits) = ctx.extensions.get::<KeyLimits>().copied() else { return Verdict::Continue };
        let Some(id) = ctx.identity.as_ref().filter(|i| i.method == AuthMethod::ApiKey).map(|i| i.subject.clone())
        else {
            return Verdict::Continue;
        };
        let checks = [
            limits.rate_limit.map(|r| (Check::Rate(r), RATE_POLICY, &self.rate)),
            limits.quota.map(|r| (Check::Quota(r), QUOTA_POLICY, &self.quota)),
        ];
        let mut policy = String::new();
        let mut state = String::new();
        for (check, name, counters) in checks.into_iter().flatten() {
            let r = match check {
                Check::Rate(r) | Check::Quota(r) => r,
            };
            fields::policy_member(&mut policy, name, r.count, r.per);
            let o = match self.count(&id, check) {
                Ok(o) => o,
                Err(problem) => {
                    ctx.refused_reason = problem.log_reason.clone().map(String::into_boxed_str);
                    return Verdict::Respond(problem);
                }
            };
            if o.allowed {
                counters.allowed.inc();
                fields::state_member(&mut state, name, o.remaining, o.reset);
                continue;
            }
            counters.limited.inc();
            let mut only = String::new();
            fields::state_member(&mut only, name, 0, o.retry);
            let mut own_policy = String::new();
            fields::policy_member(&mut own_policy, name, r.count, r.per);
            let retry = ceil_secs(o.retry).max(1);
            let what = if matches!(check, Check::Rate(_)) { "rate limit" } else { "quota" };
            let p = Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!("This API key's {what} is used up; retry in {retry} s."),
            )
            .with_header(RETRY_AFTER, fields::value(&retry.to_string()))
            .with_header(RATELIMIT_POLICY.clone(), fields::value(&own_policy))
            .with_header(RATELIMIT.clone(), fields::value(&only));
            ctx.refused_reason = Some(format!("api key {id} {what} {r} exceeded").into_boxed_str());
            ctx.extensions.insert(KeyFields { policy: own_policy, state: only, refused: true });
            return Verdict::respond(p);
        }
        if !policy.is_empty() {
            ctx.extensions.insert(KeyFields { policy, state, refused: false });
        }
        Verdict::Continue
    }

    fn response_headers_filter(&self, ctx: &mut RequestCtx, resp: &mut response::Parts) -> Verdict {
        match ctx.extensions.get::<KeyFields>() {
            Some(f) if f.refused => {
                resp.headers.insert(RATELIMIT_POLICY.clone(), fields::value(&f.policy));
                resp.headers.insert(RATELIMIT.clone(), fields::value(&f.state));
            }
            Some(f) => {
                merge(resp, &RATELIMIT_POLICY, &f.policy);
                merge(resp, &RATELIMIT, &f.state);
            }
            None => {}
        }
        Verdict::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use portcullis_pipeline::{ConnInfo, Identity};

    fn guard(extra: &str) -> KeyLimitGuard {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "[[listeners]]\nname = \"w\"\naddress = \"127.0.0.1:0\"\n[[upstreams]]\nname = \"u\"\ntargets = [\"127.0.0.1:1\"]\n\
             [keys]\ndb = \"k.db\"\nsecret_env = \"S\"\n[[routes]]\nname = \"r\"\nupstream = \"u\"\nauth = {{ methods = [\"api_key\"] }}\n{extra}"
        );
        let cfg = Config::from_str_at(&text, None, dir.path().to_path_buf()).unwrap();
        KeyLimitGuard::build(&cfg).unwrap().unwrap()
    }

    fn ctx(id: &str, limits: KeyLimits) -> RequestCtx {
        let conn = ConnInfo {
            peer: "127.0.0.1:5000".parse().unwrap(),
            local: "127.0.0.1:80".parse().unwrap(),
            tls: false,
            sni: None,
            listener: "w".into(),
            client_cert: None,
        };
        let mut c = RequestCtx::new("id".into(), conn);
        c.identity = Some(Identity { subject: id.into(), method: AuthMethod::ApiKey, scopes: vec![] });
        c.extensions.insert(limits);
        c
    }

    fn run(g: &KeyLimitGuard, id: &str, limits: KeyLimits) -> (Verdict, RequestCtx) {
        let mut c = ctx(id, limits);
        let mut parts = http::Request::get("/").body(()).unwrap().into_parts().0;
        (g.request_headers_filter(&mut c, &mut parts), c)
    }

    #[test]
    fn rate_limit_refuses_past_the_burst_with_fields_and_reason() {
        let g = guard("");
        let l = KeyLimits { rate_limit: Some(Rate::parse("3/hour").unwrap()), quota: None };
        for _ in 0..3 {
            assert!(run(&g, "unit-rate-a", l).0.is_continue());
        }
        let (v, mut c) = run(&g, "unit-rate-a", l);
        // The traffic limits' fields (set first in the response phase) give way to the refusal's own.
        let mut resp = http::Response::new(()).into_parts().0;
        resp.headers.insert(RATELIMIT.clone(), HeaderValue::from_static("\"ip\";r=4;t=1"));
        g.response_headers_filter(&mut c, &mut resp);
        assert_eq!(resp.headers[&RATELIMIT], r#""api_key_rate";r=0;t=1200"#);
        let Verdict::Respond(p) = v else { panic!("not refused") };
        assert_eq!(p.status, StatusCode::TOO_MANY_REQUESTS);
        let h = |n: &str| p.headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.to_str().unwrap().to_string());
        assert_eq!(h("retry-after").unwrap(), "1200");
        assert_eq!(h("ratelimit-policy").unwrap(), r#""api_key_rate";q=3;w=3600"#);
        assert_eq!(h("ratelimit").unwrap(), r#""api_key_rate";r=0;t=1200"#);
        assert_eq!(c.refused_reason.as_deref(), Some("api key unit-rate-a rate limit 3/hour exceeded"));
        // Another key has its own budget.
        assert!(run(&g, "unit-rate-b", l).0.is_continue());
    }

    #[test]
    fn quota_is_a_fixed_window_and_allowed_responses_carry_both_members() {
        let g = guard("");
        let l =
            KeyLimits { rate_limit: Some(Rate::parse("100/min").unwrap()), quota: Some(Rate::parse("2/day").unwrap()) };
        let (v, mut c) = run(&g, "unit-quota", l);
        assert!(v.is_continue());
        let mut resp = http::Response::new(()).into_parts().0;
        resp.headers.insert(RATELIMIT_POLICY.clone(), HeaderValue::from_static("\"ip\";q=5;w=1"));
        g.response_headers_filter(&mut c, &mut resp);
        assert_eq!(
            resp.headers[&RATELIMIT_POLICY],
            r#""ip";q=5;w=1, "api_key_rate";q=100;w=60, "api_key_quota";q=2;w=86400"#
        );
        assert!(resp.headers[&RATELIMIT].to_str().unwrap().contains(r#""api_key_quota";r=1;t="#));
        assert!(run(&g, "unit-quota", l).0.is_continue());
        let (v, c) = run(&g, "unit-quota", l);
        let Verdict::Respond(p) = v else { panic!("not refused") };
        assert_eq!(p.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(c.refused_reason.as_deref(), Some("api key unit-quota quota 2/day exceeded"));
        let retry: u64 =
            p.headers.iter().find(|(k, _)| k == "retry-after").unwrap().1.to_str().unwrap().parse().unwrap();
        assert!((1..=86_400).contains(&retry), "{retry}");
    }

    #[test]
    fn quota_window_math() {
        let r = Rate::parse("10/min").unwrap();
        let o = quota_outcome(r, 11, 60_000 * 5 + 15_000);
        assert!(!o.allowed);
        assert_eq!(o.retry, Duration::from_secs(45));
        let o = quota_outcome(r, 10, 60_000 * 5);
        assert!(o.allowed && o.remaining == 0 && o.reset == Duration::from_secs(60));
    }

    #[test]
    fn requests_without_a_key_are_not_counted() {
        let g = guard("");
        let mut c = ctx("x", KeyLimits { rate_limit: Some(Rate::parse("1/hour").unwrap()), quota: None });
        c.identity = None;
        let mut parts = http::Request::get("/").body(()).unwrap().into_parts().0;
        for _ in 0..3 {
            assert!(g.request_headers_filter(&mut c, &mut parts).is_continue());
        }
    }
}
