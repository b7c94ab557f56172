//! The raw bytes a value must hold for a [`Need`] to possibly hold on its transformed form: computed at load
//! per (need, transformation chain), so the rule-level gate (`crate::transaction::gate`) can rule a union out
//! from the bytes its members hold (one 256-bit AND) without transforming or scanning them.
//!
//! Two sets per (need, chain), each a necessary condition on the raw value (letters in both cases):
//! - [`Preimage::bytes`]: every byte the need names (its bytes and one byte of each literal) traced back
//!   through the chain: a transformed value holding none of a set's bytes comes from a raw value holding none
//!   of their preimage ([`byte_preimage`]);
//! - [`Preimage::joins`]: the need's bytes traced back as above, plus, per literal, the raw bytes without
//!   which the chain cannot *make* the literal ([`literal_joins`]): with none of them, a literal in the
//!   transformed value is already in the raw value, so a raw value whose untransformed scan lacks the need
//!   cannot gain it.
//!
//! Each step's bound is argued at its match arm; a step not listed is bounded by its trigger bytes
//! (`transforms::triggers`: without them it changes at most letter case, which the case-insensitive scan
//! ignores), and a step that rewrites every value makes both sets "every byte". Owns this computation only;
//! the gate decides when to use it.

use super::need::{rarest_byte, ByteSet, Need};
use crate::transforms::triggers::chain_triggers;
use crate::transforms::Transform;

/// Every byte.
pub const ALL: [u64; 4] = [u64::MAX; 4];

/// C whitespace (`compressWhitespace`, `trim`): `\t \n \v \f \r` and space.
const C_SPACE: &[u8] = b"\t\n\x0b\x0c\r ";
/// The bytes `cmdLine` turns into a space (`cmd_line.rs`'s `SPACE` class).
const CMD_SPACE: &[u8] = b" ,;\t\r\n";
/// The bytes `cmdLine` deletes.
const CMD_DELETE: &[u8] = b"\\\"'^";

/// The two raw-byte sets of one (need, chain); see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preimage {
    pub bytes: [u64; 4],
    pub joins: [u64; 4],
}

impl Preimage {
    /// Is the need ruled out on every transformed value of raw values holding (together) the bytes
    /// `present`, whose untransformed scans met the need (`raw_has`) or not?
    #[inline]
    pub fn rules_out(&self, present: &[u64; 4], raw_has: bool) -> bool {
        disjoint(&self.bytes, present) || (!raw_has && disjoint(&self.joins, present))
    }
}

/// The preimage of `need` through `steps` (applied first to last).
pub fn of(need: &Need, steps: &[Transform]) -> Preimage {
    let mut named = need.bytes;
    for l in &need.lits {
        if let Some(b) = rarest_byte(l) {
            named.insert(b);
        }
    }
    let needed = byte_preimage(steps, &need.bytes.0);
    let mut joins = needed;
    for l in &need.lits {
        or(&mut joins, &literal_joins(steps, l));
    }
    Preimage { bytes: byte_preimage(steps, &named.0), joins: folded(joins) }
}

/// Raw bytes such that a value holding none of them comes out of `steps` holding none of `out` (up to
/// letter case: the result holds both cases of every letter). Traced from the last step back to the first.
pub fn byte_preimage(steps: &[Transform], out: &[u64; 4]) -> [u64; 4] {
    let mut set = folded(*out);
    for s in steps.iter().rev() {
        if set == [0; 4] {
            break;
        }
        let made = makers(s, &set);
        or(&mut set, &made);
        set = folded(set);
    }
    set
}

/// Raw bytes such that, on a value holding none of them, `lit` (lowercase) in the value after `steps` is
/// already in the value before them (ASCII case-insensitively). Step `k`'s own set (`one_join`) is traced back
/// through steps `1..k` ([`byte_preimage`]): the value entering step `k` holds none of it.
pub fn literal_joins(steps: &[Transform], lit: &[u8]) -> [u64; 4] {
    let mut acc = [0u64; 4];
    for k in 0..steps.len() {
        let j = one_join(&steps[k], lit);
        or(&mut acc, &byte_preimage(&steps[..k], &j));
    }
    folded(acc)
}

/// Input bytes of step `s` without which its output holds no byte of `out` that its input lacks (up to
/// case). The default, the step's triggers, is exact because a value without them leaves the step equal up
/// to case (`transforms::triggers`, tested there).
fn makers(s: &Transform, out: &[u64; 4]) -> [u64; 4] {
    let space = has(out, b' ');
    match s.name {
        // `%XX`/`%uHHHH` make any byte, `+` makes a space; with no `%`, the output is the input with `+`
        // replaced by a space
        "urlDecode" | "urlDecodeUni" => set_of(if space { b"%+" } else { b"%" }),
        // the only byte these make from others is a space, from whitespace (`compressWhitespace` turns a run of
        // C whitespace into one space; `cmdLine` turns `, ;` and whitespace into a space, lowers letters,
        // deletes `\ " ' ^` and a space before `/` or `(`)
        "compressWhitespace" => set_of(if space { C_SPACE } else { b"" }),
        "cmdLine" => set_of(if space { CMD_SPACE } else { b"" }),
        // these only delete bytes, keep a sub-slice or move bytes (`normalizePath` copies `buf[src]` to
        // `buf[dst]` and truncates; `removeCommentsChar` deletes the markers): every output byte is an input byte
        "removeNulls" | "removeWhitespace" | "trim" | "trimLeft" | "trimRight" | "normalizePath"
        | "removeCommentsChar" => [0; 4],
        // the same, except that `\` becomes `/`
        "normalizePathWin" => set_of(if has(out, b'/') { b"\\" } else { b"" }),
        // a comment, or a NUL, becomes one space; every other output byte is an input byte
        "replaceComments" => set_of(if space { b"*" } else { b"" }),
        "replaceNulls" => set_of(if space { b"\0" } else { b"" }),
        _ => chain_triggers(std::slice::from_ref(s)).unwrap_or(ALL),
    }
}

/// Input bytes of step `s` without which `lit` in its output is already in its input (up to case). The
/// default, the step's triggers, is exact for the same reason as in [`makers`].
fn one_join(s: &Transform, lit: &[u8]) -> [u64; 4] {
    let any = |bytes: &[u8]| lit.iter().any(|b| bytes.contains(b));
    match s.name {
        // with no `%` the output is the input with each `+` replaced by a space, position for position: a
        // literal with no space sits on the same bytes in the input
        "urlDecode" | "urlDecodeUni" => set_of(if any(b" ") { b"%+" } else { b"%" }),
        // a literal with no whitespace lies in a run of non-whitespace output bytes, each copied in order from
        // a run of the input with nothing between them (whitespace between them would leave a space)
        "compressWhitespace" if !any(C_SPACE) => [0; 4],
        // a literal without space, `/` or `(` is a run of kept (lowered) input bytes; between two adjacent ones
        // the input can only have held deleted bytes (a space there would be emitted, or popped only before an
        // emitted `/` or `(`)
        "cmdLine" if !any(b" /(") => set_of(CMD_DELETE),
        // a sub-slice of the input
        "trim" | "trimLeft" | "trimRight" => [0; 4],
        _ => chain_triggers(std::slice::from_ref(s)).unwrap_or(ALL),
    }
}

fn set_of(bytes: &[u8]) -> [u64; 4] {
    let mut s = ByteSet::default();
    for b in bytes {
        s.insert(*b);
    }
    s.0
}

fn has(set: &[u64; 4], b: u8) -> bool {
    set[(b >> 6) as usize] & (1 << (b & 63)) != 0
}

fn or(a: &mut [u64; 4], b: &[u64; 4]) {
    for (x, y) in a.iter_mut().zip(b) {
        *x |= y;
    }
}

/// `set` with both cases of every ASCII letter it holds.
pub(crate) fn folded(set: [u64; 4]) -> [u64; 4] {
    let mut s = set;
    for b in (b'a'..=b'z').chain(b'A'..=b'Z') {
        if has(&set, b) {
            s[((b ^ 0x20) >> 6) as usize] |= 1 << ((b ^ 0x20) & 63);
        }
    }
    s
}

/// Do the sets share no byte?
pub(crate) fn disjoint(a: &[u64; 4], b: &[u64; 4]) -> bool {
    a.iter().zip(b).all(|(x, y)| x & y == 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transforms::lookup;

    fn steps(names: &[&str]) -> Vec<Transform> {
        names.iter().map(|n| lookup(n).unwrap()).collect()
    }

    #[test]
    fn url_decoding_needs_a_percent_unless_the_need_is_a_space() {
        let s = steps(&["urlDecodeUni"]);
        let p = byte_preimage(&s, &set_of(b"<"));
        assert_eq!(p, set_of(b"<%"));
        assert_eq!(byte_preimage(&s, &set_of(b" ")), set_of(b" %+"));
        assert!(has(&byte_preimage(&s, &set_of(b"a")), b'A'));
    }

    #[test]
    fn a_chain_traces_every_step_back() {
        // utf8toUnicode makes `%` from non-ASCII bytes, which urlDecodeUni turns into anything
        let s = steps(&["utf8toUnicode", "urlDecodeUni", "htmlEntityDecode", "jsDecode"]);
        let p = byte_preimage(&s, &set_of(b"<"));
        for b in [b'<', b'%', b'&', b'\\', 0x80, 0xff, 0] {
            assert!(has(&p, b), "{b}");
        }
        assert!(!has(&p, b'+') && !has(&p, b'a'));
        // a step that rewrites every value: anything
        assert_eq!(byte_preimage(&steps(&["base64Decode", "lowercase"]), &set_of(b"<")), ALL);
    }

    #[test]
    fn literal_joins_need_deleted_bytes_and_decoders_only() {
        let s = steps(&["urlDecodeUni", "cmdLine"]);
        let j = literal_joins(&s, b"select");
        assert_eq!(j, set_of(b"%\\\"'^"));
        let j = literal_joins(&s, b"a b");
        assert!(has(&j, b'+') && has(&j, b',') && has(&j, b'%'));
        assert_eq!(literal_joins(&steps(&["removeNulls"]), b"abc"), set_of(b"\0"));
    }

    #[test]
    fn path_and_comment_steps_make_only_separators_and_spaces() {
        assert_eq!(byte_preimage(&steps(&["normalizePath"]), &set_of(b"=")), set_of(b"="));
        assert_eq!(byte_preimage(&steps(&["normalizePathWin"]), &set_of(b"/")), set_of(b"/\\"));
        assert_eq!(byte_preimage(&steps(&["normalizePathWin"]), &set_of(b".")), set_of(b"."));
        assert_eq!(byte_preimage(&steps(&["replaceComments"]), &set_of(b" ")), set_of(b" *"));
        assert_eq!(byte_preimage(&steps(&["replaceNulls", "removeCommentsChar"]), &set_of(b" ")), set_of(b" \0"));
        // removeComments emits a NUL or a space of its own: bounded by its triggers
        assert!(has(&byte_preimage(&steps(&["removeComments"]), &set_of(b"\0")), b'*'));
    }

    #[test]
    fn rules_out_uses_the_raw_scan_only_for_joins() {
        let need = Need { lits: vec![b"script".to_vec()], bytes: ByteSet(set_of(b"<")) };
        let p = of(&need, &steps(&["urlDecodeUni", "lowercase"]));
        let accept = crate::transforms::triggers::bytes_present(b"text/html,application/xhtml+xml;q=0.9, compress");
        // letters of `script` are there: the byte set alone cannot rule it out, the joins can if the raw
        // scan found no `script`
        assert!(!p.rules_out(&accept, true));
        assert!(p.rules_out(&accept, false));
        assert!(!p.rules_out(&crate::transforms::triggers::bytes_present(b"a%3cb"), false));
    }
}
