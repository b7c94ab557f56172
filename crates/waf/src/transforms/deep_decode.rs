//! `deepDecode` (Portcullis extension): URL (`%XX`, `%uXXXX`), HTML entity, JS/Unicode escape and
//! overlong UTF-8 decoding repeated to a fixpoint, at most 4 rounds (`portcullis_detect::decode::deep`).
//! The output is never longer than the input; `+` is not turned into a space.

use std::borrow::Cow;

pub(crate) fn deep_decode(input: &[u8]) -> Cow<'_, [u8]> {
    portcullis_detect::decode::deep(input)
}
