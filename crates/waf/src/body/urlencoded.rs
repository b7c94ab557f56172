//! `application/x-www-form-urlencoded` bodies and query strings.
//!
//! As ModSecurity v3 (`Transaction::extractArguments` + `urldecode_nonstrict`) and Coraza
//! (`urlutil.ParseQuery`) do: split on `&`, then on the first `=` (`a=b=c` is `a` → `b=c`; `a` alone is `a` →
//! empty), decode `+` as a space and `%XX` as a byte in names and values; an invalid escape (`%zz`, a
//! trailing `%`) is kept literally and raises `URLENCODED_ERROR`. Empty segments (`a=1&&b=2`) are skipped
//! as Coraza does; [`Compat::ModSecurity`] keeps them as an empty name and value, except after a trailing
//! `&` (its `std::getline` split). Duplicates are kept in order. Past [`BodyLimits::max_args`] the error
//! is set (ModSecurity silently drops the extra arguments, which would hide them from the rules).

use std::borrow::Cow;

use super::{push_arg, BodyLimits, Compat, ParsedBody};

/// Parses a URL-encoded body (`ARGS_POST`) or a query string (`ARGS_GET`).
///
/// ```
/// use portcullis_waf::body::{parse_urlencoded, BodyLimits};
/// let p = parse_urlencoded(b"a=1+2&b=%41%zz&a", &BodyLimits::default());
/// assert_eq!(p.args.len(), 3);
/// assert_eq!(&p.args[0].1[..], b"1 2");
/// assert_eq!(&p.args[1].1[..], b"A%zz");
/// assert!(p.urlencoded_error);
/// ```
pub fn parse_urlencoded<'a>(body: &'a [u8], limits: &BodyLimits) -> ParsedBody<'a> {
    let mut out = ParsedBody::default();
    out.urlencoded_error = parse_urlencoded_into(body, limits, &mut out);
    out
}

/// The prefix of the argument-limit error a URL-encoded body records.
pub(crate) const PREFIX: &str = "URL-encoded parsing error: ";

/// Where [`parse_urlencoded_into`] puts the arguments: a [`ParsedBody`], or a transaction's arena and
/// argument list directly (no list of decoded pairs built first and copied after).
pub(crate) trait ArgsOut<'a> {
    /// Adds `name` → `value`, unless `limits.max_args` arguments are already there: then it records the
    /// limit error with `prefix` (when no error is recorded yet) and returns `false`, as [`push_arg`] does.
    fn arg(&mut self, limits: &BodyLimits, prefix: &str, name: Cow<'a, [u8]>, value: Cow<'a, [u8]>) -> bool;
}

impl<'a> ArgsOut<'a> for ParsedBody<'a> {
    fn arg(&mut self, limits: &BodyLimits, prefix: &str, name: Cow<'a, [u8]>, value: Cow<'a, [u8]>) -> bool {
        push_arg(self, limits, prefix, name, value)
    }
}

/// [`parse_urlencoded`] into any [`ArgsOut`]: the same arguments in the same order and the same limit error;
/// returns `URLENCODED_ERROR` (an invalid escape was kept literally).
pub(crate) fn parse_urlencoded_into<'a, O: ArgsOut<'a>>(body: &'a [u8], limits: &BodyLimits, out: &mut O) -> bool {
    let keep_empty = limits.compat == Compat::ModSecurity;
    let mut urlencoded_error = false;
    if body.is_empty() {
        return urlencoded_error;
    }
    let body = if keep_empty { body.strip_suffix(b"&").unwrap_or(body) } else { body };
    for segment in body.split(|&b| b == b'&') {
        if segment.is_empty() && !keep_empty {
            continue;
        }
        let (name, value) = match segment.iter().position(|&b| b == b'=') {
            Some(i) => (&segment[..i], &segment[i + 1..]),
            None => (segment, &segment[segment.len()..]),
        };
        let (name, bad_name) = url_decode(name);
        let (value, bad_value) = url_decode(value);
        urlencoded_error |= bad_name | bad_value;
        if !out.arg(limits, PREFIX, name, value) {
            break;
        }
    }
    urlencoded_error
}

/// Non-strict URL decoding: `+` → space, `%XX` → byte, anything else (invalid escapes included) kept as is.
/// Returns the decoded bytes (borrowed when nothing changed) and whether an invalid escape was seen.
pub(crate) fn url_decode(input: &[u8]) -> (Cow<'_, [u8]>, bool) {
    let Some(first) = input.iter().position(|&b| b == b'%' || b == b'+') else {
        return (Cow::Borrowed(input), false);
    };
    let mut out = Vec::with_capacity(input.len());
    out.extend_from_slice(&input[..first]);
    let mut invalid = false;
    let mut i = first;
    while i < input.len() {
        match input[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => match (input.get(i + 1).and_then(|&c| hex(c)), input.get(i + 2).and_then(|&c| hex(c))) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 3;
                }
                _ => {
                    invalid = true;
                    out.push(b'%');
                    i += 1;
                }
            },
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    (Cow::Owned(out), invalid)
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(body: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
        parse_urlencoded(body, &BodyLimits::default())
            .args
            .into_iter()
            .map(|(n, v)| (n.into_owned(), v.into_owned()))
            .collect()
    }

    fn pair(n: &str, v: &str) -> (Vec<u8>, Vec<u8>) {
        (n.as_bytes().to_vec(), v.as_bytes().to_vec())
    }

    #[test]
    fn splits_and_decodes() {
        assert_eq!(args(b"a=1&b=2"), [pair("a", "1"), pair("b", "2")]);
        assert_eq!(args(b"a=b=c"), [pair("a", "b=c")]);
        assert_eq!(args(b"a&b="), [pair("a", ""), pair("b", "")]);
        assert_eq!(args(b"=v"), [pair("", "v")]);
        assert_eq!(args(b"a=1&&&a=2&"), [pair("a", "1"), pair("a", "2")]);
        assert_eq!(args(b"na%6De=x+y%20z"), [pair("name", "x y z")]);
        assert_eq!(args(b""), []);
    }

    #[test]
    fn modsecurity_keeps_empty_segments() {
        let limits = BodyLimits { compat: Compat::ModSecurity, ..BodyLimits::default() };
        let p = parse_urlencoded(b"a=1&&b=2&", &limits);
        let names: Vec<&[u8]> = p.args.iter().map(|(n, _)| &n[..]).collect();
        assert_eq!(names, [&b"a"[..], b"", b"b"]);
        assert!(parse_urlencoded(b"", &limits).args.is_empty());
        assert_eq!(parse_urlencoded(b"&", &limits).args.len(), 1);
    }

    #[test]
    fn invalid_escapes_are_literal_and_flagged() {
        let p = parse_urlencoded(b"x=new %w20$&y=%&z=%4", &BodyLimits::default());
        assert!(p.urlencoded_error);
        assert_eq!(&p.args[0].1[..], b"new %w20$");
        assert_eq!(&p.args[1].1[..], b"%");
        assert_eq!(&p.args[2].1[..], b"%4");
        assert!(!parse_urlencoded(b"x=%41%42", &BodyLimits::default()).urlencoded_error);
    }

    #[test]
    fn decoding_yields_raw_bytes() {
        assert_eq!(args(b"a=%00%ff%C3%A9"), [(b"a".to_vec(), vec![0, 0xff, 0xc3, 0xa9])]);
    }

    #[test]
    fn benign_values_stay_borrowed() {
        let p = parse_urlencoded(b"a=1&b=two", &BodyLimits::default());
        assert!(p.args.iter().all(|(n, v)| matches!(n, Cow::Borrowed(_)) && matches!(v, Cow::Borrowed(_))));
    }

    #[test]
    fn argument_limit_sets_error() {
        let limits = BodyLimits { max_args: 2, ..BodyLimits::default() };
        let p = parse_urlencoded(b"a=1&b=2&c=3&d=4", &limits);
        assert_eq!(p.args.len(), 2);
        assert!(p.error.unwrap().contains("argument limit of 2 exceeded"));
    }
}
