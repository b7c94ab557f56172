//! `removeNulls`: deletes every NUL byte.

use std::borrow::Cow;

use super::util::find;

pub(crate) fn remove_nulls(input: &[u8]) -> Cow<'_, [u8]> {
    match find(input, |b| b == 0) {
        None => Cow::Borrowed(input),
        Some(start) => {
            let mut v = Vec::with_capacity(input.len());
            v.extend_from_slice(&input[..start]);
            v.extend(input[start..].iter().copied().filter(|&b| b != 0));
            Cow::Owned(v)
        }
    }
}
