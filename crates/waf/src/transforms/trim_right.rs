//! `trimRight`: removes trailing C-locale whitespace. Borrows the input.

use std::borrow::Cow;

use super::util::is_c_space;

pub(crate) fn trim_end(input: &[u8]) -> &[u8] {
    let end = input.iter().rposition(|&b| !is_c_space(b)).map_or(0, |k| k + 1);
    &input[..end]
}

pub(crate) fn trim_right(input: &[u8]) -> Cow<'_, [u8]> {
    Cow::Borrowed(trim_end(input))
}
