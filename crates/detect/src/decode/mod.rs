//! The decoders attackers use to hide payloads, bounded in work and output: [`deep`] repeats URL decoding
//! (`%XX`, `%uXXXX`), HTML entity decoding, JS/Unicode escapes (`\x41`, `\u0041`, `\u{41}`) and overlong
//! UTF-8 normalisation until nothing changes (at most [`MAX_ROUNDS`] rounds); [`base64_payload`] decodes a
//! value only when it looks like base64 and decodes to text; [`json_unescape`] undoes JSON string escapes.
//!
//! Every decoder here only ever shrinks its input (an escape is always at least as long as what it stands
//! for), so the output of [`deep`] is never longer than its input and the total work is at most
//! `MAX_ROUNDS × input length`.
//!
//! Owns: byte-level decoding. Must not touch: detection decisions (the detectors call these).

use std::borrow::Cow;

pub(crate) mod base64;
mod html;
pub(crate) mod json;
mod overlong;
mod url;

pub use base64::base64_payload;
pub use json::json_unescape;

/// Most rounds [`deep`] runs: double encoding is common, triple rare, more is noise.
pub const MAX_ROUNDS: usize = 4;

/// Inputs longer than this are decoded only once per decoder (one round): the payloads that need several
/// rounds are short, and a multi-megabyte body should not pay four passes.
pub const MAX_DEEP_LEN: usize = 1 << 20;

/// One round of every decoder, in the order a browser/app stack peels them: URL, HTML entities, JS escapes,
/// overlong UTF-8. Borrows when nothing changed.
pub fn round(input: &[u8]) -> Cow<'_, [u8]> {
    let mut cur: Cow<'_, [u8]> = Cow::Borrowed(input);
    for f in [url::url_decode_uni as fn(&[u8]) -> Option<Vec<u8>>, html::html_decode, js_unescape, overlong::normalize]
    {
        if let Some(v) = f(&cur) {
            cur = Cow::Owned(v);
        }
    }
    cur
}

/// The bytes every decoder of [`deep`] starts at (`%`, `&`, `\`, the overlong UTF-8 lead bytes): a value
/// holding none of them is its own deep decoding (the WAF's `t:deepDecode` trigger set reads this list).
pub const DEEP_TRIGGERS: &[u8] = b"%&\\\xc0\xc1\xe0";

/// Decodes repeatedly until a fixpoint or [`MAX_ROUNDS`]. Never longer than `input`.
///
/// ```
/// use portcullis_detect::decode::deep;
/// assert_eq!(&*deep(b"%252e%252e%252fetc"), b"../etc");
/// assert_eq!(&*deep(b"&#x3c;script&#62;"), b"<script>");
/// assert_eq!(&*deep(b"\\u0024{jndi}"), b"${jndi}");
/// ```
pub fn deep(input: &[u8]) -> Cow<'_, [u8]> {
    // One scan for the bytes every decoder starts at instead of four scans that find nothing: most values
    // carry no escape at all. A table lookup per byte, as every detector's base64 layer and the
    // `t:deepDecode` transformation run this scan on every value.
    static ESCAPE_START: [bool; 256] = {
        let mut t = [false; 256];
        let mut i = 0;
        while i < DEEP_TRIGGERS.len() {
            t[DEEP_TRIGGERS[i] as usize] = true;
            i += 1;
        }
        t
    };
    if !input.iter().any(|&b| ESCAPE_START[b as usize]) {
        return Cow::Borrowed(input);
    }
    let rounds = if input.len() > MAX_DEEP_LEN { 1 } else { MAX_ROUNDS };
    let mut cur: Cow<'_, [u8]> = Cow::Borrowed(input);
    for _ in 0..rounds {
        match round(&cur) {
            Cow::Borrowed(_) => break,
            Cow::Owned(v) => cur = Cow::Owned(v),
        }
    }
    cur
}

/// Percent-decoding only (`%XX` and `%uXXXX`, no `+`), for detectors that look at hosts or names.
pub fn url_decode(input: &[u8]) -> Cow<'_, [u8]> {
    match url::url_decode_uni(input) {
        Some(v) => Cow::Owned(v),
        None => Cow::Borrowed(input),
    }
}

/// Runs `detect` on `input`, then — when the value, or its [`deep`] decoding, is base64 of text
/// ([`base64_payload`]) — on the decoded text, so payloads hidden in base64 parameters, cookies and headers are seen. The finding's reason says
/// it was decoded; its span covers the whole (encoded) input.
pub fn or_base64(input: &[u8], detect: impl Fn(&[u8]) -> Option<crate::Finding>) -> Option<crate::Finding> {
    if let Some(f) = detect(input) {
        return Some(f);
    }
    // Base64 of the value, or of its deep decoding (`eyJ...%3D%3D` in a cookie): the second is what a rule
    // chain `t:deepDecode,t:base64IfEncoded` in front of the detector would have produced.
    let decoded = base64_payload(input).or_else(|| {
        let d = deep(input);
        matches!(d, Cow::Owned(_)).then(|| base64_payload(&d)).flatten()
    })?;
    let mut f = detect(&decoded)?;
    f.reason.push_str(" (base64-decoded)");
    f.span = 0..input.len();
    Some(f)
}

/// `analyse` on the value, then on its [`deep`] decoding when that differs: the decoding layer the detectors
/// that parse one token or one expression share.
pub fn or_deep(input: &[u8], analyse: impl Fn(&[u8]) -> Option<crate::Finding>) -> Option<crate::Finding> {
    analyse(input).or_else(|| {
        let d = deep(input);
        (*d != *input).then(|| analyse(&d)).flatten()
    })
}

/// JS / Unicode escapes: `\xHH`, `\uHHHH`, `\u{H...}`; anything else is kept.
fn js_unescape(input: &[u8]) -> Option<Vec<u8>> {
    let first = input.windows(2).position(|w| w[0] == b'\\' && (w[1] == b'x' || w[1] == b'u'))?;
    let mut out = Vec::with_capacity(input.len());
    out.extend_from_slice(&input[..first]);
    let mut i = first;
    let mut changed = false;
    while i < input.len() {
        if input[i] == b'\\' && i + 1 < input.len() {
            if let Some((cp, used)) = js_escape_at(&input[i + 1..]) {
                push_char(&mut out, cp);
                i += 1 + used;
                changed = true;
                continue;
            }
        }
        out.push(input[i]);
        i += 1;
    }
    changed.then_some(out)
}

/// Parses the escape after a backslash: returns the code point and bytes used (not counting the `\`).
fn js_escape_at(s: &[u8]) -> Option<(u32, usize)> {
    match s.first()? {
        b'x' => Some((hex_value(s.get(1..3)?)?, 3)),
        b'u' if s.get(1) == Some(&b'{') => {
            let close = s.iter().take(10).position(|&b| b == b'}')?;
            let digits = &s[2..close];
            if digits.is_empty() || digits.len() > 6 {
                return None;
            }
            Some((hex_value(digits)?, close + 1))
        }
        b'u' => Some((hex_value(s.get(1..5)?)?, 5)),
        _ => None,
    }
}

pub(crate) fn hex_value(d: &[u8]) -> Option<u32> {
    let mut v: u32 = 0;
    for &b in d {
        v = v.checked_mul(16)? + (b as char).to_digit(16)?;
    }
    Some(v)
}

/// Appends a code point as UTF-8; invalid ones (surrogates, > U+10FFFF) become U+FFFD. A code point is
/// never longer in UTF-8 than the escape that produced it (`\uHHHH` is 6 bytes, UTF-8 at most 3).
pub(crate) fn push_char(out: &mut Vec<u8>, cp: u32) {
    let c = char::from_u32(cp).unwrap_or('\u{FFFD}');
    let mut buf = [0u8; 4];
    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn layered_encodings() {
        assert_eq!(&*deep(b"%25252e%25252e%25252f"), b"../");
        assert_eq!(&*deep(b"%c0%ae%c0%ae%c0%af"), b"../");
        assert_eq!(&*deep(b"%e0%80%ae%e0%80%ae/"), b"../");
        assert_eq!(&*deep(b"%u002e%u002e%u2215"), "..\u{2215}".as_bytes());
        assert_eq!(&*deep(b"&lt;!DOCTYPE&gt;"), b"<!DOCTYPE>");
        assert_eq!(&*deep(b"\\u{24}\\x7b"), b"${");
        assert_eq!(&*deep(b"%26%2360%3B"), b"<");
    }

    #[test]
    fn benign_is_borrowed() {
        for s in [&b"hello world"[..], b"O'Reilly & sons", b"100% sure", b"C:\\Users\\x", b"caf\xc3\xa9"] {
            assert!(matches!(deep(s), Cow::Borrowed(_)), "{:?}", String::from_utf8_lossy(s));
        }
    }

    proptest! {
        #[test]
        fn never_longer_and_idempotent_at_fixpoint(v in proptest::collection::vec(any::<u8>(), 0..300)) {
            let d = deep(&v);
            prop_assert!(d.len() <= v.len());
            if matches!(round(&d), Cow::Borrowed(_)) {
                prop_assert_eq!(&*deep(&d), &*d);
            }
        }

        #[test]
        fn escape_heavy_never_longer(s in "([%&#;\\\\ux0-9a-fA-F{}.c]){0,200}") {
            let d = deep(s.as_bytes());
            prop_assert!(d.len() <= s.len());
            let _ = base64_payload(s.as_bytes());
            let _ = json_unescape(s.as_bytes());
        }
    }
}
