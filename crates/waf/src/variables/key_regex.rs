//! `COLLECTION:/regex/` key selectors, with an exact fast path for the common form: an anchored literal
//! prefix (`TX:/^header_name_920450_/`, `TX:/^pc_hpp_/`), which is a case-insensitive `starts_with`
//! instead of a regex search per key.
//!
//! Why the fast path is exact: key regexes are compiled as `(?i:PATTERN)` by `regex_util::compile_rx_mode`,
//! in ASCII mode (`unicode(false)`) unless the pattern needs Unicode; the fast path is taken only in ASCII
//! mode, where `(?i)` folds ASCII letters only, and only for a pattern `^` + letters, digits, `_` and `-`
//! (none of them a metacharacter). `^` without multi-line mode is the start of the key, so the regex matches
//! exactly the keys whose first bytes equal the literal up to ASCII case. Anything else uses the regex.

use crate::regex_util::{compile_rx_mode, RxError};
use regex::bytes::Regex;

/// A compiled key regex.
#[derive(Debug, Clone)]
pub struct KeyRegex {
    re: Regex,
    /// The literal after `^` when the whole pattern is an anchored literal (ASCII mode only).
    prefix: Option<Vec<u8>>,
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
        Ok(KeyRegex { re, prefix })
    }

    /// Does `key` match?
    pub fn is_match(&self, key: &[u8]) -> bool {
        match &self.prefix {
            Some(p) => key.get(..p.len()).is_some_and(|head| head.eq_ignore_ascii_case(p)),
            None => self.re.is_match(key),
        }
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
