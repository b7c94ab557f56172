//! The IETF RateLimit header fields, as of draft-ietf-httpapi-ratelimit-headers-09 (March 2025): two
//! Structured Field Lists (RFC 9651) whose members are a policy name (an sf-string) with parameters:
//!
//! ```text
//! RateLimit-Policy: "login";q=10;w=60        quota q per window w seconds
//! RateLimit: "login";r=3;t=18                 r units left, t seconds until the quota resets
//! ```
//!
//! With GCRA the "window" is the sustained rate's period: q requests per w seconds, at most `burst` at once.
//! `t` on an allowed response is the time until the key is fully rested; on a refusal it is the time until the
//! next request would pass (the same as `Retry-After`), which is what a client should wait.

use std::fmt::Write;
use std::time::Duration;

use http::HeaderValue;

pub static RATELIMIT_POLICY: http::HeaderName = http::HeaderName::from_static("ratelimit-policy");
pub static RATELIMIT: http::HeaderName = http::HeaderName::from_static("ratelimit");

/// One policy member: `"name";q=Q;w=W`. Names are config identifiers; characters an sf-string cannot hold are
/// replaced (an sf-string is printable ASCII with `"` and `\` escaped).
pub fn policy_member(out: &mut String, name: &str, quota: u64, window: Duration) {
    if !out.is_empty() {
        out.push_str(", ");
    }
    sf_string(out, name);
    let _ = write!(out, ";q={};w={}", quota, window.as_secs().max(1));
}

/// One current-state member: `"name";r=R;t=T`.
pub fn state_member(out: &mut String, name: &str, remaining: u64, reset: Duration) {
    let mut quoted = String::with_capacity(name.len() + 2);
    sf_string(&mut quoted, name);
    state_member_quoted(out, &quoted, remaining, reset);
}

/// [`state_member`] with the name already an sf-string ([`quoted`], made once when the config is built): this
/// runs on every allowed request.
pub fn state_member_quoted(out: &mut String, quoted: &str, remaining: u64, reset: Duration) {
    if !out.is_empty() {
        out.push_str(", ");
    }
    out.push_str(quoted);
    out.push_str(";r=");
    push_u64(out, remaining);
    out.push_str(";t=");
    push_u64(out, ceil_secs(reset));
}

/// `name` as an sf-string.
pub fn quoted(name: &str) -> Box<str> {
    let mut q = String::with_capacity(name.len() + 2);
    sf_string(&mut q, name);
    q.into_boxed_str()
}

/// Appends `n` in decimal without the formatting machinery (digit by digit: a memcpy call per number cost more
/// than the digits).
pub fn push_u64(out: &mut String, n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut n = n;
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.reserve(buf.len() - i);
    for &d in &buf[i..] {
        out.push(char::from(d));
    }
}

/// The start of a limit's RateLimit member, `"name";r=`, made once per limit for [`state_value`].
pub fn state_prefix(name: &str) -> Box<str> {
    let mut p = String::with_capacity(name.len() + 5);
    sf_string(&mut p, name);
    p.push_str(";r=");
    p.into_boxed_str()
}

/// The RateLimit field's value from each limit's [`state_prefix`] and numbers (`r`, and `t` in whole seconds),
/// written into one stack buffer and copied once into the value. `cap` bounds the text: the names' lengths plus
/// [`MEMBER_EXTRA`] per member.
pub fn state_value<'a>(prefixes: impl Iterator<Item = &'a str>, numbers: &[(u64, u64)], cap: usize) -> HeaderValue {
    const STACK: usize = 256;
    let mut stack = [0u8; STACK];
    let mut heap = Vec::new();
    let buf: &mut [u8] = if cap <= STACK {
        &mut stack
    } else {
        heap.resize(cap, 0);
        &mut heap
    };
    let mut at = 0;
    for (i, (prefix, &(r, t))) in prefixes.zip(numbers).enumerate() {
        if i > 0 {
            at = put(buf, at, b", ");
        }
        at = put(buf, at, prefix.as_bytes());
        at = put_u64(buf, at, r);
        at = put(buf, at, b";t=");
        at = put_u64(buf, at, t);
    }
    HeaderValue::from_bytes(&buf[..at]).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Bytes a state member takes beyond its quoted name: `, `, `;r=` and `;t=` with up to 20 digits each.
pub const MEMBER_EXTRA: usize = 48;

/// Copies `s` into `buf` at `at`; returns the end.
fn put(buf: &mut [u8], at: usize, s: &[u8]) -> usize {
    let end = at + s.len();
    buf[at..end].copy_from_slice(s);
    end
}

/// `"00"`, `"01"`, … `"99"`: decimal digits two at a time (half the divisions of one at a time).
const DIGIT_PAIRS: [u8; 200] = {
    let mut t = [0u8; 200];
    let mut i = 0;
    while i < 100 {
        t[2 * i] = b'0' + (i / 10) as u8;
        t[2 * i + 1] = b'0' + (i % 10) as u8;
        i += 1;
    }
    t
};

/// Writes `n` in decimal into `buf` at `at`, counting its digits first so they go straight to their place (no
/// temporary buffer, no copy); returns the end.
fn put_u64(buf: &mut [u8], at: usize, mut n: u64) -> usize {
    let mut len = 1;
    let mut bound = 10u64;
    while n >= bound {
        len += 1;
        match bound.checked_mul(10) {
            Some(b) => bound = b,
            None => break,
        }
    }
    let end = at + len;
    let mut i = end;
    while n >= 100 {
        let p = (n % 100) as usize * 2;
        n /= 100;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&DIGIT_PAIRS[p..p + 2]);
    }
    if n >= 10 {
        let p = n as usize * 2;
        buf[i - 2..i].copy_from_slice(&DIGIT_PAIRS[p..p + 2]);
    } else {
        buf[i - 1] = b'0' + n as u8;
    }
    end
}

/// Whole seconds, rounded up (a client that waits this long is never early).
pub fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

fn sf_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            _ => out.push('_'),
        }
    }
    out.push('"');
}

/// A header value from text built by this module (always visible ASCII).
pub fn value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// [`value`] taking the text's buffer instead of copying it.
pub fn value_owned(s: String) -> HeaderValue {
    HeaderValue::try_from(s).unwrap_or_else(|_| HeaderValue::from_static(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_in_structured_field_syntax() {
        let mut p = String::new();
        policy_member(&mut p, "login", 10, Duration::from_secs(60));
        policy_member(&mut p, "we\"ird", 5, Duration::from_millis(200));
        assert_eq!(p, r#""login";q=10;w=60, "we\"ird";q=5;w=1"#);
        let mut s = String::new();
        state_member(&mut s, "login", 0, Duration::from_millis(5001));
        assert_eq!(s, r#""login";r=0;t=6"#);
        state_member_quoted(&mut s, &quoted("we\"ird"), 12, Duration::from_secs(3));
        assert_eq!(s, r#""login";r=0;t=6, "we\"ird";r=12;t=3"#);
        for n in [0, 7, 10, 99, 1_000_000, u64::MAX] {
            let mut d = String::new();
            push_u64(&mut d, n);
            assert_eq!(d, n.to_string());
        }
    }

    /// The value written from numbers reads exactly like the members built as text, also at the bound.
    #[test]
    fn state_value_matches_the_text_members() {
        let long = "x".repeat(300);
        let cases = [
            (vec!["per-ip"], vec![(999_999, 1)]),
            (vec!["burst", "we\"ird"], vec![(0, 0), (u64::MAX, u64::MAX)]),
            (vec!["a", "b", "c", "d"], vec![(1, 2), (10, 20), (100, 200), (9, 99)]),
            (vec![long.as_str()], vec![(u64::MAX, u64::MAX)]),
        ];
        for (names, numbers) in &cases {
            let quoted: Vec<Box<str>> = names.iter().map(|n| quoted(n)).collect();
            let mut text = String::new();
            for (q, &(r, t)) in quoted.iter().zip(numbers) {
                state_member_quoted(&mut text, q, r, Duration::from_secs(t));
            }
            let cap = quoted.iter().map(|q| q.len() + MEMBER_EXTRA).sum();
            let prefixes: Vec<Box<str>> = names.iter().map(|n| state_prefix(n)).collect();
            let v = state_value(prefixes.iter().map(|p| &**p), numbers, cap);
            assert_eq!(v.to_str().unwrap(), text);
        }
    }

    #[test]
    fn digits_two_at_a_time() {
        let mut buf = [0u8; 24];
        let mut n = 1u64;
        let mut cases = vec![0, 9, 10, 11, 99, 100, 101, 999, 1000, u64::MAX, u64::MAX - 1, 10_000_000_000_000_000_000];
        while let Some(m) = n.checked_mul(7) {
            cases.extend([m - 1, m, m + 1]);
            n = m;
        }
        for n in cases {
            let end = put_u64(&mut buf, 2, n);
            assert_eq!(std::str::from_utf8(&buf[2..end]).unwrap(), n.to_string());
        }
    }
}
