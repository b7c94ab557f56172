//! An entry as the exact bytes on the wire: request line with the target as written, the entry's headers in
//! order, then the framing headers the entry does not set itself (`Host`, `Content-Length`, `Connection: close`).

use crate::corpus::Entry;

/// The `Host` sent when an entry has none.
pub const DEFAULT_HOST: &str = "api.example.com";

/// Builds the HTTP/1.1 request for `e`.
pub fn build(e: &Entry) -> Vec<u8> {
    let has = |name: &str| e.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
    let mut out = format!("{} {} HTTP/1.1\r\n", e.method, e.target).into_bytes();
    if !has("host") {
        out.extend_from_slice(format!("Host: {DEFAULT_HOST}\r\n").as_bytes());
    }
    for (n, v) in &e.headers {
        // The length is always computed here: a stale one in a hand-edited entry would desync the connection.
        if n.eq_ignore_ascii_case("content-length") || n.eq_ignore_ascii_case("connection") {
            continue;
        }
        out.extend_from_slice(n.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    let body = e.body.as_bytes();
    if !body.is_empty() || matches!(e.method.as_str(), "POST" | "PUT" | "PATCH") {
        out.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    out.extend_from_slice(b"Connection: close\r\n\r\n");
    out.extend_from_slice(body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corpus::Label;

    fn entry(method: &str, headers: &[(&str, &str)], body: &str) -> Entry {
        Entry {
            id: "t".into(),
            label: Label::Benign,
            class: "c".into(),
            placement: "query".into(),
            encoding: "url".into(),
            method: method.into(),
            target: "/a%2Fb?q=%2527x".into(),
            headers: headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
            body: body.into(),
            note: String::new(),
        }
    }

    #[test]
    fn target_is_sent_as_written_and_framing_is_added() {
        let r = String::from_utf8(build(&entry("GET", &[("X-A", "1")], ""))).unwrap();
        assert_eq!(r, "GET /a%2Fb?q=%2527x HTTP/1.1\r\nHost: api.example.com\r\nX-A: 1\r\nConnection: close\r\n\r\n");
        let r = String::from_utf8(build(&entry("POST", &[("Host", "h"), ("Content-Length", "99")], "é"))).unwrap();
        assert_eq!(r, "POST /a%2Fb?q=%2527x HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nConnection: close\r\n\r\né");
    }
}
