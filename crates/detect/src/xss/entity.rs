//! HTML character references, decoded the way a browser does inside attribute values (`jav&#x09;ascript:`,
//! `&#106avascript:`, `javascript&colon;`): numeric references with or without `;`, and the named references
//! attackers use to hide URI schemes and punctuation. Output never grows beyond the input (every reference
//! is at least as long as what it stands for), so decoding is linear and bounded.
//!
//! Owns: reference decoding for XSS analysis. Must not decide anything.

/// Named references worth decoding: the ones that spell schemes, separators and quotes.
const NAMED: &[(&str, &str)] = &[
    ("colon", ":"),
    ("tab", "\t"),
    ("newline", "\n"),
    ("lpar", "("),
    ("rpar", ")"),
    ("quot", "\""),
    ("apos", "'"),
    ("amp", "&"),
    ("lt", "<"),
    ("gt", ">"),
    ("sol", "/"),
    ("bsol", "\\"),
    ("semi", ";"),
    ("comma", ","),
    ("period", "."),
    ("excl", "!"),
    ("num", "#"),
    ("equals", "="),
    ("plus", "+"),
    ("grave", "`"),
    ("lsqb", "["),
    ("rsqb", "]"),
    ("lcub", "{"),
    ("rcub", "}"),
    ("nbsp", " "),
];

/// Decodes character references in `input`.
pub fn decode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] == b'&' {
            if let Some((len, ch)) = reference(&input[i..]) {
                let mut buf = [0u8; 4];
                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                i += len;
                continue;
            }
        }
        out.push(input[i]);
        i += 1;
    }
    out
}

/// Parses one reference at the start of `s` (which begins with `&`): its length and the character.
fn reference(s: &[u8]) -> Option<(usize, char)> {
    if s.get(1) == Some(&b'#') {
        let hex = matches!(s.get(2), Some(b'x' | b'X'));
        let from = if hex { 3 } else { 2 };
        let mut value: u32 = 0;
        let mut i = from;
        // Browsers accept any number of leading zeros (`&#0000106`); cap the digits that count so the value
        // cannot overflow, and keep consuming the rest.
        while i < s.len() {
            let d = match (hex, s[i]) {
                (true, c) if c.is_ascii_hexdigit() => (c as char).to_digit(16)?,
                (false, c) if c.is_ascii_digit() => u32::from(c - b'0'),
                _ => break,
            };
            value = value.saturating_mul(if hex { 16 } else { 10 }).saturating_add(d).min(0x11_0000);
            i += 1;
        }
        if i == from {
            return None;
        }
        if s.get(i) == Some(&b';') {
            i += 1;
        }
        let ch = char::from_u32(value).filter(|&c| c != '\0').unwrap_or('\u{fffd}');
        return Some((i, ch));
    }
    let end = s.iter().skip(1).take(12).position(|&b| b == b';')? + 1;
    let name = std::str::from_utf8(&s[1..end]).ok()?;
    let (_, v) = NAMED.iter().find(|(n, _)| n.eq_ignore_ascii_case(name))?;
    Some((end + 1, v.chars().next()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_and_named() {
        assert_eq!(decode(b"jav&#x09;ascript&colon;"), b"jav\tascript:");
        assert_eq!(decode(b"&#106avascript:"), b"javascript:");
        assert_eq!(decode(b"&#0000106;&#X6A;"), b"jj");
        assert_eq!(decode(b"a &amp; b &unknown; &"), b"a & b &unknown; &");
        assert_eq!(decode(b"&#99999999999999;"), "\u{fffd}".as_bytes());
    }
}
