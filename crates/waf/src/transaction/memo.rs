//! The prefilter entries of values seen by earlier transactions on the same worker thread. A value's entry
//! under a transformation chain (the bitset of the prefilter conditions that hold on its transformed form,
//! and for the empty chain the set of bytes it holds: `gate::pf_bits_scan`) is a function of the value's
//! bytes, the chain and the engine's prefilter only; so is whether a gate's test of the value's base64-decoded
//! forms rules it out (`gate::b64_rules_out`). Real traffic repeats most of what the gates scan: header
//! names and values (`Accept`, `User-Agent`, `Content-Type`, `Host`, a client's `Authorization` or cookies),
//! parameter names, the JSON keys of an API's bodies and many of their values. The per-transaction caches
//! (`Transaction::pf_cache`) know only the current request; this memo carries entries from one request to
//! the next, so a repeated value costs a hash and a copy instead of its transformations and a scan.
//!
//! Why this is exact: an entry is stored under the engine's memo id (`Engine::memo_id`: each loaded engine
//! has its own, never reused, so an entry never outlives the rules and prefilter that computed it), a tag
//! (the chain's number, or a gate's base64 test: [`b64_tag`]) and the value's bytes, and is served only to a
//! look-up that matches all three, the bytes compared in full (the hash only picks the slot): the scan or
//! test a hit replaces would compute the same words from the same bytes. The memo is bounded ([`SLOTS`]
//! entries per engine per worker thread, values of at most [`MAX_KEY`] bytes) and never grows with traffic:
//! a key's hash picks a set of four slots, and a new key takes a vacant one or the set's slots in turn, so a
//! flood of distinct values only costs each of them a hash and a copy more than before (nothing is lost but
//! the memo's hits). Sets rather than one slot per key: then two recurring values whose hashes picked the
//! same slot evicted each other on every request for as long as the process ran (each thread's seed is
//! random, so which values did differed between processes: 3 to 9 of a harness POST's 109 look-ups missed
//! for good, docs/benchmarks.md session 36); with four ways, that takes five recurring keys in one set.
//!
//! What it keeps: the bytes of up to [`SLOTS`] recent values per engine and worker thread, in process
//! memory only (never logged, never sent), as the pooled transaction buffers (`pool`) keep the last requests'
//! data until they are overwritten. Keys were first a 128-bit keyed fingerprint (two SipHash-1-3 hashes)
//! instead of the bytes, so no value outlives its request here: the hashing cost more than the scans it
//! saved (+8 % of a POST's engine instructions against −9 % with the bytes; docs/benchmarks.md, session 35).
//! `[waf] value_memo = false` turns the memo off, for deployments that want no request value kept in it.
//!
//! Written here rather than taken from a cache crate: what is needed is a fixed-size, direct-mapped table of
//! short byte keys with fixed-size word entries and no allocation per hit, which is a few lines, while the
//! LRU crates allocate per entry and keep order lists the memo does not need.

use std::cell::RefCell;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};

/// Entries per engine per worker thread (a power of two). A request reads some tens to a few hundred
/// (value, chain) pairs, so this holds the recurring values of many clients at once.
pub(crate) const SLOTS: usize = 4096;
/// Slots a key may occupy (its set: [`ScanMemo::set_start`]).
const WAYS: usize = 4;
/// Sets of [`WAYS`] slots.
const SETS: usize = SLOTS / WAYS;
/// Longest value memoised. Longer values repeat less, and hashing them twice approaches a scan's cost.
pub(crate) const MAX_KEY: usize = 256;

/// The next engine's memo id (0 is never given).
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A new engine's memo id.
pub(crate) fn next_engine_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

/// Engines a thread keeps memos for: the current one and the one it replaced, whose transactions may still
/// be running after a reload.
const ENGINES: usize = 2;

thread_local! {
    static MEMO: RefCell<Vec<ScanMemo>> = const { RefCell::new(Vec::new()) };
}

/// The hash of a key (tag and value bytes): it picks the key's set, and is kept beside its slot to skip most
/// byte comparisons of a key that does not match.
pub(crate) type KeyHash = u64;

/// A slot: the tag and bytes of the key it holds (`tag == VACANT`: none); its hash is in `ScanMemo::hashes`.
struct Slot {
    tag: u64,
    key: Vec<u8>,
}

/// The tag of a vacant slot (no chain number or [`b64_tag`] has it).
const VACANT: u64 = u64::MAX;

struct ScanMemo {
    /// The engine whose entries the slots hold.
    engine: u64,
    /// Words per slot in `entries`: the engine's prefilter words, and 4 for an untransformed entry's bytes.
    stride: usize,
    hasher: foldhash::fast::RandomState,
    /// Per slot, the hash of the key it holds: a set's [`WAYS`] hashes share a cache line.
    hashes: Vec<KeyHash>,
    slots: Vec<Slot>,
    /// Per set, the way the next new key takes when none is vacant (its ways are filled in turn).
    next: Vec<u8>,
    entries: Vec<u64>,
}

impl ScanMemo {
    fn new(engine: u64, stride: usize) -> ScanMemo {
        ScanMemo {
            engine,
            stride,
            hasher: foldhash::fast::RandomState::default(),
            hashes: vec![0; SLOTS],
            slots: (0..SLOTS).map(|_| Slot { tag: VACANT, key: Vec::new() }).collect(),
            next: vec![0; SETS],
            entries: vec![0; SLOTS * stride],
        }
    }

    fn key_hash(&self, tag: u64, key: &[u8]) -> KeyHash {
        self.hasher.hash_one((tag, key))
    }

    /// The first slot of the set of a key's hash.
    fn set_start(hash: KeyHash) -> usize {
        (hash as usize & (SETS - 1)) * WAYS
    }

    /// The slot holding (`tag`, `key`), whose hash is `hash`, if one does.
    #[inline(always)]
    fn find(&self, tag: u64, hash: KeyHash, key: &[u8]) -> Option<usize> {
        let at = Self::set_start(hash);
        let hashes = self.hashes.get(at..at + WAYS)?;
        (0..WAYS).map(|w| at + w).zip(hashes).find_map(|(i, h)| {
            let s = self.slots.get(i)?;
            (*h == hash && s.tag == tag && s.key == key).then_some(i)
        })
    }

    /// Stores `entry` for (`tag`, `key`), whose hash is `hash`, unless the key is held already (with the same
    /// entry: it depends on the key alone): in a vacant slot of its set, else in the set's ways in turn.
    fn insert(&mut self, tag: u64, hash: KeyHash, key: &[u8], entry: &[u64]) {
        if self.find(tag, hash, key).is_some() || entry.len() > self.stride {
            return;
        }
        let at = Self::set_start(hash);
        let set = at / WAYS;
        let way = match (0..WAYS).find(|w| self.slots[at + w].tag == VACANT) {
            Some(w) => w,
            None => {
                let w = self.next[set] as usize % WAYS;
                self.next[set] = ((w + 1) % WAYS) as u8;
                w
            }
        };
        let i = at + way;
        self.hashes[i] = hash;
        let slot = &mut self.slots[i];
        slot.tag = tag;
        slot.key.clear();
        slot.key.extend_from_slice(key);
        let e = i * self.stride;
        self.entries[e..e + entry.len()].copy_from_slice(entry);
    }
}

/// The tag of a gate's `base64Decode` test on a value (`gate::b64_member_rules_out`; its entry: one word,
/// 1 when the test rules the value out): the head link's chain, its operator's prefilter id and the
/// operator's shortest match determine the test. A value's prefilter entry under a chain has the chain's
/// number as its tag, which never has the top bit. `None` when a field does not fit.
pub(crate) fn b64_tag(chain: u32, prefilter_id: u32, min_len: usize) -> Option<u64> {
    (chain < 1 << 16 && min_len < 1 << 15)
        .then_some(1 << 63 | (min_len as u64) << 48 | (chain as u64) << 32 | prefilter_id as u64)
        .filter(|&t| t != VACANT)
}

/// The outcome of a look-up that found no entry.
pub(crate) enum Miss {
    /// Not memoised; the key's hash, for [`put`].
    Absent(KeyHash),
    /// The value is longer than [`MAX_KEY`]: neither looked up nor stored.
    TooLong,
}

/// Runs `f` on this thread's memo for `engine`, made (in place of the least recently used one) if there is
/// none.
fn with_memo<R>(engine: u64, stride: usize, f: impl FnOnce(&mut ScanMemo) -> R) -> R {
    MEMO.with(|m| {
        let mut m = m.borrow_mut();
        let i = match m.iter().position(|memo| memo.engine == engine && memo.stride == stride) {
            Some(i) => i,
            None if m.len() < ENGINES => {
                m.push(ScanMemo::new(engine, stride));
                m.len() - 1
            }
            None => {
                m[ENGINES - 1] = ScanMemo::new(engine, stride);
                ENGINES - 1
            }
        };
        // the most recently used first
        if i != 0 {
            m.swap(0, i);
        }
        f(&mut m[0])
    })
}

/// Calls `read` on the entry memoised for (`engine`, `tag`, `key`) (its `stride` words), if there is one.
/// `stride` is the engine's words per entry (the same on every call for one engine).
fn lookup<R>(engine: u64, stride: usize, tag: u64, key: &[u8], read: impl FnOnce(&[u64]) -> R) -> Result<R, Miss> {
    if key.len() > MAX_KEY {
        return Err(Miss::TooLong);
    }
    with_memo(engine, stride, |memo| {
        let hash = memo.key_hash(tag, key);
        match memo.find(tag, hash, key) {
            Some(i) => Ok(read(&memo.entries[i * memo.stride..(i + 1) * memo.stride])),
            None => Err(Miss::Absent(hash)),
        }
    })
}

/// Appends to `out` the first `len` words of the entry memoised for (`engine`, `tag`, `key`), if there is
/// one.
pub(crate) fn get(
    engine: u64,
    stride: usize,
    tag: u64,
    key: &[u8],
    len: usize,
    out: &mut Vec<u64>,
) -> Result<(), Miss> {
    lookup(engine, stride, tag, key, |entry| out.extend_from_slice(&entry[..len.min(entry.len())]))
}

/// The first word of the entry memoised for (`engine`, `tag`, `key`).
pub(crate) fn get_word(engine: u64, stride: usize, tag: u64, key: &[u8]) -> Result<u64, Miss> {
    lookup(engine, stride, tag, key, |entry| entry[0])
}

/// Memoises `entry` (at most `stride` words) for (`engine`, `tag`, `key`) ([`ScanMemo::insert`]). `hash`:
/// what the look-up that missed returned for the same key, if there was one just before.
pub(crate) fn put(engine: u64, stride: usize, tag: u64, key: &[u8], hash: Option<KeyHash>, entry: &[u64]) {
    if key.len() > MAX_KEY {
        return;
    }
    with_memo(engine, stride, |memo| {
        let hash = hash.unwrap_or_else(|| memo.key_hash(tag, key));
        memo.insert(tag, hash, key, entry);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The slots holding `key` (tag 1).
    fn held(m: &ScanMemo, key: &[u8]) -> usize {
        m.slots.iter().filter(|s| s.tag == 1 && s.key == key).count()
    }

    /// Keys whose hashes pick one set all stay while they fit its four ways; a fifth replaces the first one
    /// stored; a key stored again takes no second slot. (With one slot per set, the second key evicted the
    /// first: the thrashing this layout ends.)
    #[test]
    fn keys_sharing_a_set_stay_while_they_fit_its_ways() {
        let mut m = ScanMemo::new(1, 2);
        let hash = 0x5eed; // every key below gets this hash: one set
        let keys: [&[u8]; 5] = [b"a", b"bb", b"ccc", b"dddd", b"eeeee"];
        for (n, k) in keys[..4].iter().enumerate() {
            m.insert(1, hash, k, &[n as u64, 7]);
            m.insert(1, hash, k, &[n as u64, 7]);
            assert_eq!(held(&m, k), 1, "{k:?} stored once");
        }
        for (n, k) in keys[..4].iter().enumerate() {
            let i = m.find(1, hash, k).expect("held");
            assert_eq!(&m.entries[i * 2..i * 2 + 2], &[n as u64, 7]);
        }
        assert_eq!(m.find(2, hash, b"a"), None, "another tag");
        m.insert(1, hash, keys[4], &[4, 7]);
        assert!(m.find(1, hash, keys[4]).is_some());
        assert_eq!(m.find(1, hash, keys[0]), None, "the first stored made room");
        assert!(keys[1..4].iter().all(|k| m.find(1, hash, k).is_some()));
        // another set is untouched
        m.insert(1, hash + 1, b"a", &[9, 9]);
        assert!(m.find(1, hash + 1, b"a").is_some() && m.find(1, hash, keys[1]).is_some());
    }
}
