//! HTML character references: numeric (`&#60;`, `&#x3c;`, also without the `;` as browsers accept) and the
//! named ones attackers use to spell markup and separators. Unknown names are kept.

use super::push_char;

const NAMED: &[(&[u8], &[u8])] = &[
    (b"lt", b"<"),
    (b"gt", b">"),
    (b"amp", b"&"),
    (b"quot", b"\""),
    (b"apos", b"'"),
    (b"sol", b"/"),
    (b"bsol", b"\\"),
    (b"colon", b":"),
    (b"semi", b";"),
    (b"lpar", b"("),
    (b"rpar", b")"),
    (b"lbrace", b"{"),
    (b"rbrace", b"}"),
    (b"lcub", b"{"),
    (b"rcub", b"}"),
    (b"lsqb", b"["),
    (b"rsqb", b"]"),
    (b"dollar", b"$"),
    (b"period", b"."),
    (b"vert", b"|"),
    (b"grave", b"`"),
    (b"equals", b"="),
    (b"num", b"#"),
    (b"percnt", b"%"),
    (b"excl", b"!"),
    (b"tab", b"\t"),
    (b"newline", b"\n"),
    (b"nbsp", b" "),
];

/// `None` when nothing was decoded.
pub(crate) fn html_decode(input: &[u8]) -> Option<Vec<u8>> {
    let first = input.iter().position(|&b| b == b'&')?;
    let mut out = Vec::with_capacity(input.len());
    out.extend_from_slice(&input[..first]);
    let mut i = first;
    let mut changed = false;
    while i < input.len() {
        if input[i] == b'&' {
            if let Some(used) = reference_at(&input[i + 1..], &mut out) {
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

/// Decodes the reference after `&` into `out`; returns the bytes used after the `&`.
fn reference_at(s: &[u8], out: &mut Vec<u8>) -> Option<usize> {
    if s.first() == Some(&b'#') {
        let (hex, start) = if matches!(s.get(1), Some(b'x' | b'X')) { (true, 2) } else { (false, 1) };
        let digits = s[start..]
            .iter()
            .take(8)
            .take_while(|b| if hex { b.is_ascii_hexdigit() } else { b.is_ascii_digit() })
            .count();
        if digits == 0 {
            return None;
        }
        let text = std::str::from_utf8(&s[start..start + digits]).ok()?;
        let cp = u32::from_str_radix(text, if hex { 16 } else { 10 }).ok()?;
        let mut used = start + digits;
        if s.get(used) == Some(&b';') {
            used += 1;
        }
        // `&#0;` style references are at least 3 bytes after `&`, UTF-8 at most 4: guard the shrink rule.
        if used + 1 < 4 && cp >= 0x80 {
            return None;
        }
        push_char(out, cp);
        return Some(used);
    }
    let name_len = s.iter().take(10).take_while(|b| b.is_ascii_alphabetic()).count();
    if name_len == 0 || s.get(name_len) != Some(&b';') {
        return None;
    }
    let name = &s[..name_len];
    let (_, v) = NAMED.iter().find(|(n, _)| n.eq_ignore_ascii_case(name))?;
    out.extend_from_slice(v);
    Some(name_len + 1)
}
