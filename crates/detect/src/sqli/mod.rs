//! SQL injection detection: a SQL tokenizer ([`token`]) and an analysis of the token stream ([`analyze`]) in
//! every context an application pastes a value into — as a bare value (`WHERE id = 5`), inside a
//! single-quoted string and inside a double-quoted string. An attack is a value that, in one of those contexts,
//! leaves its slot and forms SQL with an effect; keywords alone never decide (`I'd like to select the union of
//! both offers` passes, `1 OR 1=1` does not).
//!
//! Evasions are handled where they live: comments between keywords are whitespace to the tokenizer, MySQL
//! versioned comments are code, keyword case is ignored, and two extra readings cover filters that delete
//! inline comments (`UN/**/ION`) and values that arrive with `+` for spaces.
//!
//! Owns: SQL detection on one decoded value. Must not decode (see `crate::decode`) or know about HTTP.
//!
//! ```
//! let f = portcullis_detect::sqli::detect(b"-1' OR '1'='1").unwrap();
//! assert_eq!(f.signature, "s&sos");
//! assert!(portcullis_detect::sqli::detect(b"O'Reilly books").is_none());
//! ```

mod analyze;
mod keywords;
mod token;

use crate::{Class, Finding};
use std::borrow::Cow;
use token::{Kind, Op, Start, Token};

/// The contexts a value is tried in, with the words used in reasons.
const CONTEXTS: [(Start, &str); 3] = [
    (Start::InString(b'\''), "single-quoted string"),
    (Start::InString(b'"'), "double-quoted string"),
    (Start::Bare, "bare value"),
];

/// Signature length: enough tokens to tell the shape of the attack apart, short enough to log.
const SIGNATURE_TOKENS: usize = 5;

/// Detects SQL injection in one value. Returns the first context in which the value is an attack.
pub fn detect(input: &[u8]) -> Option<Finding> {
    detect_with(input, true)
}

/// [`detect`] without skipping one-token URL parts: the full analysis of every part, kept public so tests can
/// check that skipping never changes an answer (`tests/prefilter_necessary.rs`).
#[doc(hidden)]
pub fn detect_exhaustive(input: &[u8]) -> Option<Finding> {
    detect_with(input, false)
}

fn detect_with(input: &[u8], skip_single_tokens: bool) -> Option<Finding> {
    // A value without quotes is read as a bare value only, and there every report needs one of the tokens
    // [`no_bare_effect`] looks for; a URL part holds no byte its value lacks, so it is skipped with it.
    if skip_single_tokens && no_bare_effect(input) {
        return None;
    }
    detect_value(input).or_else(|| {
        url_parts(input).into_iter().find_map(|r| {
            // A part of letters, digits, `_`, `.` and single `-` (`api`, `items`, `42`) is one token: no
            // context makes one token an attack (the prefilter's argument for whole values).
            if skip_single_tokens && !crate::prefilter::sql_may_have_two_tokens(&input[r.clone()]) {
                return None;
            }
            let mut f = detect_value(&input[r.clone()])?;
            f.span = f.span.start + r.start..f.span.end + r.start;
            f.reason.push_str(" in a URL part");
            Some(f)
        })
    })
}

/// The parts of a URL or path an application reads one at a time: path segments (`/products/{id}` routes paste a
/// segment into a query) and query values (a `Referer` carries another page's parameters; a pair without `=` is
/// read whole, as `?1 OR 1=1` reaches the application). Empty unless the value
/// is a path (`/...`, not a `/*` comment) or an absolute http(s) URL; the whole value is not one of its parts.
pub(crate) fn url_parts(input: &[u8]) -> Vec<std::ops::Range<usize>> {
    let lower_starts = |p: &[u8]| input.len() >= p.len() && input[..p.len()].eq_ignore_ascii_case(p);
    let path_start = if input.first() == Some(&b'/') && input.get(1) != Some(&b'*') {
        0
    } else if lower_starts(b"http://") || lower_starts(b"https://") {
        // Skip the scheme and authority: the path starts at the first `/` after `//`.
        let auth = input.iter().position(|&c| c == b':').map_or(0, |p| p + 3);
        match input[auth.min(input.len())..].iter().position(|&c| c == b'/' || c == b'?') {
            Some(p) => auth + p,
            None => return Vec::new(),
        }
    } else {
        return Vec::new();
    };
    let query_at = input[path_start..].iter().position(|&c| c == b'?').map(|p| p + path_start);
    let path_end = query_at.unwrap_or(input.len());
    let mut out = Vec::new();
    let mut seg_start = path_start;
    for seg in input[path_start..path_end].split(|&c| c == b'/') {
        if !seg.is_empty() {
            out.push(seg_start..seg_start + seg.len());
        }
        seg_start += seg.len() + 1;
    }
    if let Some(q) = query_at {
        let query_end = input[q + 1..].iter().position(|&c| c == b'#').map_or(input.len(), |p| q + 1 + p);
        let mut start = q + 1;
        for pair in input[q + 1..query_end].split(|&c| c == b'&') {
            let value = pair.iter().position(|&c| c == b'=').map_or(0, |p| p + 1);
            if pair.len() > value {
                out.push(start + value..start + pair.len());
            }
            start += pair.len() + 1;
        }
    }
    out.retain(|r| r.len() < input.len());
    out
}

/// Keywords whose token can start an effect in a bare value (`analyze`: UNION SELECT, ORDER/GROUP BY probes,
/// INTO OUTFILE, WAITFOR, CASE WHEN, and the boolean operators).
const EFFECT_KEYWORDS: [&[u8]; 10] =
    [b"or", b"and", b"xor", b"union", b"order", b"group", b"having", b"into", b"waitfor", b"case"];

/// `true` when the value provably cannot be reported (`anchor-bench/1.0 (wrk)`, `/api/items/42`), so the
/// tokenizer need not run. Without a quote the value is read bare only (on its `+`-as-space reading too), and a
/// bare report needs one of: `;` (stacked query), `||`/`&&`, an `@@` variable, a keyword token of
/// [`EFFECT_KEYWORDS`], a call `name(` or a `(select`. Comments (`/*`, `#`, `--`) could hide what separates
/// tokens and backticks quote identifiers, so those bytes send the value to the analysis too. A keyword token
/// is a run of identifier bytes, whole, or after the digits (and exponent) of a number that starts with `.`
/// (`.5or`); a call's name is a run that is not all digits, before `(` with only spaces or `+` between.
fn no_bare_effect(v: &[u8]) -> bool {
    if v.iter().any(|&b| matches!(b, b'\'' | b'"' | b'`' | b';' | b'|' | b'&' | b'@' | b'#'))
        || v.windows(2).any(|w| w == b"/*" || w == b"--")
    {
        return false;
    }
    let ident = token::is_ident_byte;
    let mut i = 0;
    let mut last_run: Option<&[u8]> = None;
    // Asked at the first `(` only, so a megabyte of brackets stays linear.
    let mut has_select: Option<bool> = None;
    while i < v.len() {
        let b = v[i];
        if ident(b) {
            let start = i;
            while i < v.len() && ident(v[i]) {
                i += 1;
            }
            let run = &v[start..i];
            if keyword_in_run(run) {
                return false;
            }
            last_run = Some(run);
            continue;
        }
        if b == b'(' {
            let called = last_run.is_some_and(|r| !r.iter().all(u8::is_ascii_digit));
            if called || *has_select.get_or_insert_with(|| contains_ci(v, b"select")) {
                return false;
            }
        }
        // Spaces (and `+`, a space in the second reading) keep the run before them as the one a `(` follows.
        if !matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c | 0 | b'+') {
            last_run = None;
        }
        i += 1;
    }
    true
}

/// Could a keyword token of [`EFFECT_KEYWORDS`] come out of this run of identifier bytes: the whole run, or
/// what follows its leading digits and an exponent (`5or`, `5e5or` after a `.`)?
fn keyword_in_run(run: &[u8]) -> bool {
    let is_kw = |w: &[u8]| EFFECT_KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(w));
    if is_kw(run) {
        return true;
    }
    let digits = run.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 {
        return false;
    }
    let rest = &run[digits..];
    if is_kw(rest) {
        return true;
    }
    match rest.split_first() {
        Some((b'e' | b'E', exp)) => {
            let d = exp.iter().take_while(|b| b.is_ascii_digit()).count();
            d > 0 && is_kw(&exp[d..])
        }
        _ => false,
    }
}

fn contains_ci(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w.eq_ignore_ascii_case(needle))
}

/// [`detect`] on the value as one piece.
fn detect_value(input: &[u8]) -> Option<Finding> {
    if input.is_empty() {
        return None;
    }
    for (variant, note) in readings(input) {
        for (start, ctx) in CONTEXTS {
            // A string context only matters when the value can close the string.
            if let Start::InString(q) = start {
                if !variant.contains(&q) {
                    continue;
                }
            }
            let tokens = token::tokenize(&variant, start);
            let exact = matches!(variant, Cow::Borrowed(_));
            let span_of = |toks: &[Token], hit: &analyze::Hit| {
                if exact {
                    toks[hit.first].start as usize..toks[hit.last].end as usize
                } else {
                    0..input.len()
                }
            };
            // Checked on the full stream, before comments are dropped from it (in place, no copy).
            let nested = (start == Start::Bare)
                .then(|| analyze::nested_comment(&tokens, &variant).map(|h| (span_of(&tokens, &h), h)))
                .flatten();
            let sig = analyze::significant(tokens);
            let found = match analyze::analyze(&sig, &variant, start) {
                Some(hit) => Some((span_of(&sig, &hit), hit)),
                None => nested,
            };
            if let Some((span, hit)) = found {
                return Some(Finding {
                    class: Class::Sqli,
                    reason: format!("{} (as a {ctx}{note})", hit.reason),
                    span,
                    signature: signature(&sig, &variant),
                });
            }
        }
    }
    None
}

/// The value as the database may receive it: as is, with inline comments deleted (filters that strip
/// `/**/` turn `UN/**/ION` into `UNION`), and with `+` read as a space (form encoding left undecoded).
fn readings(input: &[u8]) -> Vec<(Cow<'_, [u8]>, &'static str)> {
    let mut out = vec![(Cow::Borrowed(input), "")];
    if input.windows(2).any(|w| w == b"/*") {
        let stripped = strip_block_comments(input);
        if stripped.len() != input.len() {
            out.push((Cow::Owned(stripped), ", inline comments removed"));
        }
    }
    if input.contains(&b'+') && !input.contains(&b' ') {
        let spaced: Vec<u8> = input.iter().map(|&b| if b == b'+' { b' ' } else { b }).collect();
        out.push((Cow::Owned(spaced), ", '+' read as space"));
    }
    out
}

/// Deletes `/* ... */` comments (not MySQL's versioned `/*! */`, which the tokenizer already reads as code).
fn strip_block_comments(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] == b'/' && input.get(i + 1) == Some(&b'*') && input.get(i + 2) != Some(&b'!') {
            match input[i + 2..].windows(2).position(|w| w == b"*/") {
                Some(p) => {
                    i += 2 + p + 2;
                    continue;
                }
                None => break,
            }
        }
        out.push(input[i]);
        i += 1;
    }
    out
}

/// A short fingerprint of the token stream, one letter per token, in libinjection's alphabet where it has
/// one: `s` string, `1` number, `n` name, `k` keyword, `U` UNION, `E` statement verb, `&` logic, `o` operator,
/// `f` function, `v` variable, `(` `)` `,` `;` `.`, `c` comment, `?` other.
fn signature(sig: &[Token], input: &[u8]) -> String {
    sig.iter()
        .enumerate()
        .take(SIGNATURE_TOKENS)
        .map(|(i, t)| {
            let called = sig.get(i + 1).is_some_and(|n| n.kind == Kind::LParen);
            match t.kind {
                Kind::Str { .. } => 's',
                Kind::Num => '1',
                Kind::Ident | Kind::Kw(_) if called && keywords::function(&input[t.range()]).is_some() => 'f',
                Kind::Ident => 'n',
                Kind::Kw(keywords::Kw::Union) => 'U',
                Kind::Kw(keywords::Kw::Or | keywords::Kw::And | keywords::Kw::Xor) => '&',
                Kind::Kw(keywords::Kw::Verb(_)) => 'E',
                Kind::Kw(_) => 'k',
                Kind::Var => 'v',
                Kind::Op(Op::Logic) => '&',
                Kind::Op(_) => 'o',
                Kind::LParen => '(',
                Kind::RParen => ')',
                Kind::Comma => ',',
                Kind::Semi => ';',
                Kind::Dot => '.',
                Kind::Comment { .. } => 'c',
                Kind::Other => '?',
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(s: &str) -> bool {
        detect(s.as_bytes()).is_some()
    }

    #[test]
    fn tautologies_in_every_context() {
        for a in ["1234 OR 1=1", "-1839' or '1'='1", "-1839\" or \"1\"=\"2", "x' OR 'a'<>'b", "x' || '1'='1"] {
            assert!(hit(a), "{a}");
        }
    }

    #[test]
    fn prose_passes() {
        for b in [
            "O'Reilly books",
            "I'd like to select the union of both offers",
            "Drop me a line; I'll update you",
            "rock 'n' roll",
            "1-2 hours",
            "don't",
            "\"quoted\" text",
            "3 or 4 days",
            "'#fff'",
        ] {
            assert!(!hit(b), "{b}: {:?}", detect(b.as_bytes()));
        }
    }

    #[test]
    fn reason_names_the_context_and_span_points_at_the_breakout() {
        let f = detect(b"admin' OR 1=1 --").unwrap();
        assert!(f.reason.contains("single-quoted"), "{}", f.reason);
        assert_eq!(&b"admin' OR 1=1 --"[f.span.clone()][..2], b"OR");
        assert_eq!(f.class, Class::Sqli);
    }

    #[test]
    fn evasions() {
        assert!(hit("1 UN/**/ION SEL/**/ECT 1,2"));
        assert!(hit("1/*!50000UNION*//*!50000SELECT*/1,2"));
        assert!(hit("1+union+all+select+1,2"));
        assert!(hit("1\nUnIoN\nSeLeCt\nnull"));
    }

    #[test]
    fn signature_is_a_token_fingerprint() {
        assert_eq!(detect(b"1 UNION SELECT 1").unwrap().signature, "1Uk1");
    }
}

#[cfg(test)]
mod url_parts_tests {
    use super::url_parts;

    fn parts(s: &str) -> Vec<&str> {
        url_parts(s.as_bytes()).into_iter().map(|r| &s[r]).collect()
    }

    #[test]
    fn segments_and_query_values() {
        assert_eq!(parts("/api/users/42 OR 1=1/profile"), ["api", "users", "42 OR 1=1", "profile"]);
        assert_eq!(parts("https://x.example/s?q=1 AND 2&flag&page=2#top"), ["s", "1 AND 2", "flag", "2"]);
        assert_eq!(parts("http://x.example"), Vec::<&str>::new());
        assert_eq!(parts("/*comment*/ 1"), Vec::<&str>::new());
        assert_eq!(parts("plain value"), Vec::<&str>::new());
        assert_eq!(parts("/single"), ["single"]);
    }
}
