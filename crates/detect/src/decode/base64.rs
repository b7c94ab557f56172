//! Base64 when a value *is* base64: standard or URL-safe alphabet (not mixed), a plausible length and
//! padding, enough entropy to not be a plain word, and a decoding that is mostly printable text. Anything
//! else is not base64 for us (a word like `Administrator` is valid base64 but decodes to noise).

/// Shortest value considered: short tokens are words, ids or hashes far more often than payloads.
const MIN_LEN: usize = 8;
/// Longest value decoded (bounded output).
const MAX_LEN: usize = 64 * 1024;

/// Decoded bytes when `input` (trimmed) looks like base64 of text, else `None`.
///
/// ```
/// use portcullis_detect::decode::base64_payload;
/// assert_eq!(base64_payload(b"JHtqbmRpOmxkYXA6Ly94fQ==").as_deref(), Some(&b"${jndi:ldap://x}"[..]));
/// assert_eq!(base64_payload(b"Administrator"), None);
/// ```
pub fn base64_payload(input: &[u8]) -> Option<Vec<u8>> {
    let s = input.trim_ascii();
    if s.len() < MIN_LEN || s.len() > MAX_LEN {
        return None;
    }
    let body_len = s.len() - s.iter().rev().take_while(|&&b| b == b'=').count();
    let pad = s.len() - body_len;
    if pad > 2 || (pad > 0 && !s.len().is_multiple_of(4)) || body_len % 4 == 1 {
        return None;
    }
    let body = &s[..body_len];
    // One pass over the alphabet, without allocating: most values that reach here are words, ids, paths or
    // prose, and are rejected before anything is decoded.
    let (mut upper, mut lower, mut digit, mut std_only, mut url_only) = (false, false, false, false, false);
    for &b in body {
        match b {
            b'A'..=b'Z' => upper = true,
            b'a'..=b'z' => lower = true,
            b'0'..=b'9' => digit = true,
            b'+' | b'/' => std_only = true,
            b'-' | b'_' => url_only = true,
            _ => return None,
        }
    }
    if std_only && url_only {
        return None;
    }
    // Real base64 of text mixes cases (and usually digits); a word or an all-lowercase slug does not.
    if !(upper && lower) && !(digit && (upper || lower)) {
        return None;
    }
    let mut out = Vec::with_capacity(body.len() * 3 / 4);
    for chunk in body.chunks(4) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (k, &b)| acc | (u32::from(sextet(b)) << (18 - 6 * k)));
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..chunk.len() - 1]);
    }
    mostly_text(&out).then_some(out)
}

/// The 6-bit value of a base64 character already checked to be in the alphabet (standard or URL-safe).
fn sextet(b: u8) -> u8 {
    match b {
        b'A'..=b'Z' => b - b'A',
        b'a'..=b'z' => b - b'a' + 26,
        b'0'..=b'9' => b - b'0' + 52,
        b'+' | b'-' => 62,
        _ => 63,
    }
}

/// At least 90% printable ASCII / whitespace, or valid UTF-8 without control characters.
fn mostly_text(b: &[u8]) -> bool {
    if b.is_empty() {
        return false;
    }
    if let Ok(s) = std::str::from_utf8(b) {
        if !s.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
            return true;
        }
    }
    let printable = b.iter().filter(|&&c| (0x20..0x7f).contains(&c) || matches!(c, b'\n' | b'\r' | b'\t')).count();
    printable * 10 >= b.len() * 9
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_payloads_and_rejects_words() {
        assert_eq!(base64_payload(b"Y2F0IC9ldGMvcGFzc3dk").as_deref(), Some(&b"cat /etc/passwd"[..]));
        assert_eq!(
            base64_payload(b"PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg").as_deref(),
            Some(&b"<script>alert(1)</script>"[..])
        );
        assert_eq!(base64_payload(b"eyJ1c2VyIjoiYWRtaW4ifQ==").as_deref(), Some(&b"{\"user\":\"admin\"}"[..]));
        for s in ["hello", "password", "Administrator", "ThisIsATest", "abc+def_ghi", "not base64 at all", "12345678"] {
            assert_eq!(base64_payload(s.as_bytes()), None, "{s}");
        }
        // Binary (an image header) is not text.
        assert_eq!(base64_payload(b"iVBORw0KGgoAAAANSUhEUgAAAAEAAAAB"), None);
    }
}
