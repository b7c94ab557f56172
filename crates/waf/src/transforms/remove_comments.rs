//! `removeComments`: removes `/* ... */` and `<!-- ... -->` comments, and truncates the value at the first
//! `--` or `#` found outside a comment (SQL/shell line comments). An unterminated block comment becomes
//! one space.
//!
//! Reproduces two ModSecurity/Coraza quirks: the byte right after a closing `*/` or `-->` is copied without
//! being examined (so `/*a*//*b*/` keeps the second `/`...), and when the closer ends the input a NUL byte
//! is emitted in its place (both engines copy the C string terminator).

use std::borrow::Cow;

use super::util::{find_pair, Out};

pub(crate) fn remove_comments(input: &[u8]) -> Cow<'_, [u8]> {
    write(input, &mut Vec::new()).map_or(Cow::Borrowed(input), Out::finish)
}

/// [`remove_comments`] appending its output to `out` (`Transform::apply_into`): whether the value changed.
pub(crate) fn remove_comments_into(input: &[u8], out: &mut Vec<u8>) -> bool {
    write(input, out).is_some_and(Out::finish_into)
}

/// The output of [`remove_comments`] when a byte it acts on occurs (`None`: the input unchanged).
fn write<'a, 'b>(input: &'a [u8], buf: &'b mut Vec<u8>) -> Option<Out<'a, 'b>> {
    let start = find_pair(input, |b, next| {
        (b == b'/' && next == b'*') || (b == b'<' && next == b'!') || (b == b'-' && next == b'-') || b == b'#'
    })?;
    let n = input.len();
    let at = |k: usize| input.get(k).copied().unwrap_or(0);
    let mut out = Out::new(input, start, buf);
    let mut i = start;
    let mut in_comment = false;
    while i < n {
        let c = input[i];
        if !in_comment {
            if c == b'/' && at(i + 1) == b'*' && i + 1 < n {
                in_comment = true;
                i += 2;
            } else if c == b'<' && i + 3 < n && &input[i + 1..i + 4] == b"!--" {
                in_comment = true;
                i += 4;
            } else if (c == b'-' && i + 1 < n && input[i + 1] == b'-') || c == b'#' {
                break;
            } else {
                out.push(c);
                i += 1;
            }
        } else if c == b'*' && i + 1 < n && input[i + 1] == b'/' {
            in_comment = false;
            out.push(at(i + 2));
            i += 3;
        } else if c == b'-' && i + 2 < n && input[i + 1] == b'-' && input[i + 2] == b'>' {
            in_comment = false;
            out.push(at(i + 3));
            i += 4;
        } else {
            i += 1;
        }
    }
    if in_comment {
        out.push(b' ');
    }
    Some(out)
}
