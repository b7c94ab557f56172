//! `lowercase`: ASCII `A`–`Z` to lowercase; every other byte (including non-ASCII) is left alone, as C
//! `tolower` does in the "C" locale.

use std::borrow::Cow;

use super::util::find;

pub(crate) fn lowercase(input: &[u8]) -> Cow<'_, [u8]> {
    match find(input, |b| b.is_ascii_uppercase()) {
        None => Cow::Borrowed(input),
        Some(start) => {
            let mut v = input.to_vec();
            v[start..].make_ascii_lowercase();
            Cow::Owned(v)
        }
    }
}
