//! `@shellshock` (Portcullis extension, no parameter): a bash function definition where a value should be.
//! Exactly `t:deepDecode` followed by `@rx ^\s*\(\s*\)\s*\{`: the value is deep-decoded
//! (`portcullis_detect::decode::deep`, what `t:deepDecode` runs) and handed to the regex `@rx` compiles from
//! that pattern, with its captures, after the regex's own byte test (`rx_need`). The built-in pack reads every
//! header, parameter and cookie with it (rule 191100, `t:none`).
//!
//! Why not `t:deepDecode` and `@rx` in the rule: an `@rx` head gets a place in the shared literal prefilter,
//! and with it a rule-level gate (`transaction::gate`) that scans every value of its targets, transformed,
//! with the prefilter automaton before the rule may be skipped; and an evaluated `t:deepDecode` chain costs a
//! transformation-cache entry per value. For this one rule, over every header, parameter and cookie under a
//! chain no other pack rule uses, that was about 15 % of a benign GET through the pack. Here one table scan
//! ends it for a value without an escape (the bytes `deep` starts at: the value is its own decoding) and
//! without `(` (which the regex needs); other values are decoded, and the regex's byte test runs before it.
//!
//! Same matches, same captures: `deep` is the transformation's function, the byte test is a necessary condition
//! of the regex (`Operator::may_match`: `false` proves no match and no capture), and the regex is `@rx`'s
//! own. The one difference from the rule as it was written with `t:deepDecode`: `MATCHED_VAR` of a match is the
//! value as extracted rather than its decoding (the rule logs only `MATCHED_VAR_NAME`, and no pack rule reads
//! another rule's `MATCHED_VAR`).

use super::{rx, BuildCtx, OpCtx, Operator};

/// The pattern, as rule 191100 wrote it for `@rx` after `t:deepDecode`.
pub(crate) const PATTERN: &str = r"^\s*\(\s*\)\s*\{";

#[derive(Debug)]
pub struct Shellshock(Box<dyn Operator>);

pub fn build(arg: &str, ctx: &BuildCtx<'_>) -> Result<Box<dyn Operator>, String> {
    if !arg.trim().is_empty() {
        return Err(format!("takes no parameter (got {arg:?})"));
    }
    // without the shared prefilter: no prefilter id, so no rule-level gate (module doc)
    let own = BuildCtx { rule_dir: ctx.rule_dir, prefilter: None };
    Ok(Box::new(Shellshock(rx::build(PATTERN, &own)?)))
}

/// The bytes that send a value past the first test: the ones `deep` starts a decoding at
/// (`portcullis_detect::decode::DEEP_TRIGGERS`), and the `(` the regex needs. A value with none of them is its
/// own decoding and holds no `(`: no match.
static WORTH_A_LOOK: [bool; 256] = {
    let mut t = [false; 256];
    let triggers = portcullis_detect::decode::DEEP_TRIGGERS;
    let mut i = 0;
    while i < triggers.len() {
        t[triggers[i] as usize] = true;
        i += 1;
    }
    t[b'(' as usize] = true;
    t
};

/// Can a value starting with `first` match? Every decoder of `deep` copies the bytes before its first trigger
/// byte unchanged (each starts its output with `input[..first]`), so a value whose first byte is no trigger
/// keeps that byte first through every round; the anchored regex needs its decoding to start with `(` or
/// whitespace (`\s`: ASCII whitespace, or a multi-byte Unicode space, whose lead byte is not ASCII). A printable
/// ASCII first byte other than `(` and a trigger therefore rules the value out without reading the rest:
/// `anchor-bench/1.0 (wrk)`, `Bearer …`, ids, hosts and most parameters.
fn may_start_a_match(first: u8) -> bool {
    !first.is_ascii_graphic() || WORTH_A_LOOK[usize::from(first)]
}

impl Operator for Shellshock {
    fn eval(&self, input: &[u8], ctx: &mut OpCtx<'_>) -> bool {
        match input.first() {
            Some(&b) if may_start_a_match(b) => {}
            _ => return false,
        }
        if !input.iter().any(|&b| WORTH_A_LOOK[usize::from(b)]) {
            return false;
        }
        let decoded = portcullis_detect::decode::deep(input);
        self.0.may_match(&decoded) && self.0.eval(&decoded, ctx)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::super::{build, BuildCtx, Captures, OpCtx};
    use std::path::Path;

    /// Against `t:deepDecode` then `@rx` with the same pattern, with and without captures, on strings built
    /// from the bytes the pattern reads (ASCII and Unicode whitespace, the three punctuation bytes), their
    /// escapes (URL, double URL, HTML entity, JS, overlong UTF-8) and others: the same answer and the same
    /// capture. A different pattern (say without the leading `\s*`), a missing decoding, or a trigger byte
    /// missing from the first test's table (`%`, say) fails it.
    #[test]
    fn is_deep_decode_then_the_rx_it_stands_for() {
        let ours = op("shellshock", "");
        let rx = op("rx", super::PATTERN);
        let atoms: [&[u8]; 20] = [
            b"(",
            b")",
            b"{",
            b" ",
            b"\t",
            b"\n",
            "\u{a0}".as_bytes(),
            "\u{2003}".as_bytes(),
            b"x",
            b";",
            b"%28",
            b"%2529",
            b"%7b",
            b"%20",
            b"&#40;",
            b"&lpar;",
            b"\\u0029",
            b"\xc0\xa8",
            b"%",
            b"}",
        ];
        let mut next = xorshift(0x9e37_79b9_7f4a_7c15u64);
        let env = NoEnv;
        let mut hits = [0usize; 2];
        let mut check = |v: &[u8]| {
            let d = portcullis_detect::decode::deep(v);
            let a = m(ours.as_ref(), v);
            assert_eq!(a, m(rx.as_ref(), &d), "{:?}", String::from_utf8_lossy(v));
            hits[usize::from(*d != *v)] += usize::from(a);
            let (mut c1, mut c2) = (Captures::default(), Captures::default());
            let r1 = ours.eval(v, &mut OpCtx { env: &env, captures: Some(&mut c1) });
            let r2 = rx.eval(&d, &mut OpCtx { env: &env, captures: Some(&mut c2) });
            assert_eq!((r1, c1.groups()), (r2, c2.groups()), "{:?}", String::from_utf8_lossy(v));
        };
        for v in [&b"() { :; }; /bin/id"[..], b" ( ) {", b"\t()\n{x", "\u{a0}(){".as_bytes(), b"(){", b"x() {", b""] {
            check(v);
        }
        check(b"%28%29%20%7B%20%3A%3B%20%7D%3B");
        // every other string from the plain atoms only (no escape), so both paths are exercised
        for k in 0..30_000 {
            let pool = if k % 2 == 0 { &atoms[..10] } else { &atoms[..] };
            let mut v = Vec::new();
            for _ in 0..(next() % 8) {
                v.extend_from_slice(pool[(next() % pool.len() as u64) as usize]);
            }
            check(&v);
        }
        assert!(hits[0] >= 15 && hits[1] >= 40, "the strings reach the matching path, plain and decoded ({hits:?})");
    }

    /// The first-byte test (`may_start_a_match`) against `t:deepDecode` then `@rx` on every string of up to
    /// three atoms led by every byte value, and on the escapes and spaces the decoders and `\s` read: wherever
    /// the reference matches, the test let the value through. Mutants: `(` or a trigger byte (`%`, `&`, `\`)
    /// ruled out, or a space ruled out, fail it (`%28)…`, `&#40;)…`, ` ()…`).
    #[test]
    fn the_first_byte_test_rules_out_only_values_that_cannot_match() {
        let rx = op("rx", super::PATTERN);
        let tails: [&[u8]; 12] =
            [b"", b"(", b")", b"{", b" ", b"()", b"(){", b"28)", b"#40;", b"u0028", b"\xa8", b"\xa0(){"];
        let heads: [&[u8]; 9] =
            [b"%28", b"&#40;", b"&lpar;", b"\\x28", b"\\u0028", b"\xc0\xa8", "\u{a0}".as_bytes(), b"\x0b", b"%2528"];
        let mut matched = 0;
        let mut check = |v: &[u8]| {
            let d = portcullis_detect::decode::deep(v);
            if m(rx.as_ref(), &d) {
                matched += 1;
                assert!(super::may_start_a_match(v[0]), "{:?} matches but its first byte was ruled out", v);
            }
        };
        for first in 0..=255u8 {
            for a in tails {
                for b in tails {
                    for c in [&b""[..], b")", b" {", b"){", b") {"] {
                        check(&[&[first][..], a, b, c].concat());
                    }
                }
            }
        }
        for h in heads {
            for a in tails {
                for b in tails {
                    check(&[h, a, b, b")", b" {"].concat());
                }
            }
        }
        assert!(matched > 100, "the strings reach matches ({matched})");
    }

    #[test]
    fn takes_no_parameter_and_no_place_in_the_prefilter() {
        let ctx = BuildCtx { rule_dir: Path::new("."), prefilter: None };
        assert!(build("shellshock", "x", &ctx).unwrap_err().contains("no parameter"));
        assert_eq!(op("shellshock", "").prefilter_id(), None, "no rule-level gate");
    }
}
