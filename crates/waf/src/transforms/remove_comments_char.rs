//! `removeCommentsChar`: deletes the comment markers `/*`, `*/`, `<!--`, `-->`, `--` and `#` (the text
//! between them is kept).

use std::borrow::Cow;

use super::util::{find_pair, Out};

pub(crate) fn remove_comments_char(input: &[u8]) -> Cow<'_, [u8]> {
    let Some(start) = find_pair(input, |b, next| {
        (b == b'/' && next == b'*')
            || (b == b'*' && next == b'/')
            || (b == b'<' && next == b'!')
            || (b == b'-' && next == b'-')
            || b == b'#'
    }) else {
        return Cow::Borrowed(input);
    };
    let n = input.len();
    let mut out = Out::new(input, start);
    let mut i = start;
    while i < n {
        let rest = &input[i..];
        let skip = if rest.starts_with(b"/*") || rest.starts_with(b"*/") {
            2
        } else if rest.starts_with(b"<!--") {
            4
        } else if rest.starts_with(b"-->") {
            3
        } else if rest.starts_with(b"--") {
            2
        } else if rest[0] == b'#' {
            1
        } else {
            0
        };
        if skip == 0 {
            out.push(input[i]);
            i += 1;
        } else {
            i += skip;
        }
    }
    out.finish()
}
