//! `htmlEntityDecode`: `&#DDD;`, `&#xHH;` (`x` or `X`) and the named entities `&quot; &amp; &lt; &gt;
//! &nbsp;` (names case-insensitive), each with the `;` optional. Numeric entities produce one byte: the
//! value's low byte (a value past `i64::MAX` saturates, as C `strtol` does, giving 0xFF). `&nbsp;` is byte
//! 0xA0. Other names, and `&`/`&#`/`&#x` without digits, are kept as they are. Like ModSecurity, only those
//! five names are known.

use std::borrow::Cow;

use super::util::{find, Out};

pub(crate) fn html_entity_decode(input: &[u8]) -> Cow<'_, [u8]> {
    write(input, &mut Vec::new()).map_or(Cow::Borrowed(input), Out::finish)
}

/// [`html_entity_decode`] appending its output to `out` (`Transform::apply_into`): whether the value changed.
pub(crate) fn html_entity_decode_into(input: &[u8], out: &mut Vec<u8>) -> bool {
    write(input, out).is_some_and(Out::finish_into)
}

/// The output of [`html_entity_decode`] when a byte it acts on occurs (`None`: the input unchanged).
fn write<'a, 'b>(input: &'a [u8], buf: &'b mut Vec<u8>) -> Option<Out<'a, 'b>> {
    let start = find(input, |b| b == b'&')?;
    let n = input.len();
    let mut out = Out::new(input, start, buf);
    let mut i = start;
    while i < n {
        if input[i] == b'&' && i + 1 < n {
            if let Some((byte, next)) = entity_at(input, i) {
                out.push(byte);
                i = if next < n && input[next] == b';' { next + 1 } else { next };
                continue;
            }
        }
        // Not an entity we decode: copy up to the next `&` as is (the bytes after a rejected `&` are never
        // the start of an entity themselves).
        let run = find(&input[i + 1..], |b| b == b'&').map_or(n, |k| i + 1 + k);
        out.extend(&input[i..run]);
        i = run;
    }
    Some(out)
}

/// Decodes the entity starting with the `&` at `amp`; returns the byte and the index just past its name or
/// digits (before any `;`).
fn entity_at(input: &[u8], amp: usize) -> Option<(u8, usize)> {
    let n = input.len();
    let mut j = amp + 1;
    if input[j] == b'#' {
        j += 1;
        if j >= n {
            return None;
        }
        let radix = if input[j] | 0x20 == b'x' {
            j += 1;
            if j >= n {
                return None;
            }
            16
        } else {
            10
        };
        let first = j;
        let mut value: i64 = 0;
        while j < n {
            let Some(d) = (input[j] as char).to_digit(radix) else { break };
            value = value.saturating_mul(i64::from(radix)).saturating_add(i64::from(d));
            j += 1;
        }
        (j > first).then_some((value as u8, j))
    } else {
        let first = j;
        while j < n && input[j].is_ascii_alphanumeric() {
            j += 1;
        }
        let name = &input[first..j];
        let byte = if name.eq_ignore_ascii_case(b"quot") {
            b'"'
        } else if name.eq_ignore_ascii_case(b"amp") {
            b'&'
        } else if name.eq_ignore_ascii_case(b"lt") {
            b'<'
        } else if name.eq_ignore_ascii_case(b"gt") {
            b'>'
        } else if name.eq_ignore_ascii_case(b"nbsp") {
            0xa0
        } else {
            return None;
        };
        Some((byte, j))
    }
}
