//! JSON: string unescaping, and a tolerant, linear walk over the keys of a document (used by the NoSQL and
//! prototype-pollution detectors). The walk does not validate: it follows strings, objects and arrays well
//! enough to know which strings are keys and what the enclosing key is, and stops quietly on garbage.

use std::borrow::Cow;

use super::{hex_value, push_char};

/// Undoes JSON string escapes (`\" \\ \/ \b \f \n \r \t \uXXXX` with surrogate pairs); unknown escapes are
/// kept. The input is a string's contents, without the quotes.
pub fn json_unescape(input: &[u8]) -> Cow<'_, [u8]> {
    let Some(first) = input.iter().position(|&b| b == b'\\') else {
        return Cow::Borrowed(input);
    };
    let mut out = Vec::with_capacity(input.len());
    out.extend_from_slice(&input[..first]);
    let mut i = first;
    while i < input.len() {
        if input[i] != b'\\' || i + 1 >= input.len() {
            out.push(input[i]);
            i += 1;
            continue;
        }
        let e = input[i + 1];
        let simple = match e {
            b'"' => Some(b'"'),
            b'\\' => Some(b'\\'),
            b'/' => Some(b'/'),
            b'b' => Some(8),
            b'f' => Some(12),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            _ => None,
        };
        if let Some(c) = simple {
            out.push(c);
            i += 2;
            continue;
        }
        if e == b'u' {
            if let Some(hi) = input.get(i + 2..i + 6).and_then(hex_value) {
                // A high surrogate followed by `\uDCxx` is one code point.
                if (0xD800..0xDC00).contains(&hi) && input.get(i + 6..i + 8) == Some(b"\\u") {
                    if let Some(lo) =
                        input.get(i + 8..i + 12).and_then(hex_value).filter(|l| (0xDC00..0xE000).contains(l))
                    {
                        push_char(&mut out, 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00));
                        i += 12;
                        continue;
                    }
                }
                push_char(&mut out, hi);
                i += 6;
                continue;
            }
        }
        out.push(b'\\');
        i += 1;
    }
    Cow::Owned(out)
}

/// Does `input` look like a JSON object or array (first non-space byte `{` or `[`)?
pub(crate) fn looks_like_json(input: &[u8]) -> bool {
    matches!(input.trim_ascii_start().first(), Some(b'{' | b'['))
}

/// Deepest nesting whose enclosing keys are tracked; deeper levels are walked but report no parent key.
const MAX_TRACKED_DEPTH: usize = 256;

/// Calls `visit(parent_key, key, key_span)` for every object key (unescaped), in document order, where
/// `parent_key` is the key whose value is the enclosing object (`None` at the top level or inside arrays).
/// Stops early when `visit` returns `true` and returns that key's span.
pub(crate) fn find_key(
    doc: &[u8],
    mut visit: impl FnMut(Option<&[u8]>, &[u8]) -> bool,
) -> Option<std::ops::Range<usize>> {
    // Stack of containers: for objects, the key that owns them (if any).
    let mut stack: Vec<(bool, Option<Vec<u8>>)> = Vec::new();
    let mut last_key: Option<Vec<u8>> = None;
    let mut expect_key = false;
    let mut i = 0;
    while i < doc.len() {
        match doc[i] {
            b'{' => {
                let owner = last_key.take();
                if stack.len() < MAX_TRACKED_DEPTH {
                    stack.push((true, owner));
                } else {
                    stack.push((true, None));
                }
                expect_key = true;
            }
            b'[' => {
                last_key = None;
                stack.push((false, None));
                expect_key = false;
            }
            b'}' | b']' => {
                stack.pop();
                last_key = None;
                expect_key = false;
            }
            b',' => {
                last_key = None;
                expect_key = stack.last().is_some_and(|(is_obj, _)| *is_obj);
            }
            b'"' => {
                let start = i + 1;
                let mut j = start;
                while j < doc.len() && doc[j] != b'"' {
                    j += if doc[j] == b'\\' { 2 } else { 1 };
                }
                let end = j.min(doc.len());
                if expect_key {
                    let key = json_unescape(&doc[start..end]);
                    let parent = stack.last().and_then(|(_, k)| k.as_deref());
                    if visit(parent, &key) {
                        return Some(start..end);
                    }
                    last_key = Some(key.into_owned());
                    expect_key = false;
                } else {
                    last_key = None;
                }
                i = end + 1;
                continue;
            }
            b':' => {}
            _ => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescapes() {
        assert_eq!(&*json_unescape(br#"a\"b\\c\u0024ne\ud83d\ude00\q"#), "a\"b\\c$ne\u{1F600}\\q".as_bytes());
    }

    #[test]
    fn walks_keys_with_parents() {
        let doc = br#"{"a":{"b":1,"c":[{"d":"x,\"y"}]},"e":{"f":{}}}"#;
        let mut seen = Vec::new();
        find_key(doc, |p, k| {
            seen.push(format!("{}>{}", String::from_utf8_lossy(p.unwrap_or(b"-")), String::from_utf8_lossy(k)));
            false
        });
        assert_eq!(seen, ["->a", "a>b", "a>c", "->d", "->e", "e>f"]);
    }
}
