//! Percent-decoding: `%XX` → byte and IIS's `%uXXXX` → the code point in UTF-8. No `+` → space: the values
//! we see were already form-decoded once, and a literal `+` is common in benign data. Malformed escapes are
//! kept as they are.

use super::{hex_value, push_char};

/// `None` when nothing was decoded.
pub(crate) fn url_decode_uni(input: &[u8]) -> Option<Vec<u8>> {
    let first = input.iter().position(|&b| b == b'%')?;
    let mut out = Vec::with_capacity(input.len());
    out.extend_from_slice(&input[..first]);
    let mut i = first;
    let mut changed = false;
    while i < input.len() {
        let b = input[i];
        if b == b'%' {
            if let Some(v) = input.get(i + 1..i + 3).and_then(hex_value) {
                out.push(v as u8);
                i += 3;
                changed = true;
                continue;
            }
            if matches!(input.get(i + 1), Some(b'u' | b'U')) {
                if let Some(v) = input.get(i + 2..i + 6).and_then(hex_value) {
                    push_char(&mut out, v);
                    i += 6;
                    changed = true;
                    continue;
                }
            }
        }
        out.push(b);
        i += 1;
    }
    changed.then_some(out)
}
