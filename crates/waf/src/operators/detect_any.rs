//! `@detectAny sqli xss cmdi ...` (Portcullis extension): matches when any of the listed native detector
//! operators matches the value or a decoded form of it — its deep decoding (`t:deepDecode`), and the base64
//! payload (`t:base64IfEncoded`) of either. It is a *gate*: the built-in pack runs it once per value ahead of
//! its detector rules and skips them all when nothing matches, instead of every rule walking its targets to
//! find nothing (`rules/20-injection.conf`).
//!
//! The names are the detector operators without `detect` (`sqli`, `xss`, `cmdi`, `pathTraversal`, `ssrf`,
//! `ssti`, `jndi`, `noSqli`, `xxe`, `protoPollution`, any case), plus `ssrfUrl`: SSRF only on a form that
//! holds `://` (the pack's header rule 192060 asks for a scheme before handing a value to `@detectSSRF`).
//!
//! Why a no here proves every listed operator says no under any of those transformation chains: the forms
//! tried are a superset of what `t:none`, `t:deepDecode`, `t:base64IfEncoded` and their `multiMatch`
//! combinations hand an operator, and each form goes through what the operators the rules use run: each
//! `@detect<Class>` is "not empty, the class's prefilter passes, the detector finds something", and so is
//! this per listed class ([`portcullis_detect::prefilter::Classes`] answers the prefilter exactly, deciding
//! only the classes asked). The one shortcut: a class whose prefilter rejects the value means a class mask
//! short of every class, which proves that the deep decoding and the base64 payload are the value itself
//! (`Classes::mask`), so the value is its only form. On such a value the detectors also skip their own
//! decoding layers (`detect_own_form`: the base64 and deep-decoding passes inside each detector, which
//! would find nothing to decode), which is most of the values a benign request has.

use super::{BuildCtx, OpCtx, Operator};
use portcullis_detect::prefilter::{class_bit, Classes, ALL_CLASSES};
use portcullis_detect::Class;

#[derive(Debug)]
pub struct DetectAny {
    detectors: Vec<Listed>,
    /// Decide every class in one go (`Classes::mask`) rather than each listed one as it comes: cheaper once
    /// more than a couple are listed (the mask runs the base64 test first and then only the word tests left).
    eager: bool,
}

/// Up to this many detectors listed, their classes are decided one by one.
const LAZY_MAX: usize = 2;

/// One listed detector: its class, and whether it only reads forms holding `://`.
#[derive(Debug)]
struct Listed {
    class: Class,
    url_only: bool,
}

/// Parameter names → (class, URL-only).
const NAMES: &[(&str, Class, bool)] = &[
    ("sqli", Class::Sqli, false),
    ("xss", Class::Xss, false),
    ("cmdi", Class::Cmdi, false),
    ("pathtraversal", Class::PathTraversal, false),
    ("ssrf", Class::Ssrf, false),
    ("ssrfurl", Class::Ssrf, true),
    ("ssti", Class::Ssti, false),
    ("jndi", Class::Jndi, false),
    ("nosqli", Class::NoSqli, false),
    ("xxe", Class::Xxe, false),
    ("protopollution", Class::ProtoPollution, false),
];

pub fn build(arg: &str, _: &BuildCtx<'_>) -> Result<Box<dyn Operator>, String> {
    let mut detectors = Vec::new();
    for name in arg.split_whitespace() {
        let lname = name.to_ascii_lowercase();
        let (_, class, url_only) = NAMES.iter().find(|(n, ..)| *n == lname).ok_or_else(|| {
            format!(
                "unknown detector {name:?} (expected one of sqli, xss, cmdi, pathTraversal, ssrf, ssrfUrl, ssti, \
                 jndi, noSqli, xxe, protoPollution)"
            )
        })?;
        detectors.push(Listed { class: *class, url_only: *url_only });
    }
    if detectors.is_empty() {
        return Err("no detector listed".into());
    }
    let eager = detectors.len() > LAZY_MAX;
    Ok(Box::new(DetectAny { detectors, eager }))
}

/// The detector of `class` on a value its prefilter passed: what `@detect<Class>` runs once its own
/// `may_match` said yes (each of those operators is exactly "not empty, `may_match`, the detector finds
/// something"). `own_form`: `v` is its own deep decoding and not base64 of text (a class mask short of every
/// class proves it), so the detectors' own decoding layers, which would find nothing, are skipped
/// (`detect_own_form` is `detect` on such a value: `portcullis-detect`'s `tests/prefilter_necessary.rs`).
fn detects(class: Class, v: &[u8], own_form: bool) -> bool {
    use portcullis_detect as d;
    let found = match (class, own_form) {
        (Class::Sqli, _) => d::sqli::detect(v),
        (Class::Xss, _) => d::xss::detect(v),
        (Class::Cmdi, false) => d::cmdi::detect(v),
        (Class::Cmdi, true) => d::cmdi::detect_own_form(v),
        (Class::PathTraversal, false) => d::traversal::detect(v),
        (Class::PathTraversal, true) => d::traversal::detect_own_form(v),
        (Class::Ssrf, false) => d::ssrf::detect(v),
        (Class::Ssrf, true) => d::ssrf::detect_own_form(v),
        (Class::Ssti, false) => d::ssti::detect(v),
        (Class::Ssti, true) => d::ssti::detect_own_form(v),
        (Class::Jndi, false) => d::jndi::detect(v),
        (Class::Jndi, true) => d::jndi::detect_own_form(v),
        (Class::NoSqli, false) => d::nosql::detect(v),
        (Class::NoSqli, true) => d::nosql::detect_own_form(v),
        (Class::Xxe, false) => d::xxe::detect(v),
        (Class::Xxe, true) => d::xxe::detect_own_form(v),
        (Class::ProtoPollution, false) => d::proto::detect(v),
        (Class::ProtoPollution, true) => d::proto::detect_own_form(v),
    };
    found.is_some()
}

/// Does `v` hold `://`? Found from its colons (`memchr`): most values have none, and a three-byte window
/// compared at every offset cost more than the detectors on the header names and values 191002 reads.
fn has_url(v: &[u8]) -> bool {
    memchr::memchr_iter(b':', v).any(|at| v[at + 1..].starts_with(b"//"))
}

impl DetectAny {
    /// Does a listed detector fire on `form`? Sets `*rejected` when some listed class's prefilter rejects it.
    fn any_on(&self, form: &[u8], rejected: &mut bool) -> bool {
        let mut classes = Classes::of(form);
        let mask = self.eager.then(|| classes.mask(form));
        // decided only when the mask is taken (the lazy path runs the detectors whole)
        let own_form = mask.is_some_and(|m| m != ALL_CLASSES);
        self.detectors.iter().any(|d| {
            // (a value none of whose bytes passes SSRF holds no `:`, so no `://`: `Classes::passed_so_far`)
            if d.url_only && !(classes.passed_so_far(Class::Ssrf) && has_url(form)) {
                return false;
            }
            let passes = match mask {
                Some(m) => m & class_bit(d.class) != 0,
                None => classes.may_match(d.class, form),
            };
            if !passes {
                *rejected = true;
                return false;
            }
            detects(d.class, form, own_form)
        })
    }
}

impl Operator for DetectAny {
    fn eval(&self, input: &[u8], _: &mut OpCtx<'_>) -> bool {
        if input.is_empty() {
            return false;
        }
        let mut rejected = false;
        if self.any_on(input, &mut rejected) {
            return true;
        }
        // A class rejected means a mask short of every class: the value is its only form (module doc).
        if rejected || Classes::of(input).mask(input) != ALL_CLASSES {
            return false;
        }
        let deep = portcullis_detect::decode::deep(input);
        if *deep != *input && self.any_on(&deep, &mut rejected) {
            return true;
        }
        // bound, not returned directly: the iterator borrows `deep`, which must outlive it
        #[allow(clippy::let_and_return)]
        let found = [input, &deep[..]]
            .into_iter()
            .filter_map(portcullis_detect::decode::base64_payload)
            .any(|b| self.any_on(&b, &mut rejected));
        found
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::super::{build, BuildCtx};
    use std::path::Path;

    const ALL: &str = "sqli xss cmdi pathTraversal ssrf ssti jndi noSqli xxe protoPollution";

    #[test]
    fn matches_what_a_listed_detector_matches_in_any_form() {
        let o = op("detectAny", ALL);
        for attack in [
            "1' OR '1'='1",
            "<script>alert(1)</script>",
            "; cat /etc/passwd",
            "../../etc/passwd",
            "http://169.254.169.254/latest/meta-data/",
            "{{7*7}}",
            "${jndi:ldap://x/a}",
            "{\"$where\": \"sleep(100)\"}",
            "<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>",
            "__proto__",
            // double-encoded, and base64 of text
            "%2527%2520OR%25201%253D1--",
            "JHtqbmRpOmxkYXA6Ly94fQ==",
        ] {
            assert!(m(o.as_ref(), attack.as_bytes()), "{attack:?}");
        }
        for benign in ["", "hello", "123", "O'Reilly books", "anchor-bench/1.0 (wrk)", "/api/items", "en-GB"] {
            assert!(!m(o.as_ref(), benign.as_bytes()), "{benign:?}");
        }
    }

    #[test]
    fn only_the_listed_detectors_count() {
        let jndi = op("detectAny", "jndi");
        assert!(m(jndi.as_ref(), b"${jndi:ldap://x/a}"));
        assert!(!m(jndi.as_ref(), b"1' OR '1'='1"));
        let url = op("detectAny", "ssrfUrl");
        assert!(m(url.as_ref(), b"http://127.0.0.1/admin"));
        assert!(!m(url.as_ref(), b"127.0.0.1:8080"), "a bare host is not read by the URL-only SSRF");
        assert!(m(op("detectAny", "ssrf").as_ref(), b"127.0.0.1:8080"));
    }

    /// `has_url` (from the colons) against the three-byte window it replaced, on every string of up to six
    /// bytes over `:`, `/` and `a`, with and without a long prefix.
    #[test]
    fn has_url_is_the_window_test() {
        let window = |v: &[u8]| v.windows(3).any(|w| w == b"://");
        let mut v = Vec::new();
        for n in 0..=6u32 {
            for code in 0..3u32.pow(n) {
                let mut c = code;
                v.clear();
                for _ in 0..n {
                    v.push([b':', b'/', b'a'][(c % 3) as usize]);
                    c /= 3;
                }
                assert_eq!(super::has_url(&v), window(&v), "{:?}", String::from_utf8_lossy(&v));
                let long = [&b"xx:x/yy:/"[..], &v].concat();
                assert_eq!(super::has_url(&long), window(&long), "{:?}", String::from_utf8_lossy(&long));
            }
        }
    }

    #[test]
    fn bad_parameters_are_refused() {
        let ctx = BuildCtx { rule_dir: Path::new("."), prefilter: None };
        assert!(build("detectAny", "", &ctx).unwrap_err().contains("no detector"));
        assert!(build("detectAny", "sqli nope", &ctx).unwrap_err().contains("unknown detector \"nope\""));
    }

    /// The gate against the operators it stands in for, under every chain the pack uses, on strings built
    /// from the bytes and words the detectors and decoders react to: a value some listed operator matches in
    /// some form is always matched.
    #[test]
    fn never_says_no_where_a_listed_operator_says_yes() {
        let names = [
            "detectsqli",
            "detectxss",
            "detectcmdi",
            "detectpathtraversal",
            "detectssrf",
            "detectssti",
            "detectjndi",
            "detectnosqli",
            "detectxxe",
            "detectprotopollution",
        ];
        let ops: Vec<_> = names.iter().map(|n| op(n, "")).collect();
        let gate = op("detectAny", ALL);
        let atoms: [&[u8]; 24] = [
            b"'",
            b" ",
            b"or",
            b"1=1",
            b"--",
            b"<",
            b"script>",
            b"%25",
            b"%27",
            b"%2e",
            b"/",
            b"..",
            b"etc/passwd",
            b";",
            b"id",
            b"$",
            b"{",
            b"}",
            b"jndi:",
            b"://",
            b"127.0.0.1",
            b"__proto__",
            b"ne",
            b"Zm9v",
        ];
        let mut next = xorshift(0x2545_f491_4f6c_dd1du64);
        for _ in 0..20_000 {
            let mut v = Vec::new();
            for _ in 0..(next() % 7) {
                v.extend_from_slice(atoms[(next() % atoms.len() as u64) as usize]);
            }
            let deep = portcullis_detect::decode::deep(&v).into_owned();
            let mut forms = vec![v.clone(), deep.clone()];
            forms.extend(portcullis_detect::decode::base64_payload(&v));
            forms.extend(portcullis_detect::decode::base64_payload(&deep));
            let any = forms.iter().any(|f| ops.iter().any(|o| m(o.as_ref(), f)));
            assert_eq!(m(gate.as_ref(), &v), any, "{:?}", String::from_utf8_lossy(&v));
        }
    }
}
