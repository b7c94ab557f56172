//! `parityOdd7bit`: like `parityEven7bit` with the opposite parity: odd parity of the whole byte → bit 7
//! cleared, even → set.

use std::borrow::Cow;

pub(crate) fn parity_odd_7bit(input: &[u8]) -> Cow<'_, [u8]> {
    super::parity_zero_7bit::map_bytes(input, |b| if b.count_ones() % 2 == 1 { b & 0x7f } else { b | 0x80 })
}
