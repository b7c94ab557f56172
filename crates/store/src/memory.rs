//! The in-process store: sharded maps, bounded in size.
//!
//! A flood from millions of keys (spoofed tenants, many source addresses) must not exhaust memory, so each
//! shard holds at most `max_keys / SHARDS` entries. A full shard first drops expired entries (a rested GCRA key
//! is equivalent to an absent one, so forgetting it changes no decision), then evicts the entry closest to
//! expiry among a few it samples — the key that would be rested soonest, whose loss costs the least accuracy.
//! Keys are stored as 64-bit hashes under a per-process random seed: 16 bytes per entry plus map overhead, and
//! an attacker cannot aim collisions at a victim's key.

use std::collections::hash_map::{DefaultHasher, RandomState};
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::ban::{ms, Ban, Escalation};
use crate::gcra::{self, Gcra, RateDecision};
use crate::prehashed::{shard_of, BuildPassThrough};

const SHARDS: usize = 64;
/// Entries looked at when a full shard must evict a live one.
const EVICTION_SAMPLE: usize = 8;
/// A full shard sweeps expired entries at most this often (a sweep is O(shard)).
const SWEEP_EVERY_US: u64 = 100_000;
/// Bans and escalation levels held at most; beyond, the ban ending soonest goes.
pub const MAX_BANS: usize = 100_000;

#[derive(Clone, Copy)]
struct Cell {
    /// When the entry stops mattering (GCRA: the TAT; counters: the window's end), µs since `epoch`.
    expires_us: u64,
    /// GCRA: the TAT; counters: the count.
    value: u64,
}

struct Shard {
    /// Keyed by the key's seeded hash, which is already uniform: the map does not hash it again.
    cells: HashMap<u64, Cell, BuildPassThrough>,
    last_sweep_us: u64,
}

/// Bounded in-memory limiter cells, window counters and bans.
pub struct MemoryStore {
    epoch: Instant,
    seed: RandomState,
    shards: Box<[Mutex<Shard>]>,
    per_shard: usize,
    bans: Mutex<HashMap<IpAddr, Ban>>,
    /// Active-or-expired entries in `bans`, read without the lock: no bans (the usual case) costs one load.
    ban_count: AtomicUsize,
    levels: Mutex<HashMap<IpAddr, (u32, u64)>>,
    evictions: AtomicUsize,
}

impl MemoryStore {
    pub fn new(max_keys: usize) -> MemoryStore {
        let shards = (0..SHARDS)
            .map(|_| Mutex::new(Shard { cells: HashMap::default(), last_sweep_us: 0 }))
            .collect::<Vec<_>>()
            .into_boxed_slice();
        MemoryStore {
            epoch: Instant::now(),
            seed: RandomState::new(),
            shards,
            per_shard: (max_keys / SHARDS).max(16),
            bans: Mutex::new(HashMap::new()),
            ban_count: AtomicUsize::new(0),
            levels: Mutex::new(HashMap::new()),
            evictions: AtomicUsize::new(0),
        }
    }

    fn now_us(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64 + 1
    }

    /// Live limiter/counter entries (for tests and the memory bound).
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).cells.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Entries evicted alive because their shard was full.
    pub fn evictions(&self) -> usize {
        self.evictions.load(Ordering::Relaxed)
    }

    fn with_cell<R>(&self, key: &str, f: impl FnOnce(Option<Cell>, u64) -> (R, Option<Cell>)) -> R {
        self.with_hashed_cell(self.seed.hash_one(key), self.now_us(), f)
    }

    fn with_hashed_cell<R>(&self, h: u64, now: u64, f: impl FnOnce(Option<Cell>, u64) -> (R, Option<Cell>)) -> R {
        let mut shard = lock(&self.shards[shard_of(h, SHARDS)]);
        // A known key (the usual case) is found and updated in one probe.
        if let Some(cell) = shard.cells.get_mut(&h) {
            let (r, new) = f(Some(*cell).filter(|c| c.expires_us > now), now);
            if let Some(c) = new {
                *cell = c;
            }
            return r;
        }
        let (r, new) = f(None, now);
        if let Some(c) = new {
            if shard.cells.len() >= self.per_shard {
                self.make_room(&mut shard, now);
            }
            shard.cells.insert(h, c);
        }
        r
    }

    fn make_room(&self, shard: &mut Shard, now: u64) {
        if now.saturating_sub(shard.last_sweep_us) >= SWEEP_EVERY_US {
            shard.cells.retain(|_, c| c.expires_us > now);
            shard.last_sweep_us = now;
        }
        while shard.cells.len() >= self.per_shard {
            let victim = shard.cells.iter().take(EVICTION_SAMPLE).min_by_key(|(_, c)| c.expires_us).map(|(k, _)| *k);
            match victim {
                Some(k) => {
                    shard.cells.remove(&k);
                    self.evictions.fetch_add(1, Ordering::Relaxed);
                }
                None => break,
            }
        }
    }

    /// One GCRA check-and-update for `key`.
    pub fn rate_check(&self, key: &str, g: &Gcra) -> RateDecision {
        self.with_cell(key, |cur, now| gcra_cell(cur, now, g))
    }

    /// A hasher seeded like the one that hashes text keys, for callers that hash a key's parts themselves
    /// ([`MemoryStore::rate_check_hashed`]) instead of building its text: the seed stays secret, so an attacker
    /// still cannot aim collisions.
    pub fn key_hasher(&self) -> DefaultHasher {
        self.seed.build_hasher()
    }

    /// [`MemoryStore::rate_check`] for a key already hashed with [`MemoryStore::key_hasher`], at `now` (the
    /// request's start, read once for the whole request, instead of another clock read). A `now` a little
    /// behind another request's only treats this request as earlier, which GCRA takes in its stride (the TAT
    /// never moves back).
    pub fn rate_check_hashed(&self, hash: u64, g: &Gcra, now: Instant) -> RateDecision {
        let now_us = now.saturating_duration_since(self.epoch).as_micros() as u64 + 1;
        self.with_hashed_cell(hash, now_us, |cur, now| gcra_cell(cur, now, g))
    }

    /// Counts one hit in `key`'s fixed window of length `window`; returns the count including this hit.
    pub fn count_hit(&self, key: &str, window: Duration) -> u64 {
        let w = (window.as_micros() as u64).max(1);
        self.with_cell(key, |cur, now| {
            let c = match cur {
                Some(c) => Cell { expires_us: c.expires_us, value: c.value + 1 },
                None => Cell { expires_us: now + w, value: 1 },
            };
            (c.value, Some(c))
        })
    }

    /// Bans `ip` at the next escalation level; an active longer ban is kept, never shortened.
    pub fn ban_escalate(&self, ip: IpAddr, esc: &Escalation, reason: &str, now_ms: u64) -> Ban {
        let level = {
            let mut levels = lock(&self.levels);
            let level = match levels.get(&ip) {
                Some((l, forget_at)) if *forget_at > now_ms => l.saturating_add(1),
                _ => 1,
            };
            let until = now_ms + ms(esc.duration(level));
            if levels.len() >= MAX_BANS && !levels.contains_key(&ip) {
                levels.retain(|_, (_, f)| *f > now_ms);
                if levels.len() >= MAX_BANS {
                    if let Some(k) = levels.iter().min_by_key(|(_, (_, f))| *f).map(|(k, _)| *k) {
                        levels.remove(&k);
                    }
                }
            }
            levels.insert(ip, (level, until.saturating_add(ms(esc.forget_after))));
            level
        };
        let mut until_ms = now_ms + ms(esc.duration(level));
        if let Some(cur) = self.ban_get(ip, now_ms) {
            until_ms = until_ms.max(cur.until_ms);
        }
        let ban = Ban { ip, until_ms, level, reason: reason.to_string() };
        self.ban_set(ban.clone(), now_ms);
        ban
    }

    /// Sets (or replaces) a ban.
    pub fn ban_set(&self, ban: Ban, now_ms: u64) {
        let mut bans = lock(&self.bans);
        if bans.len() >= MAX_BANS && !bans.contains_key(&ban.ip) {
            bans.retain(|_, b| b.active(now_ms));
            if bans.len() >= MAX_BANS {
                if let Some(k) = bans.values().min_by_key(|b| b.until_ms).map(|b| b.ip) {
                    bans.remove(&k);
                }
            }
        }
        bans.insert(ban.ip, ban);
        self.ban_count.store(bans.len(), Ordering::Relaxed);
    }

    /// Whether any ban (active or expired, not yet swept) is held: one load, so callers can skip reading the
    /// clock on the usual path.
    pub fn has_bans(&self) -> bool {
        self.ban_count.load(Ordering::Relaxed) != 0
    }

    /// The active ban on `ip`, if any (no lock taken when there are no bans at all).
    pub fn ban_get(&self, ip: IpAddr, now_ms: u64) -> Option<Ban> {
        if self.ban_count.load(Ordering::Relaxed) == 0 {
            return None;
        }
        lock(&self.bans).get(&ip).filter(|b| b.active(now_ms)).cloned()
    }

    /// Every active ban; drops expired ones while at it.
    pub fn ban_list(&self, now_ms: u64) -> Vec<Ban> {
        let mut bans = lock(&self.bans);
        bans.retain(|_, b| b.active(now_ms));
        self.ban_count.store(bans.len(), Ordering::Relaxed);
        let mut v: Vec<Ban> = bans.values().cloned().collect();
        v.sort_by_key(|b| b.until_ms);
        v
    }

    /// Lifts the ban on `ip` (and forgets its escalation level); true if one was active.
    pub fn ban_remove(&self, ip: IpAddr, now_ms: u64) -> bool {
        lock(&self.levels).remove(&ip);
        let mut bans = lock(&self.bans);
        let was = bans.remove(&ip).is_some_and(|b| b.active(now_ms));
        self.ban_count.store(bans.len(), Ordering::Relaxed);
        was
    }

    /// Replaces all bans at once (the Redis backend's local cache).
    pub(crate) fn ban_replace_all(&self, all: Vec<Ban>) {
        let mut bans = lock(&self.bans);
        *bans = all.into_iter().map(|b| (b.ip, b)).collect();
        self.ban_count.store(bans.len(), Ordering::Relaxed);
    }
}

/// One GCRA step on a cell: the decision and the cell to store (none when refused).
fn gcra_cell(cur: Option<Cell>, now: u64, g: &Gcra) -> (RateDecision, Option<Cell>) {
    let (d, new_tat) = gcra::step(cur.map(|c| c.value), now, g);
    (d, new_tat.map(|t| Cell { expires_us: t, value: t }))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves consistent data (every update is a single insert).
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refusal() {
        let m = MemoryStore::new(4096);
        let g = Gcra::new(10, Duration::from_secs(60), 3);
        assert!(m.rate_check("k", &g).allowed);
        assert!(m.rate_check("k", &g).allowed);
        let d = m.rate_check("k", &g);
        assert!(d.allowed);
        assert_eq!(d.remaining, 0);
        assert!(!m.rate_check("k", &g).allowed);
        assert!(m.rate_check("other", &g).allowed);
    }

    /// The hashed path shares the text path's seed: a key hashed part by part with `key_hasher` like `str`
    /// hashes is the same cell as that text; at the request's start time, like a clock read.
    #[test]
    fn hashed_checks_share_the_seeded_cells() {
        use std::hash::{Hash, Hasher};
        let m = MemoryStore::new(4096);
        let g = Gcra::new(10, Duration::from_secs(60), 3);
        let mut h = m.key_hasher();
        "k".hash(&mut h);
        let k = h.finish();
        assert!(m.rate_check("k", &g).allowed);
        let d = m.rate_check_hashed(k, &g, Instant::now());
        assert!(d.allowed);
        assert_eq!(d.remaining, 1);
        assert!(m.rate_check_hashed(k, &g, Instant::now()).allowed);
        assert!(!m.rate_check("k", &g).allowed);
        // Another seed is another table: a fresh store does not know the hash.
        assert!(MemoryStore::new(4096).rate_check_hashed(k, &g, Instant::now()).remaining == 2);
        // A start time before the store existed counts as its first instant, never a panic.
        let early = Instant::now().checked_sub(Duration::from_secs(5)).unwrap_or_else(Instant::now);
        assert!(MemoryStore::new(4096).rate_check_hashed(1, &g, early).allowed);
    }

    #[test]
    fn bounded_under_a_key_flood() {
        let m = MemoryStore::new(4096);
        let g = Gcra::new(1, Duration::from_secs(3600), 1);
        for i in 0..200_000 {
            m.rate_check(&format!("flood-{i}"), &g);
        }
        assert!(m.len() <= 4096, "{} entries", m.len());
        assert!(m.evictions() > 0);
    }

    #[test]
    fn window_counter_resets_after_window() {
        let m = MemoryStore::new(4096);
        assert_eq!(m.count_hit("c", Duration::from_millis(50)), 1);
        assert_eq!(m.count_hit("c", Duration::from_millis(50)), 2);
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(m.count_hit("c", Duration::from_millis(50)), 1);
    }

    #[test]
    fn bans_escalate_and_expire() {
        let m = MemoryStore::new(4096);
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let e = Escalation {
            base: Duration::from_secs(10),
            factor: 3.0,
            max: Duration::from_secs(60),
            forget_after: Duration::from_secs(100),
        };
        let b1 = m.ban_escalate(ip, &e, "p", 1_000_000);
        assert_eq!((b1.level, b1.until_ms), (1, 1_010_000));
        assert!(m.ban_get(ip, 1_009_999).is_some());
        assert!(m.ban_get(ip, 1_010_000).is_none());
        let b2 = m.ban_escalate(ip, &e, "p", 1_020_000);
        assert_eq!((b2.level, b2.until_ms), (2, 1_050_000));
        let b3 = m.ban_escalate(ip, &e, "p", 1_060_000);
        assert_eq!((b3.level, b3.until_ms), (3, 1_120_000));
        // Forgotten after `forget_after` past the last ban's end.
        let b4 = m.ban_escalate(ip, &e, "p", 1_120_000 + 100_001);
        assert_eq!(b4.level, 1);
        assert!(m.ban_remove(ip, 1_220_002));
        assert!(m.ban_list(1_220_002).is_empty());
    }
}
