//! Test keys generated at run time (RSA via the `rsa` crate, EC P-256 and Ed25519 via ring), JWS signing, and
//! a loopback HTTP server that serves a JWKS that tests can swap.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey};
use rsa::traits::PublicKeyParts;
use serde_json::{json, Value};

pub fn b64(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

pub enum Signer {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
    Hmac(Vec<u8>),
}

pub struct TestKey {
    pub kid: String,
    pub signer: Signer,
    /// The public JWK (with `kid`, without `alg`).
    pub jwk: Value,
    /// SubjectPublicKeyInfo PEM (RSA only), for the HS/RS confusion attack.
    pub public_pem: String,
}

/// DER PKCS#8, modulus, exponent, public PEM.
type RsaMaterial = (Vec<u8>, Vec<u8>, Vec<u8>, String);

/// RSA key generation is slow: one 2048-bit key per process, shared by tests (the kid differs per use).
fn rsa_pkcs8() -> &'static RsaMaterial {
    static K: OnceLock<RsaMaterial> = OnceLock::new();
    K.get_or_init(|| {
        let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).unwrap();
        let der = key.to_pkcs8_der().unwrap().as_bytes().to_vec();
        let pem = key.to_public_key().to_public_key_pem(rsa::pkcs8::LineEnding::LF).unwrap();
        (der, key.n().to_bytes_be(), key.e().to_bytes_be(), pem)
    })
}

/// A second, distinct RSA key (for rotation).
fn rsa_pkcs8_b() -> &'static RsaMaterial {
    static K: OnceLock<RsaMaterial> = OnceLock::new();
    K.get_or_init(|| {
        let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).unwrap();
        let der = key.to_pkcs8_der().unwrap().as_bytes().to_vec();
        let pem = key.to_public_key().to_public_key_pem(rsa::pkcs8::LineEnding::LF).unwrap();
        (der, key.n().to_bytes_be(), key.e().to_bytes_be(), pem)
    })
}

impl TestKey {
    pub fn rsa(kid: &str) -> TestKey {
        Self::rsa_from(kid, rsa_pkcs8())
    }

    pub fn rsa_b(kid: &str) -> TestKey {
        Self::rsa_from(kid, rsa_pkcs8_b())
    }

    fn rsa_from(kid: &str, k: &RsaMaterial) -> TestKey {
        let (der, n, e, pem) = k;
        TestKey {
            kid: kid.into(),
            signer: Signer::Rsa(RsaKeyPair::from_pkcs8(der).unwrap()),
            jwk: json!({"kty": "RSA", "kid": kid, "use": "sig", "n": b64(n), "e": b64(e)}),
            public_pem: pem.clone(),
        }
    }

    pub fn ec(kid: &str) -> TestKey {
        let rng = SystemRandom::new();
        let alg = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
        let kp = EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).unwrap();
        let p = kp.public_key().as_ref().to_vec();
        TestKey {
            kid: kid.into(),
            jwk: json!({"kty": "EC", "crv": "P-256", "kid": kid, "x": b64(&p[1..33]), "y": b64(&p[33..65])}),
            signer: Signer::Ec(kp),
            public_pem: String::new(),
        }
    }

    pub fn ed(kid: &str) -> TestKey {
        let rng = SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let kp = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        TestKey {
            kid: kid.into(),
            jwk: json!({"kty": "OKP", "crv": "Ed25519", "kid": kid, "x": b64(kp.public_key().as_ref())}),
            signer: Signer::Ed(kp),
            public_pem: String::new(),
        }
    }

    /// The JWK with an `alg` member pinning it.
    pub fn jwk_with_alg(&self, alg: &str) -> Value {
        let mut j = self.jwk.clone();
        j["alg"] = json!(alg);
        j
    }

    /// A token with this key's `kid`, signed with `alg`.
    pub fn sign(&self, alg: &str, claims: &Value) -> String {
        sign(&json!({"alg": alg, "typ": "JWT", "kid": self.kid}), claims, &self.signer, alg)
    }
}

pub fn jwks(keys: &[Value]) -> String {
    json!({ "keys": keys }).to_string()
}

/// Signs `header.claims` with `signer` using `alg`.
pub fn sign(header: &Value, claims: &Value, signer: &Signer, alg: &str) -> String {
    let input = format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()));
    let rng = SystemRandom::new();
    let sig = match signer {
        Signer::Rsa(kp) => {
            let enc: &dyn signature::RsaEncoding = match alg {
                "RS256" => &signature::RSA_PKCS1_SHA256,
                "RS384" => &signature::RSA_PKCS1_SHA384,
                "RS512" => &signature::RSA_PKCS1_SHA512,
                "PS256" => &signature::RSA_PSS_SHA256,
                "PS384" => &signature::RSA_PSS_SHA384,
                "PS512" => &signature::RSA_PSS_SHA512,
                // Signing with a mismatched algorithm name: RS256 bytes under another label.
                _ => &signature::RSA_PKCS1_SHA256,
            };
            let mut sig = vec![0; kp.public().modulus_len()];
            kp.sign(enc, &rng, input.as_bytes(), &mut sig).unwrap();
            sig
        }
        Signer::Ec(kp) => kp.sign(&rng, input.as_bytes()).unwrap().as_ref().to_vec(),
        Signer::Ed(kp) => kp.sign(input.as_bytes()).as_ref().to_vec(),
        Signer::Hmac(secret) => {
            let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
            ring::hmac::sign(&k, input.as_bytes()).as_ref().to_vec()
        }
    };
    format!("{input}.{}", b64(&sig))
}

pub fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

/// Standard claims valid for an hour.
pub fn claims(iss: &str, aud: &str, sub: &str) -> Value {
    let n = now();
    json!({"iss": iss, "aud": aud, "sub": sub, "iat": n, "nbf": n, "exp": n + 3600})
}

/// A loopback HTTP/1.1 server answering every request with the current body (and status).
pub struct JwksServer {
    pub addr: SocketAddr,
    pub body: Arc<Mutex<(u16, String)>>,
    pub hits: Arc<AtomicUsize>,
}

impl JwksServer {
    pub fn start(body: String) -> JwksServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let body = Arc::new(Mutex::new((200u16, body)));
        let hits = Arc::new(AtomicUsize::new(0));
        let (b, h) = (body.clone(), hits.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut s) = stream else { continue };
                let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(5)));
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut chunk) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                h.fetch_add(1, Ordering::SeqCst);
                let (status, text) = b.lock().unwrap().clone();
                let resp = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
                    text.len()
                );
                let _ = s.write_all(resp.as_bytes());
            }
        });
        JwksServer { addr, body, hits }
    }

    pub fn url(&self) -> String {
        format!("http://{}/jwks.json", self.addr)
    }

    pub fn set(&self, status: u16, body: String) {
        *self.body.lock().unwrap() = (status, body);
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}
