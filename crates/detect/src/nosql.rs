//! NoSQL (MongoDB) operator injection: an attacker turns a scalar into a query operator object
//! (`{"password": {"$ne": null}}`, `user[$ne]=x`) or reaches server-side JavaScript (`$where`,
//! `$function`, `$accumulator`). Two entry points: [`detect_json`] walks a JSON document's keys,
//! [`detect_param_name`] reads a bracketed parameter name; [`detect`] dispatches on the shape of the value
//! and also catches the JavaScript forms injected into a `$where` string (`'; return true; var x='`).
//!
//! Only MongoDB's query, expression and aggregation operators count: JSON Schema's `$ref`/`$id`/`$schema`,
//! `$comment` and serializer tags like `$type` are ordinary keys.
//!
//! Owns: the Mongo-query view of JSON and parameter names. Must not touch: prototype keys (`proto`).

use crate::decode::{self, json};
use crate::{Class, Finding};

/// Operators that change what a query matches or run code.
const OPERATORS: &[&str] = &[
    "$ne",
    "$eq",
    "$gt",
    "$gte",
    "$lt",
    "$lte",
    "$in",
    "$nin",
    "$regex",
    "$where",
    "$exists",
    "$expr",
    "$function",
    "$accumulator",
    "$lookup",
    "$graphlookup",
    "$unionwith",
    "$not",
    "$or",
    "$and",
    "$nor",
    "$elemmatch",
    "$all",
    "$size",
    "$mod",
    "$text",
    "$search",
    "$jsonschema",
    "$options",
    "$merge",
    "$out",
    "$match",
    "$group",
    "$project",
];

/// Operators that execute JavaScript on the server.
const JS_OPERATORS: &[&str] = &["$where", "$function", "$accumulator"];

fn operator(key: &[u8]) -> Option<&'static str> {
    let k = key.trim_ascii();
    if k.first() != Some(&b'$') {
        return None;
    }
    let lower = k.to_ascii_lowercase();
    OPERATORS.iter().copied().find(|op| op.as_bytes() == lower.as_slice())
}

fn finding(reason: String, span: std::ops::Range<usize>, op: &str) -> Finding {
    Finding { class: Class::NoSqli, reason, span, signature: op.to_string() }
}

fn describe(op: &str, parent: Option<&[u8]>) -> String {
    let what = if JS_OPERATORS.contains(&op) { "server-side JavaScript operator" } else { "query operator" };
    match parent {
        Some(p) => format!("{what} {op} in place of the value of {}", String::from_utf8_lossy(p)),
        None => format!("{what} {op}"),
    }
}

/// Analyses a JSON document for operator keys.
///
/// ```
/// use portcullis_detect::nosql::detect_json;
/// assert!(detect_json(br#"{"user":"admin","password":{"$ne":null}}"#).is_some());
/// assert!(detect_json(br##"{"$schema":"http://json-schema.org/draft-07/schema#","$ref":"#/a"}"##).is_none());
/// ```
pub fn detect_json(doc: &[u8]) -> Option<Finding> {
    let mut hit: Option<(&'static str, Option<Vec<u8>>)> = None;
    let span = json::find_key(doc, |parent, key| {
        if let Some(op) = operator(key) {
            hit = Some((op, parent.map(<[u8]>::to_vec)));
            return true;
        }
        false
    })?;
    let (op, parent) = hit?;
    Some(finding(describe(op, parent.as_deref()), span, op))
}

/// Analyses a parameter name (`user[$ne]`, `filter[where][$gt]`, URL-encoded or not).
///
/// ```
/// use portcullis_detect::nosql::detect_param_name;
/// assert!(detect_param_name(b"password[%24ne]").is_some());
/// assert!(detect_param_name(b"items[0][price]").is_none());
/// ```
pub fn detect_param_name(name: &[u8]) -> Option<Finding> {
    let decoded = decode::url_decode(name);
    let n: &[u8] = &decoded;
    let mut parent: Option<&[u8]> = Some(&n[..n.iter().position(|&c| c == b'[').unwrap_or(n.len())]);
    let mut i = 0;
    while let Some(open) = n[i..].iter().position(|&c| c == b'[').map(|p| p + i) {
        let close = n[open..].iter().position(|&c| c == b']').map(|p| p + open)?;
        let seg = &n[open + 1..close];
        if let Some(op) = operator(seg) {
            return Some(finding(describe(op, parent), open..close + 1, op));
        }
        parent = Some(seg);
        i = close + 1;
    }
    None
}

/// Dispatches: JSON documents, bracketed names / form bodies (`a[$ne]=1&b=2`), and JavaScript injected
/// into a `$where` string.
pub fn detect(input: &[u8]) -> Option<Finding> {
    crate::decode::or_base64(input, |v| detect_plain(v, true))
}

/// [`detect`] without the [`may_be_where_js`] shortcut, kept public so tests can check that the shortcut never
/// changes an answer (`tests/prefilter_necessary.rs`).
#[doc(hidden)]
pub fn detect_exhaustive(input: &[u8]) -> Option<Finding> {
    crate::decode::or_base64(input, |v| detect_plain(v, false))
}

/// [`detect`] on a value that is its own only form (see the crate docs, "Own-form entry points").
#[doc(hidden)]
pub fn detect_own_form(input: &[u8]) -> Option<Finding> {
    if !may_fire_plain(input) {
        return None;
    }
    detect_plain(input, true)
}

/// Can [`detect_plain`] (with the shortcut) report `input`? Every operator it reports is a key or a bracketed
/// name starting with `$` once decoded (the JSON walk undoes `\` escapes, the name's URL decoding `%` ones),
/// and the `$where` forms need [`may_be_where_js`]: without `$`, `\`, `%` and that, nothing can match. One
/// `memchr3` and one byte pass, instead of the JSON sniffing, the URL-decoded copy and the splits.
fn may_fire_plain(input: &[u8]) -> bool {
    memchr::memchr3(b'$', b'\\', b'%', input).is_some() || may_be_where_js(input)
}

/// [`detect`] without the base64 layer.
fn detect_plain(input: &[u8], shortcut: bool) -> Option<Finding> {
    if json::looks_like_json(input) {
        if let Some(f) = detect_json(input) {
            return Some(f);
        }
    }
    let decoded = decode::url_decode(input);
    for part in decoded.split(|&c| c == b'&') {
        let name = part.split(|&c| c == b'=').next().unwrap_or(part);
        if name.contains(&b'[') {
            if let Some(f) = detect_param_name(name) {
                return Some(f);
            }
        }
    }
    if shortcut && !may_be_where_js(input) {
        return None;
    }
    where_js(input)
}

/// A necessary condition of [`where_js`] finding anything, without its lowercase, space-free copy: each of its
/// patterns holds a quote, except `this.<field>.match(` and `db.getCollection(`, which hold an `s.` or a `b.`
/// once spaces are removed. `Mozilla/5.0 (X11; Linux x86_64)` has neither.
fn may_be_where_js(input: &[u8]) -> bool {
    let mut prev = b' ';
    for &b in input {
        if b == b'\'' || b == b'"' || b == b'.' && matches!(prev, b's' | b'S' | b'b' | b'B') {
            return true;
        }
        if !b.is_ascii_whitespace() {
            prev = b;
        }
    }
    false
}

/// JavaScript that breaks out of a `$where` string: `' || '1'=='1`, `'; return true; var a='`,
/// `this.password.match(/.*/)`, `'; sleep(5000); '`.
fn where_js(input: &[u8]) -> Option<Finding> {
    let l = input.to_ascii_lowercase();
    let c: Vec<u8> = l.iter().copied().filter(|b| !b.is_ascii_whitespace()).collect();
    let find = crate::traversal::find;
    let pats: &[(&[u8], &str)] = &[
        (b"';returntrue", "return true after a closed string"),
        (b"\";returntrue", "return true after a closed string"),
        (b"'||'1'=='1", "always-true JavaScript comparison"),
        (b"\"||\"1\"==\"1", "always-true JavaScript comparison"),
        (b"'||1==1", "always-true JavaScript comparison"),
        (b"';sleep(", "sleep() after a closed string"),
        (b"\";sleep(", "sleep() after a closed string"),
        (b"';while(true)", "infinite loop after a closed string"),
        (b"this.password.match(", "field regex probe in JavaScript"),
        (b"this.username.match(", "field regex probe in JavaScript"),
        (b"db.getcollection(", "database access from JavaScript"),
        (b"';db.", "database access after a closed string"),
    ];
    // `' || 'a'=='a`, `" && 1==1`: a closed string, a logical operator, then a comparison close by.
    for op in [&b"'||"[..], b"\"||", b"'&&", b"\"&&"] {
        let mut from = 0;
        while let Some(k) = find(&c[from..], op) {
            let at = from + k;
            let window = &c[at + 3..(at + 3 + 16).min(c.len())];
            if find(window, b"==").is_some() {
                return Some(finding(
                    "$where injection: always-true comparison after a closed string".into(),
                    at..at + 3,
                    "$where",
                ));
            }
            from = at + 1;
        }
    }
    for (p, why) in pats {
        if let Some(at) = find(&c, p) {
            return Some(finding(format!("$where injection: {why}"), at..at + p.len(), "$where"));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operators() {
        for a in [
            r#"{"username":{"$ne":null},"password":{"$ne":null}}"#,
            r#"{"user":"admin","pass":{"$gt":""}}"#,
            r#"{"$where":"sleep(5000)"}"#,
            r#"{"name":{"$regex":"^a.*"}}"#,
            r#"[{"$lookup":{"from":"users"}}]"#,
            r#"{"a":{"\u0024ne":1}}"#,
            "user[$ne]=x&pass[$ne]=y",
            "password[%24regex]=.*",
            "' || '1'=='1",
            "'; return true; var x='",
        ] {
            assert!(detect(a.as_bytes()).is_some(), "{a}");
        }
    }

    /// `may_fire_plain` never says no where `detect_plain` finds something: every string of up to three atoms
    /// over the bytes and words the detector reacts to, and 50,000 random strings of up to eight.
    #[test]
    fn the_plain_pretest_is_necessary() {
        let atoms: &[&[u8]] = &[
            b"$ne",
            b"$where",
            b"%24ne",
            b"\\u0024ne",
            b"{",
            b"}",
            b"\"",
            b"'",
            b":",
            b"[",
            b"]",
            b"=",
            b"&",
            b"||",
            b"==",
            b"1",
            b";",
            b"return true",
            b"sleep(",
            b"this.",
            b"password.match(",
            b"db.",
            b"getCollection(",
            b" ",
            b"a",
            b"null",
            b"S.",
            b"b.",
        ];
        let check = |v: &[u8]| {
            if detect_plain(v, true).is_some() {
                assert!(may_fire_plain(v), "{:?}", String::from_utf8_lossy(v));
            }
            assert_eq!(detect_own_form(v), detect_plain(v, true), "{:?}", String::from_utf8_lossy(v));
        };
        let k = atoms.len();
        for code in 0..k * k * k {
            check(&[atoms[code % k], atoms[code / k % k], atoms[code / k / k]].concat());
        }
        crate::test_util::random_concatenations(atoms, 0x2545_f491_4f6c_dd1d, 50_000, check);
        for a in [&br#"{"a":{"$ne":1}}"#[..], br#"{"a":{"\u0024ne":1}}"#, b"a[%24ne]=1", b"'; return true; var x='"] {
            assert!(detect_plain(a, true).is_some() && may_fire_plain(a), "{}", String::from_utf8_lossy(a));
        }
        assert!(!may_fire_plain(b"anchor-bench/1.0 (wrk)"));
    }

    #[test]
    fn benign() {
        for b in [
            r##"{"$schema":"x","$id":"y","$ref":"#/definitions/a","$comment":"c"}"##,
            r#"{"price":"$100","note":"costs $ne"}"#,
            r#"{"$type":"Acme.Order, Acme","total":5}"#,
            "items[0][name]=a&items[0][price]=5",
            "I'd pay $5 or more",
        ] {
            assert!(detect(b.as_bytes()).is_none(), "{b}: {:?}", detect(b.as_bytes()));
        }
    }
}
