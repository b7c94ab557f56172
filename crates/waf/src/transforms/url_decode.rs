//! `urlDecode`: `%XX` → byte and `+` → space. Invalid or truncated escapes are kept as they are
//! (ModSecurity's non-strict decoder: `%zz`, `%4` and a trailing `%` pass through unchanged).

use std::borrow::Cow;

use super::util::{find, is_hex, x2c, Out};

pub(crate) fn url_decode(input: &[u8]) -> Cow<'_, [u8]> {
    write(input, &mut Vec::new()).map_or(Cow::Borrowed(input), Out::finish)
}

/// [`url_decode`] appending its output to `out` (`Transform::apply_into`): whether the value changed.
pub(crate) fn url_decode_into(input: &[u8], out: &mut Vec<u8>) -> bool {
    write(input, out).is_some_and(Out::finish_into)
}

/// The output of [`url_decode`] when a byte it acts on occurs (`None`: the input unchanged).
fn write<'a, 'b>(input: &'a [u8], buf: &'b mut Vec<u8>) -> Option<Out<'a, 'b>> {
    let start = find(input, |b| b == b'%' || b == b'+')?;
    let mut out = Out::new(input, start, buf);
    let mut i = start;
    while i < input.len() {
        match input[i] {
            b'%' if i + 2 < input.len() && is_hex(input[i + 1]) && is_hex(input[i + 2]) => {
                out.push(x2c(input[i + 1], input[i + 2]));
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                // Copy the run up to the next `%` or `+` in one go.
                let run = find(&input[i + 1..], |b| b == b'%' || b == b'+').map_or(input.len(), |k| i + 1 + k);
                out.extend(&input[i..run]);
                i = run;
            }
        }
    }
    Some(out)
}
