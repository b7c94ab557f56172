//! `urlEncode`: keeps ASCII letters, digits and `*`; space becomes `+`; every other byte `%hh` (lowercase
//! hex), as ModSecurity encodes.

use std::borrow::Cow;

use super::util::{find, Out, HEX_LOWER};

#[inline]
fn kept(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'*'
}

pub(crate) fn url_encode(input: &[u8]) -> Cow<'_, [u8]> {
    write(input, &mut Vec::new()).map_or(Cow::Borrowed(input), Out::finish)
}

/// [`url_encode`] appending its output to `out` (`Transform::apply_into`): whether the value changed.
pub(crate) fn url_encode_into(input: &[u8], out: &mut Vec<u8>) -> bool {
    write(input, out).is_some_and(Out::finish_into)
}

/// The output of [`url_encode`] when a byte it acts on occurs (`None`: the input unchanged).
fn write<'a, 'b>(input: &'a [u8], buf: &'b mut Vec<u8>) -> Option<Out<'a, 'b>> {
    let start = find(input, |b| !kept(b))?;
    let mut out = Out::new(input, start, buf);
    for &b in &input[start..] {
        if kept(b) {
            out.push(b);
        } else if b == b' ' {
            out.push(b'+');
        } else {
            out.extend(&[b'%', HEX_LOWER[usize::from(b >> 4)], HEX_LOWER[usize::from(b & 0xf)]]);
        }
    }
    Some(out)
}
