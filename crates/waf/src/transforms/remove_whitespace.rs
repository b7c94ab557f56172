//! `removeWhitespace`: deletes C-locale whitespace (space, `\t \n \v \f \r`) and the byte 0xA0 (Latin-1
//! non-breaking space), as ModSecurity v3 does.

use std::borrow::Cow;

use super::util::{find, is_c_space};

#[inline]
fn is_removed(b: u8) -> bool {
    is_c_space(b) || b == 0xa0
}

pub(crate) fn remove_whitespace(input: &[u8]) -> Cow<'_, [u8]> {
    match find(input, is_removed) {
        None => Cow::Borrowed(input),
        Some(start) => {
            let mut v = Vec::with_capacity(input.len());
            write(input, start, &mut v);
            Cow::Owned(v)
        }
    }
}

/// [`remove_whitespace`] appending its output to `out` (`Transform::apply_into`): whether the value changed.
pub(crate) fn remove_whitespace_into(input: &[u8], out: &mut Vec<u8>) -> bool {
    find(input, is_removed).map(|start| write(input, start, out)).is_some()
}

/// Appends `input` without the bytes it removes, the first at `start`.
fn write(input: &[u8], start: usize, out: &mut Vec<u8>) {
    out.reserve(input.len());
    out.extend_from_slice(&input[..start]);
    out.extend(input[start..].iter().copied().filter(|&b| !is_removed(b)));
}
