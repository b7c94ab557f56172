//! Open connections per client IP, for `limits.max_connections_per_ip`: a slot is taken at accept (after the
//! PROXY header, so it counts the real client) and given back when the connection ends.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// Counts open connections by IP. Only addresses with an open connection have an entry, so its size is
/// bounded by the number of open connections.
#[derive(Debug, Default)]
pub struct ConnTracker {
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One counted connection; dropping it gives the slot back.
#[derive(Debug)]
pub struct ConnSlot {
    tracker: Arc<ConnTracker>,
    ip: IpAddr,
}

impl ConnTracker {
    pub fn new() -> Arc<Self> {
        Arc::new(ConnTracker::default())
    }

    /// Takes a slot for `ip` unless it already holds `max` connections.
    pub fn try_acquire(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<ConnSlot> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(ip).or_insert(0);
        if *n >= max {
            if *n == 0 {
                open.remove(&ip);
            }
            return None;
        }
        *n += 1;
        Some(ConnSlot { tracker: self.clone(), ip })
    }

    /// Open connections from `ip`.
    pub fn open(&self, ip: IpAddr) -> usize {
        self.open.lock().unwrap_or_else(|p| p.into_inner()).get(&ip).copied().unwrap_or(0)
    }
}

impl Drop for ConnSlot {
    fn drop(&mut self) {
        let mut open = self.tracker.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_and_release() {
        let t = ConnTracker::new();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let s1 = t.try_acquire(a, 2).unwrap();
        let _s2 = t.try_acquire(a, 2).unwrap();
        assert!(t.try_acquire(a, 2).is_none());
        assert!(t.try_acquire(b, 2).is_some());
        drop(s1);
        assert_eq!(t.open(a), 1);
        assert!(t.try_acquire(a, 2).is_some());
        assert!(t.try_acquire(a, 0).is_none());
    }
}
