//! Base64 when a value *is* base64: standard or URL-safe alphabet (not mixed), a plausible length and
//! padding, enough entropy to not be a plain word, and a decoding that is mostly printable text. Anything
//! else is not base64 for us (a word like `Administrator` is valid base64 but decodes to noise).

/// Shortest value considered: short tokens are words, ids or hashes far more often than payloads.
const MIN_LEN: usize = 8;
/// Longest value decoded (bounded output).
const MAX_LEN: usize = 64 * 1024;

/// Kinds of base64 character in [`ALPHABET`] (0: not in either alphabet).
const UPPER: u8 = 1;
const LOWER: u8 = 2;
const DIGIT: u8 = 4;
/// `+` `/`: standard alphabet only.
const STD: u8 = 8;
/// `-` `_`: URL-safe alphabet only.
const URL: u8 = 16;

/// The kind of every byte, built at compile time.
static ALPHABET: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = kind(b as u8);
        b += 1;
    }
    t
};

/// The kind of a byte in [`ALPHABET`] (0: in neither alphabet). Also read at compile time by the prefilter's
/// byte table (`crate::prefilter`), which records every byte's kind in its one pass over a value.
pub(crate) const fn kind(c: u8) -> u8 {
    match c {
        b'A'..=b'Z' => UPPER,
        b'a'..=b'z' => LOWER,
        b'0'..=b'9' => DIGIT,
        b'+' | b'/' => STD,
        b'-' | b'_' => URL,
        _ => 0,
    }
}

/// All the bits [`kind`] returns.
pub(crate) const KINDS: u8 = UPPER | LOWER | DIGIT | STD | URL;

/// Can a byte outside both alphabets sit in a value [`base64_payload`] accepts? Only where the body does not
/// reach: the ASCII whitespace `trim_ascii` removes at either end, and the `=` padding.
pub(crate) const fn may_surround_body(c: u8) -> bool {
    c == b'=' || c.is_ascii_whitespace()
}

/// The letters and digits of real base64 of text: both cases, or digits beside letters. A word or an
/// all-lowercase slug has neither. `kinds` is the union of the body's [`kind`]s; the test is monotone (more
/// kinds never turn it false), so a superset's `false` proves the body's.
pub(crate) const fn mixed(kinds: u8) -> bool {
    let (upper, lower, digit) = (kinds & UPPER != 0, kinds & LOWER != 0, kinds & DIGIT != 0);
    (upper && lower) || (digit && (upper || lower))
}

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
    // prose, and are rejected before anything is decoded. One table load per byte gives its kind.
    let mut kinds = 0u8;
    for &b in body {
        let k = ALPHABET[usize::from(b)];
        if k == 0 {
            return None;
        }
        kinds |= k;
    }
    payload_of_body(body, kinds)
}

/// Is `v` base64 of text, for a `v` every byte of which is in an alphabet (a [`kind`] other than 0) and whose
/// kinds are `kinds`? Exactly `base64_payload(v).is_some()` on such a value: there is nothing to trim and no
/// padding, so `v` is its own body, and the alphabet pass's kinds are known (the prefilter's byte pass
/// computed them: `crate::prefilter::Classes`).
pub(crate) fn is_payload_whole(v: &[u8], kinds: u8) -> bool {
    debug_assert!(v.iter().all(|&b| kind(b) != 0) && v.iter().fold(0, |k, &b| k | kind(b)) == kinds);
    if v.len() < MIN_LEN || v.len() > MAX_LEN || v.len() % 4 == 1 {
        return false;
    }
    payload_of_body(v, kinds).is_some()
}

/// [`base64_payload`] after its alphabet pass: `body` (padding removed) is all alphabet bytes, of `kinds`.
fn payload_of_body(body: &[u8], kinds: u8) -> Option<Vec<u8>> {
    if kinds & (STD | URL) == STD | URL {
        return None;
    }
    // Real base64 of text mixes cases (and usually digits); a word or an all-lowercase slug does not.
    if !mixed(kinds) {
        return None;
    }
    if binary_early(body) {
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

/// Does the decoding of `body` (alphabet already checked) fail [`mostly_text`] for sure, found without
/// allocating? True once it is surely not UTF-8 text free of controls — it holds a C0 control or DEL byte
/// other than tab/CR/LF, or a byte sequence no UTF-8 text has — *and* more than a tenth of its bytes are not
/// printable (so not 90 % printable either). Ids, hashes, random tokens (a UUID is valid URL-safe base64)
/// and header names stop here after a few groups: their decodings are mostly bytes ≥ 0x80 in no UTF-8 order.
fn binary_early(body: &[u8]) -> bool {
    let out_len = body.len() / 4 * 3 + (body.len() % 4).saturating_sub(1);
    let (mut bad, mut not_text) = (0usize, false);
    // UTF-8 continuation bytes still expected after a lead byte.
    let mut need = 0u8;
    for chunk in body.chunks(4) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (k, &b)| acc | (u32::from(sextet(b)) << (18 - 6 * k)));
        for &c in &[(n >> 16) as u8, (n >> 8) as u8, n as u8][..chunk.len() - 1] {
            if !is_text_byte(c) {
                bad += 1;
                not_text |= c < 0x20 || c == 0x7f;
            }
            if need > 0 {
                if c & 0xC0 == 0x80 {
                    need -= 1;
                } else {
                    // a lead byte not followed by its continuation bytes
                    not_text = true;
                    need = 0;
                }
            } else if c >= 0x80 {
                match c {
                    0xC2..=0xDF => need = 1,
                    0xE0..=0xEF => need = 2,
                    0xF0..=0xF4 => need = 3,
                    // a continuation byte without a lead, or a byte UTF-8 never uses
                    _ => not_text = true,
                }
            }
        }
        if not_text && bad * 10 > out_len {
            return true;
        }
    }
    false
}

/// Printable ASCII or the whitespace text carries.
fn is_text_byte(c: u8) -> bool {
    (0x20..0x7f).contains(&c) || matches!(c, b'\n' | b'\r' | b'\t')
}

/// The 6-bit value of a base64 character already checked to be in the alphabet (standard or URL-safe): one
/// table load ([`SEXTET`]).
fn sextet(b: u8) -> u8 {
    SEXTET[usize::from(b)]
}

/// [`sextet_of`] of every byte, built at compile time.
static SEXTET: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = sextet_of(i as u8);
        i += 1;
    }
    t
};

/// The definition of [`sextet`] (63 for bytes outside both alphabets, which it is never asked).
const fn sextet_of(b: u8) -> u8 {
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
    let printable = b.iter().filter(|&&c| is_text_byte(c)).count();
    printable * 10 >= b.len() * 9
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sextet_table_is_its_definition() {
        for b in 0..=255u8 {
            assert_eq!(sextet(b), sextet_of(b), "{b}");
        }
    }

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
        assert!(binary_early(b"iVBORw0KGgoAAAANSUhEUgAAAAEAAAAB"));
        assert_eq!(base64_payload(b"9f1c2b7e-4a7d-4e2b-9a43-0d1f3c5b6a70"), None);
    }

    #[test]
    fn the_early_rejection_agrees_with_the_full_check_on_random_bodies() {
        // Bodies of 2 to 40 characters over both alphabets (a fixed-seed generator, so a failure repeats):
        // wherever `binary_early` rejects, the full decoding is not text.
        let std = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let url = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let hex = b"0123456789abcdef-";
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = |m: usize| {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (seed >> 33) as usize % m
        };
        let (mut early, mut total) = (0, 0);
        for round in 0..60_000 {
            let alphabet: &[u8] = [&std[..], &url[..], &hex[..]][round % 3];
            let len = 2 + next(39);
            if len % 4 == 1 {
                continue;
            }
            let body: Vec<u8> = (0..len).map(|_| alphabet[next(alphabet.len())]).collect();
            total += 1;
            if binary_early(&body) {
                early += 1;
                let mut out = Vec::new();
                for chunk in body.chunks(4) {
                    let n =
                        chunk.iter().enumerate().fold(0u32, |a, (k, &b)| a | (u32::from(sextet(b)) << (18 - 6 * k)));
                    out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8][..chunk.len() - 1]);
                }
                assert!(!mostly_text(&out), "{:?}", String::from_utf8_lossy(&body));
            }
        }
        // the test must exercise the early path, not only the full one
        assert!(early * 2 > total, "{early} of {total} rejected early");
    }

    #[test]
    fn the_alphabet_table_is_the_character_ranges() {
        // the two alphabets of RFC 4648 (sections 4 and 5), written out: the table must agree with them
        let standard = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let url_safe = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        for b in 0..=255u8 {
            let kind = ALPHABET[usize::from(b)];
            let (in_std, in_url) = (standard.contains(&b), url_safe.contains(&b));
            match (in_std, in_url) {
                (false, false) => assert_eq!(kind, 0, "byte {b:#04x}"),
                (true, false) => assert_eq!(kind, STD, "byte {b:#04x}"),
                (false, true) => assert_eq!(kind, URL, "byte {b:#04x}"),
                (true, true) => {
                    let want =
                        [(b.is_ascii_uppercase(), UPPER), (b.is_ascii_lowercase(), LOWER), (b.is_ascii_digit(), DIGIT)];
                    assert_eq!(want.iter().filter(|(yes, k)| *yes && kind == *k).count(), 1, "byte {b:#04x}");
                }
            }
        }
        // mixed alphabets, a single case, and a byte outside both are still refused
        for s in ["abcd+efg_hij", "abcdefghijkl", "ABCDEFGHIJKL", "Y2F0IC9ldGMv cGFzc3dk"] {
            assert_eq!(base64_payload(s.as_bytes()), None, "{s}");
        }
    }

    #[test]
    fn the_early_rejection_agrees_with_the_full_check() {
        // Every 2-group body over a small alphabet: wherever `binary_early` rejects, the decoding is not text.
        let alphabet = b"AQgw/+9az_-";
        let mut buf = [0u8; 8];
        for i in 0..alphabet.len().pow(4) {
            let mut k = i;
            for b in buf.iter_mut().take(4) {
                *b = alphabet[k % alphabet.len()];
                k /= alphabet.len();
            }
            buf.copy_within(..4, 4);
            if binary_early(&buf) {
                let mut out = Vec::new();
                for chunk in buf.chunks(4) {
                    let n =
                        chunk.iter().enumerate().fold(0u32, |a, (k, &b)| a | (u32::from(sextet(b)) << (18 - 6 * k)));
                    out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8]);
                }
                assert!(!mostly_text(&out), "{:?}", String::from_utf8_lossy(&buf));
            }
        }
    }
}
