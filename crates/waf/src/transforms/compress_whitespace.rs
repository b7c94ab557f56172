//! `compressWhitespace`: each run of C-locale whitespace (space, `\t \n \v \f \r`) becomes one space.
//! ModSecurity v3 does not treat 0xA0 as whitespace here (unlike `removeWhitespace`).

use std::borrow::Cow;

use super::util::{find_pair, is_c_space, Out};

pub(crate) fn compress_whitespace(input: &[u8]) -> Cow<'_, [u8]> {
    // A single plain space not followed by whitespace is already compressed.
    let start = find_pair(input, |b, next| is_c_space(b) & ((b != b' ') | is_c_space(next)));
    let Some(start) = start else {
        return Cow::Borrowed(input);
    };
    let mut out = Out::new(input, start);
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
    out.finish()
}
