//! `parityZero7bit`: clears bit 7 of every byte.

use std::borrow::Cow;

pub(crate) fn parity_zero_7bit(input: &[u8]) -> Cow<'_, [u8]> {
    map_bytes(input, |b| b & 0x7f)
}

/// Applies a byte-to-byte map, borrowing when no byte changes. Shared by the three parity transformations.
pub(crate) fn map_bytes(input: &[u8], f: impl Fn(u8) -> u8) -> Cow<'_, [u8]> {
    match input.iter().position(|&b| f(b) != b) {
        None => Cow::Borrowed(input),
        Some(start) => {
            let mut v = input.to_vec();
            v[start..].iter_mut().for_each(|b| *b = f(*b));
            Cow::Owned(v)
        }
    }
}
