//! `hexDecode`: each pair of characters becomes one byte; a trailing odd character is dropped. Like
//! ModSecurity, pairs are not validated: non-hex characters go through the same arithmetic as digits
//! (`x2c`), so the output for invalid input is deterministic but meaningless.

use std::borrow::Cow;

use super::util::{owned_unless_same, x2c};

pub(crate) fn hex_decode(input: &[u8]) -> Cow<'_, [u8]> {
    let out: Vec<u8> = input.chunks_exact(2).map(|p| x2c(p[0], p[1])).collect();
    owned_unless_same(input, out)
}
