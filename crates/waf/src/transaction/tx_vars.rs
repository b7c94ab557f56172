//! The `TX` collection: lowercase name → (name span, value span), both in the transaction's arena. CRS reads
//! and writes `TX` in hundreds of rules (`tx.detection_paranoia_level`, the anomaly scores), so a lookup is a
//! hash of the name and one comparison, and a new key is two arena pushes — no `String` per key, and the
//! table's room is reused by the next transaction (`pool`). Owns only the index; the bytes stay in the arena.
//!
//! Iteration (`TX:/regex/`, `TX` as a whole) is in name order, as the `BTreeMap` this replaced gave it, so
//! `MATCHED_VARS` and logs keep their order. The hasher is seeded at random (`foldhash::quality`): keys can
//! hold request data (`setvar:tx.%{...}`), so colliding names must not be predictable. The seed is drawn once
//! per process ([`tx_hash`]), so a key the rules name literally (`%{tx.critical_anomaly_score}`,
//! `setvar:tx.anomaly_score=...`) is hashed once, at load, not on every read and write.

use super::Span;
use crate::variables::KeyRegex;
use foldhash::quality::RandomState;
use hashbrown::HashTable;
use std::hash::BuildHasher;
use std::sync::Arc;

/// `TX` variables of one transaction.
#[derive(Default)]
pub(crate) struct TxVars {
    table: HashTable<(Span, Span)>,
    /// Set by [`Self::load`]: the image's `TX:/regex/` hits ([`TxImage::index_key_regexes`]) and the arena
    /// offset their spans are relative to.
    loaded: Option<(RegexHits, u32)>,
    /// The names inserted since [`Self::load`] (or [`Self::clear`]), with their hashes, in insertion order:
    /// every member not loaded from the image is one of them.
    added: Vec<(Span, u64)>,
    /// A member was removed since [`Self::clear`] (`setvar:!tx.x`): [`Self::regex_members`] walks instead.
    removed: bool,
}

/// Per `TX:/regex/` selector of a rule set (keyed by its compiled pattern, `KeyRegex::as_str`), the image's
/// members it selects: (name span relative to the image, name hash), in name order.
type RegexHits = Arc<[RegexHit]>;
type RegexHit = (Box<str>, Box<[(Span, u64)]>);

/// The seed of every `TX` table: random, drawn at first use and kept for the process.
fn seed() -> &'static RandomState {
    static SEED: std::sync::OnceLock<RandomState> = std::sync::OnceLock::new();
    SEED.get_or_init(RandomState::default)
}

/// The hash of the `TX` key `key` (lowercase) in every transaction's table: a literal key's is computed once,
/// at load (`macros::MacroPart::Var`, `actions::SetVar`), and handed to the `_hashed` calls.
pub(crate) fn tx_hash(key: &[u8]) -> u64 {
    seed().hash_one(key)
}

/// A `TX` built once at load (the initialisation prefix's result, `crate::fold::Snapshot`), for `TxVars::load`:
/// its bytes as `tx_set` would push them (value, then name, per member), and per member the name's hash
/// ([`tx_hash`]) with the two spans relative to the start of `bytes`.
#[derive(Clone, Default)]
pub(crate) struct TxImage {
    bytes: Vec<u8>,
    entries: Vec<(u64, Span, Span)>,
    /// Empty until [`Self::index_key_regexes`].
    regex_hits: Option<RegexHits>,
}

impl TxImage {
    /// The image of `members` (lowercase names, each once), in the order `tx_set` would be called.
    pub(crate) fn new(members: &[(String, Vec<u8>)]) -> TxImage {
        let mut img = TxImage::default();
        for (k, v) in members {
            let mut push = |b: &[u8]| {
                let s = Span { start: img.bytes.len() as u32, len: b.len() as u32 };
                img.bytes.extend_from_slice(b);
                s
            };
            let vs = push(v);
            let ks = push(k.as_bytes());
            img.entries.push((tx_hash(k.as_bytes()), ks, vs));
        }
        img
    }

    /// Finds, once at load, the members each of `regexes` selects (`KeyRegex::is_match` of the name, the
    /// test `TX:/regex/` applies to every member), so that a transaction started from this image asks the
    /// regex only of the names set after it ([`TxVars::regex_members`]). Patterns are indexed once each.
    pub(crate) fn index_key_regexes<'a>(&mut self, regexes: impl IntoIterator<Item = &'a KeyRegex>) {
        let mut hits: Vec<RegexHit> = Vec::new();
        for re in regexes {
            if hits.iter().any(|(p, _)| **p == *re.as_str()) {
                continue;
            }
            let mut list: Vec<(Span, u64)> = (self.entries.iter())
                .filter(|(_, k, _)| re.is_match(bytes(&self.bytes, *k)))
                .map(|&(h, k, _)| (k, h))
                .collect();
            list.sort_unstable_by(|a, b| bytes(&self.bytes, a.0).cmp(bytes(&self.bytes, b.0)));
            hits.push((re.as_str().into(), list.into()));
        }
        self.regex_hits = (!hits.is_empty()).then(|| hits.into());
    }
}

impl std::fmt::Debug for TxImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TxImage({} members, {} bytes)", self.entries.len(), self.bytes.len())
    }
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
        self.loaded = None;
        self.added.clear();
        self.removed = false;
    }

    /// Room for entries (pool bound): the table's, or the list of added names' when that is larger.
    pub(crate) fn capacity(&self) -> usize {
        self.table.capacity().max(self.added.capacity())
    }

    /// (name span, value span) of `key` (lowercase).
    pub(crate) fn get(&self, arena: &[u8], key: &[u8]) -> Option<(Span, Span)> {
        self.get_hashed(arena, self.hash(key), key)
    }

    /// The hash of `key` under this table's seed, for the `_hashed` calls (a read and a write of the same key
    /// hash it once).
    pub(crate) fn hash(&self, key: &[u8]) -> u64 {
        tx_hash(key)
    }

    /// [`Self::get`] with `h` = `self.hash(key)`.
    pub(crate) fn get_hashed(&self, arena: &[u8], h: u64, key: &[u8]) -> Option<(Span, Span)> {
        self.table.find(h, |(k, _)| bytes(arena, *k) == key).copied()
    }

    #[cfg(test)]
    pub(crate) fn contains_key(&self, arena: &[u8], key: &[u8]) -> bool {
        self.get(arena, key).is_some()
    }

    /// Points an existing `key` at `value`; `false` when there is no such key.
    #[cfg(test)]
    pub(crate) fn set_existing(&mut self, arena: &[u8], key: &[u8], value: Span) -> bool {
        self.set_existing_hashed(arena, self.hash(key), key, value)
    }

    /// [`Self::set_existing`] with `h` = `self.hash(key)`.
    pub(crate) fn set_existing_hashed(&mut self, arena: &[u8], h: u64, key: &[u8], value: Span) -> bool {
        match self.table.find_mut(h, |(k, _)| bytes(arena, *k) == key) {
            Some(e) => {
                e.1 = value;
                true
            }
            None => false,
        }
    }

    /// Adds a key known to be absent (`name` is its lowercase name, already in the arena).
    #[cfg(test)]
    pub(crate) fn insert_new(&mut self, arena: &[u8], name: Span, value: Span) {
        self.insert_new_hashed(arena, self.hash(bytes(arena, name)), name, value)
    }

    /// [`Self::insert_new`] with `h` = `self.hash` of the name's bytes.
    pub(crate) fn insert_new_hashed(&mut self, arena: &[u8], h: u64, name: Span, value: Span) {
        self.table.insert_unique(h, (name, value), |(k, _)| tx_hash(bytes(arena, *k)));
        self.added.push((name, h));
    }

    pub(crate) fn remove(&mut self, arena: &[u8], key: &[u8]) {
        let h = tx_hash(key);
        if let Ok(e) = self.table.find_entry(h, |(k, _)| bytes(arena, *k) == key) {
            e.remove();
            self.removed = true;
        }
    }

    /// Calls `f` with (name, value) of every member `re` selects, without asking `re` of every member: the
    /// members loaded from the image that it selects were found at load ([`TxImage::index_key_regexes`]), so
    /// only the names added since are tested. Why exact: with no member removed, the members are the
    /// image's, each under the name span the load gave it (a write changes the value span only), and the
    /// ones in `added`, each once; the regex is the same test the walk applies to each name. Order: the
    /// image's hits in name order, then the added ones in insertion order (callers sort). `false`, with `f`
    /// not called, when `TX` was not loaded from an image, a member was removed since, or the image did not
    /// index `re`: walk [`Self::iter`] instead.
    pub(crate) fn regex_members(&self, arena: &[u8], re: &KeyRegex, mut f: impl FnMut(Span, Span)) -> bool {
        let (Some((hits, base)), false) = (&self.loaded, self.removed) else { return false };
        let pattern = re.as_str();
        let Some((_, list)) = hits.iter().find(|(p, _)| **p == *pattern) else { return false };
        for &(rel, h) in list.iter() {
            let name = Span { start: rel.start + base, len: rel.len };
            if let Some(&(k, v)) = self.table.find(h, |(k, _)| *k == name) {
                f(k, v);
            }
        }
        for &(name, h) in &self.added {
            if re.is_match(bytes(arena, name)) {
                if let Some(&(k, v)) = self.table.find(h, |(k, _)| *k == name) {
                    f(k, v);
                }
            }
        }
        true
    }

    /// Fills an empty `TX` from `image` (appending its bytes to the arena): the arena and the table end as
    /// `Transaction::tx_set` of each of the image's members in order would leave them (value then name pushed,
    /// the same bytes at the same places), without hashing a name (the image's hashes are under the same
    /// seed). `false`, with nothing changed, when `TX` is not empty or the arena has no room.
    pub(crate) fn load(&mut self, arena: &mut Vec<u8>, image: &TxImage) -> bool {
        let base = arena.len();
        if !self.table.is_empty() || base.saturating_add(image.bytes.len()) > u32::MAX as usize {
            return false;
        }
        arena.extend_from_slice(&image.bytes);
        let at = |s: Span| Span { start: s.start + base as u32, len: s.len };
        for &(h, k, v) in &image.entries {
            self.table.insert_unique(h, (at(k), at(v)), |(k, _)| tx_hash(bytes(arena, *k)));
        }
        // the table was empty, so the image's members are all the members there are
        self.added.clear();
        self.removed = false;
        self.loaded = image.regex_hits.as_ref().map(|h| (Arc::clone(h), base as u32));
        true
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

    /// An image loaded into an empty `TX` leaves the arena and the members as setting each member in order
    /// does (value then name pushed), and refuses a `TX` that is not empty.
    #[test]
    fn a_loaded_image_is_the_members_set_in_order() {
        let members: Vec<(String, Vec<u8>)> =
            (0..40).map(|i| (format!("key_{i}"), format!("v{i}").into_bytes())).collect();
        let image = TxImage::new(&members);
        let (mut a, mut b) = (b"request data".to_vec(), b"request data".to_vec());
        let (mut ta, mut tb) = (TxVars::default(), TxVars::default());
        for (k, v) in &members {
            let vs = push(&mut a, v);
            let ks = push(&mut a, k.as_bytes());
            ta.insert_new(&a, ks, vs);
        }
        assert!(tb.load(&mut b, &image));
        assert_eq!(a, b);
        assert_eq!(ta.sorted(&a), tb.sorted(&b));
        for (k, _) in &members {
            assert_eq!(ta.get(&a, k.as_bytes()), tb.get(&b, k.as_bytes()), "{k}");
        }
        let more = push(&mut b, b"x");
        tb.insert_new(&b, more, more);
        assert!(tb.contains_key(&b, b"x") && tb.len() == 41);
        assert!(!tb.load(&mut b, &image), "TX is not empty");
    }

    /// `regex_members` selects what a walk asking the regex of every member selects, over an image, keys
    /// inserted after it, removals and keys set again, and declines a regex the image did not index.
    #[test]
    fn regex_members_are_the_walks() {
        let members: Vec<(String, Vec<u8>)> = ["hdr_b", "other", "hdr_a", "xhdr_c", "multi_x", "hdr_"]
            .iter()
            .map(|k| (k.to_string(), b"v".to_vec()))
            .collect();
        let res: Vec<KeyRegex> =
            ["^HDR_", "MULTI_*", "^(hdr|xhdr)_[a-z]$", "."].iter().map(|p| KeyRegex::new(p).unwrap()).collect();
        let mut image = TxImage::new(&members);
        image.index_key_regexes(&res[..3]);
        let (mut arena, mut tx) = (b"before".to_vec(), TxVars::default());
        let check = |tx: &TxVars, arena: &[u8]| {
            for re in &res[..3] {
                let mut got = Vec::new();
                assert!(tx.regex_members(arena, re, |k, v| got.push((k, v))));
                let mut want: Vec<(Span, Span)> = tx.iter().filter(|(k, _)| re.is_match(bytes(arena, *k))).collect();
                let key = |(k, v): &(Span, Span)| (k.start, k.len, v.start, v.len);
                got.sort_unstable_by_key(key);
                want.sort_unstable_by_key(key);
                assert_eq!(got, want, "{}", re.as_str());
            }
            assert!(!tx.regex_members(arena, &res[3], |_, _| ()), "not indexed");
        };
        assert!(tx.load(&mut arena, &image));
        check(&tx, &arena);
        for k in ["hdr_new", "zzz", "multi_y", "xhdr_d"] {
            let vs = push(&mut arena, b"n");
            let ks = push(&mut arena, k.as_bytes());
            tx.insert_new(&arena, ks, vs);
            check(&tx, &arena);
        }
        let vs = push(&mut arena, b"w");
        assert!(tx.set_existing(&arena, b"hdr_a", vs));
        check(&tx, &arena);
        tx.remove(&arena, b"hdr_b");
        assert!(!tx.regex_members(&arena, &res[0], |_, _| ()), "a removal: walk");
        tx.clear();
        assert!(!tx.regex_members(&arena, &res[0], |_, _| ()), "not loaded");
        arena.clear();
        assert!(tx.load(&mut arena, &image));
        check(&tx, &arena);
    }
}
