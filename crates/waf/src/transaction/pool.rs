//! Reuse of a transaction's buffers across transactions. A CRS transaction fills a dozen maps and vectors
//! (the arena, the transformation and prefilter caches, the gate's unions, the collected lists); building
//! them afresh cost an allocation, several rehashes and a free per map on every request. A finished
//! [`Transaction`] hands them back, emptied, to its engine's [`TxPool`], and the next transaction starts from
//! them. Owns only the free-list; what each buffer means stays with the transaction.
//!
//! Bounds: at most [`MAX_POOLED`] sets are kept, and a set that one large request grew beyond
//! [`MAX_BYTES`] / [`MAX_ENTRIES`] is dropped instead, so a 10 MB body never stays pinned. The pool holds no
//! `Arc<Engine>` (the transaction does), so an engine swapped out on reload is still freed.

use super::collect::Item;
use super::tx_vars::TxVars;
use super::{BuildFx, Cached, Kv, Span, Transaction};
use portcullis_detect::prefilter::Classes;
use std::collections::HashMap;
use std::sync::Mutex;

/// Most buffer sets kept (about one per request in flight on a worker thread is enough).
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

/// One transaction's reusable buffers, all empty.
#[derive(Default)]
pub(crate) struct Buffers {
    pub arena: Vec<u8>,
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
    pub gate_cache: Vec<u32>,
    pub gate_closed: Vec<u64>,
    pub src_lists: super::gate::SourceLists,
    pub phase_items: Vec<Item>,
    pub class_cache: HashMap<Span, Classes, BuildFx>,
    pub list_cache: super::collect::ListCache,
    pub families: super::detectors::Families,
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
    pub expand_buf: Vec<u8>,
    pub setvar_key: String,
    pub captures: crate::operators::Captures,
}

impl Buffers {
    /// Fresh buffers sized for a typical CRS request, so the benign path does not rehash.
    fn fresh() -> Buffers {
        Buffers {
            arena: Vec::with_capacity(4096),
            cache: HashMap::with_capacity_and_hasher(256, BuildFx),
            cache_buf: Vec::with_capacity(1024),
            pf_cache: HashMap::with_capacity_and_hasher(128, BuildFx),
            pf_bits: Vec::with_capacity(512),
            gate_cache: Vec::with_capacity(256),
            class_cache: HashMap::with_capacity_and_hasher(32, BuildFx),
            ..Buffers::default()
        }
    }

    /// Empties every buffer; `false` when one grew too large to keep.
    fn clear(&mut self) -> bool {
        let Buffers {
            arena,
            cache,
            cache_buf,
            pf_cache,
            pf_bits,
            pf_forms,
            pf_form_list,
            pf_scratch,
            gate_scratch,
            gate_cache,
            gate_closed,
            src_lists,
            phase_items,
            class_cache,
            list_cache,
            families,
            args_get,
            args_post,
            headers,
            cookies,
            resp_headers,
            tx,
            matched_var,
            matched_var_name,
            matched_vars,
            expand_buf,
            setvar_key,
            captures,
        } = self;
        let small = arena.capacity() <= MAX_BYTES
            && cache_buf.capacity() <= MAX_BYTES
            && pf_bits.capacity() <= MAX_ENTRIES * 8
            && pf_forms.capacity() <= MAX_MAP_ENTRIES
            && pf_form_list.capacity() <= MAX_ENTRIES
            && pf_scratch.capacity() <= MAX_ENTRIES
            && gate_scratch.capacity() <= MAX_ENTRIES
            && [cache.capacity(), pf_cache.capacity(), class_cache.capacity()]
                .iter()
                .chain(&[list_cache.capacity(), tx.capacity()])
                .all(|c| *c <= MAX_MAP_ENTRIES)
            && [
                gate_cache.capacity(),
                gate_closed.capacity(),
                src_lists.capacity(),
                phase_items.capacity(),
                args_get.capacity(),
                args_post.capacity(),
                headers.capacity(),
            ]
            .iter()
            .chain(&[cookies.capacity(), resp_headers.capacity()])
            .all(|c| *c <= MAX_ENTRIES)
            && list_cache.lists_within(MAX_ENTRIES)
            && families.capacity() <= MAX_ENTRIES;
        let strings =
            [matched_var.capacity(), matched_var_name.capacity(), expand_buf.capacity(), setvar_key.capacity()];
        if !small || strings.iter().any(|c| *c > MAX_BYTES) || captures.capacity_bytes() > MAX_BYTES {
            return false;
        }
        captures.clear();
        expand_buf.clear();
        setvar_key.clear();
        matched_vars.truncate(MAX_MATCHED_SLOTS);
        matched_vars.retain(|(n, v)| n.capacity() + v.capacity() <= MAX_SLOT_BYTES);
        matched_var.clear();
        matched_var_name.clear();
        arena.clear();
        cache.clear();
        cache_buf.clear();
        pf_cache.clear();
        pf_bits.clear();
        pf_forms.clear();
        pf_form_list.clear();
        pf_scratch.clear();
        gate_scratch.clear();
        gate_cache.clear();
        gate_closed.clear();
        src_lists.clear();
        phase_items.clear();
        class_cache.clear();
        // the lists' vectors keep their room under their ids (the engine's, as the pool is), stale from now
        super::collect::forget_lists(list_cache);
        families.clear();
        args_get.clear();
        args_post.clear();
        headers.clear();
        cookies.clear();
        resp_headers.clear();
        tx.clear();
        true
    }
}

/// The engine's free-list of [`Buffers`].
#[derive(Default)]
pub(crate) struct TxPool {
    free: Mutex<Vec<Buffers>>,
}

impl std::fmt::Debug for TxPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.free.lock().map(|v| v.len()).unwrap_or(0);
        write!(f, "TxPool({n} free)")
    }
}

impl TxPool {
    /// Buffers for a new transaction: reused when one is free.
    pub(crate) fn take(&self) -> Buffers {
        self.free.lock().ok().and_then(|mut v| v.pop()).unwrap_or_else(Buffers::fresh)
    }

    /// Takes back a finished transaction's buffers (dropped when the pool is full or they grew too large).
    pub(crate) fn put(&self, mut b: Buffers) {
        if !b.clear() {
            return;
        }
        if let Ok(mut v) = self.free.lock() {
            if v.len() < MAX_POOLED {
                v.push(b);
            }
        }
    }

    /// Buffer sets held (tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.free.lock().map(|v| v.len()).unwrap_or(0)
    }
}

impl Drop for Transaction {
    fn drop(&mut self) {
        let b = Buffers {
            arena: std::mem::take(&mut self.arena),
            cache: std::mem::take(&mut self.cache),
            cache_buf: std::mem::take(&mut self.cache_buf),
            pf_cache: std::mem::take(&mut self.pf_cache),
            pf_bits: std::mem::take(&mut self.pf_bits),
            pf_forms: std::mem::take(&mut self.pf_forms),
            pf_form_list: std::mem::take(&mut self.pf_form_list),
            pf_scratch: std::mem::take(&mut self.pf_scratch),
            gate_scratch: std::mem::take(&mut self.gate_scratch),
            gate_cache: std::mem::take(&mut self.gate_cache),
            gate_closed: std::mem::take(&mut self.gate_closed),
            src_lists: std::mem::take(&mut self.src_lists),
            phase_items: std::mem::take(&mut self.phase_items),
            class_cache: std::mem::take(&mut self.class_cache),
            list_cache: std::mem::take(&mut self.list_cache),
            families: std::mem::take(&mut self.families),
            args_get: std::mem::take(&mut self.req.args_get),
            args_post: std::mem::take(&mut self.req.args_post),
            headers: std::mem::take(&mut self.req.headers),
            cookies: std::mem::take(&mut self.req.cookies),
            resp_headers: std::mem::take(&mut self.resp.headers),
            tx: std::mem::take(&mut self.tx),
            matched_var: std::mem::take(&mut self.matched_var),
            matched_var_name: std::mem::take(&mut self.matched_var_name),
            matched_vars: std::mem::take(&mut self.matched_vars),
            expand_buf: std::mem::take(&mut self.expand_buf),
            setvar_key: std::mem::take(&mut self.setvar_key),
            captures: std::mem::take(&mut self.captures),
        };
        self.engine.pool.put(b);
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
        let mut b = pool.take();
        b.pf_scratch.extend_from_slice(&[u64::MAX; 8]);
        b.gate_scratch.extend_from_slice(&[1; 8]);
        pool.put(b);
        let b = pool.take();
        assert!(b.pf_scratch.is_empty() && b.gate_scratch.is_empty(), "stale bits never reach the next transaction");
        assert!(b.pf_scratch.capacity() >= 8 && b.gate_scratch.capacity() >= 8, "room kept");
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
