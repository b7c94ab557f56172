//! `urlEncode`: keeps ASCII letters, digits and `*`; space becomes `+`; every other byte `%hh` (lowercase
//! hex), as ModSecurity encodes.

use std::borrow::Cow;

use super::util::{find, Out, HEX_LOWER};

#[inline]
fn kept(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'*'
}

pub(crate) fn url_encode(input: &[u8]) -> Cow<'_, [u8]> {
    let Some(start) = find(input, |b| !kept(b)) else {
        return Cow::Borrowed(input);
    };
    let mut out = Out::new(input, start);
    for &b in &input[start..] {
        if kept(b) {
            out.push(b);
        } else if b == b' ' {
            out.push(b'+');
        } else {
            out.extend(&[b'%', HEX_LOWER[usize::from(b >> 4)], HEX_LOWER[usize::from(b & 0xf)]]);
        }
    }
    out.finish()
}
