//! The `TX` collection: lowercase name → (name span, value span), both in the transaction's arena. CRS reads
//! and writes `TX` in hundreds of rules (`tx.detection_paranoia_level`, the anomaly scores), so a lookup is a
//! hash of the name and one comparison, and a new key is two arena pushes — no `String` per key, and the
//! table's room is reused by the next transaction (`pool`). Owns only the index; the bytes stay in the arena.
//!
//! Iteration (`TX:/regex/`, `TX` as a whole) is in name order, as the `BTreeMap` this replaced gave it, so
//! `MATCHED_VARS` and logs keep their order. The hasher is seeded at random (`foldhash::quality`): keys can
//! hold request data (`setvar:tx.%{...}`), so colliding names must not be predictable.

use super::Span;
use foldhash::quality::RandomState;
use hashbrown::HashTable;
use std::hash::BuildHasher;

/// `TX` variables of one transaction.
#[derive(Default)]
pub(crate) struct TxVars {
    table: HashTable<(Span, Span)>,
    state: RandomState,
}

impl std::fmt::Debug for TxVars {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TxVars({} entries)", self.table.len())
    }
}

fn bytes(arena: &[u8], s: Span) -> &[u8] {
    arena.get(s.start as usize..(s.start as usize + s.len as usize)).unwrap_or(b"")
}

impl TxVars {
    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }

    pub(crate) fn clear(&mut self) {
        self.table.clear();
    }

    /// Room for entries (pool bound).
    pub(crate) fn capacity(&self) -> usize {
        self.table.capacity()
    }

    /// (name span, value span) of `key` (lowercase).
    pub(crate) fn get(&self, arena: &[u8], key: &[u8]) -> Option<(Span, Span)> {
        let h = self.state.hash_one(key);
        self.table.find(h, |(k, _)| bytes(arena, *k) == key).copied()
    }

    pub(crate) fn contains_key(&self, arena: &[u8], key: &[u8]) -> bool {
        self.get(arena, key).is_some()
    }

    /// Points an existing `key` at `value`; `false` when there is no such key.
    pub(crate) fn set_existing(&mut self, arena: &[u8], key: &[u8], value: Span) -> bool {
        let h = self.state.hash_one(key);
        match self.table.find_mut(h, |(k, _)| bytes(arena, *k) == key) {
            Some(e) => {
                e.1 = value;
                true
            }
            None => false,
        }
    }

    /// Adds a key known to be absent (`name` is its lowercase name, already in the arena).
    pub(crate) fn insert_new(&mut self, arena: &[u8], name: Span, value: Span) {
        let state = &self.state;
        let h = state.hash_one(bytes(arena, name));
        self.table.insert_unique(h, (name, value), |(k, _)| state.hash_one(bytes(arena, *k)));
    }

    pub(crate) fn remove(&mut self, arena: &[u8], key: &[u8]) {
        let h = self.state.hash_one(key);
        if let Ok(e) = self.table.find_entry(h, |(k, _)| bytes(arena, *k) == key) {
            e.remove();
        }
    }

    /// Every entry, in no particular order (callers sort what they keep).
    pub(crate) fn iter(&self) -> impl Iterator<Item = (Span, Span)> + '_ {
        self.table.iter().copied()
    }

    /// Every entry, in name order.
    pub(crate) fn sorted(&self, arena: &[u8]) -> Vec<(Span, Span)> {
        let mut v: Vec<(Span, Span)> = self.iter().collect();
        v.sort_unstable_by(|a, b| bytes(arena, a.0).cmp(bytes(arena, b.0)));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(arena: &mut Vec<u8>, b: &[u8]) -> Span {
        let s = Span { start: arena.len() as u32, len: b.len() as u32 };
        arena.extend_from_slice(b);
        s
    }

    #[test]
    fn set_get_remove_and_name_order() {
        let (mut arena, mut tx) = (Vec::new(), TxVars::default());
        for (k, v) in [("score", "0"), ("anomaly_score_pl1", "5"), ("blocking_paranoia_level", "1")] {
            let vs = push(&mut arena, v.as_bytes());
            assert!(!tx.set_existing(&arena, k.as_bytes(), vs));
            let ks = push(&mut arena, k.as_bytes());
            tx.insert_new(&arena, ks, vs);
        }
        let vs = push(&mut arena, b"7");
        assert!(tx.set_existing(&arena, b"score", vs));
        let get = |tx: &TxVars, k: &[u8]| tx.get(&arena, k).map(|(_, v)| bytes(&arena, v).to_vec());
        assert_eq!(get(&tx, b"score"), Some(b"7".to_vec()));
        assert_eq!(get(&tx, b"scor"), None);
        let names: Vec<&[u8]> = tx.sorted(&arena).iter().map(|(k, _)| bytes(&arena, *k)).collect();
        assert_eq!(names, [&b"anomaly_score_pl1"[..], b"blocking_paranoia_level", b"score"]);
        tx.remove(&arena, b"score");
        assert!(!tx.contains_key(&arena, b"score") && tx.len() == 2);
        // many keys: the table grows and rehashes through the arena
        for i in 0..500 {
            let k = format!("k{i}");
            let vs = push(&mut arena, b"x");
            let ks = push(&mut arena, k.as_bytes());
            tx.insert_new(&arena, ks, vs);
        }
        assert!((0..500).all(|i| tx.contains_key(&arena, format!("k{i}").as_bytes())));
        assert_eq!(tx.len(), 502);
    }
}
