//! `urlDecodeUni`: `urlDecode` plus the IIS `%uHHHH` form. `%uHHHH` first goes through the code page 20127
//! best-fit table (`%u201c` → `"`, `%u00e9` → `e`; what ModSecurity does with the CRS-recommended
//! `SecUnicodeMapFile unicode.mapping 20127`, and what Coraza always does); otherwise it keeps only the low
//! byte, except that full-width ASCII `%uFF01`–`%uFF5E` maps to `!`–`~` (low byte + 0x20). An invalid or
//! truncated `%u` keeps both `%` and `u` and decoding resumes right after them.

use std::borrow::Cow;

use super::unicode_best_fit::best_fit;
use super::util::{find, is_hex, x2c, Out};

pub(crate) fn url_decode_uni(input: &[u8]) -> Cow<'_, [u8]> {
    write(input, &mut Vec::new()).map_or(Cow::Borrowed(input), Out::finish)
}

/// [`url_decode_uni`] appending its output to `out` (`Transform::apply_into`): whether the value changed.
pub(crate) fn url_decode_uni_into(input: &[u8], out: &mut Vec<u8>) -> bool {
    write(input, out).is_some_and(Out::finish_into)
}

/// The output of [`url_decode_uni`] when a byte it acts on occurs (`None`: the input unchanged).
fn write<'a, 'b>(input: &'a [u8], buf: &'b mut Vec<u8>) -> Option<Out<'a, 'b>> {
    let start = find(input, |b| b == b'%' || b == b'+')?;
    let n = input.len();
    let mut out = Out::new(input, start, buf);
    let mut i = start;
    while i < n {
        let b = input[i];
        if b == b'%' {
            if i + 1 < n && (input[i + 1] | 0x20) == b'u' {
                if i + 5 < n && input[i + 2..i + 6].iter().all(|&h| is_hex(h)) {
                    let cp = u16::from_be_bytes([x2c(input[i + 2], input[i + 3]), x2c(input[i + 4], input[i + 5])]);
                    let low = x2c(input[i + 4], input[i + 5]);
                    out.push(best_fit(cp).unwrap_or_else(|| full_width(input[i + 2], input[i + 3], low)));
                    i += 6;
                } else {
                    out.push(input[i]);
                    out.push(input[i + 1]);
                    i += 2;
                }
            } else if i + 2 < n && is_hex(input[i + 1]) && is_hex(input[i + 2]) {
                out.push(x2c(input[i + 1], input[i + 2]));
                i += 3;
            } else {
                out.push(b'%');
                i += 1;
            }
        } else if b == b'+' {
            out.push(b' ');
            i += 1;
        } else {
            // Copy the run up to the next `%` or `+` in one go.
            let run = find(&input[i + 1..], |b| b == b'%' || b == b'+').map_or(n, |k| i + 1 + k);
            out.extend(&input[i..run]);
            i = run;
        }
    }
    Some(out)
}

/// Low byte of a `\uHHHH`/`%uHHHH` code unit whose high byte is the hex pair `h1 h2`: full-width ASCII
/// (U+FF01..U+FF5E) becomes its ASCII twin. Shared with `jsDecode` and `cssDecode`.
#[inline]
pub(crate) fn full_width(h1: u8, h2: u8, low: u8) -> u8 {
    if low > 0 && low < 0x5f && (h1 | 0x20) == b'f' && (h2 | 0x20) == b'f' {
        low + 0x20
    } else {
        low
    }
}
