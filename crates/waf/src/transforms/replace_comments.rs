//! `replaceComments`: each C-style `/* ... */` comment becomes one space; an unterminated comment runs to
//! the end and also becomes one space. A stray `*/` is kept.

use std::borrow::Cow;

use super::util::{find_pair, Out};

pub(crate) fn replace_comments(input: &[u8]) -> Cow<'_, [u8]> {
    write(input, &mut Vec::new()).map_or(Cow::Borrowed(input), Out::finish)
}

/// [`replace_comments`] appending its output to `out` (`Transform::apply_into`): whether the value changed.
pub(crate) fn replace_comments_into(input: &[u8], out: &mut Vec<u8>) -> bool {
    write(input, out).is_some_and(Out::finish_into)
}

/// The output of [`replace_comments`] when a byte it acts on occurs (`None`: the input unchanged).
fn write<'a, 'b>(input: &'a [u8], buf: &'b mut Vec<u8>) -> Option<Out<'a, 'b>> {
    let start = find_pair(input, |b, next| b == b'/' && next == b'*')?;
    let n = input.len();
    let mut out = Out::new(input, start, buf);
    let mut i = start;
    let mut in_comment = false;
    while i < n {
        let pair = |a: u8, b: u8| input[i] == a && i + 1 < n && input[i + 1] == b;
        if !in_comment {
            if pair(b'/', b'*') {
                in_comment = true;
                i += 2;
            } else {
                out.push(input[i]);
                i += 1;
            }
        } else if pair(b'*', b'/') {
            in_comment = false;
            out.push(b' ');
            i += 2;
        } else {
            i += 1;
        }
    }
    if in_comment {
        out.push(b' ');
    }
    Some(out)
}
