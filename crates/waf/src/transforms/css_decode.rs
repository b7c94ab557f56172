//! `cssDecode`: CSS 2.x escapes. A backslash followed by 1–6 hex digits yields one byte: one digit is its
//! value, more digits keep the last two; with 4 digits (or 5–6 digits whose extra leading digits are `0`)
//! full-width ASCII `FF01`–`FF5E` is mapped to ASCII. One whitespace character after a hex escape is
//! swallowed. `\` + newline is a line continuation (both removed); `\` + other character gives the
//! character; a trailing lone `\` is removed.

use std::borrow::Cow;

use super::url_decode_uni::full_width;
use super::util::{find, is_c_space, is_hex, x2c, Out};

pub(crate) fn css_decode(input: &[u8]) -> Cow<'_, [u8]> {
    write(input, &mut Vec::new()).map_or(Cow::Borrowed(input), Out::finish)
}

/// [`css_decode`] appending its output to `out` (`Transform::apply_into`): whether the value changed.
pub(crate) fn css_decode_into(input: &[u8], out: &mut Vec<u8>) -> bool {
    write(input, out).is_some_and(Out::finish_into)
}

/// The output of [`css_decode`] when a byte it acts on occurs (`None`: the input unchanged).
fn write<'a, 'b>(input: &'a [u8], buf: &'b mut Vec<u8>) -> Option<Out<'a, 'b>> {
    let start = find(input, |b| b == b'\\')?;
    let n = input.len();
    let mut out = Out::new(input, start, buf);
    let mut i = start;
    while i < n {
        if input[i] != b'\\' {
            out.push(input[i]);
            i += 1;
            continue;
        }
        i += 1; // the backslash itself is never copied
        if i >= n {
            break;
        }
        let mut j = 0;
        while j < 6 && i + j < n && is_hex(input[i + j]) {
            j += 1;
        }
        if j > 0 {
            let d = &input[i..i + j];
            let low = if j == 1 { x2c(b'0', d[0]) } else { x2c(d[j - 2], d[j - 1]) };
            let full_width_check = match j {
                4 => true,
                5 => d[0] == b'0',
                6 => d[0] == b'0' && d[1] == b'0',
                _ => false,
            };
            out.push(if full_width_check { full_width(d[j - 4], d[j - 3], low) } else { low });
            if i + j < n && is_c_space(input[i + j]) {
                j += 1;
            }
            i += j;
        } else if input[i] == b'\n' {
            i += 1;
        } else {
            out.push(input[i]);
            i += 1;
        }
    }
    Some(out)
}
