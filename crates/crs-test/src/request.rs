//! Builds the exact bytes go-ftw (v2) puts on the wire for a stage.
//!
//! go-ftw does not use an HTTP library for requests: it writes the request line and headers verbatim so that
//! tests can send broken HTTP. Its rules, reproduced here:
//! - request line `METHOD URI VERSION\r\n` with defaults `GET`, `/`, `HTTP/1.1`, nothing validated;
//! - headers from the YAML map, sorted by name (byte order), written `Name: value\r\n` as given;
//! - with `autocomplete_headers` (default true) and a non-empty body: add
//!   `Content-Type: application/x-www-form-urlencoded` if no Content-Type is present, and if the Content-Type is
//!   exactly that type and the body holds neither `%` nor `+`, URL-encode each key and value of the body;
//! - if a Content-Type contains `multipart/form-data;`, every LF of the body becomes CRLF;
//! - with `autocomplete_headers`: add `Connection: close` if absent, and `Content-Length` if absent and the body
//!   is non-empty or the method matches go-ftw's `^POST|PUT|PATCH|DELETE$`;
//! - `encoded_request` is base64 (newlines allowed), decoded and sent as-is, with nothing added.

use base64::Engine;

use crate::suite::Input;
use crate::template;

/// Headers added by the runner after the test's own (go-ftw appends them, it does not sort them in).
const FORM_URLENCODED: &str = "application/x-www-form-urlencoded";

/// The bytes of one stage request, or why they could not be built.
pub fn build(input: &Input, extra_cookie: Option<&str>) -> Result<Vec<u8>, String> {
    if let Some(encoded) = input.encoded_request.as_deref().or(input.raw_request.as_deref()) {
        return decode_base64(encoded).map_err(|e| format!("encoded_request is not valid base64: {e}"));
    }
    // Newer schema features no CRS v4 test uses; refusing them beats silently sending something else.
    if input.uris.is_some() || input.follow_redirect == Some(true) || input.response.is_some() {
        return Err("`uris`, `follow_redirect` and `response` are not supported".into());
    }
    if let Some(p) = input.protocol.as_deref() {
        if !p.eq_ignore_ascii_case("http") {
            return Err(format!("protocol `{p}` is not supported (plain http only)"));
        }
    }
    let mut body: Vec<u8> = match (&input.data, &input.encoded_data) {
        (Some(data), _) => template::expand(&data.text())?.into_bytes(),
        (None, Some(enc)) => decode_base64(enc).map_err(|e| format!("encoded_data is not valid base64: {e}"))?,
        (None, None) => Vec::new(),
    };
    let mut headers = input.headers.clone();
    // Go's sort.Strings / slices.Sort: byte order, stable for equal names (cannot happen in a YAML map).
    headers.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    if let Some(cookie) = extra_cookie {
        if !has(&headers, "Cookie") {
            headers.push(("Cookie".into(), cookie.to_owned()));
        }
    }
    let autocomplete = input.autocomplete_headers();
    if !body.is_empty() && autocomplete {
        if !has(&headers, "Content-Type") {
            headers.push(("Content-Type".into(), FORM_URLENCODED.into()));
        }
        let is_form = headers
            .iter()
            .any(|(n, v)| n.eq_ignore_ascii_case("Content-Type") && v.eq_ignore_ascii_case(FORM_URLENCODED));
        if is_form {
            body = encode_form(&body);
        }
    }
    let multipart = headers.iter().any(|(n, v)| {
        n.eq_ignore_ascii_case("Content-Type") && v.to_ascii_lowercase().contains("multipart/form-data;")
    });
    if multipart {
        body = lf_to_crlf(&body);
    }
    if autocomplete {
        if !has(&headers, "Connection") {
            headers.push(("Connection".into(), "close".into()));
        }
        if !has(&headers, "Content-Length") && (!body.is_empty() || method_permits_body(input.method())) {
            headers.push(("Content-Length".into(), body.len().to_string()));
        }
    }
    let mut out = Vec::with_capacity(256 + body.len());
    out.extend_from_slice(format!("{} {} {}\r\n", input.method(), input.uri(), input.version()).as_bytes());
    for (name, value) in &headers {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&body);
    Ok(out)
}

/// The marker request go-ftw sends before and after each stage; the WAF logs it through rule 999999.
pub fn marker(header_name: &str, marker_id: &str) -> Vec<u8> {
    format!(
        "GET /status/200 HTTP/1.1\r\nAccept: */*\r\nUser-Agent: go-ftw test agent\r\nHost: localhost\r\n\
         {header_name}: {marker_id}\r\nConnection: close\r\n\r\n"
    )
    .into_bytes()
}

fn has(headers: &[(String, String)], name: &str) -> bool {
    headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name))
}

/// go-ftw's unanchored alternation `^POST|PUT|PATCH|DELETE$`, reproduced literally.
fn method_permits_body(method: &str) -> bool {
    method.starts_with("POST") || method.contains("PUT") || method.contains("PATCH") || method.ends_with("DELETE")
}

/// Base64 as Go's StdEncoding reads it: padding required, CR/LF ignored.
pub(crate) fn decode_base64(s: &str) -> Result<Vec<u8>, base64::DecodeError> {
    let clean: String = s.chars().filter(|c| *c != '\n' && *c != '\r').collect();
    base64::engine::general_purpose::STANDARD.decode(clean.trim_end_matches([' ', '\t']))
}

fn lf_to_crlf(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + body.len() / 16);
    for &b in body {
        if b == b'\n' {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

/// Body encoding of go-ftw: if unescaping would change the body (it holds `+` or a `%`), send it as-is;
/// otherwise escape each `key=value` pair of the `&`-separated list with Go's `url.QueryEscape`.
fn encode_form(body: &[u8]) -> Vec<u8> {
    if body.contains(&b'%') || body.contains(&b'+') {
        return body.to_vec();
    }
    let mut out = Vec::with_capacity(body.len() * 2);
    let mut remaining = body;
    while !remaining.is_empty() {
        let (token, rest) = match remaining.iter().position(|&b| b == b'&') {
            Some(i) => (&remaining[..i], &remaining[i + 1..]),
            None => (remaining, &[][..]),
        };
        remaining = rest;
        match token.iter().position(|&b| b == b'=') {
            Some(eq) => {
                query_escape(&token[..eq], &mut out);
                out.push(b'=');
                query_escape(&token[eq + 1..], &mut out);
            }
            None => query_escape(token, &mut out),
        }
        out.push(b'&');
    }
    out.pop();
    out
}

/// Go's `url.QueryEscape`: unreserved bytes kept, space as `+`, everything else `%XX` (upper-case hex).
fn query_escape(s: &[u8], out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in s {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b),
            b' ' => out.push(b'+'),
            _ => out.extend_from_slice(&[b'%', HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suite::Data;

    fn input(method: &str, headers: &[(&str, &str)], data: Option<&str>) -> Input {
        Input {
            method: Some(method.into()),
            uri: Some("/post".into()),
            headers: headers.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect(),
            data: data.map(|d| Data::Text(d.into())),
            ..Input::default()
        }
    }

    fn text(b: Vec<u8>) -> String {
        String::from_utf8(b).unwrap()
    }

    #[test]
    fn form_body_is_encoded_and_headers_completed_in_go_ftw_order() {
        let i = input("POST", &[("User-Agent", "ua"), ("Host", "localhost")], Some("var=1234 OR 1=1"));
        assert_eq!(
            text(build(&i, None).unwrap()),
            "POST /post HTTP/1.1\r\nHost: localhost\r\nUser-Agent: ua\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nConnection: close\r\nContent-Length: 17\r\n\r\n\
             var=1234+OR+1%3D1"
        );
    }

    #[test]
    fn already_escaped_or_non_form_bodies_are_sent_as_is() {
        let i = input("POST", &[], Some("a=%27b&c=d+e"));
        assert!(text(build(&i, None).unwrap()).ends_with("\r\n\r\na=%27b&c=d+e"));
        let i = input("POST", &[("Content-Type", "application/json")], Some("{\"a\": 1}"));
        assert!(text(build(&i, None).unwrap()).ends_with("\r\n\r\n{\"a\": 1}"));
        let i = input("POST", &[], Some("a=1&&b c&"));
        assert!(text(build(&i, None).unwrap()).ends_with("\r\n\r\na=1&&b+c"));
    }

    #[test]
    fn multipart_gets_crlf_and_explicit_headers_are_kept() {
        let i = input(
            "POST",
            &[("content-type", "multipart/form-data; boundary=x"), ("Content-Length", "99")],
            Some("--x\nA: b\n\nv\n--x--\n"),
        );
        let t = text(build(&i, None).unwrap());
        assert!(t.contains("Content-Length: 99\r\n"), "{t}");
        assert!(!t.contains("Content-Length: 2"), "{t}");
        assert!(t.ends_with("\r\n\r\n--x\r\nA: b\r\n\r\nv\r\n--x--\r\n"), "{t}");
    }

    #[test]
    fn get_without_body_has_no_content_length_and_no_autocomplete_adds_nothing() {
        let i = input("GET", &[("Host", "h")], None);
        assert_eq!(text(build(&i, None).unwrap()), "GET /post HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
        let mut i = input("POST", &[("Host", "h")], Some("a b"));
        i.autocomplete_headers = Some(false);
        assert_eq!(text(build(&i, None).unwrap()), "POST /post HTTP/1.1\r\nHost: h\r\n\r\na b");
        let i = input("PUT", &[], None);
        assert!(text(build(&i, None).unwrap()).contains("Content-Length: 0\r\n"));
    }

    #[test]
    fn encoded_request_is_sent_verbatim() {
        let i = Input { encoded_request: Some("R0VUIC8g\nSFRUUC8xLjANCkhvc3Q6DQoNCg==".into()), ..Input::default() };
        assert_eq!(build(&i, None).unwrap(), b"GET / HTTP/1.0\r\nHost:\r\n\r\n");
    }

    #[test]
    fn unsupported_features_are_refused() {
        let i = Input { uris: Some(vec!["/a".into()]), ..Input::default() };
        assert!(build(&i, None).unwrap_err().contains("not supported"));
        let i = Input { protocol: Some("https".into()), ..Input::default() };
        assert!(build(&i, None).unwrap_err().contains("https"));
    }

    #[test]
    fn templates_expand() {
        let i = input("POST", &[("Content-Type", "text/plain")], Some("{{ \"1\" | repeat 5 }}"));
        assert!(text(build(&i, None).unwrap()).ends_with("Content-Length: 5\r\n\r\n11111"));
    }
}
