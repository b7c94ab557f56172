//! `uppercase`: ASCII `a`–`z` to uppercase; other bytes unchanged.

use std::borrow::Cow;

pub(crate) fn uppercase(input: &[u8]) -> Cow<'_, [u8]> {
    match input.iter().position(u8::is_ascii_lowercase) {
        None => Cow::Borrowed(input),
        Some(start) => {
            let mut v = input.to_vec();
            v[start..].make_ascii_uppercase();
            Cow::Owned(v)
        }
    }
}
