//! State that outlives one config: the store (reused across reloads while its settings are unchanged), the
//! in-flight counters and the metrics.
//!
//! Why a process-wide value rather than a field of the proxy's `Runtime`: the runtime is rebuilt and swapped on
//! every reload, and requests still running on the old one decrement the in-flight counters in their logging
//! phase — so the counters, and the Redis connections and ban mirror, must belong to neither runtime. One
//! gateway runs per process, so one such value is the natural owner; the admin API reaches it the same way.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use portcullis_store::{MemoryStore, Store, StoreError, StoreSpec};

use crate::metrics::LimitsMetrics;

const CLIENT_SHARDS: usize = 32;

/// The process's traffic state.
pub struct Traffic {
    pub metrics: LimitsMetrics,
    store: Mutex<Option<Arc<Store>>>,
    /// Local limits used while the shared store is unreachable (`fail_open`).
    fallback: Mutex<Option<(usize, Arc<MemoryStore>)>>,
    pub in_flight: InFlight,
}

/// The process's traffic state, created on first use.
pub fn traffic() -> &'static Traffic {
    static T: OnceLock<Traffic> = OnceLock::new();
    T.get_or_init(|| Traffic {
        metrics: LimitsMetrics::new(),
        store: Mutex::new(None),
        fallback: Mutex::new(None),
        in_flight: InFlight::new(),
    })
}

impl Traffic {
    /// The store for `spec`: the current one when its settings are the same, else a new one (which becomes
    /// current; the old one closes when the last runtime using it is gone).
    pub fn store_for(&self, spec: &StoreSpec) -> Result<Arc<Store>, StoreError> {
        let mut cur = lock(&self.store);
        if let Some(s) = cur.as_ref().filter(|s| s.spec() == spec) {
            return Ok(s.clone());
        }
        let s = Arc::new(Store::new(spec.clone())?);
        tracing::info!(store = s.kind(), "traffic state store ready");
        *cur = Some(s.clone());
        Ok(s)
    }

    /// The store the running config uses (admin API); `None` before the first config is built.
    pub fn current_store(&self) -> Option<Arc<Store>> {
        lock(&self.store).clone()
    }

    /// The local fallback limiter, kept across reloads unless its size changes.
    pub fn fallback(&self, max_keys: usize) -> Arc<MemoryStore> {
        let mut cur = lock(&self.fallback);
        match cur.as_ref() {
            Some((n, m)) if *n == max_keys => m.clone(),
            _ => {
                let m = Arc::new(MemoryStore::new(max_keys));
                *cur = Some((max_keys, m.clone()));
                m
            }
        }
    }
}

/// Requests in flight, globally and per client IP, on this gateway. Load shedding protects this node's latency,
/// so the counts are local on purpose (a fleet-wide count would add a Redis round-trip to every request).
pub struct InFlight {
    global: AtomicUsize,
    clients: Box<[Mutex<HashMap<IpAddr, u32>>]>,
}

impl InFlight {
    fn new() -> InFlight {
        InFlight {
            global: AtomicUsize::new(0),
            clients: (0..CLIENT_SHARDS).map(|_| Mutex::new(HashMap::new())).collect::<Vec<_>>().into_boxed_slice(),
        }
    }

    /// Takes a global slot if fewer than `max` are taken.
    pub fn acquire_global(&self, max: usize) -> bool {
        let prev = self.global.fetch_add(1, Ordering::AcqRel);
        if prev >= max {
            self.global.fetch_sub(1, Ordering::AcqRel);
            return false;
        }
        true
    }

    pub fn release_global(&self) {
        self.global.fetch_sub(1, Ordering::AcqRel);
    }

    pub fn global(&self) -> usize {
        self.global.load(Ordering::Acquire)
    }

    fn shard(&self, ip: IpAddr) -> &Mutex<HashMap<IpAddr, u32>> {
        let h = match ip {
            IpAddr::V4(a) => u32::from(a) as usize,
            IpAddr::V6(a) => (u128::from(a) ^ (u128::from(a) >> 64)) as usize,
        };
        &self.clients[h.wrapping_mul(0x9E37_79B9) % CLIENT_SHARDS]
    }

    /// Takes a slot for `ip` if it holds fewer than `max`. The map only holds clients with requests in flight,
    /// so its size is bounded by the open requests.
    pub fn acquire_client(&self, ip: IpAddr, max: usize) -> bool {
        let mut m = lock(self.shard(ip));
        let n = m.entry(ip).or_insert(0);
        if *n as usize >= max {
            if *n == 0 {
                m.remove(&ip);
            }
            return false;
        }
        *n += 1;
        true
    }

    pub fn release_client(&self, ip: IpAddr) {
        let mut m = lock(self.shard(ip));
        if let Some(n) = m.get_mut(&ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                m.remove(&ip);
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
