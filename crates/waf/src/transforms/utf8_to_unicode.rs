//! `utf8toUnicode`: every well-formed UTF-8 multi-byte sequence becomes `%uHHHH` (lowercase hex, at least
//! four digits; five or six for supplementary planes). Reproduces ModSecurity's handling of bad input:
//! - a 2/3/4-byte lead whose continuation bytes are missing or wrong is dropped (the following bytes are
//!   then processed on their own), except that leads 0xF5–0xF7 are always emitted raw first;
//! - stray continuation bytes and 0xF8–0xFF are copied raw;
//! - after an overlong form or a surrogate (U+D800–DFFF) the lead byte is emitted raw after the `%u`;
//! - NUL bytes are dropped (ModSecurity's C-string handling loses them).

use std::borrow::Cow;

use super::util::{find, Out, HEX_LOWER};

pub(crate) fn utf8_to_unicode(input: &[u8]) -> Cow<'_, [u8]> {
    write(input, &mut Vec::new()).map_or(Cow::Borrowed(input), Out::finish)
}

/// [`utf8_to_unicode`] appending its output to `out` (`Transform::apply_into`): whether the value changed.
pub(crate) fn utf8_to_unicode_into(input: &[u8], out: &mut Vec<u8>) -> bool {
    write(input, out).is_some_and(Out::finish_into)
}

/// The output of [`utf8_to_unicode`] when a byte it acts on occurs (`None`: the input unchanged).
fn write<'a, 'b>(input: &'a [u8], buf: &'b mut Vec<u8>) -> Option<Out<'a, 'b>> {
    let start = find(input, |b| b == 0 || b >= 0x80)?;
    let n = input.len();
    // Past the end reads as NUL, which is never a continuation byte (ModSecurity reads the terminator).
    let at = |k: usize| input.get(k).copied().unwrap_or(0);
    let cont = |k: usize| at(k) & 0xc0 == 0x80;
    let mut out = Out::new(input, start, buf);
    let mut i = start;
    while i < n {
        let c = input[i];
        let mut seq_len = 0;
        let mut cp: u32 = 0;
        if c & 0x80 == 0 {
            if c != 0 {
                out.push(c);
            }
        } else if c & 0xe0 == 0xc0 {
            if cont(i + 1) {
                seq_len = 2;
                cp = (u32::from(c & 0x1f) << 6) | u32::from(at(i + 1) & 0x3f);
            }
        } else if c & 0xf0 == 0xe0 {
            // A 3-byte lead as the only byte of the input counts as truncated: same outcome, dropped.
            if cont(i + 1) && cont(i + 2) {
                seq_len = 3;
                cp = (u32::from(c & 0x0f) << 12) | (u32::from(at(i + 1) & 0x3f) << 6) | u32::from(at(i + 2) & 0x3f);
            }
        } else if c & 0xf8 == 0xf0 {
            if c >= 0xf5 {
                out.push(c);
            }
            if cont(i + 1) && cont(i + 2) && cont(i + 3) {
                seq_len = 4;
                cp = (u32::from(c & 0x07) << 18)
                    | (u32::from(at(i + 1) & 0x3f) << 12)
                    | (u32::from(at(i + 2) & 0x3f) << 6)
                    | u32::from(at(i + 3) & 0x3f);
            }
        } else {
            out.push(c);
        }
        if seq_len > 0 {
            push_code_point(&mut out, cp);
            let overlong = match seq_len {
                4 => cp < 0x1_0000,
                3 => cp < 0x800,
                _ => cp < 0x80,
            };
            if (0xd800..=0xdfff).contains(&cp) {
                out.push(c);
            }
            if overlong {
                out.push(c);
            }
            i += seq_len;
        } else {
            i += 1;
        }
    }
    Some(out)
}

fn push_code_point(out: &mut Out<'_, '_>, cp: u32) {
    out.push(b'%');
    out.push(b'u');
    let digits = (32 - cp.leading_zeros()).div_ceil(4).max(4);
    for k in (0..digits).rev() {
        out.push(HEX_LOWER[((cp >> (4 * k)) & 0xf) as usize]);
    }
}
