//! `trimLeft`: removes leading C-locale whitespace. Borrows the input.

use std::borrow::Cow;

use super::util::is_c_space;

pub(crate) fn trim_start(input: &[u8]) -> &[u8] {
    let start = input.iter().position(|&b| !is_c_space(b)).unwrap_or(input.len());
    &input[start..]
}

pub(crate) fn trim_left(input: &[u8]) -> Cow<'_, [u8]> {
    Cow::Borrowed(trim_start(input))
}
