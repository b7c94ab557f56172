//! Reuse of a transaction's buffers across transactions. A CRS transaction fills a dozen maps and vectors
//! (the arena, the transformation and prefilter caches, the gate's unions, the collected lists); building
//! them afresh cost an allocation, several rehashes and a free per map on every request. A finished
//! [`Transaction`] hands them back, emptied, to its engine's [`TxPool`], and the next transaction starts from
//! them. Owns only the free-lists; what each buffer means stays with the transaction.
//!
//! Two kinds of sets. [`Buffers`] hold the transaction's data (the arena, the collections, `TX`, the matched
//! variables): a transaction keeps them to its end. [`Scratch`] holds what the rules' evaluation derives from
//! that data (transformed forms, prefilter bitsets, the gates' unions, the collected lists): only a running
//! phase needs it, so [`Transaction::park`] hands it back when a phase after which the gateway waits on the
//! network has ended (the upstream's answer, the response body), and the next phase takes a set again.
//! Under load a gateway has many transactions in flight and runs one phase at a time: without parking every
//! in-flight transaction kept its own caches (tens of KB each), and 64 of them no longer fitted in the core's
//! L2, so every phase started by fetching its caches from memory (`docs/benchmarks.md`, "Session 24"). With
//! parking a worker thread cycles through a few scratch sets that stay in cache.
//!
//! Bounds: at most [`MAX_POOLED`] sets of each kind are kept, and a set that one large request grew beyond
//! [`MAX_BYTES`] / [`MAX_ENTRIES`] is dropped instead, so a 10 MB body never stays pinned. The pool holds no
//! `Arc<Engine>` (the transaction does), so an engine swapped out on reload is still freed.

use super::collect::Item;
use super::tx_vars::TxVars;
use super::{BuildFx, Cached, Kv, Span, Transaction};
use portcullis_detect::prefilter::Classes;
use std::collections::HashMap;
use std::sync::Mutex;

/// Most buffer sets of each kind kept (about one per request in flight on a worker thread is enough; scratch
/// sets are in use only while a phase runs).
const MAX_POOLED: usize = 32;
/// Largest byte buffer (arena, transformation outputs) kept.
const MAX_BYTES: usize = 256 * 1024;
/// Most entries a kept list may have room for.
const MAX_ENTRIES: usize = 8 * 1024;
/// Most `MATCHED_VARS` slots kept, and the most bytes one may hold (a slot keeps its name and value buffers,
/// so the next transaction's matches fill them without allocating).
const MAX_MATCHED_SLOTS: usize = 64;
const MAX_SLOT_BYTES: usize = 4096;
/// Most entries a kept hash map may have room for: clearing a map writes every bucket's control byte, so a
/// map one 10 KB body grew to thousands of entries would make every later small request pay for it.
const MAX_MAP_ENTRIES: usize = 1024;

/// One transaction's data buffers, all empty.
#[derive(Default)]
pub(crate) struct Buffers {
    pub arena: Vec<u8>,
    pub args_get: Vec<Kv>,
    pub args_post: Vec<Kv>,
    pub headers: Vec<Kv>,
    pub cookies: Vec<Kv>,
    pub resp_headers: Vec<Kv>,
    pub tx: TxVars,
    /// `MATCHED_VAR`, `MATCHED_VAR_NAME` and the `MATCHED_VARS` slots (`Transaction::matched_count` says how
    /// many hold the current rule's matches: a new transaction starts at 0, so stale slots are never read).
    pub matched_var: Vec<u8>,
    pub matched_var_name: String,
    pub matched_vars: Vec<(String, Vec<u8>)>,
    pub captures: crate::operators::Captures,
}

/// One phase's evaluation buffers, all empty: caches derived from the transaction's data and the rules'
/// scratch space. Emptying them mid-transaction only costs recomputation.
#[derive(Default)]
pub(crate) struct Scratch {
    pub cache: HashMap<(Span, u32), Cached, BuildFx>,
    pub cache_buf: Vec<u8>,
    pub pf_cache: HashMap<(Span, u32), u32, BuildFx>,
    pub pf_bits: Vec<u64>,
    pub pf_forms: HashMap<Span, u32, BuildFx>,
    pub pf_form_list: Vec<(Span, u32, u32)>,
    /// The prefilter's and the gate's scratch bitsets (a few words each; kept so that a transaction does not
    /// allocate and free them).
    pub pf_scratch: Vec<u64>,
    pub gate_scratch: Vec<u64>,
    /// The decoded text a gate's `b64` test scans (`gate::b64_rules_out`).
    pub b64_buf: Vec<u8>,
    pub gate_cache: Vec<u32>,
    pub gate_closed: Vec<u64>,
    pub src_lists: super::gate::SourceLists,
    pub phase_items: Vec<Item>,
    pub class_cache: HashMap<Span, Classes, BuildFx>,
    pub list_cache: super::collect::ListCache,
    pub families: super::detectors::Families,
    pub expand_buf: Vec<u8>,
    pub setvar_key: String,
}

impl Buffers {
    /// Fresh buffers sized for a typical CRS request, so the benign path does not rehash.
    fn fresh() -> Buffers {
        Buffers { arena: Vec::with_capacity(4096), ..Buffers::default() }
    }

    /// Empties every buffer; `false` when one grew too large to keep.
    fn clear(&mut self) -> bool {
        let Buffers {
            arena,
            args_get,
            args_post,
            headers,
            cookies,
            resp_headers,
            tx,
            matched_var,
            matched_var_name,
            matched_vars,
            captures,
        } = self;
        let small = arena.capacity() <= MAX_BYTES
            && tx.capacity() <= MAX_MAP_ENTRIES
            && [args_get.capacity(), args_post.capacity(), headers.capacity(), cookies.capacity()]
                .iter()
                .chain(&[resp_headers.capacity()])
                .all(|c| *c <= MAX_ENTRIES);
        let strings = [matched_var.capacity(), matched_var_name.capacity()];
        if !small || strings.iter().any(|c| *c > MAX_BYTES) || captures.capacity_bytes() > MAX_BYTES {
            return false;
        }
        captures.clear();
        matched_vars.truncate(MAX_MATCHED_SLOTS);
        matched_vars.retain(|(n, v)| n.capacity() + v.capacity() <= MAX_SLOT_BYTES);
        matched_var.clear();
        matched_var_name.clear();
        arena.clear();
        args_get.clear();
        args_post.clear();
        headers.clear();
        cookies.clear();
        resp_headers.clear();
        tx.clear();
        true
    }
}

impl Scratch {
    /// Fresh buffers sized for a typical CRS request, so the benign path does not rehash.
    fn fresh() -> Scratch {
        Scratch {
            cache: HashMap::with_capacity_and_hasher(256, BuildFx),
            cache_buf: Vec::with_capacity(1024),
            pf_cache: HashMap::with_capacity_and_hasher(128, BuildFx),
            pf_bits: Vec::with_capacity(512),
            gate_cache: Vec::with_capacity(256),
            class_cache: HashMap::with_capacity_and_hasher(32, BuildFx),
            ..Scratch::default()
        }
    }

    /// Empties every buffer; `false` when one grew too large to keep.
    fn clear(&mut self) -> bool {
        let Scratch {
            cache,
            cache_buf,
            pf_cache,
            pf_bits,
            pf_forms,
            pf_form_list,
            pf_scratch,
            gate_scratch,
            b64_buf,
            gate_cache,
            gate_closed,
            src_lists,
            phase_items,
            class_cache,
            list_cache,
            families,
            expand_buf,
            setvar_key,
        } = self;
        let small = cache_buf.capacity() <= MAX_BYTES
            && pf_bits.capacity() <= MAX_ENTRIES * 8
            && pf_forms.capacity() <= MAX_MAP_ENTRIES
            && pf_form_list.capacity() <= MAX_ENTRIES
            && pf_scratch.capacity() <= MAX_ENTRIES
            && gate_scratch.capacity() <= MAX_ENTRIES
            && b64_buf.capacity() <= MAX_BYTES
            && [cache.capacity(), pf_cache.capacity(), class_cache.capacity(), list_cache.capacity()]
                .iter()
                .all(|c| *c <= MAX_MAP_ENTRIES)
            && [gate_cache.capacity(), gate_closed.capacity(), src_lists.capacity(), phase_items.capacity()]
                .iter()
                .all(|c| *c <= MAX_ENTRIES)
            && list_cache.lists_within(MAX_ENTRIES)
            && families.capacity() <= MAX_ENTRIES;
        if !small || expand_buf.capacity() > MAX_BYTES || setvar_key.capacity() > MAX_BYTES {
            return false;
        }
        expand_buf.clear();
        setvar_key.clear();
        cache.clear();
        cache_buf.clear();
        pf_cache.clear();
        pf_bits.clear();
        pf_forms.clear();
        pf_form_list.clear();
        pf_scratch.clear();
        gate_scratch.clear();
        b64_buf.clear();
        gate_cache.clear();
        gate_closed.clear();
        src_lists.clear();
        phase_items.clear();
        class_cache.clear();
        // the lists' vectors keep their room under their ids (the engine's, as the pool is), stale from now
        super::collect::forget_lists(list_cache);
        families.clear();
        true
    }
}

/// The engine's free-lists of [`Buffers`] and [`Scratch`] sets.
#[derive(Default)]
pub(crate) struct TxPool {
    free: Mutex<Vec<Buffers>>,
    scratch: Mutex<Vec<Scratch>>,
}

impl std::fmt::Debug for TxPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.free.lock().map(|v| v.len()).unwrap_or(0);
        let s = self.scratch.lock().map(|v| v.len()).unwrap_or(0);
        write!(f, "TxPool({n} free, {s} scratch)")
    }
}

impl TxPool {
    /// Buffers for a new transaction: reused when one is free.
    pub(crate) fn take(&self) -> Buffers {
        reuse(&self.free).unwrap_or_else(Buffers::fresh)
    }

    /// Takes back a finished transaction's buffers (dropped when the pool is full or they grew too large).
    pub(crate) fn put(&self, mut b: Buffers) {
        if b.clear() {
            keep(&self.free, b);
        }
    }

    /// Evaluation buffers for a phase: the set handed back last (the one most likely still in cache).
    pub(crate) fn take_scratch(&self) -> Scratch {
        reuse(&self.scratch).unwrap_or_else(Scratch::fresh)
    }

    /// Takes back a parked or finished transaction's evaluation buffers (dropped as [`Self::put`] drops).
    pub(crate) fn put_scratch(&self, mut s: Scratch) {
        if s.clear() {
            keep(&self.scratch, s);
        }
    }

    /// Buffer sets held (tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.free.lock().map(|v| v.len()).unwrap_or(0)
    }

    /// Scratch sets held (tests).
    #[cfg(test)]
    pub(crate) fn scratch_len(&self) -> usize {
        self.scratch.lock().map(|v| v.len()).unwrap_or(0)
    }
}

/// The set a free-list handed back last, if any.
fn reuse<T>(list: &Mutex<Vec<T>>) -> Option<T> {
    list.lock().ok().and_then(|mut v| v.pop())
}

/// Keeps an emptied set unless the free-list is full.
fn keep<T>(list: &Mutex<Vec<T>>, set: T) {
    if let Ok(mut v) = list.lock() {
        if v.len() < MAX_POOLED {
            v.push(set);
        }
    }
}

impl Transaction {
    /// Moves the evaluation buffers out, leaving empty ones (which allocate nothing until used).
    fn take_scratch_fields(&mut self) -> Scratch {
        Scratch {
            cache: std::mem::take(&mut self.cache),
            cache_buf: std::mem::take(&mut self.cache_buf),
            pf_cache: std::mem::take(&mut self.pf_cache),
            pf_bits: std::mem::take(&mut self.pf_bits),
            pf_forms: std::mem::take(&mut self.pf_forms),
            pf_form_list: std::mem::take(&mut self.pf_form_list),
            pf_scratch: std::mem::take(&mut self.pf_scratch),
            gate_scratch: std::mem::take(&mut self.gate_scratch),
            b64_buf: std::mem::take(&mut self.b64_buf),
            gate_cache: std::mem::take(&mut self.gate_cache),
            gate_closed: std::mem::take(&mut self.gate_closed),
            src_lists: std::mem::take(&mut self.src_lists),
            phase_items: std::mem::take(&mut self.phase_items),
            class_cache: std::mem::take(&mut self.class_cache),
            list_cache: std::mem::take(&mut self.list_cache),
            families: std::mem::take(&mut self.families),
            expand_buf: std::mem::take(&mut self.expand_buf),
            setvar_key: std::mem::take(&mut self.setvar_key),
        }
    }

    /// Installs a set of evaluation buffers (empty, from the pool).
    pub(crate) fn install_scratch(&mut self, s: Scratch) {
        self.cache = s.cache;
        self.cache_buf = s.cache_buf;
        self.pf_cache = s.pf_cache;
        self.pf_bits = s.pf_bits;
        self.pf_forms = s.pf_forms;
        self.pf_form_list = s.pf_form_list;
        self.pf_scratch = s.pf_scratch;
        self.gate_scratch = s.gate_scratch;
        self.b64_buf = s.b64_buf;
        self.gate_cache = s.gate_cache;
        self.gate_closed = s.gate_closed;
        self.src_lists = s.src_lists;
        self.phase_items = s.phase_items;
        self.class_cache = s.class_cache;
        self.list_cache = s.list_cache;
        self.families = s.families;
        self.expand_buf = s.expand_buf;
        self.setvar_key = s.setvar_key;
    }

    /// Hands the evaluation buffers back to the pool between phases (the module's docs say why). What they
    /// cached is recomputed if a later phase needs it: the gate's unions are marked stale.
    pub(crate) fn park(&mut self) {
        if self.parked {
            return;
        }
        let s = self.take_scratch_fields();
        self.engine.pool.put_scratch(s);
        self.parked = true;
        self.gate_stale = true;
    }

    /// Takes evaluation buffers for a phase after [`Self::park`].
    pub(crate) fn unpark(&mut self) {
        if self.parked {
            let s = self.engine.pool.take_scratch();
            self.install_scratch(s);
            self.parked = false;
        }
    }
}

impl Drop for Transaction {
    fn drop(&mut self) {
        let b = Buffers {
            arena: std::mem::take(&mut self.arena),
            args_get: std::mem::take(&mut self.req.args_get),
            args_post: std::mem::take(&mut self.req.args_post),
            headers: std::mem::take(&mut self.req.headers),
            cookies: std::mem::take(&mut self.req.cookies),
            resp_headers: std::mem::take(&mut self.resp.headers),
            tx: std::mem::take(&mut self.tx),
            matched_var: std::mem::take(&mut self.matched_var),
            matched_var_name: std::mem::take(&mut self.matched_var_name),
            matched_vars: std::mem::take(&mut self.matched_vars),
            captures: std::mem::take(&mut self.captures),
        };
        self.engine.pool.put(b);
        self.park();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oversized_buffers_are_not_kept() {
        let pool = TxPool::default();
        let mut b = pool.take();
        b.arena.extend_from_slice(b"GET /");
        b.headers.push(Kv { name: Span::default(), value: Span::default() });
        pool.put(b);
        assert_eq!(pool.len(), 1);
        let b = pool.take();
        assert!(b.arena.is_empty() && b.headers.is_empty() && b.arena.capacity() >= 4096, "reused, emptied");
        let mut big = b;
        big.arena.reserve(MAX_BYTES + 1);
        pool.put(big);
        assert_eq!(pool.len(), 0, "a buffer one large request grew is dropped");
        for _ in 0..MAX_POOLED + 5 {
            pool.put(Buffers::fresh());
        }
        assert_eq!(pool.len(), MAX_POOLED);
    }

    /// The scratch bitsets come back empty, as a fresh transaction's `Vec::new()` was, with their room kept.
    #[test]
    fn scratch_bitsets_come_back_empty() {
        let pool = TxPool::default();
        let mut b = pool.take_scratch();
        b.pf_scratch.extend_from_slice(&[u64::MAX; 8]);
        b.gate_scratch.extend_from_slice(&[1; 8]);
        pool.put_scratch(b);
        assert_eq!(pool.scratch_len(), 1);
        let b = pool.take_scratch();
        assert!(b.pf_scratch.is_empty() && b.gate_scratch.is_empty(), "stale bits never reach the next transaction");
        assert!(b.pf_scratch.capacity() >= 8 && b.gate_scratch.capacity() >= 8, "room kept");
    }

    /// A transaction hands its evaluation buffers back after phase 2 (the gateway then waits for the
    /// upstream) and takes a set again for phase 3, whose rules still see the request: their transformed
    /// forms are recomputed, not read from another transaction's caches. The other request in flight has
    /// the same layout (its `q` at the same arena span) and a benign `q`, so a set handed on unemptied gives
    /// phase 3 the benign form. Mutants: not parking fails the pool's counts; not emptying a parked set fails
    /// phase 3's verdict.
    #[test]
    fn a_parked_transaction_returns_its_scratch_and_later_phases_recompute() {
        use crate::{Engine, TxInfo};
        use std::net::IpAddr;
        use std::sync::Arc;
        let rules = r#"SecRuleEngine On
SecRule ARGS:q "@rx attack" "id:1,phase:2,pass,t:lowercase,setvar:tx.seen_in_2=1"
SecRule ARGS:q "@rx attack" "id:2,phase:3,pass,t:lowercase,setvar:tx.seen_in_3=1"
SecRule TX:seen_in_3 "@eq 1" "id:3,phase:3,deny,status:403"
"#;
        let engine = Arc::new(Engine::from_str(rules, "t.conf").expect("rules load"));
        let lo = IpAddr::from([127, 0, 0, 1]);
        let info =
            || TxInfo { unique_id: "p".into(), client_addr: lo, client_port: 1, server_addr: lo, server_port: 2 };
        // a benign request runs its request phases and parks its set
        let mut other = engine.transaction(info());
        other.request_line("GET", "/items?q=An%20benign", "HTTP/1.1");
        assert!(other.process_request_headers().is_none());
        assert_eq!(engine.pool.scratch_len(), 0, "phase 1 keeps its set for phase 2");
        assert!(other.process_request_body().is_none());
        assert!(other.parked, "parked once the request phases are done");
        assert_eq!(engine.pool.scratch_len(), 1, "the set is back in the pool");
        // the next request in flight takes that set, and so does its phase 3
        let mut tx = engine.transaction(info());
        assert_eq!(engine.pool.scratch_len(), 0, "the next transaction took it");
        tx.request_line("GET", "/items?q=An%20ATTACK", "HTTP/1.1");
        assert!(tx.process_request_headers().is_none());
        assert!(tx.process_request_body().is_none());
        tx.response_status(200, "HTTP/1.1");
        let iv = tx.process_response_headers().expect("phase 3 saw ARGS:q through its own transformation");
        assert_eq!((iv.rule_id, iv.status), (3, 403));
        other.response_status(200, "HTTP/1.1");
        assert!(other.process_response_headers().is_none(), "and the benign request's phase 3 its own");
        drop(other);
        drop(tx);
        assert_eq!(engine.pool.scratch_len(), 1, "one set served both transactions' five phases");
    }

    #[test]
    fn matched_buffers_come_back_empty_and_bounded() {
        let pool = TxPool::default();
        let mut b = pool.take();
        b.matched_var.extend_from_slice(b"1' or '1'='1");
        b.matched_var_name.push_str("ARGS:q");
        b.matched_vars.push(("ARGS:q".into(), b"x".to_vec()));
        b.matched_vars.push(("ARGS:big".into(), vec![b'a'; MAX_SLOT_BYTES + 1]));
        pool.put(b);
        let b = pool.take();
        assert!(b.matched_var.is_empty() && b.matched_var.capacity() > 0, "emptied, room kept");
        assert!(b.matched_var_name.is_empty());
        assert_eq!(b.matched_vars.len(), 1, "the oversized slot is dropped, the small one kept for reuse");
    }
}
