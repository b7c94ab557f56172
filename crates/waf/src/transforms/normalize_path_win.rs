//! `normalizePathWin` (alias `normalisePathWin`): `normalizePath` with `\` also a separator; separators in
//! the output are `/` (as in ModSecurity, the last backslash of a run of three or more may survive).

use std::borrow::Cow;

pub(crate) fn normalize_path_win(input: &[u8]) -> Cow<'_, [u8]> {
    super::normalize_path::normalize(input, true)
}
