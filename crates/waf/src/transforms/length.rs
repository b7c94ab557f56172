//! `length`: the input's length in bytes, as decimal text (`"hello"` → `"5"`).

use std::borrow::Cow;

use super::util::owned_unless_same;

pub(crate) fn length(input: &[u8]) -> Cow<'_, [u8]> {
    owned_unless_same(input, input.len().to_string().into_bytes())
}
