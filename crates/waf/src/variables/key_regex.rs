//! `COLLECTION:/regex/` key selectors, with an exact fast path for the common form: an anchored literal
//! prefix (`TX:/^header_name_920450_/`, `TX:/^pc_hpp_/`), which is a case-insensitive `starts_with`
//! instead of a regex search per key.
//!
//! Why the fast path is exact: key regexes are compiled as `(?i:PATTERN)` by `regex_util::compile_rx_mode`,
//! in ASCII mode (`unicode(false)`) unless the pattern needs Unicode; the fast path is taken only in ASCII
//! mode, where `(?i)` folds ASCII letters only, and only for a pattern `^` + letters, digits, `_` and `-`
//! (none of them a metacharacter). `^` without multi-line mode is the start of the key, so the regex matches
//! exactly the keys whose first bytes equal the literal up to ASCII case.
//!
//! Other patterns that open with a literal (`TX:/MULTIPART_HEADERS_CONTENT_TYPES_*/`, read on every request
//! over every `TX` key; `REQUEST_COOKIES:/^pbjs-\w+$/`) are tested for that literal first, and only keys that
//! hold it are handed to the regex. Exact under the same conditions (ASCII mode, the literal made of letters,
//! digits, `_` and `-`) when the pattern has no `|` (so no alternative can start elsewhere) and the
//! literal stops before a character a quantifier applies to (`_*`, `a?`): every match then begins with the
//! literal's bytes up to ASCII case, at the key's start when the pattern opens with `^`.

use crate::regex_util::{compile_rx_mode, RxError};
use regex::bytes::Regex;

/// A compiled key regex.
#[derive(Debug, Clone)]
pub struct KeyRegex {
    re: Regex,
    /// The literal after `^` when the whole pattern is an anchored literal (ASCII mode only).
    prefix: Option<Vec<u8>>,
    /// Otherwise, a literal every match begins with (lowercase), and whether it is anchored at the start.
    needle: Option<(Vec<u8>, bool)>,
}

/// The literal every match of `pattern` begins with, lowercased, and whether the pattern opens with `^`
/// (see the module's doc for when this is exact); `None` when there is none to use.
fn leading_literal(pattern: &str, unicode: bool) -> Option<(Vec<u8>, bool)> {
    if unicode || pattern.contains('|') {
        return None;
    }
    let (anchored, rest) = match pattern.strip_prefix('^') {
        Some(r) => (true, r.as_bytes()),
        None => (false, pattern.as_bytes()),
    };
    let n = rest.iter().take_while(|b| b.is_ascii_alphanumeric() || **b == b'_' || **b == b'-').count();
    let mut lit = rest.get(..n)?;
    if matches!(rest.get(n), Some(b'?' | b'*' | b'+' | b'{')) {
        // the quantifier applies to the literal's last character: it may be absent or repeated
        lit = lit.get(..n.saturating_sub(1))?;
    }
    (!lit.is_empty()).then(|| (lit.to_ascii_lowercase(), anchored))
}

/// Does `key` hold `lit` (lowercase) at some position, up to ASCII case?
fn contains_folded(key: &[u8], lit: &[u8]) -> bool {
    let Some(first) = lit.first() else { return true };
    key.len() >= lit.len()
        && key.windows(lit.len()).any(|w| w[0].to_ascii_lowercase() == *first && w.eq_ignore_ascii_case(lit))
}

impl KeyRegex {
    /// Compiles `pattern` (as written between the slashes) case-insensitively, as ModSecurity compiles key
    /// regexes (`TX:/MULTIPART_HEADERS_CONTENT_TYPES_*/` must see the lowercase TX keys).
    pub fn new(pattern: &str) -> Result<KeyRegex, RxError> {
        let (re, unicode) = compile_rx_mode(&format!("(?i:{pattern})"))?;
        let prefix = pattern
            .strip_prefix('^')
            .filter(|lit| !unicode && !lit.is_empty())
            .filter(|lit| lit.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'))
            .map(|lit| lit.as_bytes().to_vec());
        let needle = if prefix.is_none() { leading_literal(pattern, unicode) } else { None };
        Ok(KeyRegex { re, prefix, needle })
    }

    /// Does `key` match?
    pub fn is_match(&self, key: &[u8]) -> bool {
        match &self.prefix {
            Some(p) => key.get(..p.len()).is_some_and(|head| head.eq_ignore_ascii_case(p)),
            None => {
                let may = match &self.needle {
                    Some((lit, true)) => key.get(..lit.len()).is_some_and(|head| head.eq_ignore_ascii_case(lit)),
                    Some((lit, false)) => contains_folded(key, lit),
                    None => true,
                };
                may && self.re.is_match(key)
            }
        }
    }

    /// The literal tested before the regex, if any, and whether it is anchored. (Tests.)
    pub fn leading_literal(&self) -> Option<(&[u8], bool)> {
        self.needle.as_ref().map(|(l, a)| (&l[..], *a))
    }

    /// The regex as compiled (`(?i:...)`).
    pub fn as_str(&self) -> &str {
        self.re.as_str()
    }

    /// Is the anchored-literal fast path in use? (Tests.)
    pub fn is_prefix(&self) -> bool {
        self.prefix.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys around the edges: case, length, non-ASCII bytes (the Kelvin sign K and long s ſ fold to k/s
    /// only in Unicode mode), separators.
    const KEYS: &[&[u8]] = &[
        b"header_name_920450_host",
        b"HEADER_NAME_920450_Host",
        b"header_name_920450_",
        b"header_name_920450",
        b"xheader_name_920450_host",
        b"header-name_920450_host",
        b"",
        b"pc_hpp_a",
        b"PC_HPP_",
        "pc_hpp_\u{212a}".as_bytes(),
        "\u{212a}ey".as_bytes(),
        "\u{17f}core".as_bytes(),
        b"key",
        b"score",
        b"a\nheader_name_920450_x",
        b"\xffheader",
        b"multipart_headers_content_types",
        b"MULTIPART_HEADERS_CONTENT_TYPES_x",
        b"tx_multipart_headers_content_type",
        b"pbjs-a1",
        b"PBJS-",
        b"xpbjs-a",
        b"_ga",
        b"_GA_x1",
        b"x_ga_1",
        b"rfi_parameter_q",
        b"a_rfi_parameter_",
        b"ac",
        b"abc",
        b"abbc",
        b"xabd",
        b"\"$Version",
        b"$version",
    ];

    #[test]
    fn anchored_literals_take_the_fast_path_and_agree_with_the_regex() {
        for pat in ["^header_name_920450_", "^pc_hpp_", "^key", "^score", "^a-b_9"] {
            let k = KeyRegex::new(pat).unwrap();
            assert!(k.is_prefix(), "{pat}");
            for key in KEYS {
                assert_eq!(k.is_match(key), k.re.is_match(key), "{pat} on {key:?}");
            }
        }
    }

    /// Patterns opening with a literal test it first; the answer is always the regex's.
    #[test]
    fn leading_literals_agree_with_the_regex() {
        /// (pattern, the literal tested first and whether it is anchored)
        type Case<'a> = (&'a str, Option<(&'a [u8], bool)>);
        let cases: [Case; 12] = [
            ("MULTIPART_HEADERS_CONTENT_TYPES_*", Some((b"multipart_headers_content_types", false))),
            ("^pbjs-\\w+$", Some((b"pbjs-", true))),
            ("^_ga(?:_\\w+)?$", Some((b"_ga", true))),
            ("rfi_parameter_.*", Some((b"rfi_parameter_", false))),
            ("paramcounter_.*", Some((b"paramcounter_", false))),
            ("ab?c", Some((b"a", false))),
            ("^ab*", Some((b"a", true))),
            ("ab{2}c", Some((b"a", false))),
            ("abc|x", None),
            ("\\x22?\\x24Version", None),
            ("^a?", None),
            ("(?i)ab", None),
        ];
        for (pat, want) in cases {
            let k = KeyRegex::new(pat).unwrap();
            assert!(!k.is_prefix(), "{pat}");
            assert_eq!(k.leading_literal(), want, "{pat}");
            for key in KEYS {
                assert_eq!(k.is_match(key), k.re.is_match(key), "{pat} on {key:?}");
            }
        }
    }

    #[test]
    fn other_patterns_use_the_regex() {
        for pat in
            ["^", "header_name", "^a.b", "^a$", "^(a|b)", "^a*", "^é", "^a\\d", "multipart_headers_content_types_*"]
        {
            let k = KeyRegex::new(pat).unwrap();
            assert!(!k.is_prefix(), "{pat}");
        }
        assert!(KeyRegex::new("^a(").is_err());
    }
}
