//! `replaceComments`: each C-style `/* ... */` comment becomes one space; an unterminated comment runs to
//! the end and also becomes one space. A stray `*/` is kept.

use std::borrow::Cow;

use super::util::{find_pair, Out};

pub(crate) fn replace_comments(input: &[u8]) -> Cow<'_, [u8]> {
    let Some(start) = find_pair(input, |b, next| b == b'/' && next == b'*') else {
        return Cow::Borrowed(input);
    };
    let n = input.len();
    let mut out = Out::new(input, start);
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
    out.finish()
}
