//! JSON Web Keys (RFC 7517) turned into verification keys, each pinned to the algorithms it may verify, and
//! the JWS signature check on `ring`.
//!
//! A key from a JWKS is never symmetric: a `kty: "oct"` entry is skipped, so a token signed with HMAC over a
//! public key (the HS/RS confusion) can never meet an HMAC key. The only HMAC key is the configured secret.

use std::collections::HashMap;
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use serde::Deserialize;

use crate::alg::{Algorithm, KeyFamily};

/// Largest JWKS document accepted (file or URL).
pub const MAX_JWKS_BYTES: usize = 1024 * 1024;
/// Largest `kid` accepted, in a JWKS or a token.
pub const MAX_KID_BYTES: usize = 256;

#[derive(Clone)]
enum Material {
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
    /// Uncompressed SEC1 point (`04 || x || y`).
    Ec {
        point: Vec<u8>,
    },
    Ed25519 {
        x: Vec<u8>,
    },
    Hmac(ring::hmac::Key),
}

/// One verification key with the algorithms it is allowed to verify.
#[derive(Clone)]
pub struct VerifyKey {
    pub kid: Option<String>,
    family: KeyFamily,
    /// The JWK's own `alg`, when it names one: then only that algorithm.
    pinned: Option<Algorithm>,
    material: Material,
}

impl std::fmt::Debug for VerifyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyKey").field("kid", &self.kid).field("family", &self.family).finish_non_exhaustive()
    }
}

impl VerifyKey {
    /// The HS256 key from the configured shared secret.
    pub fn hmac(secret: &[u8]) -> VerifyKey {
        VerifyKey {
            kid: None,
            family: KeyFamily::Hmac,
            pinned: Some(Algorithm::HS256),
            material: Material::Hmac(ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret)),
        }
    }

    /// Whether this key may verify a token signed with `alg`.
    pub fn accepts(&self, alg: Algorithm) -> bool {
        alg.family() == self.family && self.pinned.is_none_or(|p| p == alg)
    }

    /// Checks `sig` over `signing_input` with `alg`. Callers check [`VerifyKey::accepts`] first; this checks
    /// it again so a mismatch can never verify.
    pub fn verify(&self, alg: Algorithm, signing_input: &[u8], sig: &[u8]) -> bool {
        if !self.accepts(alg) {
            return false;
        }
        match (&self.material, alg) {
            (Material::Rsa { n, e }, _) => {
                let params: &signature::RsaParameters = match alg {
                    Algorithm::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
                    Algorithm::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
                    Algorithm::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
                    Algorithm::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
                    Algorithm::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
                    Algorithm::PS512 => &signature::RSA_PSS_2048_8192_SHA512,
                    _ => return false,
                };
                RsaPublicKeyComponents { n, e }.verify(params, signing_input, sig).is_ok()
            }
            (Material::Ec { point }, Algorithm::ES256) => {
                UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point).verify(signing_input, sig).is_ok()
            }
            (Material::Ec { point }, Algorithm::ES384) => {
                UnparsedPublicKey::new(&signature::ECDSA_P384_SHA384_FIXED, point).verify(signing_input, sig).is_ok()
            }
            (Material::Ed25519 { x }, Algorithm::EdDSA) => {
                UnparsedPublicKey::new(&signature::ED25519, x).verify(signing_input, sig).is_ok()
            }
            // Constant-time comparison inside ring.
            (Material::Hmac(k), Algorithm::HS256) => ring::hmac::verify(k, signing_input, sig).is_ok(),
            _ => false,
        }
    }
}

/// The keys of one JWKS, looked up by `kid` (a plain map key: never a path or URL).
#[derive(Debug, Default, Clone)]
pub struct KeySet {
    by_kid: HashMap<String, Arc<VerifyKey>>,
    /// Keys without a `kid`.
    anonymous: Vec<Arc<VerifyKey>>,
    /// Entries skipped while loading, with why (for the log).
    pub skipped: Vec<String>,
}

impl KeySet {
    pub fn len(&self) -> usize {
        self.by_kid.len() + self.anonymous.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, kid: &str) -> Option<&Arc<VerifyKey>> {
        self.by_kid.get(kid)
    }

    /// For a token without `kid`: the one key that accepts `alg`, if exactly one does.
    pub fn only_key_for(&self, alg: Algorithm) -> Option<&Arc<VerifyKey>> {
        let mut it = self.by_kid.values().chain(&self.anonymous).filter(|k| k.accepts(alg));
        let first = it.next()?;
        it.next().is_none().then_some(first)
    }

    /// Adds a key (the configured HMAC secret).
    pub fn push(&mut self, key: VerifyKey) {
        match key.kid.clone() {
            Some(kid) => {
                self.by_kid.insert(kid, Arc::new(key));
            }
            None => self.anonymous.push(Arc::new(key)),
        }
    }
}

#[derive(Deserialize)]
struct JwksDoc {
    keys: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawJwk {
    kty: String,
    kid: Option<String>,
    alg: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    crv: Option<String>,
    n: Option<String>,
    e: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

/// Why a JWKS document could not be used at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwksError {
    #[error("JWKS is larger than {MAX_JWKS_BYTES} bytes")]
    TooLarge,
    #[error("JWKS is not a JSON object with a \"keys\" array: {0}")]
    Json(String),
    #[error("JWKS has no usable signing key ({0})")]
    NoUsableKey(String),
}

/// Parses a JWKS document. Entries that cannot be used (unknown `kty`, `use` other than `sig`, symmetric keys,
/// short RSA moduli, malformed coordinates) are skipped and listed in [`KeySet::skipped`]; a document with no
/// usable key at all is an error.
pub fn parse_jwks(data: &[u8], allowed: &[Algorithm]) -> Result<KeySet, JwksError> {
    if data.len() > MAX_JWKS_BYTES {
        return Err(JwksError::TooLarge);
    }
    let doc: JwksDoc = serde_json::from_slice(data).map_err(|e| JwksError::Json(e.to_string()))?;
    let mut set = KeySet::default();
    for (i, v) in doc.keys.into_iter().enumerate() {
        let parsed = serde_json::from_value::<RawJwk>(v)
            .map_err(|e| format!("keys[{i}]: {e}"))
            .and_then(|raw| key_from_jwk(&raw, allowed).map_err(|e| format!("keys[{i}]: {e}")));
        match parsed {
            Ok(key) => {
                if let Some(kid) = &key.kid {
                    if set.by_kid.contains_key(kid) {
                        set.skipped.push(format!("keys[{i}]: duplicate kid"));
                        continue;
                    }
                }
                set.push(key);
            }
            Err(e) => set.skipped.push(e),
        }
    }
    if set.is_empty() {
        let why = if set.skipped.is_empty() { "empty".to_string() } else { set.skipped.join("; ") };
        return Err(JwksError::NoUsableKey(why));
    }
    Ok(set)
}

fn b64(field: &str, v: &Option<String>) -> Result<Vec<u8>, String> {
    let s = v.as_deref().ok_or_else(|| format!("missing {field}"))?;
    URL_SAFE_NO_PAD.decode(s).map_err(|_| format!("{field} is not base64url"))
}

fn key_from_jwk(raw: &RawJwk, allowed: &[Algorithm]) -> Result<VerifyKey, String> {
    if let Some(u) = &raw.use_ {
        if u != "sig" {
            return Err(format!("use {u:?} is not \"sig\""));
        }
    }
    if let Some(kid) = &raw.kid {
        if kid.is_empty() || kid.len() > MAX_KID_BYTES {
            return Err("kid is empty or too long".into());
        }
    }
    let (family, material) = match raw.kty.as_str() {
        "RSA" => {
            let n = strip_zeros(b64("n", &raw.n)?);
            let e = strip_zeros(b64("e", &raw.e)?);
            let bits = n.len() * 8 - n.first().map_or(8, |b| b.leading_zeros() as usize);
            if !(2048..=8192).contains(&bits) {
                return Err(format!("RSA modulus of {bits} bits (2048 to 8192 accepted)"));
            }
            if e.is_empty() || e.len() > 4 {
                return Err("RSA exponent out of range".into());
            }
            (KeyFamily::Rsa, Material::Rsa { n, e })
        }
        "EC" => {
            let (family, len) = match raw.crv.as_deref() {
                Some("P-256") => (KeyFamily::EcP256, 32),
                Some("P-384") => (KeyFamily::EcP384, 48),
                other => return Err(format!("EC curve {other:?} is not supported")),
            };
            let x = b64("x", &raw.x)?;
            let y = b64("y", &raw.y)?;
            if x.len() != len || y.len() != len {
                return Err("EC coordinates have the wrong length".into());
            }
            let mut point = Vec::with_capacity(1 + 2 * len);
            point.push(4);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            (family, Material::Ec { point })
        }
        "OKP" => {
            if raw.crv.as_deref() != Some("Ed25519") {
                return Err(format!("OKP curve {:?} is not supported", raw.crv));
            }
            let x = b64("x", &raw.x)?;
            if x.len() != 32 {
                return Err("Ed25519 key has the wrong length".into());
            }
            (KeyFamily::Ed25519, Material::Ed25519 { x })
        }
        "oct" => return Err("symmetric keys are never taken from a JWKS".into()),
        other => return Err(format!("kty {other:?} is not supported")),
    };
    let pinned = match &raw.alg {
        None => None,
        Some(name) => {
            let alg = Algorithm::parse(name).ok_or_else(|| format!("alg {name:?} is not supported"))?;
            if alg.family() != family {
                return Err(format!("alg {name} does not match kty {}", raw.kty));
            }
            Some(alg)
        }
    };
    let usable = allowed.iter().any(|a| a.family() == family && pinned.is_none_or(|p| p == *a));
    if !usable {
        return Err("no allowed algorithm fits this key".into());
    }
    Ok(VerifyKey { kid: raw.kid.clone(), family, pinned, material })
}

fn strip_zeros(mut v: Vec<u8>) -> Vec<u8> {
    let lead = v.iter().take_while(|b| **b == 0).count();
    v.drain(..lead);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: &[Algorithm] = &Algorithm::ALL;

    #[test]
    fn symmetric_and_mismatched_entries_are_skipped() {
        let doc = br#"{"keys":[
            {"kty":"oct","kid":"h","k":"c2VjcmV0"},
            {"kty":"OKP","crv":"Ed25519","kid":"e","alg":"RS256","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
            {"kty":"OKP","crv":"Ed25519","kid":"ok","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
            {"kty":"RSA","kid":"short","n":"AQAB","e":"AQAB"},
            {"kty":"OKP","crv":"Ed25519","kid":"enc","use":"enc","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
        ]}"#;
        let set = parse_jwks(doc, ALL).unwrap();
        assert_eq!(set.len(), 1);
        assert!(set.get("ok").unwrap().accepts(Algorithm::EdDSA));
        assert!(!set.get("ok").unwrap().accepts(Algorithm::HS256));
        assert_eq!(set.skipped.len(), 4, "{:?}", set.skipped);
    }

    #[test]
    fn no_usable_key_is_an_error() {
        assert!(matches!(parse_jwks(br#"{"keys":[]}"#, ALL), Err(JwksError::NoUsableKey(_))));
        assert!(matches!(parse_jwks(b"[]", ALL), Err(JwksError::Json(_))));
        let ed = br#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;
        // A key no allowed algorithm fits is not usable.
        assert!(parse_jwks(ed, &[Algorithm::RS256]).is_err());
    }
}
