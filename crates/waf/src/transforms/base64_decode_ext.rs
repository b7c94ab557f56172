//! `base64DecodeExt`: forgiving base64 decoding — every character outside the standard alphabet
//! (whitespace, `.`, `=`, `-`, ...) is skipped instead of ending the decoding. Leftover bits that do not
//! make a whole byte are dropped.

use std::borrow::Cow;

use super::base64_decode::{Sextets, DECODE, INVALID};
use super::util::owned_unless_same;

pub(crate) fn base64_decode_ext(input: &[u8]) -> Cow<'_, [u8]> {
    let mut dec = Sextets::with_capacity(input.len() / 4 * 3 + 3);
    for &b in input {
        let v = DECODE[b as usize];
        if v != INVALID {
            dec.push(v);
        }
    }
    owned_unless_same(input, dec.finish())
}
