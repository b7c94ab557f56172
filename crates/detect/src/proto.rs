//! Prototype pollution: keys and parameter names that reach an object's prototype in JavaScript merge /
//! set-by-path code — `__proto__` as a path component (also hidden: `__pro__proto__to__` after a naive
//! strip, `\u005f_proto__`, `%5f%5fproto%5f%5f`), and `constructor` followed by `prototype`
//! (`constructor.prototype`, `constructor[prototype]`, `["constructor"]["prototype"]`, nested JSON keys).
//!
//! Input shapes: a JSON document (keys are checked, values are not: `"about __proto__"` as text is data),
//! or a key path / parameter name / form body without whitespace. Prose is not a key path and passes.
//!
//! Owns: the key-path view. Must not touch: MongoDB operators (`nosql`).

use crate::decode::{self, json};
use crate::{Class, Finding};

/// Analyses a JSON document's keys, or a parameter name / key path.
///
/// ```
/// use portcullis_detect::proto::detect;
/// assert!(detect(br#"{"a":1,"__proto__":{"isAdmin":true}}"#).is_some());
/// assert!(detect(b"constructor[prototype][isAdmin]=1").is_some());
/// assert!(detect(b"user[profile][name]").is_none());
/// ```
pub fn detect(input: &[u8]) -> Option<Finding> {
    crate::decode::or_base64(input, detect_plain)
}

/// [`detect`] on a value that is its own only form (see the crate docs, "Own-form entry points").
#[doc(hidden)]
pub fn detect_own_form(input: &[u8]) -> Option<Finding> {
    detect_plain(input)
}

/// [`detect`] without the base64 layer.
fn detect_plain(input: &[u8]) -> Option<Finding> {
    if json::looks_like_json(input) && !accessor_chain(input) {
        let mut why = String::new();
        let span = json::find_key(input, |parent, key| {
            if let Some(w) = key_path(key) {
                why = w;
                return true;
            }
            if parent.is_some_and(|p| p.eq_ignore_ascii_case(b"constructor")) && key == b"prototype" {
                why = "key prototype inside constructor".into();
                return true;
            }
            false
        });
        if let Some(span) = span {
            return Some(finding(why, span));
        }
        return None;
    }
    let d = decode::deep(input);
    let t = d.trim_ascii();
    if t.iter().any(u8::is_ascii_whitespace) {
        return None;
    }
    // A form body: each name, then the whole thing as one path.
    for part in t.split(|&c| c == b'&') {
        let name = part.split(|&c| c == b'=').next().unwrap_or(part);
        if let Some(w) = key_path(name) {
            return Some(finding(w, 0..input.len()));
        }
    }
    None
}

/// `["__proto__"]["admin"]`: bracket accessors that start like a JSON array but continue after it.
fn accessor_chain(input: &[u8]) -> bool {
    let t = input.trim_ascii();
    if t.first() != Some(&b'[') {
        return false;
    }
    let mut depth = 0usize;
    let mut quote: Option<u8> = None;
    for (k, &c) in t.iter().enumerate() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, b'"' | b'\'') => quote = Some(c),
            (None, b'[') => depth += 1,
            (None, b']') => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return matches!(t.get(k + 1), Some(b'[' | b'.'));
                }
            }
            _ => {}
        }
    }
    false
}

fn finding(reason: String, span: std::ops::Range<usize>) -> Finding {
    Finding { class: Class::ProtoPollution, reason, span, signature: "__proto__".into() }
}

/// Splits a key path on `.`, `[`, `]`, quotes and `/`, and judges its components.
fn key_path(key: &[u8]) -> Option<String> {
    let key = json::json_unescape(key);
    let key = decode::deep(&key);
    let parts: Vec<&[u8]> =
        key.split(|&c| matches!(c, b'.' | b'[' | b']' | b'"' | b'\'' | b'/')).filter(|p| !p.is_empty()).collect();
    for (k, p) in parts.iter().enumerate() {
        let lower = p.to_ascii_lowercase();
        if crate::traversal::find(&lower, b"__proto__").is_some() {
            return Some(format!("key component {} reaches the prototype", String::from_utf8_lossy(p)));
        }
        if lower == b"constructor" && parts.get(k + 1).is_some_and(|n| n.eq_ignore_ascii_case(b"prototype")) {
            return Some("key path constructor.prototype".into());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pollution() {
        for a in [
            r#"{"__proto__":{"admin":true}}"#,
            r#"{"a":{"constructor":{"prototype":{"admin":true}}}}"#,
            r#"{"\u005f_proto__":{"x":1}}"#,
            r#"{"a.__proto__.b":1}"#,
            "__proto__[admin]=1",
            "a[constructor][prototype][admin]=1",
            "constructor.prototype.admin",
            "%5f%5fproto%5f%5f[x]=1",
            "__pro__proto__to__[x]=1",
            "x=1&__proto__.polluted=yes",
        ] {
            assert!(detect(a.as_bytes()).is_some(), "{a}");
        }
    }

    #[test]
    fn benign() {
        for b in [
            r#"{"text":"about __proto__ in JS","constructor":"Acme"}"#,
            r#"{"prototype":{"name":"v2"}}"#,
            "user[profile][name]",
            "The __proto__ property is deprecated",
            "constructor=Bob&prototype=x",
        ] {
            assert!(detect(b.as_bytes()).is_none(), "{b}: {:?}", detect(b.as_bytes()));
        }
    }
}
