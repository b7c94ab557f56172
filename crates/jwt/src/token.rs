//! Splitting a JWS compact serialization (`header.payload.signature`) without trusting any of it: bounded
//! size, strict base64url (no padding, no whitespace), a JSON object header whose `alg` is read before anything
//! else, and no `crit` extensions (we understand none, so RFC 7515 §4.1.11 says refuse).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;

use crate::jwk::MAX_KID_BYTES;
use crate::JwtError;

/// Largest token accepted; real access tokens are a few KB.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

#[derive(Deserialize)]
struct RawHeader {
    alg: Option<serde_json::Value>,
    kid: Option<serde_json::Value>,
    crit: Option<serde_json::Value>,
}

/// A token split and decoded, signature not yet checked.
pub struct Parts<'a> {
    pub alg: String,
    pub kid: Option<String>,
    /// `header.payload`, the bytes the signature covers.
    pub signing_input: &'a [u8],
    pub payload: Vec<u8>,
    pub signature: Vec<u8>,
}

pub fn split(token: &str) -> Result<Parts<'_>, JwtError> {
    if token.is_empty() || token.len() > MAX_TOKEN_BYTES {
        return Err(JwtError::Malformed("size"));
    }
    let mut it = token.split('.');
    let (Some(h), Some(p), Some(s), None) = (it.next(), it.next(), it.next(), it.next()) else {
        return Err(JwtError::Malformed("not three segments"));
    };
    if h.is_empty() || p.is_empty() {
        return Err(JwtError::Malformed("empty segment"));
    }
    let header = URL_SAFE_NO_PAD.decode(h).map_err(|_| JwtError::Malformed("header encoding"))?;
    let header: RawHeader = serde_json::from_slice(&header).map_err(|_| JwtError::Malformed("header json"))?;
    let alg = match header.alg {
        Some(serde_json::Value::String(a)) => a,
        _ => return Err(JwtError::Malformed("alg")),
    };
    if header.crit.is_some() {
        return Err(JwtError::Malformed("crit"));
    }
    let kid = match header.kid {
        None => None,
        Some(serde_json::Value::String(k)) if !k.is_empty() && k.len() <= MAX_KID_BYTES => Some(k),
        Some(_) => return Err(JwtError::Malformed("kid")),
    };
    if s.is_empty() {
        // An unsecured JWS (`alg: none` style): there is nothing to verify.
        return Err(JwtError::AlgorithmNotAllowed);
    }
    let payload = URL_SAFE_NO_PAD.decode(p).map_err(|_| JwtError::Malformed("payload encoding"))?;
    let signature = URL_SAFE_NO_PAD.decode(s).map_err(|_| JwtError::Malformed("signature encoding"))?;
    Ok(Parts { alg, kid, signing_input: &token.as_bytes()[..h.len() + 1 + p.len()], payload, signature })
}
