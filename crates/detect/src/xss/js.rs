//! Just enough JavaScript reading to tell an injected expression from prose: identifiers, and whether a
//! dangerous name is called, tagged (`` alert`1` ``) or assigned through (`document.location=`), possibly
//! after a property chain (`top['al'+'ert'](1)`, `window.location.href=`).
//!
//! Owns: the JS-harm question on a byte slice. Must not parse HTML.

use super::rules::js_sink;
use std::ops::Range;

fn ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b == b'$'
}

fn ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$'
}

/// Bound on a property chain (`a.b[c].d...`) so adversarial input stays linear.
const MAX_CHAIN: usize = 32;

/// Finds a dangerous name used as code in `s`: the range from the name to the call/assignment.
pub fn harmful_use(s: &[u8]) -> Option<Range<usize>> {
    let n = s.len();
    let mut i = 0;
    while i < n {
        if !ident_start(s[i]) || (i > 0 && ident_byte(s[i - 1])) {
            i += 1;
            continue;
        }
        let start = i;
        while i < n && ident_byte(s[i]) {
            i += 1;
        }
        let word = std::str::from_utf8(&s[start..i]).unwrap_or("");
        if !js_sink(word) {
            continue;
        }
        if let Some(end) = applied(s, i) {
            return Some(start..end);
        }
    }
    None
}

/// After a name ending at `i`: follows `.x`, `[...]` links and reports where a call `(`, a tag `` ` `` or an
/// assignment `=` happens.
fn applied(s: &[u8], mut i: usize) -> Option<usize> {
    let n = s.len();
    for _ in 0..MAX_CHAIN {
        while i < n && matches!(s[i], b' ' | b'\t' | b'\n' | b'\r') {
            i += 1;
        }
        match s.get(i)? {
            b'(' | b'`' => return Some(i + 1),
            b'=' if s.get(i + 1) != Some(&b'=') => return Some(i + 1),
            b'.' => {
                i += 1;
                while i < n && ident_byte(s[i]) {
                    i += 1;
                }
            }
            b'[' => {
                let close = s[i..].iter().take(256).position(|&b| b == b']')?;
                i += close + 1;
            }
            _ => return None,
        }
    }
    None
}

/// Does `s` look like code after a `javascript:` scheme: a dangerous use, or any call written as code
/// (`name(` with no space, as in `void(0)`), rather than words (`JavaScript: The Good Parts (2008)`)?
pub fn looks_like_code(s: &[u8]) -> bool {
    harmful_use(s).is_some() || s.windows(2).any(|w| ident_byte(w[0]) && (w[1] == b'(' || w[1] == b'`'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_and_assignments() {
        assert!(harmful_use(b"';alert(1)//").is_some());
        assert!(harmful_use(b"alert`1`").is_some());
        assert!(harmful_use(b"document.location='//x'").is_some());
        assert!(harmful_use(b"top['al'+'ert'](1)").is_some());
        assert!(harmful_use(b"see document.pdf").is_none());
        assert!(harmful_use(b"an alert for you").is_none());
        assert!(harmful_use(b"location == 'x'").is_none());
    }
}
