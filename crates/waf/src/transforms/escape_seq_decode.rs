//! `escapeSeqDecode`: ANSI C escapes `\a \b \f \n \r \t \v \\ \? \' \"`, `\xHH` (`x` or `X`, exactly two
//! digits) and `\O`–`\OOO` octal (value truncated to a byte). For any other escape, including an invalid
//! `\x`, the backslash is dropped and the next character kept (`\z` → `z`, `\x4` → `x4`). A trailing lone
//! backslash is kept.

use std::borrow::Cow;

use super::util::{find, is_hex, is_octal, x2c, Out};

pub(crate) fn escape_seq_decode(input: &[u8]) -> Cow<'_, [u8]> {
    write(input, &mut Vec::new()).map_or(Cow::Borrowed(input), Out::finish)
}

/// [`escape_seq_decode`] appending its output to `out` (`Transform::apply_into`): whether the value changed.
pub(crate) fn escape_seq_decode_into(input: &[u8], out: &mut Vec<u8>) -> bool {
    write(input, out).is_some_and(Out::finish_into)
}

/// The output of [`escape_seq_decode`] when a byte it acts on occurs (`None`: the input unchanged).
fn write<'a, 'b>(input: &'a [u8], buf: &'b mut Vec<u8>) -> Option<Out<'a, 'b>> {
    let start = find(input, |b| b == b'\\')?;
    let n = input.len();
    let mut out = Out::new(input, start, buf);
    let mut i = start;
    while i < n {
        if input[i] != b'\\' || i + 1 >= n {
            out.push(input[i]);
            i += 1;
            continue;
        }
        let e = input[i + 1];
        let simple = match e {
            b'a' => Some(0x07),
            b'b' => Some(0x08),
            b'f' => Some(0x0c),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            b'v' => Some(0x0b),
            b'\\' | b'?' | b'\'' | b'"' => Some(e),
            _ => None,
        };
        if let Some(c) = simple {
            out.push(c);
            i += 2;
        } else if (e | 0x20) == b'x' && i + 3 < n && is_hex(input[i + 2]) && is_hex(input[i + 3]) {
            out.push(x2c(input[i + 2], input[i + 3]));
            i += 4;
        } else if is_octal(e) {
            let mut digits = 1;
            while digits < 3 && i + 1 + digits < n && is_octal(input[i + 1 + digits]) {
                digits += 1;
            }
            let v = input[i + 1..i + 1 + digits].iter().fold(0u32, |acc, &d| acc * 8 + u32::from(d - b'0'));
            out.push(v as u8);
            i += 1 + digits;
        } else {
            out.push(e);
            i += 2;
        }
    }
    Some(out)
}
