//! `parityEven7bit`: sets or clears bit 7 of each byte from the parity of the whole byte (ModSecurity
//! computes it over all eight bits): odd parity → bit 7 set, even → cleared. For ASCII input this yields
//! even 7-bit parity.

use std::borrow::Cow;

pub(crate) fn parity_even_7bit(input: &[u8]) -> Cow<'_, [u8]> {
    super::parity_zero_7bit::map_bytes(input, |b| if b.count_ones() % 2 == 1 { b | 0x80 } else { b & 0x7f })
}
