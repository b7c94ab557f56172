//! Shared `@rx` prefilter. At load time every static `@rx` pattern whose matches must start (or end) with
//! one of a small set of literals registers those literals; all of them go into one case-insensitive
//! Aho-Corasick automaton. Per transaction, each distinct (value, transformation chain) is scanned once,
//! giving the set of regexes that *can* match it; every other regex is skipped without running. Rust's
//! regex engine prefilters each regex on its own; this shares one pass between all CRS rules.
//!
//! Soundness: literals are extracted from the pattern's HIR (case-insensitive letters folded to lowercase,
//! scanned case-insensitively, so the prefilter only ever over-approximates).

use aho_corasick::automaton::Automaton;
use aho_corasick::{dfa, Anchored, MatchKind};
use regex_syntax::hir::literal::{ExtractKind, Extractor};
use regex_syntax::hir::{self, Class, Hir, HirKind};
use std::collections::HashMap;

/// Shortest literal worth prefiltering on (shorter ones hit almost every value).
const MIN_LITERAL: usize = 3;
/// Most literals one pattern may contribute.
const MAX_PER_PATTERN: usize = 300;

#[derive(Default, Debug)]
pub struct PrefilterBuilder {
    literals: Vec<Vec<u8>>,
    index: HashMap<Vec<u8>, usize>,
    owners: Vec<Vec<u32>>,
    next_id: u32,
}

/// The built automaton. `owners[literal]` lists the prefilter ids (one per regex) that need it.
#[derive(Debug, Default)]
pub struct Prefilter {
    /// The concrete DFA type, not `AhoCorasick` (whose overlapping search steps every byte through a
    /// trait object): the loop in `scan` is monomorphic and inlined.
    dfa: Option<dfa::DFA>,
    owners: Vec<Vec<u32>>,
    ids: u32,
}

/// Replaces ASCII case-pair classes (`[Aa]`) by the lowercase literal so literal extraction works on
/// `(?i)` patterns.
fn fold_case(h: &Hir) -> Hir {
    match h.kind() {
        HirKind::Class(c) => {
            let pair = match c {
                Class::Bytes(b) => {
                    let r: Vec<(u8, u8)> = b.ranges().iter().map(|r| (r.start(), r.end())).collect();
                    as_case_pair(&r.iter().map(|(a, b)| (*a as u32, *b as u32)).collect::<Vec<_>>())
                }
                Class::Unicode(u) => {
                    let r: Vec<(u32, u32)> = u.ranges().iter().map(|r| (r.start() as u32, r.end() as u32)).collect();
                    as_case_pair(&r)
                }
            };
            match pair {
                Some(b) => Hir::literal(vec![b]),
                None => h.clone(),
            }
        }
        HirKind::Concat(v) => Hir::concat(v.iter().map(fold_case).collect()),
        HirKind::Alternation(v) => Hir::alternation(v.iter().map(fold_case).collect()),
        HirKind::Repetition(r) => Hir::repetition(hir::Repetition {
            min: r.min,
            max: r.max,
            greedy: r.greedy,
            sub: Box::new(fold_case(&r.sub)),
        }),
        HirKind::Capture(c) => {
            Hir::capture(hir::Capture { index: c.index, name: c.name.clone(), sub: Box::new(fold_case(&c.sub)) })
        }
        _ => h.clone(),
    }
}

/// `[Xx]` → `x` (ASCII letters only, and Unicode's extra case variants of k/s).
fn as_case_pair(r: &[(u32, u32)]) -> Option<u8> {
    let singles: Vec<u32> = r.iter().filter(|(a, b)| a == b).map(|(a, _)| *a).collect();
    if singles.len() != r.len() || singles.is_empty() {
        return None;
    }
    let lower: Vec<u32> = singles.iter().filter(|c| (b'a' as u32..=b'z' as u32).contains(c)).copied().collect();
    let upper: Vec<u32> = singles.iter().filter(|c| (b'A' as u32..=b'Z' as u32).contains(c)).copied().collect();
    if lower.len() == 1
        && upper.len() == 1
        && lower[0] == upper[0] + 32
        && singles.iter().all(|c| *c == lower[0] || *c == upper[0] || *c == 0x17f || *c == 0x212a)
    {
        return Some(lower[0] as u8);
    }
    None
}

fn literals_of(pattern: &str) -> Option<Vec<Vec<u8>>> {
    // parse exactly what `compile_rx` compiles, in the same mode order
    let pattern = crate::regex_util::translate_pcre(pattern);
    let parse = |unicode: bool| {
        regex_syntax::ParserBuilder::new()
            .unicode(unicode)
            .utf8(false)
            .dot_matches_new_line(true)
            .build()
            .parse(&pattern)
            .ok()
    };
    let hir = parse(false).or_else(|| parse(true))?;
    let hir = fold_case(&hir);
    let mut best = required_literals(&hir, 0);
    let mut seq = Extractor::new().kind(ExtractKind::Suffix).limit_total(MAX_PER_PATTERN).extract(&hir);
    seq.optimize_for_prefix_by_preference();
    if let Some(v) = usable(&seq) {
        best = better(best, v);
    }
    best
}

fn usable(seq: &regex_syntax::hir::literal::Seq) -> Option<Vec<Vec<u8>>> {
    let lits = seq.literals()?;
    if lits.is_empty() || lits.len() > MAX_PER_PATTERN || lits.iter().any(|l| l.as_bytes().len() < MIN_LITERAL) {
        return None;
    }
    let mut v: Vec<Vec<u8>> = lits.iter().map(|l| l.as_bytes().to_ascii_lowercase()).collect();
    v.sort();
    v.dedup();
    Some(v)
}

fn prefix_literals(h: &Hir) -> Option<Vec<Vec<u8>>> {
    let mut seq = Extractor::new().kind(ExtractKind::Prefix).limit_total(MAX_PER_PATTERN).extract(h);
    seq.optimize_for_prefix_by_preference();
    usable(&seq)
}

/// Prefer the set whose shortest literal is longest, then the smaller set.
fn better(a: Option<Vec<Vec<u8>>>, b: Vec<Vec<u8>>) -> Option<Vec<Vec<u8>>> {
    let key = |x: &Vec<Vec<u8>>| (x.iter().map(Vec::len).min().unwrap_or(0).min(8), usize::MAX - x.len());
    match a {
        Some(a) if key(&a) >= key(&b) => Some(a),
        _ => Some(b),
    }
}

/// A set of literals one of which every match of `h` must contain (not only start with): for a
/// concatenation, any match contains a match of each suffix `parts[i..]`, which starts with one of that
/// suffix's prefix literals; an alternation needs a set from every branch.
fn required_literals(h: &Hir, depth: usize) -> Option<Vec<Vec<u8>>> {
    if depth > 8 {
        return prefix_literals(h);
    }
    match h.kind() {
        HirKind::Capture(c) => required_literals(&c.sub, depth + 1),
        HirKind::Repetition(r) if r.min >= 1 => required_literals(&r.sub, depth + 1),
        HirKind::Alternation(alts) => {
            let mut all = Vec::new();
            for a in alts {
                all.extend(required_literals(a, depth + 1)?);
                if all.len() > MAX_PER_PATTERN {
                    return None;
                }
            }
            all.sort();
            all.dedup();
            Some(all)
        }
        HirKind::Concat(parts) => {
            let mut best = None;
            for i in 0..parts.len() {
                if let Some(v) = prefix_literals(&Hir::concat(parts[i..].to_vec())) {
                    best = better(best, v);
                }
                if matches!(parts[i].kind(), HirKind::Capture(_) | HirKind::Alternation(_) | HirKind::Repetition(_)) {
                    if let Some(v) = required_literals(&parts[i], depth + 1) {
                        best = better(best, v);
                    }
                }
            }
            best
        }
        _ => prefix_literals(h),
    }
}

impl PrefilterBuilder {
    /// Registers a regex; returns its prefilter id when it has usable literals.
    pub fn register(&mut self, pattern: &str) -> Option<u32> {
        let lits = literals_of(pattern)?;
        let id = self.next_id;
        self.next_id += 1;
        for l in lits {
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
        Some(id)
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
        Prefilter { dfa, owners: self.owners, ids: self.next_id }
    }
}

impl Prefilter {
    /// Words per bitset.
    pub fn words(&self) -> usize {
        (self.ids as usize).div_ceil(64)
    }

    /// Sets in `out` (length `words()`) the bit of every regex whose literals occur in `input`.
    pub fn scan(&self, input: &[u8], out: &mut [u64]) {
        out.iter_mut().for_each(|w| *w = 0);
        let Some(dfa) = &self.dfa else {
            if self.ids > 0 {
                out.iter_mut().for_each(|w| *w = u64::MAX);
            }
            return;
        };
        let Ok(mut sid) = dfa.start_state(Anchored::No) else {
            out.iter_mut().for_each(|w| *w = u64::MAX);
            return;
        };
        for &b in input {
            sid = dfa.next_state(Anchored::No, sid, b);
            if dfa.is_special(sid) && dfa.is_match(sid) {
                for i in 0..dfa.match_len(sid) {
                    for id in &self.owners[dfa.match_pattern(sid, i).as_usize()] {
                        if let Some(w) = out.get_mut((*id / 64) as usize) {
                            *w |= 1 << (id % 64);
                        }
                    }
                }
            }
        }
    }

    pub fn literal_count(&self) -> usize {
        self.owners.len()
    }

    pub fn regex_count(&self) -> u32 {
        self.ids
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
    fn extracts_case_folded_literals() {
        let l = literals_of(r"(?i)(?:union\s+select|insert\s+into)").unwrap();
        let words: [&[u8]; 4] = [b"union", b"select", b"insert", b"into"];
        assert!(l.len() >= 2 && l.iter().all(|x| words.iter().any(|w| w.starts_with(x))), "{l:?}");
        assert!(literals_of(r"[a-z]+\d").is_none());
        assert!(literals_of(r"ab").is_none(), "too short");
        // inner literals: every match contains "select" although it does not start with it
        let l = literals_of(r"[0-9]+\s*select\b").unwrap();
        assert!(l.iter().all(|x| b"select".starts_with(x) || x.starts_with(b"sel")), "{l:?}");
        assert!(literals_of(r"(?:a|[0-9]+)xyz").is_some());
        assert!(literals_of(r"(?:abc|[0-9])").is_none(), "a branch without literals");
    }

    #[test]
    fn scan_marks_candidates() {
        let mut b = PrefilterBuilder::default();
        let a = b.register(r"(?i)<script\b").unwrap();
        let c = b.register(r"javascript:").unwrap();
        let p = b.build();
        let mut bits = vec![0; p.words()];
        p.scan(b"x <SCRIPT>", &mut bits);
        assert!(has(&bits, a) && !has(&bits, c));
    }

    #[test]
    fn scan_finds_overlapping_and_nested_literals() {
        let mut b = PrefilterBuilder::default();
        let long = b.register(r"selection").unwrap();
        let inner = b.register(r"lection").unwrap();
        let other = b.register(r"tiona").unwrap();
        let p = b.build();
        let mut bits = vec![0; p.words()];
        p.scan(b"a SeLeCtIoNal", &mut bits);
        assert!(has(&bits, long) && has(&bits, inner) && has(&bits, other));
        p.scan(b"selectio", &mut bits);
        assert!(!has(&bits, long) && !has(&bits, inner) && !has(&bits, other));
    }
}
