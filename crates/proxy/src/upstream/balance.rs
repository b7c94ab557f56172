//! Balancing policies: round-robin, least-in-flight, and consistent hashing on a request key.

use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use portcullis_config::Balance;

use super::Target;

/// Where the consistent-hash key comes from.
#[derive(Debug, Clone)]
pub enum HashKey {
    ClientIp,
    Path,
    Header(http::HeaderName),
    Cookie(String),
}

impl HashKey {
    fn parse(s: &str) -> Option<HashKey> {
        match s {
            "client_ip" => Some(HashKey::ClientIp),
            "path" => Some(HashKey::Path),
            _ => {
                if let Some(h) = s.strip_prefix("header:") {
                    http::HeaderName::from_bytes(h.as_bytes()).ok().map(HashKey::Header)
                } else {
                    s.strip_prefix("cookie:").map(|c| HashKey::Cookie(c.to_string()))
                }
            }
        }
    }
}

/// Virtual nodes per target on the hash ring: enough for an even spread with a handful of targets.
const VNODES: usize = 160;

pub enum Balancer {
    RoundRobin(AtomicUsize),
    LeastInFlight(AtomicUsize),
    ConsistentHash { key: HashKey, ring: Vec<(u64, usize)> },
}

fn hash(data: &[u8]) -> u64 {
    // SipHash with fixed keys: the same key maps to the same target on every node of a fleet.
    let mut h = std::collections::hash_map::DefaultHasher::new();
    data.hash(&mut h);
    h.finish()
}

impl Balancer {
    pub fn new(policy: Balance, key: Option<&str>, targets: &[Arc<Target>]) -> Balancer {
        match policy {
            Balance::RoundRobin => Balancer::RoundRobin(AtomicUsize::new(0)),
            Balance::LeastInFlight => Balancer::LeastInFlight(AtomicUsize::new(0)),
            Balance::ConsistentHash => {
                let mut ring: Vec<(u64, usize)> = targets
                    .iter()
                    .enumerate()
                    .flat_map(|(i, t)| (0..VNODES).map(move |v| (hash(format!("{}#{v}", t.addr).as_bytes()), i)))
                    .collect();
                ring.sort_unstable();
                let key = key.and_then(HashKey::parse).unwrap_or(HashKey::ClientIp);
                Balancer::ConsistentHash { key, ring }
            }
        }
    }

    /// The hash key source, for consistent hashing.
    pub fn hash_key(&self) -> Option<&HashKey> {
        match self {
            Balancer::ConsistentHash { key, .. } => Some(key),
            _ => None,
        }
    }

    /// Picks a target for which `usable` holds.
    pub fn pick(
        &self,
        targets: &[Arc<Target>],
        key: Option<&[u8]>,
        usable: impl Fn(&Target) -> bool,
    ) -> Option<Arc<Target>> {
        let n = targets.len();
        if n == 0 {
            return None;
        }
        match self {
            Balancer::RoundRobin(next) => {
                let start = next.fetch_add(1, Ordering::Relaxed);
                (0..n).map(|i| &targets[(start + i) % n]).find(|t| usable(t)).cloned()
            }
            Balancer::LeastInFlight(next) => {
                // Rotate the starting point so ties spread evenly instead of always hitting target 0.
                let start = next.fetch_add(1, Ordering::Relaxed);
                (0..n).map(|i| &targets[(start + i) % n]).filter(|t| usable(t)).min_by_key(|t| t.in_flight()).cloned()
            }
            Balancer::ConsistentHash { ring, .. } => {
                let h = hash(key.unwrap_or_default());
                let start = ring.partition_point(|(x, _)| *x < h);
                (0..ring.len())
                    .map(|i| ring[(start + i) % ring.len()].1)
                    .map(|i| &targets[i])
                    .find(|t| usable(t))
                    .cloned()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets(n: usize) -> Vec<Arc<Target>> {
        (0..n).map(|i| Arc::new(Target::new(&format!("10.0.0.{i}:80"), 0).unwrap())).collect()
    }

    #[test]
    fn round_robin_cycles_and_skips_unusable() {
        let ts = targets(3);
        let b = Balancer::new(Balance::RoundRobin, None, &ts);
        let picks: Vec<_> = (0..6).map(|_| b.pick(&ts, None, |_| true).unwrap().addr.to_string()).collect();
        assert_eq!(picks[0..3], picks[3..6]);
        let only1 = |t: &Target| &*t.addr == "10.0.0.1:80";
        assert!((0..5).all(|_| &*b.pick(&ts, None, only1).unwrap().addr == "10.0.0.1:80"));
        assert!(b.pick(&ts, None, |_| false).is_none());
    }

    #[test]
    fn least_in_flight_prefers_idle() {
        let ts = targets(3);
        ts[0].in_flight.store(5, Ordering::Relaxed);
        ts[2].in_flight.store(1, Ordering::Relaxed);
        let b = Balancer::new(Balance::LeastInFlight, None, &ts);
        assert!((0..5).all(|_| &*b.pick(&ts, None, |_| true).unwrap().addr == "10.0.0.1:80"));
    }

    #[test]
    fn consistent_hash_is_sticky_and_moves_little() {
        let ts = targets(4);
        let b = Balancer::new(Balance::ConsistentHash, Some("header:x-user"), &ts);
        let keys: Vec<String> = (0..1000).map(|i| format!("user-{i}")).collect();
        let first: Vec<_> =
            keys.iter().map(|k| b.pick(&ts, Some(k.as_bytes()), |_| true).unwrap().addr.to_string()).collect();
        let again: Vec<_> =
            keys.iter().map(|k| b.pick(&ts, Some(k.as_bytes()), |_| true).unwrap().addr.to_string()).collect();
        assert_eq!(first, again);
        // Take target 3 out: only its keys move.
        let without3 = |t: &Target| &*t.addr != "10.0.0.3:80";
        let moved = keys
            .iter()
            .zip(&first)
            .filter(|(k, was)| *b.pick(&ts, Some(k.as_bytes()), without3).unwrap().addr != ***was)
            .count();
        let on3 = first.iter().filter(|a| *a == "10.0.0.3:80").count();
        assert_eq!(moved, on3);
        // Roughly even spread.
        for t in &ts {
            let share = first.iter().filter(|a| a.as_str() == &*t.addr).count();
            assert!((150..350).contains(&share), "{share}");
        }
    }
}
