//! Compiling SecLang (PCRE-flavoured) regular expressions with the `regex` crate on bytes.
//!
//! ModSecurity compiles `@rx` without UTF mode, with DOTALL and DOLLAR_ENDONLY: `.` and negated classes
//! match any byte, `\w`/`\d`/`(?i)` are ASCII-only. We reproduce that with `unicode(false)` and
//! `dot_matches_new_line(true)`; patterns whose literal non-ASCII characters need Unicode mode fall back
//! to it. CRS v4 patterns are RE2-compatible, so no backtracking-only features are needed. Compiled sizes
//! are bounded so a hostile rule file cannot exhaust memory.

use regex::bytes::{Regex, RegexBuilder};

/// Upper bound on one compiled program (bytes).
pub const RX_SIZE_LIMIT: usize = 32 << 20;
/// Upper bound on one regex's lazy DFA cache (bytes, per thread that uses it).
pub const RX_DFA_LIMIT: usize = 4 << 20;

#[derive(Debug, thiserror::Error)]
pub enum RxError {
    #[error("{0}")]
    Regex(#[from] regex::Error),
    #[error("unterminated /regex/")]
    Unterminated,
}

/// Compiles a SecLang regex.
pub fn compile_rx(pattern: &str) -> Result<Regex, RxError> {
    compile_rx_mode(pattern).map(|(re, _)| re)
}

/// [`compile_rx`], also saying whether the regex needed Unicode mode (the prefilter's analysis must parse
/// the pattern in the mode it was compiled in: `(?i)k` matches U+212A only in Unicode mode).
pub fn compile_rx_mode(pattern: &str) -> Result<(Regex, bool), RxError> {
    let translated = translate_pcre(pattern);
    let build = |unicode: bool| {
        RegexBuilder::new(&translated)
            .unicode(unicode)
            .dot_matches_new_line(true)
            .size_limit(RX_SIZE_LIMIT)
            .dfa_size_limit(RX_DFA_LIMIT)
            .build()
    };
    match build(false) {
        Ok(r) => Ok((r, false)),
        Err(first) => build(true).map(|r| (r, true)).map_err(|_| RxError::Regex(first)),
    }
}

/// Rewrites the few PCRE spellings the `regex` crate spells differently: `\/` (harmless in PCRE), `\e`,
/// and literal non-ASCII characters, which PCRE without UTF mode sees as their UTF-8 bytes (inside a
/// class too: `[’]` is the set of bytes E2, 80, 99), so they become `\xHH` byte escapes.
pub(crate) fn translate_pcre(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    let mut chars = p.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('/') => out.push('/'),
                Some('e') => out.push_str("\\x1b"),
                // `\x{e2}`: regex-syntax reads braces as a code point (UTF-8 encoded); PCRE without UTF
                // mode means the byte
                Some('x') if chars.peek() == Some(&'{') => {
                    let rest: String = chars.clone().skip(1).take_while(|c| *c != '}').collect();
                    match u32::from_str_radix(&rest, 16) {
                        Ok(v) if v <= 0xff && !rest.is_empty() && rest.len() <= 8 => {
                            for _ in 0..rest.len() + 2 {
                                chars.next();
                            }
                            out.push_str(&format!("\\x{v:02X}"));
                        }
                        _ => out.push_str("\\x"),
                    }
                }
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push_str("\\\\"),
            }
        } else if c.is_ascii() {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("\\x{b:02X}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_semantics() {
        let r = compile_rx("a.b").unwrap();
        assert!(r.is_match(b"a\xffb"));
        assert!(r.is_match(b"a\nb"));
        let r = compile_rx(r"(?i)\w+\/x").unwrap();
        assert!(r.is_match(b"ABC/X"));
        let r = compile_rx(r"[\x80-\xff]").unwrap();
        assert!(r.is_match(b"\xc3"));
    }

    #[test]
    fn non_ascii_literals_are_bytes_like_pcre() {
        let r = compile_rx("[é]").unwrap();
        assert!(r.is_match("é".as_bytes()));
        assert!(r.is_match(b"\xc3"), "a class of UTF-8 bytes, as PCRE without UTF");
        let r = compile_rx("^(?:[’]){3}$").unwrap();
        assert!(r.is_match("’".as_bytes()));
    }

    #[test]
    fn bad_and_huge_regexes_error() {
        assert!(compile_rx("(").is_err());
        assert!(compile_rx("a{1000}{1000}{1000}").is_err());
    }
}

#[cfg(test)]
mod crs_byte_tests {
    use super::*;

    #[test]
    fn escaped_utf8_bytes_match_bytes() {
        let r = compile_rx(r"(?:\x{c2}\x{b4}|\x{e2}\x80[\x98\x99])").unwrap();
        assert!(r.is_match("’".as_bytes()));
        assert!(r.is_match("´".as_bytes()));
    }
}
