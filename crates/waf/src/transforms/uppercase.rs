//! `uppercase`: ASCII `a`–`z` to uppercase; other bytes unchanged.

use std::borrow::Cow;

use super::util::find;

pub(crate) fn uppercase(input: &[u8]) -> Cow<'_, [u8]> {
    match find(input, |b| b.is_ascii_lowercase()) {
        None => Cow::Borrowed(input),
        Some(start) => {
            let mut v = input.to_vec();
            v[start..].make_ascii_uppercase();
            Cow::Owned(v)
        }
    }
}
