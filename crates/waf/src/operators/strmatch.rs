//! `@strmatch`: the parameter occurs in the value (ModSecurity uses Boyer-Moore-Horspool; `memchr`-backed
//! search through `aho-corasick` would be equivalent; a simple search is enough for short parameters).

use super::{BuildCtx, OpCtx, Operator};

#[derive(Debug)]
pub struct StrMatch(Vec<u8>, Option<u32>);

pub fn build(arg: &str, ctx: &BuildCtx<'_>) -> Result<Box<dyn Operator>, String> {
    let pf = ctx.register_phrases([arg.as_bytes()]);
    Ok(Box::new(StrMatch(arg.as_bytes().to_vec(), pf)))
}

/// Position of the first `needle` in `hay`.
pub(crate) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    // memmem's vectorised search instead of a comparison per window (`@within %{tx.allowed_methods}` and
    // the content-type lists are searched on every request); the empty needle is found at 0 as before
    memchr::memmem::find(hay, needle)
}

/// Does `needle` occur in `hay`? The answer of `find(hay, needle).is_some()`. `@within` asks it of a
/// parameter list of 64 bytes or more on every request (`%{tx.restricted_headers_basic}` once per request
/// header, `%{tx.restricted_extensions}`), where `memmem::find` builds a whole searcher (two-way tables and
/// a prefilter) for the one search; the packed-pair finder it would pick as its prefilter searches such a
/// haystack for the needle's two rarest bytes, 32 positions a step, and confirms each candidate itself.
pub(crate) fn occurs(hay: &[u8], needle: &[u8]) -> bool {
    #[cfg(target_arch = "x86_64")]
    if hay.len() >= 64 {
        use memchr::arch::x86_64::avx2::packedpair::Finder;
        // `None` for a needle shorter than two bytes or without AVX2: the general search below
        if let Some(f) = Finder::new(needle) {
            if hay.len() >= f.min_haystack_len() {
                return f.find(hay, needle).is_some();
            }
        }
    }
    find(hay, needle).is_some()
}

impl Operator for StrMatch {
    fn prefilter_id(&self) -> Option<u32> {
        self.1
    }

    fn eval(&self, i: &[u8], ctx: &mut OpCtx<'_>) -> bool {
        let hit = find(i, &self.0).is_some();
        if hit {
            if let Some(c) = ctx.captures.as_deref_mut() {
                c.clear();
                c.push(&self.0);
            }
        }
        hit
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operators::test_util::xorshift;

    /// `occurs` answers what `find` answers, around the 64-byte switch and the finder's least haystack length,
    /// for needles of every length from empty to longer than the haystack, present (at the start, the end,
    /// anywhere, as a near miss) or absent. Mutant: returning the finder's candidate without confirming it
    /// (`find_prefilter`) fails the near misses.
    #[test]
    fn occurs_is_find_is_some() {
        let mut rnd = xorshift(0x5eed_0cc0);
        for round in 0..4000 {
            // a small alphabet, so pairs of bytes recur and candidates need confirming
            let alphabet: &[u8] = if round % 2 == 0 { b"ab/-" } else { b"/content-encodingproxyxhtmlk " };
            let n = [0, 1, 30, 63, 64, 65, 70, 96, 150, 300][round % 10] + (rnd() % 3) as usize;
            let hay: Vec<u8> = (0..n).map(|_| alphabet[(rnd() % alphabet.len() as u64) as usize]).collect();
            let len = (rnd() % 24) as usize;
            let mut needle: Vec<u8> = match (rnd() % 4, hay.len()) {
                (0, h) if h >= len => {
                    let at = (rnd() as usize) % (h - len + 1);
                    hay[at..at + len].to_vec()
                }
                (1, h) if h >= len && len > 0 => hay[h - len..].to_vec(),
                _ => (0..len).map(|_| alphabet[(rnd() % alphabet.len() as u64) as usize]).collect(),
            };
            if rnd().is_multiple_of(5) {
                if let Some(b) = needle.last_mut() {
                    *b ^= 1;
                }
            }
            assert_eq!(occurs(&hay, &needle), find(&hay, &needle).is_some(), "{hay:?} {needle:?}");
        }
        let list =
            b"/content-encoding/ /proxy/ /lock-token/ /content-range/ /if/ /x-http-method-override/ /x-http-method/";
        for (needle, want) in [(&b"/proxy/"[..], true), (b"/if/", true), (b"/host/", false), (b"/x-http-method/", true)]
        {
            assert_eq!(occurs(list, needle), want, "{}", String::from_utf8_lossy(needle));
        }
    }
}
