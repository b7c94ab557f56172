//! `base64Decode`: standard alphabet, padding optional. Decoding stops at the first `=` or any other
//! character outside the alphabet (what was decoded so far is the result, so garbage after a valid prefix
//! does not hide it); `\r` and `\n` are skipped. Leftover bits that do not make a whole byte are dropped.
//! Same results as Coraza's decoder.

use std::borrow::Cow;

use super::util::owned_unless_same;

/// Value of a base64 alphabet character, or `INVALID`.
pub(crate) const INVALID: u8 = 0xff;
pub(crate) const DECODE: [u8; 256] = {
    let mut t = [INVALID; 256];
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut k = 0;
    while k < 64 {
        t[alphabet[k] as usize] = k as u8;
        k += 1;
    }
    t
};

/// Accumulates 6-bit groups into bytes.
pub(crate) struct Sextets {
    out: Vec<u8>,
    acc: u32,
    n: u8,
}

impl Sextets {
    pub(crate) fn with_capacity(cap: usize) -> Self {
        Sextets { out: Vec::with_capacity(cap), acc: 0, n: 0 }
    }

    /// Decodes after the bytes `out` already holds (`finish` hands the vector back).
    fn appending_to(out: Vec<u8>) -> Self {
        Sextets { out, acc: 0, n: 0 }
    }

    #[inline]
    pub(crate) fn push(&mut self, v: u8) {
        self.acc = (self.acc << 6) | u32::from(v);
        self.n += 1;
        if self.n == 4 {
            self.out.extend_from_slice(&[(self.acc >> 16) as u8, (self.acc >> 8) as u8, self.acc as u8]);
            self.acc = 0;
            self.n = 0;
        }
    }

    pub(crate) fn finish(mut self) -> Vec<u8> {
        match self.n {
            2 => self.out.push((self.acc >> 4) as u8),
            3 => self.out.extend_from_slice(&[(self.acc >> 10) as u8, (self.acc >> 2) as u8]),
            _ => {}
        }
        self.out
    }
}

pub(crate) fn base64_decode(input: &[u8]) -> Cow<'_, [u8]> {
    let mut dec = Sextets::with_capacity(input.len() / 4 * 3 + 3);
    decode_into(input, &mut dec);
    owned_unless_same(input, dec.finish())
}

/// [`base64_decode`] appending its output to `out` (`Transform::apply_into`): `false`, with `out` as it was,
/// when the output equals the input.
pub(crate) fn base64_decode_into(input: &[u8], out: &mut Vec<u8>) -> bool {
    let base = out.len();
    out.reserve(input.len() / 4 * 3 + 3);
    let mut dec = Sextets::appending_to(std::mem::take(out));
    decode_into(input, &mut dec);
    *out = dec.finish();
    if out.get(base..) == Some(input) {
        out.truncate(base);
        return false;
    }
    true
}

/// The length of `base64Decode(input)`, without decoding: the alphabet characters before the first byte
/// that is neither one of them nor `\r`/`\n` (where [`decode_into`] stops) are `n` sextets, and every four
/// make three bytes, a trailing two one byte, a trailing three two (a lone sextet is dropped): ⌊6n/8⌋.
pub fn decoded_len(input: &[u8]) -> usize {
    let mut n = 0usize;
    for &b in input {
        if b == b'\r' || b == b'\n' {
            continue;
        }
        if DECODE[b as usize] == INVALID {
            break;
        }
        n += 1;
    }
    n * 3 / 4
}

fn decode_into(input: &[u8], dec: &mut Sextets) {
    for &b in input {
        if b == b'\r' || b == b'\n' {
            continue;
        }
        let v = DECODE[b as usize];
        if v == INVALID {
            break;
        }
        dec.push(v);
    }
}
