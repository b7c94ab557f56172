//! Where the verification keys come from and how they stay fresh: a JWKS file or URL, loaded at build, re-read
//! on an interval, and re-read on an unknown `kid` at most once per `refresh_min_interval` (so a flood of
//! made-up `kid`s cannot make us fetch on every request). A failed re-read keeps the keys we have.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;

use crate::alg::Algorithm;
use crate::jwk::{parse_jwks, KeySet, VerifyKey, MAX_JWKS_BYTES};

/// Where a JWKS is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    File(PathBuf),
    Url(String),
}

impl std::fmt::Display for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySource::File(p) => write!(f, "{}", p.display()),
            KeySource::Url(u) => f.write_str(u),
        }
    }
}

pub(crate) struct KeyStore {
    pub keys: ArcSwap<KeySet>,
    source: KeySource,
    allowed: Vec<Algorithm>,
    hmac: Option<VerifyKey>,
    client: reqwest::Client,
    fetch_timeout: Duration,
    min_interval: Duration,
    last_kid_refresh: Mutex<Option<Instant>>,
    refreshing: AtomicBool,
    handle: Option<tokio::runtime::Handle>,
    /// Successful loads so far (the first at build), for tests and the log.
    pub loads: AtomicU64,
}

impl KeyStore {
    /// Reads the keys once (blocking: a file read, or a fetch on a helper thread with its own small runtime,
    /// bounded by `fetch_timeout`) so the verifier serves from its first request.
    pub fn build(
        source: KeySource,
        allowed: Vec<Algorithm>,
        hmac: Option<VerifyKey>,
        fetch_timeout: Duration,
        min_interval: Duration,
    ) -> Result<Arc<KeyStore>, String> {
        let client = reqwest::Client::builder()
            .timeout(fetch_timeout)
            // Fetches are rare; a pooled connection would be tied to whichever runtime opened it.
            .pool_max_idle_per_host(0)
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        let store = KeyStore {
            keys: ArcSwap::from_pointee(KeySet::default()),
            source,
            allowed,
            hmac,
            client,
            fetch_timeout,
            min_interval,
            last_kid_refresh: Mutex::new(None),
            refreshing: AtomicBool::new(false),
            handle: tokio::runtime::Handle::try_current().ok(),
            loads: AtomicU64::new(0),
        };
        let data = match &store.source {
            KeySource::File(p) => read_file(p)?,
            KeySource::Url(u) => fetch_blocking(u.clone(), fetch_timeout)?,
        };
        let set = store.parse(&data)?;
        store.keys.store(Arc::new(set));
        store.loads.fetch_add(1, Ordering::Relaxed);
        Ok(Arc::new(store))
    }

    fn parse(&self, data: &[u8]) -> Result<KeySet, String> {
        let mut set = parse_jwks(data, &self.allowed).map_err(|e| e.to_string())?;
        for s in &set.skipped {
            tracing::warn!(source = %self.source, entry = %s, "JWKS entry skipped");
        }
        if let Some(h) = &self.hmac {
            set.push(h.clone());
        }
        Ok(set)
    }

    /// Re-reads the keys; on failure logs and keeps the current ones. Returns whether new keys were stored.
    pub async fn refresh(&self) -> bool {
        let data = match &self.source {
            KeySource::File(p) => read_file(p),
            KeySource::Url(u) => fetch(&self.client, u).await,
        };
        match data.and_then(|d| self.parse(&d)) {
            Ok(set) => {
                tracing::debug!(source = %self.source, keys = set.len(), "JWKS refreshed");
                self.keys.store(Arc::new(set));
                self.loads.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(e) => {
                tracing::warn!(source = %self.source, error = %e, "JWKS refresh failed; keeping the current keys");
                false
            }
        }
    }

    /// Takes the unknown-`kid` refresh slot if the rate limit allows one now.
    pub fn take_kid_refresh_slot(&self) -> bool {
        let mut last = self.last_kid_refresh.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if last.is_some_and(|t| now.duration_since(t) < self.min_interval) {
            return false;
        }
        *last = Some(now);
        true
    }

    /// An unknown `kid` was seen on the synchronous path: refresh in the background (rate-limited, one at a
    /// time). The request that saw it is refused; requests after the refresh find the new key.
    pub fn kick(self: &Arc<Self>) {
        let Some(handle) = &self.handle else { return };
        if !self.take_kid_refresh_slot() {
            return;
        }
        if self.refreshing.swap(true, Ordering::AcqRel) {
            return;
        }
        let me = self.clone();
        handle.spawn(async move {
            me.refresh().await;
            me.refreshing.store(false, Ordering::Release);
        });
    }

    /// Starts the periodic refresh on the current runtime, if any. The task ends when the store is dropped.
    pub fn spawn_periodic(self: &Arc<Self>, every: Duration) -> Option<tokio::task::JoinHandle<()>> {
        let handle = self.handle.as_ref()?;
        let weak: Weak<KeyStore> = Arc::downgrade(self);
        Some(handle.spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(store) = weak.upgrade() else { break };
                store.refresh().await;
            }
        }))
    }

    pub fn fetch_timeout(&self) -> Duration {
        self.fetch_timeout
    }
}

fn read_file(p: &std::path::Path) -> Result<Vec<u8>, String> {
    let meta = std::fs::metadata(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
    if meta.len() > MAX_JWKS_BYTES as u64 {
        return Err(format!("{} is larger than {MAX_JWKS_BYTES} bytes", p.display()));
    }
    std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()))
}

async fn fetch(client: &reqwest::Client, url: &str) -> Result<Vec<u8>, String> {
    let mut resp = client.get(url).send().await.map_err(|e| format!("GET {url}: {}", error_chain(&e)))?;
    if !resp.status().is_success() {
        return Err(format!("GET {url}: status {}", resp.status()));
    }
    if resp.content_length().is_some_and(|n| n > MAX_JWKS_BYTES as u64) {
        return Err(format!("GET {url}: JWKS larger than {MAX_JWKS_BYTES} bytes"));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| format!("GET {url}: {}", error_chain(&e)))? {
        if body.len() + chunk.len() > MAX_JWKS_BYTES {
            return Err(format!("GET {url}: JWKS larger than {MAX_JWKS_BYTES} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The first fetch, from synchronous code that may itself run on a Tokio worker: on a helper thread with its
/// own current-thread runtime, so it never blocks inside (or needs) the caller's runtime.
fn fetch_blocking(url: String, timeout: Duration) -> Result<Vec<u8>, String> {
    let worker = std::thread::Builder::new().name("jwks-fetch".into()).spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("fetch runtime: {e}"))?;
        rt.block_on(async {
            let client = reqwest::Client::builder()
                .timeout(timeout)
                .pool_max_idle_per_host(0)
                .build()
                .map_err(|e| format!("HTTP client: {e}"))?;
            fetch(&client, &url).await
        })
    });
    match worker {
        Ok(h) => h.join().unwrap_or_else(|_| Err("JWKS fetch thread failed".into())),
        Err(e) => Err(format!("cannot start the JWKS fetch thread: {e}")),
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}
