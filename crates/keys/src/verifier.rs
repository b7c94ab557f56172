//! Verifying a presented key on the request path: a short-lived in-memory cache of key records in front of
//! the store, invalidated across processes by polling the store's change counter, and last-used facts
//! written in batches.
//!
//! Why poll a counter: a revocation made by the CLI, the admin API or another gateway must take effect on
//! every gateway sharing the store within seconds, without a write per request or a message bus. Each
//! lifecycle change bumps `change_seq` in its own transaction; a background thread reads it every
//! `poll_interval` (≤ 1 s) and drops the whole cache when it moved. Usage updates do not bump it, so they
//! never flush anyone's cache.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

use crate::format::{KeyEnv, ParsedKey};
use crate::hasher::{KeyHash, KeyHasher};
use crate::record::{now_ms, KeyLimits, KeyStatus, Millis};
use crate::store::{KeyStore, Usage};

/// Cached entries beyond this are dropped all at once (a flood of random ids must not grow memory).
const MAX_CACHED: usize = 100_000;

/// Why a well-formed key was refused. Each maps to a distinct log reason; none carries the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("unknown key id")]
    Unknown,
    #[error("revoked")]
    Revoked,
    #[error("expired")]
    Expired,
    #[error("rotated out (previous secret after the overlap ended)")]
    RotatedOut,
    #[error("secret does not match")]
    Mismatch,
    #[error("environment tag does not match the key's")]
    WrongEnv,
    #[error("key store unavailable")]
    Unavailable,
}

/// A verified key: what the request's identity is made of.
#[derive(Debug, Clone)]
pub struct Verified {
    pub id: Arc<str>,
    pub scopes: Arc<[Arc<str>]>,
    pub limits: KeyLimits,
}

#[derive(Debug)]
struct Entry {
    env: KeyEnv,
    hash: KeyHash,
    prev: Option<(KeyHash, Millis)>,
    status: KeyStatus,
    expires: Option<Millis>,
    verified: Verified,
}

struct Cached {
    entry: Option<Arc<Entry>>,
    at: Instant,
}

/// Tuning for the verifier.
#[derive(Debug, Clone, Copy)]
pub struct VerifierOptions {
    /// A cached record is re-read after this long even without a change signal (a safety net).
    pub cache_ttl: Duration,
    /// How often the change counter is polled.
    pub poll_interval: Duration,
    /// How often last-used time and IP are written.
    pub usage_flush: Duration,
}

impl Default for VerifierOptions {
    fn default() -> Self {
        VerifierOptions {
            cache_ttl: Duration::from_secs(30),
            poll_interval: Duration::from_millis(250),
            usage_flush: Duration::from_secs(5),
        }
    }
}

struct Shared {
    store: Arc<dyn KeyStore>,
    hasher: KeyHasher,
    opts: VerifierOptions,
    cache: RwLock<HashMap<Box<str>, Cached>>,
    /// Bumped whenever the cache is dropped, so a lookup that raced with a drop does not re-insert stale data.
    generation: AtomicU64,
    seq: AtomicI64,
    pending: Mutex<HashMap<Arc<str>, (Millis, IpAddr)>>,
}

impl Shared {
    fn flush_usage(&self) {
        let batch: Vec<Usage> = {
            let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            p.drain().map(|(id, (at, ip))| Usage { id: id.to_string(), at, ip: ip.to_string() }).collect()
        };
        if let Err(e) = self.store.record_usage(&batch) {
            tracing::warn!(error = %e, keys = batch.len(), "api keys: cannot record last use");
        }
    }

    fn poll_changes(&self) {
        match self.store.change_seq() {
            Ok(seq) => {
                if self.seq.swap(seq, Ordering::AcqRel) != seq {
                    self.invalidate();
                }
            }
            Err(e) => {
                // Without change signals the cache could hide a revocation: drop it and let requests read the
                // store (which fail closed while it is unavailable).
                tracing::warn!(error = %e, "api keys: cannot poll the key store for changes");
                self.invalidate();
            }
        }
    }

    fn invalidate(&self) {
        let mut c = self.cache.write().unwrap_or_else(|e| e.into_inner());
        self.generation.fetch_add(1, Ordering::AcqRel);
        c.clear();
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.flush_usage();
    }
}

/// Verifies keys against a store. Cheap to clone; the background thread stops when the last clone is dropped
/// (e.g. after a config reload replaced it).
#[derive(Clone)]
pub struct KeyVerifier {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for KeyVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyVerifier")
    }
}

impl KeyVerifier {
    /// Starts the verifier and its background thread (change polling, usage flushing).
    pub fn start(store: Arc<dyn KeyStore>, hasher: KeyHasher, opts: VerifierOptions) -> KeyVerifier {
        let seq = store.change_seq().unwrap_or(-1);
        let shared = Arc::new(Shared {
            store,
            hasher,
            opts,
            cache: RwLock::new(HashMap::new()),
            generation: AtomicU64::new(0),
            seq: AtomicI64::new(seq),
            pending: Mutex::new(HashMap::new()),
        });
        let weak = Arc::downgrade(&shared);
        let spawned = std::thread::Builder::new().name("keys-watch".into()).spawn(move || watch(weak, opts));
        if let Err(e) = spawned {
            tracing::error!(error = %e, "api keys: cannot start the change watcher; caching disabled");
            shared.generation.store(u64::MAX, Ordering::Release);
        }
        KeyVerifier { shared }
    }

    /// Verifies a well-formed key and notes its use by `ip`.
    pub fn verify(&self, key: &ParsedKey<'_>, ip: IpAddr) -> Result<Verified, Rejection> {
        let entry = self.entry(key.id)?.ok_or(Rejection::Unknown)?;
        let now = now_ms();
        if entry.status != KeyStatus::Active {
            return Err(Rejection::Revoked);
        }
        if entry.expires.is_some_and(|e| e <= now) {
            return Err(Rejection::Expired);
        }
        if entry.env != key.env {
            return Err(Rejection::WrongEnv);
        }
        // One HMAC, compared in constant time with the current and (if any) previous hash.
        let h = self.shared.hasher.hash(key.full);
        let current: bool = subtle::ConstantTimeEq::ct_eq(&h[..], &entry.hash[..]).into();
        if !current {
            let previous =
                entry.prev.map(|(p, until)| (bool::from(subtle::ConstantTimeEq::ct_eq(&h[..], &p[..])), until));
            match previous {
                Some((true, until)) if until > now => {}
                Some((true, _)) => return Err(Rejection::RotatedOut),
                _ => return Err(Rejection::Mismatch),
            }
        }
        self.note_use(&entry.verified.id, now, ip);
        Ok(entry.verified.clone())
    }

    fn note_use(&self, id: &Arc<str>, now: Millis, ip: IpAddr) {
        let mut p = self.shared.pending.lock().unwrap_or_else(|e| e.into_inner());
        match p.get_mut(&**id) {
            Some(v) => *v = (now, ip),
            None => {
                p.insert(id.clone(), (now, ip));
            }
        }
    }

    fn entry(&self, id: &str) -> Result<Option<Arc<Entry>>, Rejection> {
        let s = &self.shared;
        let gen = s.generation.load(Ordering::Acquire);
        if gen != u64::MAX {
            let c = s.cache.read().unwrap_or_else(|e| e.into_inner());
            if let Some(hit) = c.get(id) {
                if hit.at.elapsed() < s.opts.cache_ttl {
                    return Ok(hit.entry.clone());
                }
            }
        }
        let record = s.store.get(id).map_err(|e| {
            tracing::warn!(error = %e, "api keys: key store lookup failed");
            Rejection::Unavailable
        })?;
        let entry = record.map(|r| {
            Arc::new(Entry {
                env: r.env,
                hash: r.hash,
                prev: r.prev_hash.zip(r.prev_until),
                status: r.status,
                expires: r.expires,
                verified: Verified {
                    id: Arc::from(r.id.as_str()),
                    scopes: r.scopes.iter().map(|s| Arc::from(s.as_str())).collect(),
                    limits: r.limits,
                },
            })
        });
        if gen != u64::MAX {
            let mut c = s.cache.write().unwrap_or_else(|e| e.into_inner());
            if s.generation.load(Ordering::Acquire) == gen {
                if c.len() >= MAX_CACHED {
                    c.clear();
                }
                c.insert(id.into(), Cached { entry: entry.clone(), at: Instant::now() });
            }
        }
        Ok(entry)
    }

    /// Drops every cached record now (tests, and callers that just changed the store themselves).
    pub fn invalidate(&self) {
        self.shared.invalidate();
    }

    /// Writes pending last-used facts now.
    pub fn flush_usage(&self) {
        self.shared.flush_usage();
    }
}

fn watch(weak: Weak<Shared>, opts: VerifierOptions) {
    let mut last_flush = Instant::now();
    loop {
        std::thread::sleep(opts.poll_interval);
        let Some(shared) = weak.upgrade() else { return };
        shared.poll_changes();
        if last_flush.elapsed() >= opts.usage_flush {
            shared.flush_usage();
            last_flush = Instant::now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format;
    use crate::lifecycle::{KeyManager, NewKey};
    use crate::sqlite::SqliteStore;

    fn manager(path: &std::path::Path) -> KeyManager {
        let store = Arc::new(SqliteStore::open(path).unwrap());
        KeyManager::new(store, KeyHasher::new(&[1u8; 32]).unwrap()).unwrap()
    }

    #[test]
    fn lifecycle_as_seen_by_a_verifier_in_another_process() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("k.db");
        let admin = manager(&db);
        let gw = manager(&db);
        let opts = VerifierOptions { poll_interval: Duration::from_millis(50), ..Default::default() };
        let v = KeyVerifier::start(gw.store.clone(), gw.hasher().clone(), opts);
        let ip: IpAddr = [127, 0, 0, 1].into();
        let new = NewKey { name: "t".into(), scopes: vec!["a:read".into()], ..Default::default() };
        let issued = admin.create(&new, "test").unwrap();
        let key = format::parse(&issued.key).unwrap();
        let ok = v.verify(&key, ip).unwrap();
        assert_eq!((&*ok.id, ok.scopes.len()), (issued.record.id.as_str(), 1));

        // A wrong secret for a real id (valid checksum): mismatch.
        let forged = format::generate(KeyEnv::Live, &issued.record.id);
        assert_eq!(v.verify(&format::parse(&forged).unwrap(), ip).unwrap_err(), Rejection::Mismatch);
        let unknown = format::generate(KeyEnv::Live, &format::new_id());
        assert_eq!(v.verify(&format::parse(&unknown).unwrap(), ip).unwrap_err(), Rejection::Unknown);

        // Rotation with overlap: both work; without overlap the old one is rotated out at once.
        let r = admin.rotate(&issued.record.id, Duration::from_secs(60), "test").unwrap();
        std::thread::sleep(Duration::from_millis(300));
        assert!(v.verify(&format::parse(&r.key).unwrap(), ip).is_ok());
        assert!(v.verify(&key, ip).is_ok());
        let r2 = admin.rotate(&issued.record.id, Duration::ZERO, "test").unwrap();
        std::thread::sleep(Duration::from_millis(300));
        assert!(v.verify(&format::parse(&r2.key).unwrap(), ip).is_ok());
        assert_eq!(v.verify(&format::parse(&r.key).unwrap(), ip).unwrap_err(), Rejection::Mismatch);

        // Revocation by the other handle reaches the cached verifier within a few polls.
        admin.revoke(&issued.record.id, "test").unwrap();
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(v.verify(&format::parse(&r2.key).unwrap(), ip).unwrap_err(), Rejection::Revoked);

        // Usage is batched and lands on flush.
        v.flush_usage();
        let rec = admin.store.get(&issued.record.id).unwrap().unwrap();
        assert_eq!(rec.last_ip.as_deref(), Some("127.0.0.1"));
        let audit = admin.store.audit(Some(&issued.record.id), 10).unwrap();
        let actions: Vec<_> = audit.iter().map(|a| a.action.as_str()).collect();
        assert_eq!(actions, ["revoke", "rotate", "rotate", "create"]);
    }

    #[test]
    fn expired_and_wrong_secret_store() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("k.db");
        let m = manager(&db);
        let issued = m.create(&NewKey { name: "t".into(), ..Default::default() }, "test").unwrap();
        m.expire(&issued.record.id, "test").unwrap();
        let v = KeyVerifier::start(m.store.clone(), m.hasher().clone(), VerifierOptions::default());
        let ip: IpAddr = [127, 0, 0, 1].into();
        assert_eq!(v.verify(&format::parse(&issued.key).unwrap(), ip).unwrap_err(), Rejection::Expired);
        let other = Arc::new(SqliteStore::open(&db).unwrap());
        let e = KeyManager::new(other, KeyHasher::new(&[2u8; 32]).unwrap()).err().unwrap();
        assert!(e.to_string().contains("does not match"), "{e}");
    }
}
