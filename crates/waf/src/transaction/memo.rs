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
//! a new key replaces whatever held its slot, so a flood of distinct values only costs each of them a hash
//! and a copy more than before (nothing is lost but the memo's hits).
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

/// The hash of a key (tag and value bytes): it picks the slot, and is kept there to skip most byte
/// comparisons of a key that does not match.
pub(crate) type KeyHash = u64;

/// A slot: the tag, hash and bytes of the key it holds (`tag == VACANT`: none).
struct Slot {
    tag: u64,
    hash: KeyHash,
    key: Vec<u8>,
}

const VACANT: u64 = u64::MAX;

struct ScanMemo {
    /// The engine whose entries the slots hold.
    engine: u64,
    /// Words per slot in `entries`: the engine's prefilter words, and 4 for an untransformed entry's bytes.
    stride: usize,
    hasher: foldhash::fast::RandomState,
    slots: Vec<Slot>,
    entries: Vec<u64>,
}

impl ScanMemo {
    fn new(engine: u64, stride: usize) -> ScanMemo {
        ScanMemo {
            engine,
            stride,
            hasher: foldhash::fast::RandomState::default(),
            slots: (0..SLOTS).map(|_| Slot { tag: VACANT, hash: 0, key: Vec::new() }).collect(),
            entries: vec![0; SLOTS * stride],
        }
    }

    fn key_hash(&self, tag: u64, key: &[u8]) -> KeyHash {
        self.hasher.hash_one((tag, key))
    }

    /// The slot of `hash` and whether it holds (`tag`, `key`).
    fn find(&self, tag: u64, hash: KeyHash, key: &[u8]) -> (usize, bool) {
        let i = hash as usize & (SLOTS - 1);
        let s = &self.slots[i];
        (i, s.hash == hash && s.tag == tag && s.key == key)
    }
}

/// The tag of a gate's `base64Decode` test on a value (`gate::b64_member_rules_out`; its entry: one word,
/// 1 when the test rules the value out): the head link's chain, its operator's prefilter id and the
/// operator's shortest match determine the test. A value's prefilter entry under a chain has the chain's
/// number as its tag, which never has the top bit. `None` when a field does not fit.
pub(crate) fn b64_tag(chain: u32, prefilter_id: u32, min_len: usize) -> Option<u64> {
    (chain < 1 << 16 && min_len < 1 << 15)
        .then_some(1 << 63 | (min_len as u64) << 48 | (chain as u64) << 32 | prefilter_id as u64)
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
            (i, true) => Ok(read(&memo.entries[i * memo.stride..(i + 1) * memo.stride])),
            (_, false) => Err(Miss::Absent(hash)),
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

/// Memoises `entry` (at most `stride` words) for (`engine`, `tag`, `key`) in place of whatever held its
/// slot. `hash`: what the look-up that missed returned for the same key, if there was one just before.
pub(crate) fn put(engine: u64, stride: usize, tag: u64, key: &[u8], hash: Option<KeyHash>, entry: &[u64]) {
    if key.len() > MAX_KEY || entry.len() > stride {
        return;
    }
    with_memo(engine, stride, |memo| {
        let hash = hash.unwrap_or_else(|| memo.key_hash(tag, key));
        let i = hash as usize & (SLOTS - 1);
        let slot = &mut memo.slots[i];
        slot.tag = tag;
        slot.hash = hash;
        slot.key.clear();
        slot.key.extend_from_slice(key);
        let at = i * memo.stride;
        memo.entries[at..at + entry.len()].copy_from_slice(entry);
    })
}
