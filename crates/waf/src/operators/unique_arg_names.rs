//! `@uniqueArgNames []` (Portcullis extension): matches when the value, read as a URL-encoded argument list
//! (a query string or a form body), gives no argument name twice. Names are compared as the `TX` keys a
//! `setvar:'tx.x_%{MATCHED_VAR}=+1'` per name would make (lossy UTF-8, ASCII case folded), and names ending
//! with the parameter (e.g. `[]`, a declared list) are not counted; an empty parameter counts every name.
//!
//! What it is for: the built-in pack's parameter-pollution section counts copies of every name with two `TX`
//! counters per name and reads them back with two `TX:/regex/` rules; a request that repeats no name (nearly
//! all of them) skips that section on this one test instead.
//!
//! The names are split and decoded by the body module's own parser ([`crate::body::parse_urlencoded`]), so
//! they are the `ARGS_GET_NAMES` / `ARGS_POST_NAMES` the engine extracts from the same bytes, with two
//! deliberate differences that can only make the operator report "not unique" more often, never less:
//! empty segments (`a=1&&b=2`) count as empty names in every compatibility mode, and there is no argument
//! limit (the engine keeps the first `max_args` names; a repeat among them is a repeat among all).

use super::{BuildCtx, OpCtx, Operator};
use crate::body::{parse_urlencoded_into, ArgsOut, BodyLimits, Compat};
use std::borrow::Cow;

#[derive(Debug)]
pub struct UniqueArgNames {
    /// Names ending with this are not counted (empty: every name is).
    list_suffix: Vec<u8>,
}

pub fn build(arg: &str, _: &BuildCtx<'_>) -> Result<Box<dyn Operator>, String> {
    Ok(Box::new(UniqueArgNames { list_suffix: arg.trim().as_bytes().to_vec() }))
}

/// Above this many names, a sort finds repeats instead of comparing every pair.
const PAIRWISE_MAX: usize = 16;

impl UniqueArgNames {
    /// Is `name` counted (not a declared list)?
    fn counted(&self, name: &[u8]) -> bool {
        self.list_suffix.is_empty() || !name.ends_with(&self.list_suffix)
    }
}

/// The `TX` key a name becomes (before the ASCII case fold, which the comparisons do): `setvar` keys go
/// through `String::from_utf8_lossy`, so invalid UTF-8 sequences all become U+FFFD.
fn key(name: Cow<'_, [u8]>) -> Cow<'_, [u8]> {
    match String::from_utf8_lossy(&name) {
        Cow::Borrowed(_) => name,
        Cow::Owned(s) => Cow::Owned(s.into_bytes()),
    }
}

/// The parser's sink: the counted names' keys, in order (the values are not kept).
struct Names<'a, 'o> {
    op: &'o UniqueArgNames,
    keys: Vec<Cow<'a, [u8]>>,
}

impl<'a> ArgsOut<'a> for Names<'a, '_> {
    fn arg(&mut self, _: &BodyLimits, _: &str, name: Cow<'a, [u8]>, _: Cow<'a, [u8]>) -> bool {
        if self.op.counted(&name) {
            self.keys.push(key(name));
        }
        true
    }
}

impl Operator for UniqueArgNames {
    fn eval(&self, input: &[u8], _: &mut OpCtx<'_>) -> bool {
        // ModSecurity's split keeps empty segments as empty names; the argument limit is lifted (see above)
        let limits = BodyLimits { max_args: usize::MAX, compat: Compat::ModSecurity, ..BodyLimits::default() };
        // the names straight from the parser, without the list of (name, value) pairs `parse_urlencoded` builds
        let mut out = Names { op: self, keys: Vec::new() };
        parse_urlencoded_into(input, &limits, &mut out);
        let names = out.keys;
        if names.len() <= PAIRWISE_MAX {
            return names.iter().enumerate().all(|(i, a)| names[i + 1..].iter().all(|b| !a.eq_ignore_ascii_case(b)));
        }
        let mut folded: Vec<Vec<u8>> = names.iter().map(|n| n.to_ascii_lowercase()).collect();
        folded.sort_unstable();
        folded.windows(2).all(|w| w[0] != w[1])
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;

    #[test]
    fn repeated_names_are_found() {
        let o = op("uniqueArgNames", "[]");
        for unique in ["", "id=123&q=hello", "a=1&b=2&c", "ids[]=1&ids[]=2&x=1", "a=1&", "a=%zz&b=1"] {
            assert!(m(o.as_ref(), unique.as_bytes()), "{unique:?} names no argument twice");
        }
        for repeated in [
            "tag=a&tag=b",
            "a=1&b=2&a=3",
            "Tag=a&tAG=b",
            "a=1&%61=2",
            "a+b=1&a%20b=2",
            "a&a",
            "a=1&&&b=2",
            "ids[]=1&x=1&x=2",
            // both invalid UTF-8: the same TX key (U+FFFD) once lossily converted
            "%ff=1&%fe=2",
        ] {
            assert!(!m(o.as_ref(), repeated.as_bytes()), "{repeated:?} repeats a name");
        }
        let all = op("uniqueArgNames", "");
        assert!(!m(all.as_ref(), b"ids[]=1&ids[]=2"), "without a suffix, list names count");
    }

    /// The names straight from the parser's sink against the names of `parse_urlencoded`'s pairs (what the
    /// operator read before), on strings built from separators, escapes, list suffixes and invalid UTF-8.
    #[test]
    fn the_sink_is_parse_urlencoded() {
        use crate::body::{parse_urlencoded, BodyLimits, Compat};
        use std::borrow::Cow;
        let reference = |suffix: &[u8], input: &[u8]| -> bool {
            let limits = BodyLimits { max_args: usize::MAX, compat: Compat::ModSecurity, ..BodyLimits::default() };
            let parsed = parse_urlencoded(input, &limits);
            let names: Vec<Vec<u8>> = parsed
                .args
                .iter()
                .map(|(n, _)| n.as_ref())
                .filter(|n| suffix.is_empty() || !n.ends_with(suffix))
                .map(|n| match String::from_utf8_lossy(n) {
                    Cow::Borrowed(_) => n.to_ascii_lowercase(),
                    Cow::Owned(s) => s.into_bytes().to_ascii_lowercase(),
                })
                .collect();
            names.iter().enumerate().all(|(i, a)| names[i + 1..].iter().all(|b| a != b))
        };
        let atoms: [&[u8]; 12] = [b"a", b"A", b"b", b"=", b"&", b"[]", b"%61", b"%ff", b"%fe", b"+", b"%", b"x"];
        let (with, without) = (op("uniqueArgNames", "[]"), op("uniqueArgNames", ""));
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let mut v = Vec::new();
            let mut r = seed;
            for _ in 0..(r % 9) {
                r /= 9;
                v.extend_from_slice(atoms[(r % atoms.len() as u64) as usize]);
                r = r.rotate_left(7) ^ seed;
            }
            assert_eq!(m(with.as_ref(), &v), reference(b"[]", &v), "{:?}", String::from_utf8_lossy(&v));
            assert_eq!(m(without.as_ref(), &v), reference(b"", &v), "{:?}", String::from_utf8_lossy(&v));
        }
    }

    #[test]
    fn many_names_take_the_sorted_path() {
        let o = op("uniqueArgNames", "[]");
        let mut q: Vec<String> = (0..40).map(|i| format!("n{i}=v")).collect();
        assert!(m(o.as_ref(), q.join("&").as_bytes()));
        q.push("N7=again".into());
        assert!(!m(o.as_ref(), q.join("&").as_bytes()));
    }
}
