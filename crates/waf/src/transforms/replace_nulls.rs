//! `replaceNulls`: every NUL byte becomes a space.

use std::borrow::Cow;

use super::util::find;

pub(crate) fn replace_nulls(input: &[u8]) -> Cow<'_, [u8]> {
    match find(input, |b| b == 0) {
        None => Cow::Borrowed(input),
        Some(start) => {
            let mut v = input.to_vec();
            v[start..].iter_mut().filter(|b| **b == 0).for_each(|b| *b = b' ');
            Cow::Owned(v)
        }
    }
}
