//! Shared operator prefilter. At load time every static operand with a necessary condition ([`need::Need`]:
//! `@rx`, `@pm`, `@pmFromFile`, `@contains`, `@strmatch`, `@beginsWith`, `@endsWith`, `@streq`) registers it: its
//! literals go into one case-insensitive Aho-Corasick automaton, its bytes into a per-byte table. Per
//! transaction, each distinct (value, transformation chain) is scanned once, giving the set of operators whose
//! condition holds, i.e. that *can* match it; every other one is skipped without running. Rust's regex engine
//! prefilters each regex on its own; this shares one pass between all CRS rules.
//!
//! Soundness: conditions only ever over-approximate (see `need`), literals are scanned ASCII
//! case-insensitively and bytes with ASCII letters folded, matching how the conditions were folded.

pub mod need;
pub mod preimage;

use aho_corasick::automaton::Automaton;
use aho_corasick::automaton::StateID;
use aho_corasick::{dfa, Anchored, MatchKind};
use need::Need;
use std::collections::HashMap;

/// Values longer than this record the bytes they hold in a byte table rather than a bit set (`scan`).
const LONG_VALUE: usize = 96;

#[derive(Default, Debug)]
pub struct PrefilterBuilder {
    literals: Vec<Vec<u8>>,
    index: HashMap<Vec<u8>, usize>,
    owners: Vec<Vec<u32>>,
    /// (folded byte, id) pairs: operator `id` may match a value containing the byte.
    byte_owners: Vec<(u8, u32)>,
    /// Each id's condition, kept for the gate's preimages (`preimage`).
    needs: Vec<Need>,
    next_id: u32,
}

/// The built automaton. `owners[literal]` lists the prefilter ids (one per operator) that need it.
#[derive(Debug, Default)]
pub struct Prefilter {
    /// The concrete DFA type, not `AhoCorasick` (whose overlapping search steps every byte through a
    /// trait object): the loop in `scan` is monomorphic and inlined.
    dfa: Option<dfa::DFA>,
    owners: Vec<Vec<u32>>,
    /// The bitsets (`words()` long, one after the other) of the ids each needed byte opens: kept in tests only,
    /// as the reference `sparse` must agree with.
    #[cfg(test)]
    byte_rows: Vec<u64>,
    /// Per byte, its row in `byte_rows` (an uppercase letter shares its lowercase letter's row): tests only.
    #[cfg(test)]
    row_of: Vec<u16>,
    /// The rows, sparse: each row's non-zero words as (word index, word), the rows one after the other. A byte
    /// opens a few ids, in a few of the dozen words a bitset has: `open_bytes` ORs only those (the same bits as
    /// ORing the whole row).
    sparse: Vec<(u32, u64)>,
    /// Per byte, its row's range in `sparse` (empty for a byte without a row; an uppercase letter has its
    /// lowercase letter's): one load per byte that opens something, no row number in between.
    span_of: Vec<(u32, u32)>,
    /// Rows (distinct needed bytes, letters counted once).
    rows: u32,
    /// The bytes that have a row, as a 256-bit set.
    row_mask: [u64; 4],
    ids: u32,
    /// Each id's condition, when `scan` sets an id's bit exactly when its condition holds (the automaton
    /// was built); empty otherwise.
    needs: Vec<Need>,
}

impl PrefilterBuilder {
    /// Registers a static regex (as compiled: `unicode` says in which mode); returns its prefilter id when
    /// every match needs something the scan can check.
    pub fn register(&mut self, pattern: &str, unicode: bool) -> Option<u32> {
        need::of_regex(pattern, unicode).map(|n| self.register_need(n))
    }

    /// Registers a necessary condition; returns its prefilter id.
    pub fn register_need(&mut self, need: Need) -> u32 {
        let id = self.next_id;
        self.next_id += 1;
        self.needs.push(need.clone());
        for l in need.lits {
            let idx = match self.index.get(&l) {
                Some(i) => *i,
                None => {
                    self.literals.push(l.clone());
                    self.owners.push(Vec::new());
                    self.index.insert(l, self.literals.len() - 1);
                    self.literals.len() - 1
                }
            };
            if !self.owners[idx].contains(&id) {
                self.owners[idx].push(id);
            }
        }
        for b in need.bytes.iter() {
            self.byte_owners.push((b, id));
        }
        id
    }

    pub fn build(self) -> Prefilter {
        // Every (value, chain) is scanned once with all literals of all rules, so this automaton's per-byte
        // cost is paid on every byte of the request: a DFA is one table lookup per byte. If it cannot be
        // built (too many states), `scan` reports every regex as a candidate: slower, never wrong.
        let dfa = if self.literals.is_empty() {
            None
        } else {
            dfa::Builder::new()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::Standard)
                .prefilter(false)
                .build(&self.literals)
                .ok()
        };
        let words = (self.next_id as usize).div_ceil(64);
        let mut byte_rows: Vec<u64> = Vec::new();
        let mut row_of = vec![u16::MAX; 256];
        let mut row_mask = [0u64; 4];
        for (b, id) in self.byte_owners {
            if row_of[b as usize] == u16::MAX {
                let row = (byte_rows.len() / words.max(1)) as u16;
                byte_rows.resize(byte_rows.len() + words, 0);
                // conditions are folded: an uppercase letter opens its lowercase letter's row
                for x in [b, b.to_ascii_uppercase()] {
                    row_of[x as usize] = row;
                    row_mask[(x >> 6) as usize] |= 1 << (x & 63);
                }
            }
            let at = row_of[b as usize] as usize * words + (id / 64) as usize;
            byte_rows[at] |= 1 << (id % 64);
        }
        // without the automaton (or its start state) `scan` reports every literal-owning id: the needs no
        // longer say which bits a scan sets
        let exact = match &dfa {
            Some(d) => d.start_state(Anchored::No).is_ok(),
            None => self.literals.is_empty(),
        };
        let needs = if exact { self.needs } else { Vec::new() };
        let (mut sparse, mut sparse_at) = (Vec::new(), vec![0u32]);
        for row in byte_rows.chunks(words.max(1)) {
            sparse.extend(row.iter().enumerate().filter(|(_, w)| **w != 0).map(|(k, w)| (k as u32, *w)));
            sparse_at.push(sparse.len() as u32);
        }
        let mut span_of = vec![(0u32, 0u32); 256];
        for (span, row) in span_of.iter_mut().zip(&row_of) {
            if let (Some(from), Some(to)) = (sparse_at.get(*row as usize), sparse_at.get(*row as usize + 1)) {
                *span = (*from, *to);
            }
        }
        Prefilter {
            dfa,
            owners: self.owners,
            #[cfg(test)]
            byte_rows,
            #[cfg(test)]
            row_of,
            sparse,
            span_of,
            rows: sparse_at.len() as u32 - 1,
            row_mask,
            ids: self.next_id,
            needs,
        }
    }
}

impl Prefilter {
    /// Words per bitset.
    pub fn words(&self) -> usize {
        (self.ids as usize).div_ceil(64)
    }

    /// Sets in `out` (length `words()`) the bit of every operator whose condition holds on `input`; returns
    /// the 256-bit set of the bytes `input` holds (found in the same pass; callers keep it to test
    /// transformation triggers without reading the value again).
    pub fn scan(&self, input: &[u8], out: &mut [u64]) -> [u64; 4] {
        out.iter_mut().for_each(|w| *w = 0);
        let Some(dfa) = &self.dfa else {
            return self.scan_bytes_only(input, out);
        };
        let Ok(mut sid) = dfa.start_state(Anchored::No) else {
            out.iter_mut().for_each(|w| *w = u64::MAX);
            return [u64::MAX; 4];
        };
        // which bytes occur, in the same pass: a short value sets bits of a 256-bit set (a few instructions
        // per byte, nothing per needed byte), a long one marks a byte table (one store per byte) that is then
        // read only at the needed bytes
        if input.len() <= LONG_VALUE {
            let mut seen = [0u64; 4];
            for &b in input {
                seen[(b >> 6) as usize] |= 1 << (b & 63);
                sid = self.step(dfa, sid, b, out);
            }
            self.open_bytes(&seen, out);
            seen
        } else {
            let mut table = [false; 256];
            for &b in input {
                table[b as usize] = true;
                sid = self.step(dfa, sid, b, out);
            }
            let mut seen = [0u64; 4];
            for (b, t) in table.iter().enumerate() {
                seen[b >> 6] |= (*t as u64) << (b & 63);
            }
            self.open_bytes(&seen, out);
            seen
        }
    }

    /// One automaton step; on a match, sets the bits of the literal's owners.
    #[inline(always)]
    fn step(&self, dfa: &dfa::DFA, sid: StateID, b: u8, out: &mut [u64]) -> StateID {
        let sid = dfa.next_state(Anchored::No, sid, b);
        if dfa.is_special(sid) {
            self.on_special(dfa, sid, out);
        }
        sid
    }

    /// [`Self::step`] at a special state (a match, or the dead state, which an unanchored search without a
    /// prefilter never enters): the owners of every literal the state matches. Out of line and cold: few bytes
    /// of a value end a literal, and with this code inlined the per-byte loop kept its state and its pointers on
    /// the stack (the registers went to the match loop): 21 instructions a byte, 16 with it out of line.
    #[cold]
    #[inline(never)]
    fn on_special(&self, dfa: &dfa::DFA, sid: StateID, out: &mut [u64]) {
        if !dfa.is_match(sid) {
            return;
        }
        for i in 0..dfa.match_len(sid) {
            for id in &self.owners[dfa.match_pattern(sid, i).as_usize()] {
                if let Some(w) = out.get_mut((*id / 64) as usize) {
                    *w |= 1 << (id % 64);
                }
            }
        }
    }

    /// [`Self::scan`] without an automaton: no literal was registered, or the automaton could not be built
    /// (too many states), and then every operator must be assumed possible: slower, never wrong.
    fn scan_bytes_only(&self, input: &[u8], out: &mut [u64]) -> [u64; 4] {
        let seen = crate::transforms::triggers::bytes_present(input);
        if !self.owners.is_empty() {
            out.iter_mut().for_each(|w| *w = u64::MAX);
            return seen;
        }
        self.open_bytes(&seen, out);
        seen
    }

    /// ORs into `out` the ids of every byte condition met by the bytes in `seen` (a 256-bit set): only the
    /// bytes that occur *and* have a row are visited.
    fn open_bytes(&self, seen: &[u64; 4], out: &mut [u64]) {
        for (w, (s, m)) in seen.iter().zip(&self.row_mask).enumerate() {
            let mut x = s & m;
            while x != 0 {
                let b = w * 64 + x.trailing_zeros() as usize;
                x &= x - 1;
                // the row's non-zero words only (`sparse`)
                let Some(&(from, to)) = self.span_of.get(b) else { continue };
                for (k, bits) in self.sparse.get(from as usize..to as usize).unwrap_or(&[]) {
                    if let Some(o) = out.get_mut(*k as usize) {
                        *o |= bits;
                    }
                }
            }
        }
    }

    /// [`Self::open_bytes`] from the dense rows (`byte_rows`): the reference its sparse rows must agree with.
    #[cfg(test)]
    fn open_bytes_dense(&self, seen: &[u64; 4], out: &mut [u64]) {
        let words = out.len();
        for (w, (s, m)) in seen.iter().zip(&self.row_mask).enumerate() {
            let mut x = s & m;
            while x != 0 {
                let b = w * 64 + x.trailing_zeros() as usize;
                x &= x - 1;
                let row = self.row_of[b] as usize * words;
                if let Some(r) = self.byte_rows.get(row..row + words) {
                    or_into(out, r);
                }
            }
        }
    }

    /// The condition whose truth on a value `scan` reports as bit `id`; `None` when the scan cannot be
    /// predicted from it (no automaton: every literal-owning bit is set).
    pub fn need(&self, id: u32) -> Option<&Need> {
        self.needs.get(id as usize)
    }

    pub fn literal_count(&self) -> usize {
        self.owners.len()
    }

    /// Distinct bytes some operator's condition needs (letters counted once).
    pub fn byte_count(&self) -> usize {
        self.rows as usize
    }

    /// Operators with a condition (every kind, not only regexes).
    pub fn regex_count(&self) -> u32 {
        self.ids
    }
}

/// ORs `src` into `dst` (over the shorter of the two): four words a step, with the lengths fixed once, so the
/// loop compiles to vector ORs rather than one bounds-checked word a step (bitsets are `words()` long, a
/// dozen words for CRS, ORed into unions and summaries hundreds of times per request).
#[inline]
pub fn or_into(dst: &mut [u64], src: &[u64]) {
    let n = dst.len().min(src.len());
    let (dst, src) = (&mut dst[..n], &src[..n]);
    let mut d = dst.chunks_exact_mut(4);
    let mut s = src.chunks_exact(4);
    for (a, b) in (&mut d).zip(&mut s) {
        a[0] |= b[0];
        a[1] |= b[1];
        a[2] |= b[2];
        a[3] |= b[3];
    }
    for (a, b) in d.into_remainder().iter_mut().zip(s.remainder()) {
        *a |= *b;
    }
}

/// Is bit `id` set?
pub fn has(bits: &[u64], id: u32) -> bool {
    bits.get((id / 64) as usize).is_some_and(|w| w & (1 << (id % 64)) != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_marks_candidates() {
        let mut b = PrefilterBuilder::default();
        let a = b.register(r"(?i)<script\b", false).unwrap();
        let c = b.register(r"javascript:", false).unwrap();
        let p = b.build();
        let mut bits = vec![0; p.words()];
        p.scan(b"x <SCRIPT>", &mut bits);
        assert!(has(&bits, a) && !has(&bits, c));
    }

    #[test]
    fn scan_finds_overlapping_and_nested_literals() {
        let mut b = PrefilterBuilder::default();
        let long = b.register(r"selection", false).unwrap();
        let inner = b.register(r"lection", false).unwrap();
        let other = b.register(r"tiona", false).unwrap();
        let p = b.build();
        let mut bits = vec![0; p.words()];
        p.scan(b"a SeLeCtIoNal", &mut bits);
        assert!(has(&bits, long) && has(&bits, inner) && has(&bits, other));
        p.scan(b"lecti tion selec", &mut bits);
        assert!(!has(&bits, long) && !has(&bits, inner) && !has(&bits, other));
    }

    #[test]
    fn byte_conditions_open_with_letters_folded() {
        let mut b = PrefilterBuilder::default();
        let angle = b.register(r"[<>]", false).unwrap();
        let q = b.register(r"(?:q|Z)+", false).unwrap();
        let lit = b.register(r"(?i)onerror", false).unwrap();
        let p = b.build();
        let mut bits = vec![0; p.words()];
        p.scan(b"plain text", &mut bits);
        assert!(!has(&bits, angle) && !has(&bits, q) && !has(&bits, lit));
        p.scan(b"a>b", &mut bits);
        assert!(has(&bits, angle) && !has(&bits, q));
        p.scan(b"Q", &mut bits);
        assert!(has(&bits, q) && !has(&bits, angle));
        p.scan(b"z ONERROR", &mut bits);
        assert!(has(&bits, q) && has(&bits, lit));
        // long values take the byte-table path: the same answers
        let long = |tail: &str| format!("{}{tail}", "plain text ".repeat(LONG_VALUE / 8));
        p.scan(long("").as_bytes(), &mut bits);
        assert!(!has(&bits, angle) && !has(&bits, q) && !has(&bits, lit));
        let present = p.scan(long("a>b Q").as_bytes(), &mut bits);
        assert!(has(&bits, angle) && has(&bits, q) && !has(&bits, lit));
        // the bytes held come back from both paths
        assert_eq!(present, crate::transforms::triggers::bytes_present(long("a>b Q").as_bytes()));
        assert_eq!(p.scan(b"x;Y", &mut bits), crate::transforms::triggers::bytes_present(b"x;Y"));
        p.scan(long("onError").as_bytes(), &mut bits);
        assert!(!has(&bits, angle) && !has(&bits, q) && has(&bits, lit));
    }

    #[test]
    fn or_into_matches_word_by_word() {
        for (n, m) in [(0, 0), (3, 3), (4, 4), (13, 13), (13, 9), (5, 16)] {
            let src: Vec<u64> =
                (0..m as u64).map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (1 << (i % 64))).collect();
            let mut dst: Vec<u64> = (0..n as u64).map(|i| i.wrapping_mul(0x5851_f42d_4c95_7f2d)).collect();
            let mut want = dst.clone();
            for (a, b) in want.iter_mut().zip(&src) {
                *a |= *b;
            }
            or_into(&mut dst, &src);
            assert_eq!(dst, want, "{n} words into {m}");
        }
    }

    /// The sparse rows (`Prefilter::sparse`) open exactly the ids the dense rows do, for byte conditions
    /// spread over many words and any set of bytes held.
    #[test]
    fn sparse_byte_rows_open_what_the_dense_rows_open() {
        let mut b = PrefilterBuilder::default();
        for k in 0..400u32 {
            if k % 5 == 0 {
                b.register(&format!("lit{k}x"), false);
                continue;
            }
            let (x, y) = (33 + (k * 7) % 94, 33 + (k * 13 + k / 3) % 94);
            b.register(&format!(r"[\x{x:02x}\x{y:02x}]"), false).unwrap();
        }
        let p = b.build();
        assert!(p.words() >= 6 && p.byte_count() >= 60, "{} words, {} byte rows", p.words(), p.byte_count());
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..3000 {
            // from sparse sets (a few bytes) to dense ones
            let keep = [next(), next(), next(), next()];
            let mut seen = [next(), next(), next(), next()];
            for _ in 0..round % 4 {
                for (s, k) in seen.iter_mut().zip(&keep) {
                    *s &= k;
                }
            }
            let (mut sparse, mut dense) = (vec![0; p.words()], vec![0; p.words()]);
            p.open_bytes(&seen, &mut sparse);
            p.open_bytes_dense(&seen, &mut dense);
            assert_eq!(sparse, dense, "{seen:x?}");
        }
        // and through `scan`: each single byte
        for x in 0u8..=255 {
            let mut bits = vec![0; p.words()];
            let seen = p.scan(&[x], &mut bits);
            let mut dense = vec![0; p.words()];
            p.open_bytes_dense(&seen, &mut dense);
            assert_eq!(bits, dense, "byte {x}");
        }
    }

    #[test]
    fn bytes_only_prefilter_scans_without_automaton() {
        let mut b = PrefilterBuilder::default();
        let semi = b.register(r";", false).unwrap();
        let p = b.build();
        let mut bits = vec![0; p.words()];
        p.scan(b"abc", &mut bits);
        assert!(!has(&bits, semi));
        p.scan(b"a;c", &mut bits);
        assert!(has(&bits, semi));
    }
}
