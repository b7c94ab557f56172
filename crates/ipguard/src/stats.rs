//! Per-IP statistics with a fixed memory cap: requests, refusals by reason, first and last seen, for the top
//! clients.
//!
//! Algorithm: **Space-Saving** (Metwally, Agrawal, El Abbadi 2005) over `capacity` counters. A tracked address
//! counts exactly from the moment it is tracked; a new address when the table is full takes the slot of the
//! least-counted one and inherits its count as `error` (an upper bound on how much its count is overestimated).
//! Every address with a true count above `total / capacity` is guaranteed to be in the table, so the heavy
//! hitters an operator looks for (a flood, a scraper) are always there, whatever the number of distinct
//! sources. Chosen over a count-min sketch + heap because it needs one structure instead of two, gives
//! per-address records (refusal reasons, last seen) for free, and its error bound is per entry.
//!
//! The table is split into 16 shards by address hash (each a `Mutex` holding a map plus a `BTreeSet` ordered
//! by count, so finding the minimum is O(log n)); one address always lands in the same shard, so the per-shard
//! guarantee holds with `capacity / 16`.
//!
//! Cost per request: this runs in the logging phase of every request, so a hit on a tracked address only bumps
//! its entry. The ranking is lazy: the `BTreeSet` holds each address under the count it had when last ranked,
//! which is never above its true count. Eviction pops the lowest ranked entry and re-ranks it if its count has
//! grown since, until the popped entry's rank is its true count — then it is a true minimum (every other true
//! count is at least its rank, which is at least this one), so Space-Saving's guarantee is unchanged. Each
//! re-rank is paid for by the hits since the last one. The address is hashed once (SipHash, random seed) and
//! that hash picks both the shard and the map slot.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{BuildHasher, Hash, Hasher};
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use portcullis_store::prehashed::{shard_of, BuildPassThrough};
use serde::Serialize;

const SHARDS: usize = 16;

#[derive(Debug, Clone)]
struct Entry {
    count: u64,
    error: u64,
    requests: u64,
    /// Refusals by reason (protection or check name); bounded by the number of distinct reasons.
    blocks: Vec<(&'static str, u64)>,
    first_seen_ms: u64,
    last_seen_ms: u64,
}

/// An address with its seeded hash, so the map does not hash it again.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Tracked {
    hash: u64,
    ip: IpAddr,
}

impl Hash for Tracked {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

#[derive(Default)]
struct Shard {
    map: HashMap<Tracked, Entry, BuildPassThrough>,
    /// (count when last ranked, address): never above the entry's true count (see the module docs).
    by_count: BTreeSet<(u64, IpAddr)>,
}

/// What is known about one address.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct IpStat {
    pub ip: IpAddr,
    /// Events counted for this address (requests and connection refusals), including `error`.
    pub count: u64,
    /// How much `count` may overstate the truth (inherited from an evicted address).
    pub error: u64,
    /// Requests seen since the address was tracked.
    pub requests: u64,
    /// Refusals since tracked, by reason.
    pub blocks: BTreeMap<&'static str, u64>,
    pub first_seen: String,
    pub last_seen: String,
}

/// The bounded per-IP table. `capacity == 0` records nothing.
pub struct IpStats {
    shards: Box<[Mutex<Shard>]>,
    per_shard: AtomicUsize,
    hasher: std::collections::hash_map::RandomState,
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

fn rfc3339(ms: u64) -> String {
    humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

impl IpStats {
    pub fn new(capacity: usize) -> IpStats {
        IpStats {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            per_shard: AtomicUsize::new(capacity.div_ceil(SHARDS)),
            hasher: Default::default(),
        }
    }

    /// Upper bound on tracked addresses.
    pub fn capacity(&self) -> usize {
        self.per_shard.load(Ordering::Relaxed) * SHARDS
    }

    /// Changes the cap (config reload); a smaller table shrinks as new addresses arrive.
    pub fn set_capacity(&self, capacity: usize) {
        self.per_shard.store(capacity.div_ceil(SHARDS), Ordering::Relaxed);
    }

    fn tracked(&self, ip: IpAddr) -> (Tracked, &Mutex<Shard>) {
        let hash = self.hasher.hash_one(ip);
        (Tracked { hash, ip }, &self.shards[shard_of(hash, SHARDS)])
    }

    /// Counts one request from `ip`, refused for `blocked` if set.
    pub fn record_request(&self, ip: IpAddr, blocked: Option<&'static str>) {
        self.record(ip, true, blocked);
    }

    /// Counts a refusal that happened before any request (connection dropped at accept).
    pub fn record_block(&self, ip: IpAddr, reason: &'static str) {
        self.record(ip, false, Some(reason));
    }

    fn record(&self, ip: IpAddr, request: bool, blocked: Option<&'static str>) {
        let per_shard = self.per_shard.load(Ordering::Relaxed);
        if per_shard == 0 {
            return;
        }
        let now = now_ms();
        let (key, shard) = self.tracked(ip);
        let mut s = shard.lock().unwrap_or_else(|p| p.into_inner());
        let s = &mut *s;
        let e = match s.map.get_mut(&key) {
            Some(e) => {
                e.count += 1;
                e
            }
            None => {
                // Space-Saving: evict the least-counted address; the newcomer inherits its count.
                let inherited = self.evict_to(s, per_shard - 1);
                let count = inherited + 1;
                s.by_count.insert((count, ip));
                s.map.entry(key).or_insert(Entry {
                    count,
                    error: inherited,
                    requests: 0,
                    blocks: Vec::new(),
                    first_seen_ms: now,
                    last_seen_ms: now,
                })
            }
        };
        e.last_seen_ms = now;
        if request {
            e.requests += 1;
        }
        if let Some(r) = blocked {
            match e.blocks.iter_mut().find(|(k, _)| *k == r) {
                Some((_, n)) => *n += 1,
                None => e.blocks.push((r, 1)),
            }
        }
    }

    /// Evicts least-counted entries until at most `keep` remain; returns the count of the last one evicted
    /// (0 if none was).
    fn evict_to(&self, s: &mut Shard, keep: usize) -> u64 {
        let mut inherited = 0;
        while s.map.len() > keep {
            let Some((ranked, victim)) = s.by_count.pop_first() else { break };
            let key = Tracked { hash: self.hasher.hash_one(victim), ip: victim };
            match s.map.get(&key).map(|e| e.count) {
                // Ranked under a stale count: rank it again under its true one and look at the next minimum.
                Some(count) if count != ranked => {
                    s.by_count.insert((count, victim));
                }
                Some(_) => {
                    s.map.remove(&key);
                    inherited = ranked;
                }
                None => {}
            }
        }
        inherited
    }

    fn stat(ip: IpAddr, e: &Entry) -> IpStat {
        IpStat {
            ip,
            count: e.count,
            error: e.error,
            requests: e.requests,
            blocks: e.blocks.iter().copied().collect(),
            first_seen: rfc3339(e.first_seen_ms),
            last_seen: rfc3339(e.last_seen_ms),
        }
    }

    /// The `n` most active addresses, most active first.
    pub fn top(&self, n: usize) -> Vec<IpStat> {
        let mut all: Vec<(u64, IpAddr, Entry)> = Vec::new();
        for shard in self.shards.iter() {
            let s = shard.lock().unwrap_or_else(|p| p.into_inner());
            // Each shard's own top n is enough for the global top n. Ranks may lag the true counts (lazy
            // ranking), so the shard's entries are ordered by their true counts here, off the request path.
            let mut mine: Vec<(u64, IpAddr, &Entry)> = s.map.iter().map(|(k, e)| (e.count, k.ip, e)).collect();
            if mine.len() > n {
                mine.select_nth_unstable_by(n, |a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
                mine.truncate(n);
            }
            all.extend(mine.into_iter().map(|(c, ip, e)| (c, ip, e.clone())));
        }
        all.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        all.into_iter().take(n).map(|(_, ip, e)| Self::stat(ip, &e)).collect()
    }

    /// What is known about one address, if it is tracked.
    pub fn get(&self, ip: IpAddr) -> Option<IpStat> {
        let (key, shard) = self.tracked(ip);
        let s = shard.lock().unwrap_or_else(|p| p.into_inner());
        s.map.get(&key).map(|e| Self::stat(ip, e))
    }

    /// Addresses currently tracked.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).map.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u32) -> IpAddr {
        IpAddr::V4(n.into())
    }

    #[test]
    fn heavy_hitters_survive_a_flood_of_distinct_addresses() {
        let s = IpStats::new(160);
        for round in 0..50u32 {
            // Three heavy hitters, 100 requests each per round.
            for _ in 0..100 {
                for k in 0..3u32 {
                    s.record_request(ip(k), if k == 0 { Some("waf") } else { None });
                }
            }
            // 2,000 one-off addresses per round: 100k in all.
            for j in 0..2000u32 {
                s.record_request(ip(1_000_000 + round * 2000 + j), None);
            }
        }
        assert!(s.len() <= s.capacity());
        let top = s.top(3);
        let ips: Vec<IpAddr> = top.iter().map(|t| t.ip).collect();
        for k in 0..3 {
            assert!(ips.contains(&ip(k)), "{top:?}");
        }
        let zero = s.get(ip(0)).unwrap();
        assert!(zero.count - zero.error <= 5000 && zero.count >= 5000, "{zero:?}");
        assert!(zero.blocks.contains_key("waf"));
    }

    #[test]
    fn exact_while_under_capacity() {
        let s = IpStats::new(64);
        for _ in 0..5 {
            s.record_request(ip(7), None);
        }
        s.record_block(ip(7), "ip_deny");
        let e = s.get(ip(7)).unwrap();
        assert_eq!((e.count, e.error, e.requests), (6, 0, 5));
        assert_eq!(e.blocks.get("ip_deny"), Some(&1));
        assert!(s.get(ip(8)).is_none());
        assert_eq!(s.top(10).len(), 1);
        assert!(IpStats::new(0).top(5).is_empty());
    }
}
