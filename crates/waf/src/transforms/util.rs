//! Byte-level helpers shared by the transformations: C-locale character classes, ModSecurity's lenient hex
//! pair decoder, and `Out`, a copy-on-write output buffer that stays borrowed while the output is still a
//! prefix of the input.

use std::borrow::Cow;

/// C `isspace` in the "C" locale: space, `\t`, `\n`, `\v`, `\f`, `\r`.
#[inline]
pub(crate) fn is_c_space(b: u8) -> bool {
    // `\t`..=`\r` are 9..=13; written branch-free so block scans vectorise.
    (b == b' ') | (b.wrapping_sub(b'\t') < 5)
}

#[inline]
pub(crate) fn is_hex(b: u8) -> bool {
    b.is_ascii_hexdigit()
}

#[inline]
pub(crate) fn is_octal(b: u8) -> bool {
    matches!(b, b'0'..=b'7')
}

/// Value of one hex digit, with ModSecurity's arithmetic for non-digits (it never validates: `hexDecode`
/// feeds it arbitrary bytes, and the wrapped result is what ModSecurity produces).
#[inline]
fn nibble(c: u8) -> u8 {
    if c >= b'A' {
        (c & 0xdf).wrapping_sub(b'A').wrapping_add(10)
    } else {
        c.wrapping_sub(b'0')
    }
}

/// Two hex characters to one byte (ModSecurity `x2c`).
#[inline]
pub(crate) fn x2c(hi: u8, lo: u8) -> u8 {
    nibble(hi).wrapping_mul(16).wrapping_add(nibble(lo))
}

/// Lowercase hex digits, as `c2x`/`%x` print them.
pub(crate) const HEX_LOWER: &[u8; 16] = b"0123456789abcdef";

/// Output buffer of a transformation. While everything pushed equals the input at the same offset, nothing
/// is written; the first differing byte appends the agreed prefix to the buffer and continues there.
/// `finish` hands back `Cow::Borrowed` when the output is the input (or a prefix of it), `finish_into` says
/// whether the output differs from the input and leaves it appended to the buffer (the step's writer for
/// `Transform::apply_into`: the caller's buffer, no vector of its own).
pub(crate) struct Out<'a, 'b> {
    src: &'a [u8],
    /// Length of the output while it is still `src[..same]`.
    same: usize,
    /// Has the output left `src`? (Then it is in `buf`, after what `buf` held before.)
    spilled: bool,
    buf: &'b mut Vec<u8>,
}

impl<'a, 'b> Out<'a, 'b> {
    /// An output that already holds `src[..prefix]` (the part a fast scan found unchanged), written after
    /// `buf`'s contents once it differs from `src`.
    #[inline]
    pub(crate) fn new(src: &'a [u8], prefix: usize, buf: &'b mut Vec<u8>) -> Self {
        Out { src, same: prefix.min(src.len()), spilled: false, buf }
    }

    #[inline]
    pub(crate) fn push(&mut self, b: u8) {
        if self.spilled {
            self.buf.push(b);
        } else if self.src.get(self.same) == Some(&b) {
            self.same += 1;
        } else {
            self.spill(b);
        }
    }

    #[cold]
    fn spill(&mut self, b: u8) {
        self.buf.reserve(self.src.len().max(self.same + 16));
        self.buf.extend_from_slice(&self.src[..self.same]);
        self.buf.push(b);
        self.spilled = true;
    }

    #[inline]
    pub(crate) fn extend(&mut self, bytes: &[u8]) {
        if self.spilled {
            self.buf.extend_from_slice(bytes);
        } else if self.src.get(self.same..self.same + bytes.len()) == Some(bytes) {
            self.same += bytes.len();
        } else {
            bytes.iter().for_each(|&b| self.push(b));
        }
    }

    /// The output: borrowed from `src` while it is a prefix of it, else the buffer's contents (taken out of
    /// it; the buffer should have been empty).
    pub(crate) fn finish(self) -> Cow<'a, [u8]> {
        if self.spilled {
            Cow::Owned(std::mem::take(self.buf))
        } else {
            Cow::Borrowed(&self.src[..self.same])
        }
    }

    /// Appends the output to the buffer unless it is `src` whole; returns whether it was appended (what
    /// `Transform::apply_into` returns: `finish` would not have borrowed `src` whole).
    pub(crate) fn finish_into(self) -> bool {
        if self.spilled {
            true
        } else if self.same == self.src.len() {
            false
        } else {
            self.buf.extend_from_slice(&self.src[..self.same]);
            true
        }
    }
}

/// `Cow::Borrowed(input)` when `out` equals it, else `Cow::Owned(out)` — for transformations that always
/// build a fresh value (digests, encoders).
pub(crate) fn owned_unless_same(input: &[u8], out: Vec<u8>) -> Cow<'_, [u8]> {
    if out == input {
        Cow::Borrowed(input)
    } else {
        Cow::Owned(out)
    }
}

/// Index of the first byte matching `pred`. Scans 32-byte blocks with a branch-free OR so the compiler can
/// vectorise the benign case (no match), then locates the match inside the block. `pred` should be a few
/// comparisons.
#[inline]
pub(crate) fn find(input: &[u8], pred: impl Fn(u8) -> bool) -> Option<usize> {
    const BLOCK: usize = 32;
    let mut blocks = input.chunks_exact(BLOCK);
    let mut base = 0;
    for block in &mut blocks {
        if block.iter().fold(false, |acc, &b| acc | pred(b)) {
            return block.iter().position(|&b| pred(b)).map(|p| base + p);
        }
        base += BLOCK;
    }
    blocks.remainder().iter().position(|&b| pred(b)).map(|p| base + p)
}

/// Like `find`, for a predicate over a byte and the one after it (`0` after the last byte).
#[inline]
pub(crate) fn find_pair(input: &[u8], pred: impl Fn(u8, u8) -> bool) -> Option<usize> {
    const BLOCK: usize = 32;
    let n = input.len();
    let mut base = 0;
    while base + BLOCK < n {
        let cur = &input[base..base + BLOCK];
        let next = &input[base + 1..base + BLOCK + 1];
        if cur.iter().zip(next).fold(false, |acc, (&b, &nb)| acc | pred(b, nb)) {
            break;
        }
        base += BLOCK;
    }
    (base..n).find(|&k| pred(input[k], input.get(k + 1).copied().unwrap_or(0)))
}
