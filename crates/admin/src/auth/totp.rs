//! RFC 6238 time-based one-time passwords: HMAC-SHA-1, 30 s steps, 6 digits, ±1 step of clock drift.
//!
//! Written on `hmac` + `sha1` rather than a TOTP crate: it is thirty lines, the comparison of the code the
//! user typed is ours to make constant-time (`subtle`), and the accepted **time step** comes back to the
//! caller, which is what replay protection needs (the users store accepts a step only if it is newer than the
//! last one accepted for that user). Owns: code computation and checking. Must not touch: storage.

use hmac::{Hmac, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;

/// Seconds per time step (RFC 6238 `X`).
pub const STEP_SECS: u64 = 30;
/// Digits per code.
pub const DIGITS: u32 = 6;
/// Steps of clock drift accepted either side of the current one.
pub const DRIFT_STEPS: u64 = 1;
/// Bytes of a new TOTP secret: 160 bits, the HMAC-SHA-1 block-size recommendation of RFC 4226 §4.
pub const SECRET_LEN: usize = 20;

/// The time step a Unix time falls in.
pub fn step_at(unix_secs: u64) -> u64 {
    unix_secs / STEP_SECS
}

/// The code for one time step (RFC 4226 HOTP with the step as counter), `digits` long.
pub fn code_at_step(secret: &[u8], step: u64, digits: u32) -> u32 {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(&step.to_be_bytes());
    let h = mac.finalize().into_bytes();
    // Dynamic truncation (RFC 4226 §5.3).
    let off = (h[h.len() - 1] & 0x0f) as usize;
    let bin = u32::from_be_bytes([h[off] & 0x7f, h[off + 1], h[off + 2], h[off + 3]]);
    bin % 10u32.pow(digits)
}

/// The 6-digit code for a Unix time, zero-padded.
pub fn code_at(secret: &[u8], unix_secs: u64) -> String {
    format!("{:06}", code_at_step(secret, step_at(unix_secs), DIGITS))
}

/// Checks `code` against the steps around `unix_secs`; returns the step it matched. Every candidate step is
/// computed and compared in constant time, so the timing tells nothing about which one (if any) matched.
pub fn verify(secret: &[u8], code: &str, unix_secs: u64) -> Option<u64> {
    let code = code.trim();
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = step_at(unix_secs);
    let mut found = None;
    for step in now.saturating_sub(DRIFT_STEPS)..=now + DRIFT_STEPS {
        let expected = format!("{:06}", code_at_step(secret, step, DIGITS));
        if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) && found.is_none() {
            found = Some(step);
        }
    }
    found
}

/// A fresh random secret.
pub fn new_secret() -> [u8; SECRET_LEN] {
    let mut s = [0u8; SECRET_LEN];
    rand::Rng::fill(&mut rand::rng(), &mut s[..]);
    s
}

/// Base32 without padding, as authenticator apps expect in the provisioning URI.
pub fn secret_base32(secret: &[u8]) -> String {
    data_encoding::BASE32_NOPAD.encode(secret)
}

/// The `otpauth://` provisioning URI (Google Authenticator key-URI format) for `user`.
pub fn provisioning_uri(user: &str, secret: &[u8]) -> String {
    format!(
        "otpauth://totp/Portcullis:{}?secret={}&issuer=Portcullis&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
        percent_encode(user),
        secret_base32(secret)
    )
}

/// Percent-encodes everything but unreserved characters (RFC 3986), for the label of the URI.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 rows: the 8-digit codes; the 6-digit code is the same number mod 10^6
    /// (RFC 4226 §5.3 truncation), which is how the RFC allows shorter codes.
    const SEED: &[u8] = b"12345678901234567890";
    const VECTORS: &[(u64, &str)] = &[
        (59, "94287082"),
        (1111111109, "07081804"),
        (1111111111, "14050471"),
        (1234567890, "89005924"),
        (2000000000, "69279037"),
        (20000000000, "65353130"),
    ];

    #[test]
    fn rfc6238_sha1_vectors_8_and_6_digits() {
        for (t, eight) in VECTORS {
            assert_eq!(format!("{:08}", code_at_step(SEED, step_at(*t), 8)), *eight, "T={t}");
            assert_eq!(code_at(SEED, *t), eight[2..], "T={t}");
        }
    }

    #[test]
    fn accepts_one_step_of_drift_and_no_more() {
        let t = 1_234_567_890;
        let now = step_at(t);
        for (delta, ok) in [(-2i64, false), (-1, true), (0, true), (1, true), (2, false)] {
            let step = (now as i64 + delta) as u64;
            let code = format!("{:06}", code_at_step(SEED, step, DIGITS));
            assert_eq!(verify(SEED, &code, t), ok.then_some(step), "delta {delta}");
        }
    }

    #[test]
    fn rejects_malformed_codes() {
        let t = 1_111_111_109;
        let good = code_at(SEED, t);
        assert_eq!(verify(SEED, &good, t), Some(step_at(t)));
        for bad in ["", "12345", "1234567", "abcdef", "08180 ", "+81804", "０８１８０４"] {
            assert_eq!(verify(SEED, bad, t), None, "{bad:?}");
        }
        assert_eq!(verify(b"another secret", &good, t), None);
    }

    #[test]
    fn provisioning_uri_round_trips_the_secret() {
        let secret = new_secret();
        let uri = provisioning_uri("ops admin", &secret);
        assert!(uri.starts_with("otpauth://totp/Portcullis:ops%20admin?secret="), "{uri}");
        assert!(uri.ends_with("&issuer=Portcullis&algorithm=SHA1&digits=6&period=30"), "{uri}");
        let b32 = uri.split("secret=").nth(1).unwrap().split('&').next().unwrap();
        assert_eq!(data_encoding::BASE32_NOPAD.decode(b32.as_bytes()).unwrap(), secret);
        assert_ne!(new_secret(), secret, "secrets are random");
    }
}
