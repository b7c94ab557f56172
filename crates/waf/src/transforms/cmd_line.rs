//! `cmdLine`: normalises a command line against evasion (`c^ommand /c`, `"c"md`, `cmd,/c`...):
//! - deletes `\ " ' ^`;
//! - turns each run of space, tab, CR, LF, `,` and `;` into one space;
//! - drops that space when the next kept character is `/` or `(`;
//! - lowercases ASCII.
//!
//! (Deleted characters do not end a run: `a ^ b` gives `a b`.)

use std::borrow::Cow;

use super::util::find_pair;

const KEEP: u8 = 0;
const DELETE: u8 = 1;
const SPACE: u8 = 2;
const SLASH_OR_PAREN: u8 = 3;
const UPPER: u8 = 4;

const CLASS: [u8; 256] = {
    let mut t = [KEEP; 256];
    t[b'\\' as usize] = DELETE;
    t[b'"' as usize] = DELETE;
    t[b'\'' as usize] = DELETE;
    t[b'^' as usize] = DELETE;
    t[b' ' as usize] = SPACE;
    t[b',' as usize] = SPACE;
    t[b';' as usize] = SPACE;
    t[b'\t' as usize] = SPACE;
    t[b'\r' as usize] = SPACE;
    t[b'\n' as usize] = SPACE;
    t[b'/' as usize] = SLASH_OR_PAREN;
    t[b'(' as usize] = SLASH_OR_PAREN;
    let mut c = b'A';
    while c <= b'Z' {
        t[c as usize] = UPPER;
        c += 1;
    }
    t
};

/// The first byte `cmdLine` changes or drops (or the space before one); `None` when it hands `input` back whole.
fn first_change(input: &[u8]) -> Option<usize> {
    // Plain bytes and single spaces followed by a plain byte come out unchanged: skip them in bulk.
    find_pair(input, |b, next| {
        b.is_ascii_uppercase()
            || matches!(b, b'\\' | b'"' | b'\'' | b'^' | b',' | b';' | b'\t' | b'\r' | b'\n')
            || (b == b' ' && matches!(next, b' ' | b'/' | b'('))
    })
}

pub(crate) fn cmd_line(input: &[u8]) -> Cow<'_, [u8]> {
    let Some(start) = first_change(input) else {
        return Cow::Borrowed(input);
    };
    Cow::Owned(write_from(input, start, Vec::with_capacity(input.len())))
}

/// [`cmd_line`] appending its output to `out` (`Transform::apply_into`): `false`, with `out` as it was, when
/// it hands `input` back whole.
pub(crate) fn cmd_line_into(input: &[u8], out: &mut Vec<u8>) -> bool {
    let Some(start) = first_change(input) else { return false };
    out.reserve(input.len());
    // the vector is moved in and back (no copy): pushing into a local vector compiles to a tighter loop
    // than pushing through a reference
    *out = write_from(input, start, std::mem::take(out));
    true
}

/// Appends the output to `out`, `start` being [`first_change`]'s answer.
fn write_from(input: &[u8], start: usize, mut out: Vec<u8>) -> Vec<u8> {
    // Every trigger changes the output (a byte is lowered, replaced or dropped, and nothing is ever
    // inserted), so write straight into the buffer.
    out.extend_from_slice(&input[..start]);
    // Only a plain space can precede `start`; it opened a run. (`out.pop()` below only ever drops a space
    // this call wrote: `in_space` is set by one.)
    let mut in_space = start > 0 && input[start - 1] == b' ';
    for &b in &input[start..] {
        match CLASS[b as usize] {
            DELETE => {}
            SPACE => {
                if !in_space {
                    out.push(b' ');
                    in_space = true;
                }
            }
            SLASH_OR_PAREN => {
                if in_space {
                    out.pop();
                }
                in_space = false;
                out.push(b);
            }
            _ => {
                out.push(b.to_ascii_lowercase());
                in_space = false;
            }
        }
    }
    out
}
