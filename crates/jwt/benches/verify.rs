//! Per-request cost of verifying a bearer token: RS256 (2048-bit) and ES256, signature and claims.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use criterion::{criterion_group, criterion_main, Criterion};
use portcullis_jwt::{JwtConfig, JwtVerifier, KeySource};
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair};
use rsa::pkcs8::EncodePrivateKey;
use rsa::traits::PublicKeyParts;
use serde_json::json;

fn b64(d: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(d)
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

fn bench(c: &mut Criterion) {
    let rng = SystemRandom::new();
    let rsa_key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).unwrap();
    let rsa_kp = RsaKeyPair::from_pkcs8(rsa_key.to_pkcs8_der().unwrap().as_bytes()).unwrap();
    let ec_alg = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
    let ec_pkcs8 = EcdsaKeyPair::generate_pkcs8(ec_alg, &rng).unwrap();
    let ec_kp = EcdsaKeyPair::from_pkcs8(ec_alg, ec_pkcs8.as_ref(), &rng).unwrap();
    let p = ec_kp.public_key().as_ref();
    let jwks = json!({"keys": [
        {"kty": "RSA", "kid": "r", "n": b64(&rsa_key.n().to_bytes_be()), "e": b64(&rsa_key.e().to_bytes_be())},
        {"kty": "EC", "crv": "P-256", "kid": "e", "x": b64(&p[1..33]), "y": b64(&p[33..65])},
    ]});
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jwks.json");
    std::fs::write(&path, jwks.to_string()).unwrap();
    let mut cfg = JwtConfig::new(KeySource::File(path), "https://idp", &["api"]);
    cfg.refresh = Duration::ZERO;
    let v = JwtVerifier::build(&cfg).unwrap();
    let n = now();
    let claims = json!({"iss": "https://idp", "aud": "api", "sub": "user-42", "exp": n + 86400, "iat": n,
        "scope": "items:read items:write", "acr": "mfa", "amr": ["pwd", "otp"]});
    let input = |kid: &str, alg: &str| {
        format!(
            "{}.{}",
            b64(json!({"alg": alg, "kid": kid}).to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        )
    };
    let rs = input("r", "RS256");
    let mut sig = vec![0; rsa_kp.public().modulus_len()];
    rsa_kp.sign(&signature::RSA_PKCS1_SHA256, &rng, rs.as_bytes(), &mut sig).unwrap();
    let rs_token = format!("{rs}.{}", b64(&sig));
    let es = input("e", "ES256");
    let es_token = format!("{es}.{}", b64(ec_kp.sign(&rng, es.as_bytes()).unwrap().as_ref()));
    assert!(v.verify(&rs_token, n).is_ok() && v.verify(&es_token, n).is_ok());

    let mut g = c.benchmark_group("jwt_verify");
    g.bench_function("rs256", |b| b.iter(|| v.verify(std::hint::black_box(&rs_token), n).unwrap()));
    g.bench_function("es256", |b| b.iter(|| v.verify(std::hint::black_box(&es_token), n).unwrap()));
    g.bench_function("rejected_bad_signature", |b| {
        let bad = format!("{es}.{}", b64(&[0u8; 64]));
        b.iter(|| v.verify(std::hint::black_box(&bad), n).unwrap_err())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
