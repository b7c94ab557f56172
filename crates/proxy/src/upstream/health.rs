//! Active health checks: one task per target, `GET <path>` every interval; a target leaves rotation after
//! `unhealthy_threshold` failures in a row and comes back after `healthy_threshold` successes.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use portcullis_config::HealthSection;
use tokio::task::JoinHandle;

use super::{Pool, Target};

/// The running checks of one group; aborted on drop (when a reload replaces the group).
pub struct HealthTasks(Vec<JoinHandle<()>>);

impl Drop for HealthTasks {
    fn drop(&mut self) {
        for t in &self.0 {
            t.abort();
        }
    }
}

impl HealthTasks {
    pub fn spawn(
        targets: &[Arc<Target>],
        cfg: HealthSection,
        pool: Arc<Pool>,
        on_change: impl Fn() + Send + Sync + 'static,
    ) -> HealthTasks {
        let on_change = Arc::new(on_change);
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return HealthTasks(Vec::new());
        };
        let tasks = targets
            .iter()
            .map(|t| {
                let (t, cfg, pool, on_change) = (t.clone(), cfg.clone(), pool.clone(), on_change.clone());
                rt.spawn(async move {
                    let uri: http::Uri = match cfg.path.parse() {
                        Ok(u) => u,
                        Err(e) => {
                            tracing::error!(target = %t.addr, error = %e, "health check URI is invalid");
                            return;
                        }
                    };
                    let (mut ok_run, mut fail_run) = (0u32, 0u32);
                    let mut tick = tokio::time::interval(cfg.interval.0);
                    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    loop {
                        tick.tick().await;
                        let ok = probe(&pool, &t, &uri, &cfg).await;
                        if ok {
                            ok_run += 1;
                            fail_run = 0;
                        } else {
                            fail_run += 1;
                            ok_run = 0;
                        }
                        let healthy = t.healthy.load(Ordering::Relaxed);
                        if healthy && fail_run >= cfg.unhealthy_threshold {
                            t.healthy.store(false, Ordering::Relaxed);
                            tracing::warn!(target = %t.addr, failures = fail_run, "upstream target failed health checks");
                            on_change();
                        } else if !healthy && ok_run >= cfg.healthy_threshold {
                            t.healthy.store(true, Ordering::Relaxed);
                            // A target that passes active checks is no longer passively ejected either.
                            t.ejected_until_ms.store(0, Ordering::Relaxed);
                            tracing::info!(target = %t.addr, "upstream target passed health checks again");
                            on_change();
                        }
                    }
                })
            })
            .collect();
        HealthTasks(tasks)
    }
}

async fn probe(pool: &Pool, target: &Arc<Target>, uri: &http::Uri, cfg: &HealthSection) -> bool {
    let req = http::Request::get(uri.clone())
        .header(http::header::HOST, target.host.clone())
        .header(http::header::USER_AGENT, "portcullis-health-check")
        .body(Empty::<Bytes>::new().map_err(|never| match never {}).boxed_unsync());
    let Ok(req) = req else { return false };
    let attempt = async {
        let conn = pool.checkout(target).await?;
        pool.send(target, conn, req).await
    };
    match tokio::time::timeout(cfg.timeout.0, attempt).await {
        Ok(Ok(resp)) => {
            let ok = resp.status().is_success() || resp.status().is_redirection();
            // Drain the body so the connection can be reused.
            let _ = tokio::time::timeout(cfg.timeout.0, resp.into_body().collect()).await;
            ok
        }
        _ => false,
    }
}
