//! `jsDecode`: JavaScript escapes. `\uHHHH` keeps the low byte (full-width ASCII mapped to ASCII),
//! `\xHH`, `\OOO` octal (at most three digits, and only two when the first is `4`–`7` so the value fits a
//! byte), `\a \b \f \n \r \t \v`, and any other `\C` becomes `C`. A lone trailing backslash is kept.
//! Only lowercase `u` and `x` introduce escapes, as in ModSecurity.

use std::borrow::Cow;

use super::url_decode_uni::full_width;
use super::util::{find, is_hex, is_octal, x2c, Out};

pub(crate) fn js_decode(input: &[u8]) -> Cow<'_, [u8]> {
    write(input, &mut Vec::new()).map_or(Cow::Borrowed(input), Out::finish)
}

/// [`js_decode`] appending its output to `out` (`Transform::apply_into`): whether the value changed.
pub(crate) fn js_decode_into(input: &[u8], out: &mut Vec<u8>) -> bool {
    write(input, out).is_some_and(Out::finish_into)
}

/// The output of [`js_decode`] when a byte it acts on occurs (`None`: the input unchanged).
fn write<'a, 'b>(input: &'a [u8], buf: &'b mut Vec<u8>) -> Option<Out<'a, 'b>> {
    let start = find(input, |b| b == b'\\')?;
    let n = input.len();
    let at = |k: usize| input.get(k).copied().unwrap_or(0);
    let mut out = Out::new(input, start, buf);
    let mut i = start;
    while i < n {
        if input[i] != b'\\' {
            out.push(input[i]);
            i += 1;
            continue;
        }
        if i + 5 < n && at(i + 1) == b'u' && input[i + 2..i + 6].iter().all(|&h| is_hex(h)) {
            out.push(full_width(input[i + 2], input[i + 3], x2c(input[i + 4], input[i + 5])));
            i += 6;
        } else if i + 3 < n && at(i + 1) == b'x' && is_hex(at(i + 2)) && is_hex(at(i + 3)) {
            out.push(x2c(input[i + 2], input[i + 3]));
            i += 4;
        } else if i + 1 < n && is_octal(at(i + 1)) {
            let mut digits = 1;
            while digits < 3 && i + 1 + digits < n && is_octal(input[i + 1 + digits]) {
                digits += 1;
            }
            if digits == 3 && input[i + 1] > b'3' {
                digits = 2;
            }
            let v = input[i + 1..i + 1 + digits].iter().fold(0u32, |acc, &d| acc * 8 + u32::from(d - b'0'));
            out.push(v as u8);
            i += 1 + digits;
        } else if i + 1 < n {
            out.push(match input[i + 1] {
                b'a' => 0x07,
                b'b' => 0x08,
                b'f' => 0x0c,
                b'n' => b'\n',
                b'r' => b'\r',
                b't' => b'\t',
                b'v' => 0x0b,
                c => c,
            });
            i += 2;
        } else {
            out.push(b'\\');
            i += 1;
        }
    }
    Some(out)
}
