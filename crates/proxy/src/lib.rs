//! The gateway core: listeners, TLS, HTTP/1.1 + HTTP/2, routing, upstream pools, the phase pipeline runner,
//! hot reload and graceful shutdown.
//!
//! Owns: sockets, HTTP framing, the order in which protections run, turning verdicts into responses.
//! Must not touch: what a protection decides (that is the protection's crate).
//!
//! ```no_run
//! # async fn run() -> Result<(), String> {
//! let config = portcullis_config::Config::load("portcullis.toml".as_ref()).map_err(|e| e.to_string())?;
//! let gateway = portcullis_proxy::Gateway::start(config, portcullis_proxy::Metrics::new()).await?;
//! gateway.shutdown(std::time::Duration::from_secs(30)).await;
//! # Ok(()) }
//! ```

mod body;
mod conn_timer;
pub mod forward;
mod gate;
mod handler;
mod metrics;
pub mod proxy_protocol;
mod reload;
pub use reload::{stamp_files, Stamp};
pub mod router;
mod runtime;
mod server;
mod tls;
mod upstream;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use portcullis_config::Config;
use tokio::task::JoinHandle;

pub use metrics::Metrics;
pub use router::rewrite_path;

use runtime::Runtime;
use server::{accept_loop, BoundListener, GatewayShared};
use tls::SniResolver;

/// Errors from the body wrappers and the upstream client, boxed.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A running gateway.
pub struct Gateway {
    shared: Arc<GatewayShared>,
    resolvers: HashMap<String, Arc<SniResolver>>,
    listeners: Vec<(String, SocketAddr)>,
    accept_tasks: Vec<JoinHandle<()>>,
    reload_lock: tokio::sync::Mutex<()>,
}

impl Gateway {
    /// Builds everything from `config`, binds every listener and starts serving.
    pub async fn start(config: Config, metrics: Arc<Metrics>) -> Result<Arc<Gateway>, String> {
        let listener_cfgs = config.file.listeners.clone();
        let (runtime, mut certs) = Runtime::build(config, &metrics)?;
        let shared = GatewayShared::new(runtime, metrics);
        let mut resolvers = HashMap::new();
        let mut bound = Vec::new();
        for l in &listener_cfgs {
            let resolver = certs.remove(&l.name).map(SniResolver::new);
            if let Some(r) = &resolver {
                resolvers.insert(l.name.clone(), r.clone());
            }
            bound.push(BoundListener::bind(l, resolver)?);
        }
        let listeners: Vec<(String, SocketAddr)> =
            bound.iter().map(|b| (b.cfg.name.clone(), b.local_addr().unwrap_or(b.cfg.address))).collect();
        let accept_tasks = bound.into_iter().map(|b| tokio::spawn(accept_loop(shared.clone(), b))).collect();
        for (name, addr) in &listeners {
            tracing::info!(listener = %name, %addr, "listening");
        }
        let gw =
            Arc::new(Gateway { shared, resolvers, listeners, accept_tasks, reload_lock: tokio::sync::Mutex::new(()) });
        Ok(gw)
    }

    /// The address each listener is bound to (useful with port 0).
    pub fn listeners(&self) -> &[(String, SocketAddr)] {
        &self.listeners
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.shared.metrics
    }

    /// The config currently serving.
    pub fn config(&self) -> Config {
        self.shared.config()
    }

    /// Where the current config came from, for reloads.
    pub fn config_path(&self) -> Option<PathBuf> {
        self.shared.runtime.load().config.source.clone()
    }

    /// Swaps in a new, already validated config. On error nothing changes and the old config keeps serving.
    pub async fn apply(&self, config: Config) -> Result<(), String> {
        let _g = self.reload_lock.lock().await;
        let old = self.shared.runtime.load_full();
        let old_listeners: Vec<_> =
            old.config.file.listeners.iter().map(|l| (&l.name, l.address, l.tls.is_some())).collect();
        let new_listeners: Vec<_> =
            config.file.listeners.iter().map(|l| (&l.name, l.address, l.tls.is_some())).collect();
        if old_listeners != new_listeners {
            tracing::warn!("listener changes (names, addresses, TLS on/off) take effect only after a restart");
        }
        let (runtime, certs) = Runtime::build(config, &self.shared.metrics)?;
        for (name, set) in certs {
            if let Some(r) = self.resolvers.get(&name) {
                r.replace(set);
            }
        }
        self.shared.runtime.store(Arc::new(runtime));
        Ok(())
    }

    /// Re-reads the config file and applies it; logs and counts the outcome. A bad file keeps the old config.
    pub async fn reload(&self) -> Result<(), String> {
        let Some(path) = self.config_path() else {
            return Err("the running config was not loaded from a file".into());
        };
        let result = match Config::load(&path) {
            Ok(cfg) => self.apply(cfg).await,
            // One line: the diagnostic log is line-oriented, and each error's key path must stay on the
            // line that says the reload was rejected.
            Err(errors) => Err(errors.errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")),
        };
        match &result {
            Ok(()) => tracing::info!(path = %path.display(), "config reloaded"),
            Err(e) => {
                tracing::error!(path = %path.display(), errors = %e, "config reload rejected; the previous config keeps serving")
            }
        }
        self.shared.metrics.reload(result.is_ok());
        result
    }

    /// Polls the config file and the certificate files it names, reloading when one differs from `initial`
    /// (`stamp_files` of the config, taken before the gateway was started from it).
    pub fn watch_files(self: &Arc<Self>, every: Duration, initial: reload::Stamp) -> JoinHandle<()> {
        reload::spawn_watcher(self.clone(), every, initial)
    }

    /// Stops accepting, asks every connection to finish its in-flight requests, and waits for them up to
    /// `grace`. Returns how many connections were still open when the grace period ended.
    pub async fn shutdown(&self, grace: Duration) -> usize {
        let _ = self.shared.shutdown.send(true);
        for t in &self.accept_tasks {
            t.abort();
        }
        let deadline = tokio::time::Instant::now() + grace;
        loop {
            let notified = self.shared.drained.notified();
            let open = self.shared.open_connections.load(Ordering::SeqCst);
            if open == 0 {
                return 0;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                let open = self.shared.open_connections.load(Ordering::SeqCst);
                tracing::warn!(open, "shutdown grace period over; closing remaining connections");
                return open;
            }
        }
    }
}
