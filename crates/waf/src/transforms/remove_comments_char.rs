//! `removeCommentsChar`: deletes the comment markers `/*`, `*/`, `<!--`, `-->`, `--` and `#` (the text
//! between them is kept).

use std::borrow::Cow;

use super::util::{find_pair, Out};

pub(crate) fn remove_comments_char(input: &[u8]) -> Cow<'_, [u8]> {
    write(input, &mut Vec::new()).map_or(Cow::Borrowed(input), Out::finish)
}

/// [`remove_comments_char`] appending its output to `out` (`Transform::apply_into`): whether the value changed.
pub(crate) fn remove_comments_char_into(input: &[u8], out: &mut Vec<u8>) -> bool {
    write(input, out).is_some_and(Out::finish_into)
}

/// The output of [`remove_comments_char`] when a byte it acts on occurs (`None`: the input unchanged).
fn write<'a, 'b>(input: &'a [u8], buf: &'b mut Vec<u8>) -> Option<Out<'a, 'b>> {
    let start = find_pair(input, |b, next| {
        (b == b'/' && next == b'*')
            || (b == b'*' && next == b'/')
            || (b == b'<' && next == b'!')
            || (b == b'-' && next == b'-')
            || b == b'#'
    })?;
    let n = input.len();
    let mut out = Out::new(input, start, buf);
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
    Some(out)
}
