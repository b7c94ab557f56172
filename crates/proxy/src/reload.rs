//! Reload on file change (the config, the certificate files and the WAF rule files it names). Polls modification times (and sizes) instead of using inotify: editors and
//! deploy tools replace files by rename, which watches on the old inode miss, and a poll every second or
//! two costs nothing.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::task::JoinHandle;

use crate::Gateway;
use portcullis_config::Config;

/// The modification time and size of each watched file, taken before the config that names them is read.
pub struct Stamp(Vec<(PathBuf, Option<(SystemTime, u64)>)>);

/// Stamps the files `config` names. Taken before the gateway is built from it, so a file replaced while the
/// gateway starts (a certificate rotated at deploy time) differs from the stamp and is reloaded, instead of
/// being stamped as already seen by a watcher that started after it changed.
pub fn stamp_files(config: &Config) -> Stamp {
    Stamp(stamp(&watched_files(config)))
}

fn watched_files(cfg: &Config) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = cfg.source.iter().cloned().collect();
    for l in &cfg.file.listeners {
        for c in l.tls.iter().flat_map(|t| &t.certificates) {
            files.push(cfg.resolve(&c.cert));
            files.push(cfg.resolve(&c.key));
        }
        if let Some(ca) = &l.client_auth {
            files.extend(std::iter::once(&ca.ca).chain(&ca.crl).map(|f| cfg.resolve(f)));
        }
    }
    for u in &cfg.file.upstreams {
        if let Some(ca) = u.tls.as_ref().and_then(|t| t.ca.as_ref()) {
            files.push(cfg.resolve(ca));
        }
    }
    files.extend(portcullis_waf_protection::rule_files(cfg));
    files
}

fn stamp(files: &[PathBuf]) -> Vec<(PathBuf, Option<(SystemTime, u64)>)> {
    files
        .iter()
        .map(|f| {
            let m = std::fs::metadata(f).ok().and_then(|m| Some((m.modified().ok()?, m.len())));
            (f.clone(), m)
        })
        .collect()
}

pub fn spawn_watcher(gw: Arc<Gateway>, every: Duration, initial: Stamp) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut last = initial.0;
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let now = stamp(&last.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>());
            if now == last {
                continue;
            }
            // Give a writer a moment to finish before reading.
            tokio::time::sleep(Duration::from_millis(100)).await;
            // Stamp the files before the reload reads them: a change made while it runs (say, the key written
            // just after the certificate) then differs from `last` and triggers another reload, instead of
            // being absorbed into a stamp taken afterwards.
            let read = stamp(&last.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>());
            tracing::info!("config or certificate file changed; reloading");
            let _ = gw.reload().await;
            // Watch what the (possibly new) config names; a failed reload keeps watching the same files.
            last = watched_files(&gw.config())
                .into_iter()
                .map(|f| match read.iter().find(|(p, _)| *p == f) {
                    Some(known) => known.clone(),
                    None => stamp(std::slice::from_ref(&f)).remove(0),
                })
                .collect();
        }
    })
}
