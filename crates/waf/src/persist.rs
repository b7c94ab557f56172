//! Persistent collections (`IP`, `GLOBAL`, `SESSION`, `USER`, `RESOURCE` via `initcol`), kept in memory:
//! bounded in count and expiring after `SecCollectionTimeout`. A transaction copies a record in on
//! `initcol` and writes it back when it finishes.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most records kept; the least recently used is evicted beyond it.
pub const MAX_RECORDS: usize = 100_000;

pub type Record = BTreeMap<String, Vec<u8>>;

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
            Some(e) if e.touched.elapsed() < timeout => e.vars.clone(),
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
