//! Malformed tokens of every kind are refused with an error, never a panic (property tests).

mod support;

use std::time::Duration;

use portcullis_jwt::{Algorithm, JwtConfig, JwtVerifier, KeySource};
use proptest::prelude::*;
use serde_json::json;
use support::*;

fn verifier() -> (JwtVerifier, TestKey, tempfile::TempDir) {
    let key = TestKey::ec("ec-1");
    let ed = TestKey::ed("ed-1");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jwks.json");
    std::fs::write(&path, jwks(&[key.jwk.clone(), ed.jwk.clone()])).unwrap();
    let mut cfg = JwtConfig::new(KeySource::File(path), "iss", &["aud"]);
    cfg.algorithms = Algorithm::ALL.to_vec();
    cfg.hs256_secret = Some(vec![7; 32]);
    cfg.refresh = Duration::ZERO;
    (JwtVerifier::build(&cfg).unwrap(), key, dir)
}

fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9_-]{0,40}",
        "[ -~]{0,40}",
        any::<Vec<u8>>().prop_map(|b| b64(&b)),
        prop::sample::select(vec![
            b64(b"{}"),
            b64(b"null"),
            b64(b"[]"),
            b64(br#"{"alg":"ES256"}"#),
            b64(br#"{"alg":"ES256","kid":"ec-1"}"#),
            b64(br#"{"alg":"HS256"}"#),
            b64(br#"{"alg":5,"kid":[1]}"#),
            b64(br#"{"alg":"ES256","kid":"ec-1","crit":["x"]}"#),
            b64(br#"{"exp":"soon","iss":1,"aud":{},"sub":null}"#),
            b64(br#"{"exp":1e400}"#),
            b64(br#"{"exp":-5,"nbf":1.5e300}"#),
            "AAAA=".to_string(),
            String::new(),
        ]),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(s in "\\PC{0,200}") {
        let (v, _, _d) = verifier();
        prop_assert!(v.verify(&s, now()).is_err());
    }

    #[test]
    fn arbitrary_segments_never_panic(parts in prop::collection::vec(segment(), 0..6)) {
        let (v, _, _d) = verifier();
        prop_assert!(v.verify(&parts.join("."), now()).is_err());
    }

    #[test]
    fn signed_garbage_claims_never_panic(claims in prop_oneof![
        Just(json!(null)),
        Just(json!([1, 2])),
        Just(json!({"exp": "x"})),
        Just(json!({"exp": 1e300, "iss": "iss", "aud": "aud", "sub": 5})),
        Just(json!({"exp": u64::MAX, "nbf": u64::MAX, "iat": -1, "iss": "iss", "aud": ["aud"], "sub": "s", "amr": "x"})),
        Just(json!({"exp": u64::MAX, "iss": "iss", "aud": [1, null], "sub": "s"})),
        any::<i64>().prop_map(|n| json!({"exp": n, "nbf": n, "iat": n, "iss": "iss", "aud": "aud", "sub": "s"})),
    ]) {
        let (v, key, _d) = verifier();
        // Signed correctly, so the claim checks see the garbage: refused or accepted, never a panic.
        let _ = v.verify(&key.sign("ES256", &claims), now());
    }
}

#[test]
fn oversized_token_is_refused_early() {
    let (v, _, _d) = verifier();
    let huge = format!("{}.{}.{}", "a".repeat(10_000), "b".repeat(10_000), "c");
    assert!(matches!(v.verify(&huge, now()), Err(portcullis_jwt::JwtError::Malformed("size"))));
}
