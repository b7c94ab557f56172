//! `@within`: the value occurs in the parameter (e.g. a method in `%{tx.allowed_methods}`). An empty value is found everywhere, as in Coraza.
//!
//! A long parameter is searched for many values per request: CRS 920450 asks whether each request header's
//! name, as `/name/`, is in `%{tx.restricted_headers_basic}` (≈ 190 bytes), and a search there builds a
//! finder for the name and scans the whole list, though nearly no name is in it. So the operator keeps the
//! set of the two-byte pairs of a long parameter (`PairIndex`, built for the first long expansion it meets,
//! or at load for a parameter without macros) and answers "no" without a search to a value holding a pair
//! the parameter lacks. Exact: a value of two bytes or more that occurs in the parameter has each of its
//! adjacent pairs at some place of it, so a pair missing from the parameter means the value does not occur;
//! the index is used only when the expansion is, byte for byte, the parameter it was built from, and every
//! other case (a shorter value, another expansion, a value whose pairs are all there) is searched as before.

use super::strmatch::occurs;
use super::{BuildCtx, OpCtx, Operator, Param};
use std::sync::OnceLock;

/// Parameters shorter than this are searched without an index (a short search costs less than the check).
const INDEXED_MIN: usize = 64;
/// Parameters longer than this are not indexed (the index keeps a copy of the parameter to compare with).
const INDEXED_MAX: usize = 4096;

#[derive(Debug)]
pub struct Within(Param, OnceLock<PairIndex>);

pub fn build(arg: &str, _: &BuildCtx<'_>) -> Result<Box<dyn Operator>, String> {
    let param = Param::parse(arg)?;
    // a parameter without macros is indexed now, not on the hot path
    let index = OnceLock::new();
    if let Some(p) = param.as_static().filter(|p| indexed(p)) {
        let _ = index.set(PairIndex::of(p));
    }
    Ok(Box::new(Within(param, index)))
}

fn indexed(hay: &[u8]) -> bool {
    (INDEXED_MIN..=INDEXED_MAX).contains(&hay.len())
}

/// The two-byte pairs (two adjacent bytes) that occur in one parameter: a bit per pair, 65,536 bits.
#[derive(Debug)]
struct PairIndex {
    /// The parameter the index was built from (the index answers for these bytes only).
    hay: Box<[u8]>,
    pairs: Box<[u64; 1024]>,
}

fn pair(a: u8, b: u8) -> usize {
    (a as usize) << 8 | b as usize
}

impl PairIndex {
    fn of(hay: &[u8]) -> PairIndex {
        let mut pairs = Box::new([0u64; 1024]);
        for w in hay.windows(2) {
            let p = pair(w[0], w[1]);
            pairs[p >> 6] |= 1 << (p & 63);
        }
        PairIndex { hay: hay.into(), pairs }
    }

    /// Does every adjacent pair of `needle` occur in the parameter? (`false`: `needle` cannot occur in it.)
    fn holds_pairs_of(&self, needle: &[u8]) -> bool {
        needle.windows(2).all(|w| {
            let p = pair(w[0], w[1]);
            self.pairs[p >> 6] >> (p & 63) & 1 != 0
        })
    }
}

impl Within {
    /// Does `needle` occur in `hay` (the expanded parameter)? `occurs`' answer.
    fn occurs_in(&self, hay: &[u8], needle: &[u8]) -> bool {
        if needle.len() >= 2 && indexed(hay) {
            let index = self.1.get_or_init(|| PairIndex::of(hay));
            if *index.hay == *hay && !index.holds_pairs_of(needle) {
                return false;
            }
        }
        occurs(hay, needle)
    }
}

impl Operator for Within {
    fn eval(&self, i: &[u8], ctx: &mut OpCtx<'_>) -> bool {
        let hit = self.0.with(ctx.env, |p| self.occurs_in(p, i));
        if hit {
            if let Some(c) = ctx.captures.as_deref_mut() {
                c.clear();
                c.push(i);
            }
        }
        hit
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::macros::MacroEnv;
    use crate::operators::test_util::xorshift;
    use crate::variables::Var;
    use std::cell::RefCell;

    /// `%{tx.list}` expands to whatever the test put in `list`.
    struct ListEnv(RefCell<Vec<u8>>);
    impl MacroEnv for ListEnv {
        fn expand_var(&self, _: Var, _: Option<&str>, out: &mut Vec<u8>) {
            out.extend_from_slice(&self.0.borrow());
        }
    }

    /// `@within` answers what a search answers (`occurs`), with its pair index built from the first long
    /// expansion and then asked with that expansion and with others (the same length, one byte changed;
    /// shorter and longer lists), for values absent, present at the start, the end or inside, near misses,
    /// and values of zero, one and two bytes. Mutants: an index that leaves out the parameter's first or last
    /// pair fails the values found at its start or end; one used for any expansion of the same length fails
    /// the changed lists (each of the three fails the random lists below).
    #[test]
    fn answers_what_a_search_answers() {
        let mut rnd = xorshift(0x0077_1791);
        let basic = b"/content-encoding/ /proxy/ /lock-token/ /content-range/ /if/ /x-http-method-override/ \
/x-http-method/ /x-method-override/ /x-middleware-subrequest/ /expect/";
        let ctx = BuildCtx { rule_dir: std::path::Path::new("."), prefilter: None };
        for (round, param) in ["%{tx.list}", std::str::from_utf8(basic).unwrap()].into_iter().enumerate() {
            let op = build(param, &ctx).unwrap();
            let env = ListEnv(RefCell::new(basic.to_vec()));
            for k in 0..6000 {
                // the first lists are the indexed one; then a list in four is another one
                let list = if round == 0 && k > 100 && k % 4 == 0 {
                    let mut l = basic.to_vec();
                    match k % 3 {
                        0 => {
                            let at = (rnd() as usize) % l.len();
                            l[at] = b"abz/-"[(rnd() % 5) as usize];
                        }
                        1 => l.truncate(INDEXED_MIN + (rnd() as usize) % (l.len() - INDEXED_MIN)),
                        _ => l.extend_from_slice(b" /zq/"),
                    }
                    l
                } else {
                    basic.to_vec()
                };
                let len = (rnd() % 20) as usize;
                let mut needle: Vec<u8> = match (rnd() % 4, list.len()) {
                    (0, h) => {
                        let at = (rnd() as usize) % (h - len + 1);
                        list[at..at + len].to_vec()
                    }
                    (1, h) => list[h - len..].to_vec(),
                    (2, _) => list[..len].to_vec(),
                    _ => (0..len).map(|_| b"/-abcdefghijklmnopqrstuvwxyz "[(rnd() % 29) as usize]).collect(),
                };
                if rnd().is_multiple_of(5) {
                    if let Some(b) = needle.get_mut((rnd() as usize) % len.max(1)) {
                        *b = b"/-abqz"[(rnd() % 6) as usize];
                    }
                }
                *env.0.borrow_mut() = list.clone();
                let want = round == 1 && occurs(basic, &needle) || round == 0 && occurs(&list, &needle);
                let got = op.eval(&needle, &mut OpCtx { env: &env, captures: None });
                assert_eq!(got, want, "{} in {}", String::from_utf8_lossy(&needle), String::from_utf8_lossy(&list));
            }
        }
        // random lists over 40 bytes, so that most pairs occur once: the first and last pairs included
        let alphabet: Vec<u8> = (b'0'..b'0' + 40).collect();
        for _ in 0..400 {
            let op = build("%{tx.list}", &ctx).unwrap();
            let n = INDEXED_MIN + (rnd() as usize) % 200;
            let list: Vec<u8> = (0..n).map(|_| alphabet[(rnd() % 40) as usize]).collect();
            let env = ListEnv(RefCell::new(list.clone()));
            for k in 0..40 {
                let len = 2 + (rnd() % 6) as usize;
                let needle = match k % 4 {
                    0 => list[..len].to_vec(),
                    1 => list[n - len..].to_vec(),
                    2 => {
                        let at = (rnd() as usize) % (n - len + 1);
                        list[at..at + len].to_vec()
                    }
                    _ => (0..len).map(|_| alphabet[(rnd() % 40) as usize]).collect(),
                };
                // every eighth question with another list of the same length (the index must not answer)
                let other = k % 8 == 7;
                let hay = if other {
                    let mut l = list.clone();
                    l[(rnd() as usize) % n] = b'~';
                    l[n - 1] = needle[len - 1];
                    l[n - 2] = needle[len - 2];
                    l
                } else {
                    list.clone()
                };
                *env.0.borrow_mut() = hay.clone();
                let got = op.eval(&needle, &mut OpCtx { env: &env, captures: None });
                assert_eq!(got, occurs(&hay, &needle), "{needle:?} in {hay:?}");
            }
        }
        // the CRS question, both ways
        let env = ListEnv(RefCell::new(basic.to_vec()));
        let op = build("%{tx.list}", &ctx).unwrap();
        for (name, want) in [(&b"/host/"[..], false), (b"/proxy/", true), (b"/expect/", true), (b"/if-match/", false)] {
            assert_eq!(op.eval(name, &mut OpCtx { env: &env, captures: None }), want);
        }
        assert!(op.eval(b"", &mut OpCtx { env: &env, captures: None }), "the empty value is found everywhere");
        assert!(op.eval(b"x", &mut OpCtx { env: &env, captures: None }));
        assert!(!op.eval(b"Z", &mut OpCtx { env: &env, captures: None }));
    }
}
