//! Shared `@rx` prefilter. At load time every static `@rx` pattern whose matches must start (or end) with
//! one of a small set of literals registers those literals; all of them go into one case-insensitive
//! Aho-Corasick automaton. Per transaction, each distinct (value, transformation chain) is scanned once,
//! giving the set of regexes that *can* match it; every other regex is skipped without running. Rust's
//! regex engine prefilters each regex on its own; this shares one pass between all CRS rules.
//!
//! Soundness: literals are extracted from the pattern's HIR (case-insensitive letters folded to lowercase,
//! scanned case-insensitively, so the prefilter only ever over-approximates).

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
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
    ac: Option<AhoCorasick>,
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
        HirKind::Repetition(r) => Hir::repetition(hir::Repetition { min: r.min, max: r.max, greedy: r.greedy, sub: Box::new(fold_case(&r.sub)) }),
        HirKind::Capture(c) => Hir::capture(hir::Capture { index: c.index, name: c.name.clone(), sub: Box::new(fold_case(&c.sub)) }),
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
    if lower.len() == 1 && upper.len() == 1 && lower[0] == upper[0] + 32 && singles.iter().all(|c| *c == lower[0] || *c == upper[0] || *c == 0x17f || *c == 0x212a) {
        return Some(lower[0] as u8);
    }
    None
}

fn literals_of(pattern: &str) -> Option<Vec<Vec<u8>>> {
    // parse exactly what `compile_rx` compiles, in the same mode order
    let pattern = crate::regex_util::translate_pcre(pattern);
    let parse = |unicode: bool| {
        regex_syntax::ParserBuilder::new().unicode(unicode).utf8(false).dot_matches_new_line(true).build().parse(&pattern).ok()
    };
    let hir = parse(false).or_else(|| parse(true))?;
    let hir = fold_case(&hir);
    let mut best: Option<Vec<Vec<u8>>> = None;
    for kind in [ExtractKind::Prefix, ExtractKind::Suffix] {
        let mut seq = Extractor::new().kind(kind).limit_total(MAX_PER_PATTERN).extract(&hir);
        seq.optimize_for_prefix_by_preference();
        let Some(lits) = seq.literals() else { continue };
        if lits.is_empty() || lits.iter().any(|l| l.as_bytes().len() < MIN_LITERAL) {
            continue;
        }
        let v: Vec<Vec<u8>> = lits.iter().map(|l| l.as_bytes().to_ascii_lowercase()).collect();
        let min = |x: &Vec<Vec<u8>>| x.iter().map(Vec::len).min().unwrap_or(0);
        if best.as_ref().is_none_or(|b| min(&v) > min(b)) {
            best = Some(v);
        }
    }
    best
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
        let ac = if self.literals.is_empty() {
            None
        } else {
            AhoCorasickBuilder::new().ascii_case_insensitive(true).match_kind(MatchKind::Standard).build(&self.literals).ok()
        };
        Prefilter { ac, owners: self.owners, ids: self.next_id }
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
        let Some(ac) = &self.ac else { return };
        for m in ac.find_overlapping_iter(input) {
            for id in &self.owners[m.pattern().as_usize()] {
                if let Some(w) = out.get_mut((*id / 64) as usize) {
                    *w |= 1 << (id % 64);
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
        assert!(l.iter().any(|x| b"union".starts_with(x)) && l.iter().any(|x| b"insert".starts_with(x)), "{l:?}");
        assert!(literals_of(r"[a-z]+\d").is_none());
        assert!(literals_of(r"ab").is_none(), "too short");
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
}
