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

/// [`lowercase`] appending its output to `out` (`Transform::apply_into`): `false`, with `out` as it was, when
/// `input` holds no uppercase letter. CRS lowers every header name (920450) and several header values, most of
/// which hold one: no vector per call.
pub(crate) fn lowercase_into(input: &[u8], out: &mut Vec<u8>) -> bool {
    let Some(start) = find(input, |b| b.is_ascii_uppercase()) else {
        return false;
    };
    let at = out.len();
    out.extend_from_slice(input);
    out[at + start..].make_ascii_lowercase();
    true
}
