//! `sqlHexDecode`: decodes MySQL hex literals: `0x` (or `0X`) followed by at least one pair of hex digits
//! becomes the bytes of those pairs (`0x414243` → `ABC`); an odd last digit is kept as text. `0x` without
//! a hex pair is kept as is.
//!
//! Like ModSecurity, the byte right after a decoded literal is copied without being examined (so in
//! `0x410x42` only the first literal is decoded). Unlike ModSecurity v3, the last byte of the input is not
//! lost and NUL bytes do not end the value (both are artefacts of its C-string loop).

use std::borrow::Cow;

use super::util::{is_hex, x2c, Out};

pub(crate) fn sql_hex_decode(input: &[u8]) -> Cow<'_, [u8]> {
    write(input, &mut Vec::new()).map_or(Cow::Borrowed(input), Out::finish)
}

/// [`sql_hex_decode`] appending its output to `out` (`Transform::apply_into`): whether the value changed.
pub(crate) fn sql_hex_decode_into(input: &[u8], out: &mut Vec<u8>) -> bool {
    write(input, out).is_some_and(Out::finish_into)
}

/// The output of [`sql_hex_decode`] when a byte it acts on occurs (`None`: the input unchanged).
fn write<'a, 'b>(input: &'a [u8], buf: &'b mut Vec<u8>) -> Option<Out<'a, 'b>> {
    let n = input.len();
    let hex_pair = |k: usize| k + 1 < n && is_hex(input[k]) && is_hex(input[k + 1]);
    let start =
        (0..n.saturating_sub(3)).find(|&k| input[k] == b'0' && input[k + 1] | 0x20 == b'x' && hex_pair(k + 2))?;
    let mut out = Out::new(input, start, buf);
    let mut i = start;
    while i < n {
        if input[i] == b'0' && i + 1 < n && input[i + 1] | 0x20 == b'x' && hex_pair(i + 2) {
            i += 2;
            while hex_pair(i) {
                out.push(x2c(input[i], input[i + 1]));
                i += 2;
            }
            if i < n {
                out.push(input[i]);
                i += 1;
            }
        } else {
            out.push(input[i]);
            i += 1;
        }
    }
    Some(out)
}
