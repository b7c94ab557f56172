//! One multi-pattern pass per (value, transformation chain) for the `@rx` rules the literal prefilter
//! cannot help (no required literal: `^[\d.:]+$`, `[\x00-\x08]`, `(?:\$\{|%\{)`...).
//!
//! At load, every static `@rx` without a prefilter id is added to the [`RegexSet`] of its link's
//! transformation chain. Per transaction each distinct (value, chain) is scanned once with that set, and
//! the bit of every pattern that matches is kept: a rule then reads its bit instead of running its own
//! regex (the regex still runs when `capture` needs the groups). The set compiles each pattern exactly as
//! `regex_util::compile_rx` does (same translation, same Unicode mode, DOTALL), so a bit is the regex's
//! own `is_match`, not an approximation.
//!
//! Owns: building the sets and scanning. Must not touch: rule flow, captures, the literal prefilter.

use regex::bytes::{RegexSet, RegexSetBuilder};

use crate::regex_util::{RX_DFA_LIMIT, RX_SIZE_LIMIT};

/// Most patterns in one set; a chain with more gets several sets (a huge set's lazy DFA would thrash).
pub const MAX_PER_SET: usize = 64;

/// A static `@rx` pattern as compiled: PCRE-translated text and whether it needed Unicode mode.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RxSource {
    pub translated: String,
    pub unicode: bool,
}

/// Collects patterns per chain at load time.
#[derive(Debug, Default)]
pub struct RxSetBuilder {
    /// chain id → patterns, in slot order.
    chains: Vec<Vec<RxSource>>,
}

/// The sets of one chain, scanned together; slot `i` is bit `i`.
#[derive(Debug)]
pub struct ChainSets {
    sets: Vec<RegexSet>,
    words: usize,
}

/// Per-chain sets, indexed by chain id.
#[derive(Debug, Default)]
pub struct RxSets {
    chains: Vec<Option<ChainSets>>,
}

impl RxSetBuilder {
    /// Adds `src` to `chain`'s set; returns its slot (the same slot for a pattern already there).
    pub fn add(&mut self, chain: u32, src: RxSource) -> u32 {
        let c = chain as usize;
        if self.chains.len() <= c {
            self.chains.resize_with(c + 1, Vec::new);
        }
        let list = &mut self.chains[c];
        if let Some(i) = list.iter().position(|s| *s == src) {
            return i as u32;
        }
        list.push(src);
        (list.len() - 1) as u32
    }

    /// Compiles the sets. A chain whose set fails to compile (size limits) gets `None`: its rules then
    /// run their own regexes, which is what the caller checks with [`RxSets::has_chain`].
    pub fn build(self) -> RxSets {
        let chains = self
            .chains
            .into_iter()
            .map(|list| {
                if list.is_empty() {
                    return None;
                }
                let mut sets = Vec::new();
                for group in list.chunks(MAX_PER_SET) {
                    let patterns = group.iter().map(|s| {
                        if s.unicode {
                            format!("(?u:{})", s.translated)
                        } else {
                            format!("(?-u:{})", s.translated)
                        }
                    });
                    let set = RegexSetBuilder::new(patterns)
                        .dot_matches_new_line(true)
                        .size_limit(RX_SIZE_LIMIT)
                        .dfa_size_limit(RX_DFA_LIMIT * 4)
                        .build()
                        .ok()?;
                    sets.push(set);
                }
                Some(ChainSets { sets, words: list.len().div_ceil(64) })
            })
            .collect();
        RxSets { chains }
    }
}

impl RxSets {
    /// Does `chain` have compiled sets (so its slots are valid)?
    pub fn has_chain(&self, chain: u32) -> bool {
        self.chains.get(chain as usize).is_some_and(Option::is_some)
    }

    /// Bitset words for `chain` (0 when it has no sets).
    pub fn words(&self, chain: u32) -> usize {
        self.chains.get(chain as usize).and_then(Option::as_ref).map_or(0, |c| c.words)
    }

    /// Sets in `out` (length `words(chain)`) the bit of every pattern of `chain` that matches `input`.
    pub fn scan(&self, chain: u32, input: &[u8], out: &mut [u64]) {
        out.iter_mut().for_each(|w| *w = 0);
        let Some(Some(c)) = self.chains.get(chain as usize) else { return };
        for (k, set) in c.sets.iter().enumerate() {
            for i in set.matches(input).iter() {
                let slot = k * MAX_PER_SET + i;
                if let Some(w) = out.get_mut(slot / 64) {
                    *w |= 1 << (slot % 64);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::regex_util::compile_rx_source;

    /// Every slot's bit equals its own regex's `is_match`, Unicode-mode patterns and byte semantics included.
    #[test]
    fn set_bits_equal_each_regex() {
        let patterns =
            [r"^[\d.:]+$", r"[\x00-\x08]", r"(?i)\bunion\b", r"é", r"^.*$", r"\w+@\w+", r"(?:\$\{|%\{)", r"[^a]"];
        let inputs: [&[u8]; 7] = [b"127.0.0.1", b"a\x01", b"x UNION y", "caf\u{e9}".as_bytes(), b"\xff\xfe", b"a", b""];
        let mut b = RxSetBuilder::default();
        let mut compiled = Vec::new();
        for p in patterns {
            let (re, src) = compile_rx_source(p).unwrap();
            let slot = b.add(0, src);
            compiled.push((slot, re));
        }
        // many patterns: several sets in one chain
        for i in 0..(MAX_PER_SET + 5) {
            let (re, src) = compile_rx_source(&format!("^z{i}$")).unwrap();
            compiled.push((b.add(0, src), re));
        }
        let sets = b.build();
        assert!(sets.has_chain(0) && !sets.has_chain(1));
        let mut bits = vec![0u64; sets.words(0)];
        for input in inputs.iter().copied().chain([&b"z70"[..]]) {
            sets.scan(0, input, &mut bits);
            for (slot, re) in &compiled {
                let bit = bits[*slot as usize / 64] & (1 << (slot % 64)) != 0;
                assert_eq!(bit, re.is_match(input), "{re:?} on {input:?}");
            }
        }
    }
}
