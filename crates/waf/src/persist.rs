//! Persistent collections (`IP`, `GLOBAL`, `SESSION`, `USER`, `RESOURCE` via `initcol`), kept in memory:
//! bounded in count and expiring after `SecCollectionTimeout`. A transaction copies a record in on
//! `initcol` and writes it back when it finishes.
//!
//! `expirevar:ip.key=N` stores the variable's deadline beside it as `__expire_key` (Unix seconds), as
//! ModSecurity does; a record handed out by [`Store::load`] no longer holds variables past their deadline.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Most records kept; the least recently used is evicted beyond it.
pub const MAX_RECORDS: usize = 100_000;

pub type Record = BTreeMap<String, Vec<u8>>;

/// Prefix of the variable holding another variable's deadline (`__expire_blocked` for `blocked`).
pub const EXPIRE_PREFIX: &str = "__expire_";

/// Seconds since the Unix epoch (deadlines are wall-clock, as in ModSecurity's collections).
pub fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Removes every variable whose `__expire_` deadline is at or before `now`, together with its deadline.
pub fn drop_expired(vars: &mut Record, now: u64) {
    let expired: Vec<String> = vars
        .iter()
        .filter_map(|(k, v)| {
            let name = k.strip_prefix(EXPIRE_PREFIX)?;
            let deadline = std::str::from_utf8(v).ok()?.trim().parse::<u64>().unwrap_or(0);
            (deadline <= now).then(|| name.to_string())
        })
        .collect();
    for name in expired {
        vars.remove(&format!("{EXPIRE_PREFIX}{name}"));
        vars.remove(&name);
    }
}

struct Entry {
    vars: Record,
    touched: Instant,
}

#[derive(Default)]
pub struct Store {
    inner: Mutex<HashMap<String, Entry>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store")
    }
}

impl Store {
    pub fn load(&self, key: &str, timeout: Duration) -> Record {
        let Ok(mut m) = self.inner.lock() else { return Record::new() };
        match m.get(key) {
            Some(e) if e.touched.elapsed() < timeout => {
                let mut vars = e.vars.clone();
                drop_expired(&mut vars, unix_now());
                vars
            }
            Some(_) => {
                m.remove(key);
                Record::new()
            }
            None => Record::new(),
        }
    }

    pub fn save(&self, key: String, vars: Record) {
        let Ok(mut m) = self.inner.lock() else { return };
        if m.len() >= MAX_RECORDS && !m.contains_key(&key) {
            if let Some(oldest) = m.iter().min_by_key(|(_, e)| e.touched).map(|(k, _)| k.clone()) {
                m.remove(&oldest);
            }
        }
        m.insert(key, Entry { vars, touched: Instant::now() });
    }

    pub fn len(&self) -> usize {
        self.inner.lock().map(|m| m.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
