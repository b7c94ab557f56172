//! A small HTML tokenizer that reads tags the way a browser's tokenizer does: `<` followed by a letter opens a
//! tag (so `a < b`, `<3` and `x <= y` are text), the name runs to whitespace, `/` or `>`, attributes are
//! separated by whitespace or `/` (`<svg/onload=...>`), values may be double-, single- or unquoted.
//!
//! Every `<` is examined, also inside comments, CDATA and other tags' values, because the value may be pasted
//! into any of those and break out of them. Work stays linear: each tag resumes scanning where the previous
//! one stopped, and an unterminated quoted value is detected in O(1) from the position of the last quote.
//!
//! Owns: tags and attributes. Must not decide what is dangerous (that is `rules`).

use std::ops::Range;

/// One attribute: byte ranges of its name and, if present, its raw (undecoded) value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attr {
    pub name: Range<usize>,
    pub value: Option<Range<usize>>,
}

/// A start tag: where it is, its name and attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    pub span: Range<usize>,
    pub name: Range<usize>,
    pub attrs: Vec<Attr>,
}

/// Bounds per tag so that a single tag with a million attributes cannot make the caller's work per tag grow.
const MAX_ATTRS: usize = 256;

/// Finds the next quote of each kind in O(1) per question after one pass.
pub struct Quotes {
    last_double: Option<usize>,
    last_single: Option<usize>,
}

impl Quotes {
    pub fn new(input: &[u8]) -> Self {
        Quotes {
            last_double: input.iter().rposition(|&b| b == b'"'),
            last_single: input.iter().rposition(|&b| b == b'\''),
        }
    }

    /// The index of the quote `q` that closes a value starting at `from`, or None when there is none.
    fn close(&self, input: &[u8], from: usize, q: u8) -> Option<usize> {
        let last = if q == b'"' { self.last_double } else { self.last_single };
        if last.is_none_or(|l| l < from) {
            return None;
        }
        input[from..].iter().position(|&b| b == q).map(|p| from + p)
    }
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0c)
}

/// Calls `visit` for every start tag in `input`; stops early when it returns true (a finding).
pub fn each_tag(input: &[u8], mut visit: impl FnMut(&Tag) -> bool) -> bool {
    let quotes = Quotes::new(input);
    let mut i = 0;
    while let Some(p) = input[i..].iter().position(|&b| b == b'<') {
        let lt = i + p;
        let Some(&c) = input.get(lt + 1) else { return false };
        if !c.is_ascii_alphabetic() {
            i = lt + 1;
            continue;
        }
        let name_start = lt + 1;
        let mut j = name_start;
        while j < input.len() && !is_space(input[j]) && input[j] != b'/' && input[j] != b'>' && input[j] != b'<' {
            j += 1;
        }
        let name = name_start..j;
        let (attrs, end) = attributes(input, j, &quotes, true);
        let tag = Tag { span: lt..end, name, attrs };
        if visit(&tag) {
            return true;
        }
        i = end.max(lt + 1);
    }
    false
}

/// Parses attributes from `from` until `>` (or, when `stop_at_lt`, a `<` that opens the next tag, or the end).
/// Returns them and where parsing stopped.
pub fn attributes(input: &[u8], from: usize, quotes: &Quotes, stop_at_lt: bool) -> (Vec<Attr>, usize) {
    let n = input.len();
    let mut attrs = Vec::new();
    let mut i = from;
    loop {
        while i < n && (is_space(input[i]) || input[i] == b'/') {
            i += 1;
        }
        if i >= n {
            return (attrs, n);
        }
        if input[i] == b'>' {
            return (attrs, i + 1);
        }
        if stop_at_lt && input[i] == b'<' {
            return (attrs, i);
        }
        let name_start = i;
        // HTML allows `=` as the first character of a name; it ends at whitespace, `/`, `>` or a later `=`.
        i += 1;
        while i < n && !is_space(input[i]) && !matches!(input[i], b'/' | b'>' | b'=') {
            if stop_at_lt && input[i] == b'<' {
                break;
            }
            i += 1;
        }
        let name = name_start..i;
        let mut k = i;
        while k < n && is_space(input[k]) {
            k += 1;
        }
        let mut value = None;
        if k < n && input[k] == b'=' {
            k += 1;
            while k < n && is_space(input[k]) {
                k += 1;
            }
            if k < n && (input[k] == b'"' || input[k] == b'\'') {
                let q = input[k];
                match quotes.close(input, k + 1, q) {
                    Some(c) => {
                        value = Some(k + 1..c);
                        i = c + 1;
                    }
                    None => {
                        // Unterminated: the value runs to the end of the input as far as this tag is
                        // concerned; the caller resumes scanning right after the quote, so markup inside is
                        // still examined (the application's own quote may close the value later).
                        attrs.push(Attr { name, value: Some(k + 1..n) });
                        return (attrs, k + 1);
                    }
                }
            } else {
                let s = k;
                while k < n && !is_space(input[k]) && input[k] != b'>' {
                    k += 1;
                }
                value = Some(s..k);
                i = k;
            }
        }
        if attrs.len() < MAX_ATTRS {
            attrs.push(Attr { name, value });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Parsed = Vec<(String, Vec<(String, Option<String>)>)>;

    fn tags(s: &str) -> Parsed {
        let mut out = Vec::new();
        each_tag(s.as_bytes(), |t| {
            let txt = |r: &Range<usize>| s[r.clone()].to_string();
            out.push((txt(&t.name), t.attrs.iter().map(|a| (txt(&a.name), a.value.as_ref().map(txt))).collect()));
            false
        });
        out
    }

    #[test]
    fn tags_and_attributes() {
        let t = tags(r#"a < b <img src=x onerror='a(1)' alt="q"><svg/onload=f()>"#);
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].0, "img");
        assert_eq!(t[0].1[1], ("onerror".into(), Some("a(1)".into())));
        assert_eq!(t[0].1[2], ("alt".into(), Some("q".into())));
        assert_eq!(t[1].1[0], ("onload".into(), Some("f()".into())));
    }

    #[test]
    fn text_that_is_not_a_tag() {
        assert!(tags("x < y, a<3, 1 <= 2, <> <=").is_empty());
    }

    #[test]
    fn unterminated_value_does_not_hide_later_tags() {
        let t = tags(r#"<a title="x <script>"#);
        assert_eq!(t.iter().map(|t| t.0.as_str()).collect::<Vec<_>>(), vec!["a", "script"]);
    }
}
