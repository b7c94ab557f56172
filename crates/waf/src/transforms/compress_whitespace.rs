//! `compressWhitespace`: each run of C-locale whitespace (space, `\t \n \v \f \r`) becomes one space.
//! ModSecurity v3 does not treat 0xA0 as whitespace here (unlike `removeWhitespace`).

use std::borrow::Cow;

use super::util::{find_pair, is_c_space, Out};

pub(crate) fn compress_whitespace(input: &[u8]) -> Cow<'_, [u8]> {
    write(input, &mut Vec::new()).map_or(Cow::Borrowed(input), Out::finish)
}

/// [`compress_whitespace`] appending its output to `out` (`Transform::apply_into`): whether the value changed.
pub(crate) fn compress_whitespace_into(input: &[u8], out: &mut Vec<u8>) -> bool {
    write(input, out).is_some_and(Out::finish_into)
}

/// The output of [`compress_whitespace`] when a byte it acts on occurs (`None`: the input unchanged).
fn write<'a, 'b>(input: &'a [u8], buf: &'b mut Vec<u8>) -> Option<Out<'a, 'b>> {
    // A single plain space not followed by whitespace is already compressed.
    let start = find_pair(input, |b, next| is_c_space(b) & ((b != b' ') | is_c_space(next)))?;
    let mut out = Out::new(input, start, buf);
    let mut in_space = false;
    for &b in &input[start..] {
        if is_c_space(b) {
            if !in_space {
                out.push(b' ');
                in_space = true;
            }
        } else {
            out.push(b);
            in_space = false;
        }
    }
    Some(out)
}
