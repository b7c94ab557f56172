//! Upstream groups: targets, balancing, health (active checks and passive ejection), the connection pool and
//! upstream TLS.

mod balance;
mod connector;
mod health;
mod pool;

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use portcullis_config::{Config, RetriesSection, TimeoutsSection, UpstreamSection};
use tower::retry::budget::{Budget, TpsBudget};

pub use balance::{Balancer, HashKey};
pub use connector::UpstreamConnector;
use health::HealthTasks;
pub use pool::Pool;

use crate::metrics::Metrics;

/// The request body type sent upstream.
pub type UpBody = UnsyncBoxBody<Bytes, crate::BoxError>;

/// One target of a group and what Portcullis knows about it.
#[derive(Debug)]
pub struct Target {
    /// `host:port` as configured.
    pub addr: Arc<str>,
    /// The same, parsed once for building upstream URIs.
    pub authority: http::uri::Authority,
    /// The same as a `Host` value, for requests that arrive without one (HTTP/1.0).
    pub host: http::HeaderValue,
    /// Idle pooled connections to this target.
    pub idle: pool::IdleConns,
    /// Set by active health checks; starts healthy.
    healthy: AtomicBool,
    /// Passive ejection: unusable until this time (ms since the group's epoch); 0 = not ejected.
    ejected_until_ms: AtomicU64,
    consecutive_failures: AtomicU32,
    in_flight: AtomicUsize,
}

impl Target {
    fn new(addr: &str, max_idle: usize) -> Result<Self, String> {
        let authority = addr.parse().map_err(|e| format!("target {addr:?}: {e}"))?;
        let host = http::HeaderValue::from_str(addr).map_err(|e| format!("target {addr:?}: {e}"))?;
        Ok(Target {
            addr: addr.into(),
            authority,
            host,
            idle: pool::IdleConns::new(max_idle),
            healthy: AtomicBool::new(true),
            ejected_until_ms: AtomicU64::new(0),
            consecutive_failures: AtomicU32::new(0),
            in_flight: AtomicUsize::new(0),
        })
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }
}

/// A named group of targets with its balancing policy, pool, timeouts and retry budget.
pub struct UpstreamGroup {
    pub name: Arc<str>,
    pub targets: Vec<Arc<Target>>,
    pub balancer: Balancer,
    pub pool: Arc<Pool>,
    pub tls: bool,
    pub timeouts: TimeoutsSection,
    pub retries: RetriesSection,
    budget: TpsBudget,
    passive_max_failures: u32,
    eject_for: Duration,
    epoch: Instant,
    metrics: Arc<Metrics>,
    _health: Option<HealthTasks>,
    _reaper: Option<AbortOnDrop>,
}

/// A background task of a group (an old config's group stops its tasks when dropped).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Holds a target busy while a request uses it (for least-in-flight balancing).
pub struct InFlightGuard(Arc<Target>);

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl InFlightGuard {
    pub fn target(&self) -> &Arc<Target> {
        &self.0
    }
}

impl UpstreamGroup {
    pub fn build(cfg: &UpstreamSection, config: &Config, metrics: Arc<Metrics>) -> Result<Arc<Self>, String> {
        let targets: Vec<Arc<Target>> =
            cfg.targets.iter().map(|t| Target::new(t, cfg.pool_max_idle).map(Arc::new)).collect::<Result<_, _>>()?;
        let connector = UpstreamConnector::new(cfg, config)?;
        let tls = cfg.tls.is_some();
        let pool = Arc::new(Pool::new(connector, cfg.pool_idle_timeout.0));
        let reaper = spawn_reaper(&pool, &targets);
        let balancer = Balancer::new(cfg.balance, cfg.hash_key.as_deref(), &targets);
        let budget = TpsBudget::new(Duration::from_secs(10), 5, cfg.retries.budget_percent as f32 / 100.0);
        let healthy_gauge = metrics.healthy_targets(&cfg.name);
        healthy_gauge.set(targets.len() as i64);
        // Active checks run on the current runtime and stop when the group (an old config) is dropped.
        let health = cfg.health.as_ref().map(|h| {
            let gauge = healthy_gauge.clone();
            let all = targets.clone();
            let name = cfg.name.clone();
            HealthTasks::spawn(&targets, h.clone(), pool.clone(), move || {
                let n = all.iter().filter(|t| t.healthy.load(Ordering::Relaxed)).count();
                gauge.set(n as i64);
                tracing::info!(upstream = %name, healthy = n, "upstream health changed");
            })
        });
        let group = Arc::new(UpstreamGroup {
            name: cfg.name.as_str().into(),
            balancer,
            pool,
            tls,
            timeouts: cfg.timeouts.clone(),
            retries: cfg.retries.clone(),
            budget,
            passive_max_failures: cfg.passive.max_failures,
            eject_for: cfg.passive.eject_for.0,
            epoch: Instant::now(),
            metrics,
            _health: health,
            _reaper: reaper,
            targets,
        });
        Ok(group)
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Whether a target may take traffic now.
    pub fn usable(&self, t: &Target) -> bool {
        // A target never ejected needs no clock read.
        let until = t.ejected_until_ms.load(Ordering::Relaxed);
        t.healthy.load(Ordering::Relaxed) && (until == 0 || until <= self.now_ms())
    }

    /// Picks a usable target (skipping `exclude`, the one that just failed), or `None` if none is.
    pub fn select(&self, key: Option<&[u8]>, exclude: Option<&Arc<Target>>) -> Option<InFlightGuard> {
        let t = self
            .balancer
            .pick(&self.targets, key, |t| self.usable(t) && exclude.is_none_or(|x| !std::ptr::eq(Arc::as_ptr(x), t)))?;
        t.in_flight.fetch_add(1, Ordering::Relaxed);
        Some(InFlightGuard(t))
    }

    /// Records a failed attempt (connect error, timeout, 502-504); ejects the target after too many in a row.
    pub fn report_failure(&self, t: &Target, kind: &'static str) {
        self.metrics.upstream_error(&self.name, kind);
        if self.passive_max_failures == 0 {
            return;
        }
        let n = t.consecutive_failures.fetch_add(1, Ordering::Relaxed) + 1;
        if n >= self.passive_max_failures {
            t.consecutive_failures.store(0, Ordering::Relaxed);
            let until = self.now_ms() + self.eject_for.as_millis() as u64;
            t.ejected_until_ms.store(until, Ordering::Relaxed);
            tracing::warn!(upstream = %self.name, target = %t.addr, failures = n, eject_for = ?self.eject_for,
                "upstream target ejected after consecutive failures");
        }
    }

    pub fn report_success(&self, t: &Target) {
        if t.consecutive_failures.load(Ordering::Relaxed) != 0 {
            t.consecutive_failures.store(0, Ordering::Relaxed);
        }
    }

    /// Counts a request towards the retry budget.
    pub fn deposit(&self) {
        self.budget.deposit();
    }

    /// Takes a retry from the budget, if there is one left.
    pub fn withdraw_retry(&self) -> bool {
        let ok = self.budget.withdraw();
        if ok {
            self.metrics.retry(&self.name);
        }
        ok
    }
}

/// Closes connections that stayed idle past `pool_idle_timeout` even when no request comes to take them.
fn spawn_reaper(pool: &Arc<Pool>, targets: &[Arc<Target>]) -> Option<AbortOnDrop> {
    let rt = tokio::runtime::Handle::try_current().ok()?;
    let period = (pool.idle_timeout() / 2).max(Duration::from_millis(100));
    // Weak: the task must not keep an old config's pool (and its sockets) alive.
    let pool = Arc::downgrade(pool);
    let targets = targets.to_vec();
    Some(AbortOnDrop(rt.spawn(async move {
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(pool) = pool.upgrade() else { return };
            pool.prune(&targets);
        }
    })))
}
