//! `trim`: removes leading and trailing C-locale whitespace (space, `\t \n \v \f \r`). The result borrows
//! the input (a sub-slice), it never allocates.

use std::borrow::Cow;

use super::trim_left::trim_start;
use super::trim_right::trim_end;

pub(crate) fn trim(input: &[u8]) -> Cow<'_, [u8]> {
    Cow::Borrowed(trim_end(trim_start(input)))
}
