//! Failed-login lockouts, per user name and per client address (IPv6 per /64, which one host usually owns):
//! after `max_failures` failures, further attempts are refused for `lockout`, doubling with every further
//! failure up to `lockout_max`. While locked, the credentials are not even checked (no Argon2 work, no
//! oracle). A success clears the user name's count, not the address's, so one known account cannot be used
//! to reset an address that is guessing others. Counts are forgotten after `lockout_max` without failures.
//!
//! In memory: a restart clears lockouts (the users store keeps its own failed-login counters for operators).
//! Owns: the failure arithmetic. Must not touch: credentials, HTTP.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Entries kept at most; beyond, stale ones are dropped first, then the quietest.
const MAX_ENTRIES: usize = 16_384;

/// What a failure count is kept for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LockKey {
    User(String),
    Ip(IpAddr),
}

impl LockKey {
    /// The key of a client address: IPv4 as is, IPv6 by its /64.
    pub fn ip(ip: IpAddr) -> LockKey {
        match ip {
            IpAddr::V4(_) => LockKey::Ip(ip),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => LockKey::Ip(IpAddr::V4(v4)),
                None => {
                    let s = v6.segments();
                    LockKey::Ip(IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0)))
                }
            },
        }
    }
}

struct Entry {
    failures: u32,
    last_failure: Instant,
    locked_until: Option<Instant>,
}

pub struct Lockouts {
    entries: Mutex<HashMap<LockKey, Entry>>,
    max_failures: u32,
    base: Duration,
    max: Duration,
}

impl Lockouts {
    pub fn new(max_failures: u32, base: Duration, max: Duration) -> Lockouts {
        Lockouts { entries: Mutex::new(HashMap::new()), max_failures: max_failures.max(1), base, max }
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<LockKey, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn stale(&self, e: &Entry, now: Instant) -> bool {
        let quiet_since = e.locked_until.map_or(e.last_failure, |u| u.max(e.last_failure));
        now.saturating_duration_since(quiet_since) >= self.max
    }

    /// How much longer `key` is locked out, if it is.
    pub fn locked_for(&self, key: &LockKey, now: Instant) -> Option<Duration> {
        let map = self.map();
        let until = map.get(key)?.locked_until?;
        (until > now).then(|| until - now)
    }

    /// Counts a failure; returns the lockout it starts, if any.
    pub fn fail(&self, key: LockKey, now: Instant) -> Option<Duration> {
        let mut map = self.map();
        if map.len() >= MAX_ENTRIES {
            map.retain(|_, e| !self.stale(e, now));
            if map.len() >= MAX_ENTRIES {
                if let Some(k) = map.iter().min_by_key(|(_, e)| e.last_failure).map(|(k, _)| k.clone()) {
                    map.remove(&k);
                }
            }
        }
        let e = map.entry(key).or_insert(Entry { failures: 0, last_failure: now, locked_until: None });
        if self.stale(e, now) {
            *e = Entry { failures: 0, last_failure: now, locked_until: None };
        }
        e.failures = e.failures.saturating_add(1);
        e.last_failure = now;
        if e.failures < self.max_failures {
            return None;
        }
        let doublings = (e.failures - self.max_failures).min(20);
        let lock = self.base.saturating_mul(1u32 << doublings).min(self.max);
        e.locked_until = Some(now + lock);
        Some(lock)
    }

    /// Clears `key`'s count (after a successful login).
    pub fn clear(&self, key: &LockKey) {
        self.map().remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_max_failures_and_doubles_up_to_the_cap() {
        let l = Lockouts::new(3, Duration::from_secs(10), Duration::from_secs(35));
        let k = LockKey::User("alice".into());
        let t = Instant::now();
        assert_eq!(l.fail(k.clone(), t), None);
        assert_eq!(l.fail(k.clone(), t), None);
        assert_eq!(l.locked_for(&k, t), None);
        assert_eq!(l.fail(k.clone(), t), Some(Duration::from_secs(10)));
        assert_eq!(l.locked_for(&k, t + Duration::from_secs(4)), Some(Duration::from_secs(6)));
        assert_eq!(l.locked_for(&k, t + Duration::from_secs(10)), None, "lock over");
        let t2 = t + Duration::from_secs(11);
        assert_eq!(l.fail(k.clone(), t2), Some(Duration::from_secs(20)));
        assert_eq!(l.fail(k.clone(), t2), Some(Duration::from_secs(35)), "capped");
        l.clear(&k);
        assert_eq!(l.locked_for(&k, t2), None);
    }

    #[test]
    fn counts_are_forgotten_after_a_quiet_period() {
        let l = Lockouts::new(2, Duration::from_secs(10), Duration::from_secs(60));
        let k = LockKey::ip("192.0.2.1".parse().unwrap());
        let t = Instant::now();
        assert_eq!(l.fail(k.clone(), t), None);
        assert_eq!(l.fail(k.clone(), t + Duration::from_secs(61)), None, "first failure forgotten");
        assert!(l.fail(k.clone(), t + Duration::from_secs(62)).is_some());
    }

    #[test]
    fn ipv6_addresses_share_their_64() {
        let a = LockKey::ip("2001:db8:1:2::1".parse().unwrap());
        let b = LockKey::ip("2001:db8:1:2:ffff::9".parse().unwrap());
        let c = LockKey::ip("2001:db8:1:3::1".parse().unwrap());
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(LockKey::ip("::ffff:192.0.2.7".parse().unwrap()), LockKey::ip("192.0.2.7".parse().unwrap()));
    }
}
