//! A byte test run before an `@rx` regex: every match of the regex contains one of a few bytes (ASCII case
//! either way) and is at least a few bytes long, so an input holding none of those bytes, or shorter, cannot
//! match and the regex is not run.
//!
//! Where it pays: the inputs the shared literal prefilter (`crate::prefilter`) does not judge — the values
//! and forms `multiMatch` links hand the operator (CRS 934100/934160 run their regexes on the
//! `t:base64Decode` output of every parameter: a few bytes of binary, which hold none of the letters the
//! regexes' literals start with). A call of the regex engine on a short input costs 150–350 instructions (its
//! pool, input set-up and own literal search); this test costs a table look-up per byte up to the first hit,
//! or one `memchr` when the table holds at most three bytes. Inputs the shared prefilter let through are not
//! tested again (`Operator::may_match` is called by the `multiMatch` path only): there the test would pass
//! and only cost its scan.
//!
//! Why it is exact: the test is a weakening of the regex's necessary condition (`prefilter::need`): a match
//! contains one of the need's literals or one of its bytes (ASCII case-insensitively). Each literal is
//! represented by one of its bytes, which every occurrence of the literal contains; letters are entered in
//! both cases; so a match always holds a byte of the table. The shortest match holds at least one whole
//! literal when the need has no bytes, so it is at least as long as the shortest literal. A regex without a
//! need gets no test.
//!
//! Owns the test only; the need analysis lives in `crate::prefilter::need` and is not changed here.

use crate::prefilter::need::{rarest_byte, Need};

/// The byte test of one regex (see the module docs).
#[derive(Debug, Clone)]
pub(crate) struct NeedBytes {
    table: [bool; 256],
    /// The table's bytes when there are at most three (`memchr` finds them faster than the table loop).
    few: Option<Vec<u8>>,
    min_len: usize,
}

impl NeedBytes {
    /// The test for a regex whose necessary condition is `need`.
    pub(crate) fn new(need: &Need) -> NeedBytes {
        let mut table = [false; 256];
        let mut set = |b: u8| {
            table[b.to_ascii_lowercase() as usize] = true;
            table[b.to_ascii_uppercase() as usize] = true;
        };
        for b in need.bytes.iter() {
            set(b);
        }
        for l in &need.lits {
            // the literal's rarest byte (the prefilter's own guess at benign byte frequencies): fewer benign
            // inputs pass
            if let Some(b) = rarest_byte(l) {
                set(b);
            }
        }
        let shortest = need.lits.iter().map(Vec::len).min().unwrap_or(1);
        let min_len = if need.bytes.is_empty() { shortest.max(1) } else { 1 };
        let bytes: Vec<u8> = (0..=255u8).filter(|b| table[*b as usize]).collect();
        let few = (bytes.len() <= 3).then_some(bytes);
        NeedBytes { table, few, min_len }
    }

    /// The length below which [`Self::may_match`] is always `false` (`Operator::min_match_len`).
    pub(crate) fn min_len(&self) -> usize {
        self.min_len
    }

    /// The table's bytes as a 256-bit set (`Operator::need_bytes`, read at load): [`Self::may_match`] refuses
    /// an input holding none of them.
    pub(crate) fn bytes(&self) -> [u64; 4] {
        let held: Vec<u8> = (0..=255u8).filter(|b| self.table[*b as usize]).collect();
        crate::transforms::triggers::bytes_present(&held)
    }

    /// May the regex match `input`? `false` proves it cannot.
    #[inline]
    pub(crate) fn may_match(&self, input: &[u8]) -> bool {
        if input.len() < self.min_len {
            return false;
        }
        match self.few.as_deref() {
            Some([a]) => memchr::memchr(*a, input).is_some(),
            Some([a, b]) => memchr::memchr2(*a, *b, input).is_some(),
            Some([a, b, c]) => memchr::memchr3(*a, *b, *c, input).is_some(),
            _ => input.iter().any(|b| self.table[*b as usize]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prefilter::need::of_regex;
    use crate::regex_util::compile_rx_mode;
    use proptest::prelude::*;

    fn test_of(p: &str) -> (regex::bytes::Regex, NeedBytes) {
        let (re, unicode) = compile_rx_mode(p).unwrap();
        let need = of_regex(p, unicode).expect("the pattern has a need");
        (re, NeedBytes::new(&need))
    }

    #[test]
    fn literals_stand_for_their_rarest_byte_in_both_cases() {
        let (re, t) = test_of(r"(?i)(?:eval|new[\s\x0b]+Function)\(|String\.fromCharCode|__proto__");
        // a literal's letters only: the input must at least reach the shortest literal's length
        assert!(!t.may_match(b"ab"));
        assert!(!t.may_match(b"\x9d\xa9\x9e\x01"), "binary base64 output holds no table byte");
        for hit in [&b"EVAL(1)"[..], b"string.fromcharcode(", b"__PROTO__", b"x new Function("] {
            assert!(re.is_match(hit) && t.may_match(hit), "{:?}", String::from_utf8_lossy(hit));
        }
    }

    #[test]
    fn byte_needs_allow_any_length() {
        // a need of one byte: any input holding it may match, however short
        let (re, t) = test_of(r"(?:^|[/;\x5c])\.+");
        assert!(re.is_match(b".") && t.may_match(b"."));
        assert!(!t.may_match(b"name"));
        assert!(re.is_match(b"../") && t.may_match(b"../"));
        // an unbounded count that ends in a separator needs the literals every match ends with (`../`, `..;`,
        // `..\`), so shorter inputs are refused
        let (re, t) = test_of(r"(?:^|[/;\x5c])\.{2,}[/;\x5c]");
        assert!(!t.may_match(b"."));
        assert!(re.is_match(b"../") && t.may_match(b"../") && t.may_match(b"x..\\"));
    }

    proptest! {
        /// Whatever the input, a regex match implies the test passes (the test may only rule out inputs the
        /// regex cannot match): CRS-like patterns on random bytes biased towards their own literals.
        #[test]
        fn a_match_always_passes_the_test(
            pick in 0usize..6,
            pre in proptest::collection::vec(any::<u8>(), 0..8),
            mid in proptest::sample::select(vec!["eval(", "Function(", "../", "..;", "WHILE(true)", "__proto__", "on", "=x", "/*!*/", "%2e"]),
            post in proptest::collection::vec(any::<u8>(), 0..8),
        ) {
            let pats = [
                r"(?i)(?:\beval|new[\s\x0b]+Function[\s\x0b]*)\(",
                r"(?:^|[/;\x5c])\.{2,3}[/;\x5c]",
                r"(?i)while[\s\x0b]*\([\s\x0b\(]*(?:!+(?:false|null)|true)",
                r"__proto__|constructor[\s\x0b]*(?:\.|\]?\[)[\s\x0b]*prototype",
                r"(?i)[\t-\r \x22'\(,/-9;=`]on[a-z]{3,50}[\t-\r \(,;]*?=[^=]",
                r"(?i)/\*[\s\x0b]*?[!\+](?:[\s\x0b\(\)\-0-9=A-Z_a-z]+)?\*/",
            ];
            let (re, t) = test_of(pats[pick]);
            let mut v = pre.clone();
            v.extend_from_slice(mid.as_bytes());
            v.extend_from_slice(&post);
            for input in [&v[..], &pre[..], &post[..]] {
                prop_assert!(!re.is_match(input) || t.may_match(input));
            }
        }
    }
}
