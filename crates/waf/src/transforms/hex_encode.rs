//! `hexEncode`: each byte as two lowercase hex digits.

use std::borrow::Cow;

use super::util::{owned_unless_same, HEX_LOWER};

pub(crate) fn hex_encode(input: &[u8]) -> Cow<'_, [u8]> {
    let mut out = Vec::with_capacity(input.len() * 2);
    for &b in input {
        out.push(HEX_LOWER[usize::from(b >> 4)]);
        out.push(HEX_LOWER[usize::from(b & 0xf)]);
    }
    owned_unless_same(input, out)
}
