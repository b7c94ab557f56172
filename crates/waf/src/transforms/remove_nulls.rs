//! `removeNulls`: deletes every NUL byte.

use std::borrow::Cow;

use super::util::find;

pub(crate) fn remove_nulls(input: &[u8]) -> Cow<'_, [u8]> {
    match find(input, |b| b == 0) {
        None => Cow::Borrowed(input),
        Some(start) => {
            let mut v = Vec::with_capacity(input.len());
            write(input, start, &mut v);
            Cow::Owned(v)
        }
    }
}

/// [`remove_nulls`] appending its output to `out` (`Transform::apply_into`): whether the value changed.
pub(crate) fn remove_nulls_into(input: &[u8], out: &mut Vec<u8>) -> bool {
    find(input, |b| b == 0).map(|start| write(input, start, out)).is_some()
}

/// Appends `input` without its NULs, the first at `start`.
fn write(input: &[u8], start: usize, out: &mut Vec<u8>) {
    out.reserve(input.len());
    out.extend_from_slice(&input[..start]);
    out.extend(input[start..].iter().copied().filter(|&b| b != 0));
}
