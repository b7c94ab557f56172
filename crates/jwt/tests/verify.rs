//! The verifier against every attack the issue lists, with keys generated here, plus JWKS over loopback HTTP
//! (initial fetch, rotation, refresh on unknown `kid` with its rate limit, a failed refresh keeping the keys).

mod support;

use std::io::Write;
use std::time::Duration;

use portcullis_jwt::{Algorithm, JwtConfig, JwtError, JwtVerifier, KeySource, StepUpPolicy};
use serde_json::json;
use support::*;

const ISS: &str = "https://idp.test";
const AUD: &str = "shop-api";

struct Fixture {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
}

fn jwks_file(keys: &[serde_json::Value]) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jwks.json");
    std::fs::write(&path, jwks(keys)).unwrap();
    Fixture { _dir: dir, path }
}

fn config(path: &std::path::Path) -> JwtConfig {
    let mut c = JwtConfig::new(KeySource::File(path.to_path_buf()), ISS, &[AUD, "other"]);
    c.algorithms = Algorithm::ALL.iter().copied().filter(|a| *a != Algorithm::HS256).collect();
    c.refresh = Duration::ZERO;
    c.refresh_min_interval = Duration::ZERO;
    c
}

struct Keys {
    rsa: TestKey,
    ec: TestKey,
    ed: TestKey,
    _f: Fixture,
    v: JwtVerifier,
}

fn setup() -> Keys {
    let (rsa, ec, ed) = (TestKey::rsa("rsa-1"), TestKey::ec("ec-1"), TestKey::ed("ed-1"));
    let f = jwks_file(&[rsa.jwk.clone(), ec.jwk.clone(), ed.jwk.clone()]);
    let v = JwtVerifier::build(&config(&f.path)).unwrap();
    Keys { rsa, ec, ed, _f: f, v }
}

#[test]
fn valid_tokens_of_every_key_type_verify() {
    let k = setup();
    let c = claims(ISS, AUD, "alice");
    for (key, alg) in [
        (&k.rsa, "RS256"),
        (&k.rsa, "RS384"),
        (&k.rsa, "RS512"),
        (&k.rsa, "PS256"),
        (&k.rsa, "PS512"),
        (&k.ec, "ES256"),
        (&k.ed, "EdDSA"),
    ] {
        let t = k.v.verify(&key.sign(alg, &c), now()).unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(t.sub, "alice");
    }
    // `aud` as an array naming one accepted audience.
    let mut c2 = c.clone();
    c2["aud"] = json!(["x", "other"]);
    assert!(k.v.verify(&k.ec.sign("ES256", &c2), now()).is_ok());
}

#[test]
fn alg_none_is_refused() {
    let k = setup();
    let c = claims(ISS, AUD, "mallory");
    let h = b64(json!({"alg": "none", "typ": "JWT"}).to_string().as_bytes());
    let p = b64(c.to_string().as_bytes());
    assert_eq!(k.v.verify(&format!("{h}.{p}."), now()), Err(JwtError::AlgorithmNotAllowed));
    // `none` with a signature attached, and case variants.
    for alg in ["none", "None", "NONE"] {
        let h = b64(json!({"alg": alg, "kid": "rsa-1"}).to_string().as_bytes());
        assert_eq!(k.v.verify(&format!("{h}.{p}.AAAA"), now()), Err(JwtError::AlgorithmNotAllowed), "{alg}");
    }
}

#[test]
fn hs256_signed_with_the_rsa_public_key_is_refused() {
    let k = setup();
    let c = claims(ISS, AUD, "mallory");
    let forged = |kid: Option<&str>| {
        let mut h = json!({"alg": "HS256", "typ": "JWT"});
        if let Some(kid) = kid {
            h["kid"] = json!(kid);
        }
        sign(&h, &c, &Signer::Hmac(k.rsa.public_pem.as_bytes().to_vec()), "HS256")
    };
    // HS256 is not on the allow-list without a configured secret.
    assert_eq!(k.v.verify(&forged(Some("rsa-1")), now()), Err(JwtError::AlgorithmNotAllowed));
    assert_eq!(k.v.verify(&forged(None), now()), Err(JwtError::AlgorithmNotAllowed));

    // Even with HS256 allowed (a real secret configured), the RSA key never verifies HS256.
    let f = jwks_file(std::slice::from_ref(&k.rsa.jwk));
    let mut cfg = config(&f.path);
    cfg.algorithms.push(Algorithm::HS256);
    let secret = b"0123456789abcdef0123456789abcdef-real-secret".to_vec();
    cfg.hs256_secret = Some(secret.clone());
    let v = JwtVerifier::build(&cfg).unwrap();
    assert_eq!(v.verify(&forged(Some("rsa-1")), now()), Err(JwtError::KeyAlgorithmMismatch));
    assert_eq!(v.verify(&forged(None), now()), Err(JwtError::BadSignature));
    // The configured secret itself works.
    let good = sign(&json!({"alg": "HS256"}), &c, &Signer::Hmac(secret), "HS256");
    assert!(v.verify(&good, now()).is_ok());
}

#[test]
fn algorithm_is_pinned_by_the_key() {
    let k = setup();
    let c = claims(ISS, AUD, "alice");
    // RS256 claimed against the EC key's kid.
    let t = sign(&json!({"alg": "RS256", "kid": "ec-1"}), &c, &k.rsa.signer, "RS256");
    assert_eq!(k.v.verify(&t, now()), Err(JwtError::KeyAlgorithmMismatch));
    // A JWK pinned to RS256 refuses PS256 even though the key type fits.
    let f = jwks_file(&[k.rsa.jwk_with_alg("RS256")]);
    let v = JwtVerifier::build(&config(&f.path)).unwrap();
    assert!(v.verify(&k.rsa.sign("RS256", &c), now()).is_ok());
    assert_eq!(v.verify(&k.rsa.sign("PS256", &c), now()), Err(JwtError::KeyAlgorithmMismatch));
    // An algorithm off the allow-list is refused before any key is looked at.
    let mut cfg = config(&k._f.path);
    cfg.algorithms = vec![Algorithm::ES256];
    let v = JwtVerifier::build(&cfg).unwrap();
    assert_eq!(v.verify(&k.ed.sign("EdDSA", &c), now()), Err(JwtError::AlgorithmNotAllowed));
    assert!(v.verify(&k.ec.sign("ES256", &c), now()).is_ok());
}

#[test]
fn unknown_kid_is_refused_and_kid_is_never_a_path() {
    let k = setup();
    let c = claims(ISS, AUD, "alice");
    for kid in ["nope", "../../etc/passwd", "http://evil.test/jwks", "rsa-1\u{0}"] {
        let t = sign(&json!({"alg": "RS256", "kid": kid}), &c, &k.rsa.signer, "RS256");
        assert_eq!(k.v.verify(&t, now()), Err(JwtError::UnknownKey), "{kid}");
    }
    let long = "k".repeat(300);
    let t = sign(&json!({"alg": "RS256", "kid": long}), &c, &k.rsa.signer, "RS256");
    assert!(matches!(k.v.verify(&t, now()), Err(JwtError::Malformed(_))));
}

#[test]
fn time_claims_with_bounded_skew() {
    let k = setup();
    let n = now();
    let mk = |exp: i64, nbf: Option<i64>, iat: Option<i64>| {
        let mut c = json!({"iss": ISS, "aud": AUD, "sub": "alice", "exp": (n as i64 + exp)});
        if let Some(nbf) = nbf {
            c["nbf"] = json!(n as i64 + nbf);
        }
        if let Some(iat) = iat {
            c["iat"] = json!(n as i64 + iat);
        }
        k.ec.sign("ES256", &c)
    };
    assert_eq!(k.v.verify(&mk(-3600, None, None), n), Err(JwtError::Expired));
    // Inside the default 60 s leeway.
    assert!(k.v.verify(&mk(-30, None, None), n).is_ok());
    assert_eq!(k.v.verify(&mk(-61, None, None), n), Err(JwtError::Expired));
    assert_eq!(k.v.verify(&mk(3600, Some(600), None), n), Err(JwtError::NotYetValid));
    assert!(k.v.verify(&mk(3600, Some(30), None), n).is_ok());
    assert_eq!(k.v.verify(&mk(3600, None, Some(600)), n), Err(JwtError::IssuedInFuture));
    // exp is required.
    let c = json!({"iss": ISS, "aud": AUD, "sub": "alice"});
    assert_eq!(k.v.verify(&k.ec.sign("ES256", &c), n), Err(JwtError::Claim("exp")));
    // A configured leeway above 5 minutes is clamped.
    let mut cfg = config(&k._f.path);
    cfg.leeway = Duration::from_secs(3600);
    let v = JwtVerifier::build(&cfg).unwrap();
    assert_eq!(v.verify(&mk(-400, None, None), n), Err(JwtError::Expired));
    assert!(v.verify(&mk(-200, None, None), n).is_ok());
}

#[test]
fn issuer_audience_and_subject() {
    let k = setup();
    let mut c = claims(ISS, "someone-else", "alice");
    assert_eq!(k.v.verify(&k.ec.sign("ES256", &c), now()), Err(JwtError::WrongAudience));
    c["aud"] = json!(["a", "b"]);
    assert_eq!(k.v.verify(&k.ec.sign("ES256", &c), now()), Err(JwtError::WrongAudience));
    c["aud"] = json!(AUD);
    c["iss"] = json!("https://evil.test");
    assert_eq!(k.v.verify(&k.ec.sign("ES256", &c), now()), Err(JwtError::WrongIssuer));
    let mut c = claims(ISS, AUD, "x");
    c.as_object_mut().unwrap().remove("sub");
    assert_eq!(k.v.verify(&k.ec.sign("ES256", &c), now()), Err(JwtError::Claim("sub")));
}

#[test]
fn tampered_payload_and_signature_are_refused() {
    let k = setup();
    for (key, alg) in [(&k.rsa, "RS256"), (&k.ec, "ES256"), (&k.ed, "EdDSA")] {
        let t = key.sign(alg, &claims(ISS, AUD, "alice"));
        let parts: Vec<&str> = t.split('.').collect();
        let evil = b64(claims(ISS, AUD, "admin").to_string().as_bytes());
        let tampered = format!("{}.{}.{}", parts[0], evil, parts[2]);
        assert_eq!(k.v.verify(&tampered, now()), Err(JwtError::BadSignature), "{alg}");
        let mut sig = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, parts[2]).unwrap();
        sig[5] ^= 0x01;
        let tampered = format!("{}.{}.{}", parts[0], parts[1], b64(&sig));
        assert_eq!(k.v.verify(&tampered, now()), Err(JwtError::BadSignature), "{alg}");
    }
}

#[test]
fn scopes_from_string_array_and_claim_mapping() {
    let k = setup();
    let mut c = claims(ISS, AUD, "alice");
    c["scope"] = json!("items:read  items:write");
    c["groups"] = json!(["staff", "admins"]);
    c["scp"] = json!(["a", "b"]);
    let t = k.v.verify(&k.ec.sign("ES256", &c), now()).unwrap();
    assert_eq!(t.scopes, vec!["items:read", "items:write"]);
    let mut cfg = config(&k._f.path);
    cfg.scope_claim = "scp".into();
    cfg.claim_scopes = vec![portcullis_jwt::ClaimScope {
        claim: "groups".into(),
        value: "admins".into(),
        scopes: vec!["admin".into(), "a".into()],
    }];
    let v = JwtVerifier::build(&cfg).unwrap();
    let t = v.verify(&k.ec.sign("ES256", &c), now()).unwrap();
    assert_eq!(t.scopes, vec!["a", "b", "admin"]);
}

#[test]
fn step_up_missing_acr_is_challenged() {
    let k = setup();
    let policy = StepUpPolicy { acr_values: vec!["mfa".into()], amr_any: vec!["otp".into(), "hwk".into()] };
    let plain = k.v.verify(&k.ec.sign("ES256", &claims(ISS, AUD, "alice")), now()).unwrap();
    let err = policy.check(&plain).unwrap_err();
    assert_eq!(err.status(), http::StatusCode::UNAUTHORIZED);
    let h = err.www_authenticate();
    assert!(h.starts_with("Bearer realm=\"portcullis\", error=\"insufficient_user_authentication\""), "{h}");
    assert!(h.contains("acr_values=\"mfa\""), "{h}");
    let mut c = claims(ISS, AUD, "alice");
    c["acr"] = json!("mfa");
    c["amr"] = json!(["pwd"]);
    let weak_amr = k.v.verify(&k.ec.sign("ES256", &c), now()).unwrap();
    assert!(policy.check(&weak_amr).is_err());
    c["amr"] = json!(["pwd", "otp"]);
    let strong = k.v.verify(&k.ec.sign("ES256", &c), now()).unwrap();
    assert_eq!(strong.acr.as_deref(), Some("mfa"));
    assert!(policy.check(&strong).is_ok());
}

#[test]
fn bad_jwks_files_are_precise_build_errors() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.json");
    std::fs::File::create(&p).unwrap().write_all(b"{not json").unwrap();
    let e = JwtVerifier::build(&config(&p)).err().unwrap();
    assert!(e.starts_with("jwt.jwks_file: JWKS is not a JSON object"), "{e}");
    let e = JwtVerifier::build(&config(&dir.path().join("missing.json"))).err().unwrap();
    assert!(e.contains("cannot read"), "{e}");
    std::fs::write(&p, r#"{"keys":[{"kty":"oct","k":"AAAA"}]}"#).unwrap();
    let e = JwtVerifier::build(&config(&p)).err().unwrap();
    assert!(e.contains("no usable signing key"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwks_over_loopback_http_rotates_and_refreshes() {
    let (a, b) = (TestKey::rsa("rsa-a"), TestKey::ec("ec-b"));
    let server = JwksServer::start(jwks(std::slice::from_ref(&a.jwk)));
    let mut cfg = JwtConfig::new(KeySource::Url(server.url()), ISS, &[AUD]);
    cfg.refresh = Duration::from_secs(3600);
    cfg.refresh_min_interval = Duration::from_secs(3600);
    let v = JwtVerifier::build(&cfg).unwrap();
    assert_eq!(server.hits(), 1, "fetched once at build");
    let c = claims(ISS, AUD, "alice");
    assert!(v.verify(&a.sign("RS256", &c), now()).is_ok());

    // Rotation: the IdP now publishes b only. A token from b has an unknown kid: one refresh, then success.
    server.set(200, jwks(std::slice::from_ref(&b.jwk)));
    assert!(v.verify_refreshing(&b.sign("ES256", &c), now()).await.is_ok());
    assert_eq!(server.hits(), 2);
    assert_eq!(v.verify(&a.sign("RS256", &c), now()), Err(JwtError::UnknownKey), "a was rotated out");
    // The unknown-kid refresh is rate limited: a flood of made-up kids fetches nothing more.
    for i in 0..50 {
        let t = sign(&json!({"alg": "ES256", "kid": format!("x{i}")}), &c, &b.signer, "ES256");
        assert_eq!(v.verify_refreshing(&t, now()).await, Err(JwtError::UnknownKey));
        assert_eq!(v.verify(&t, now()), Err(JwtError::UnknownKey));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(server.hits(), 2, "no fetch per request");
    drop(v);

    // The periodic refresh picks up a rotation by itself; a failed refresh keeps the current keys.
    server.set(200, jwks(std::slice::from_ref(&a.jwk)));
    let mut cfg = JwtConfig::new(KeySource::Url(server.url()), ISS, &[AUD]);
    cfg.refresh = Duration::from_millis(200);
    let v = JwtVerifier::build(&cfg).unwrap();
    assert!(v.verify(&a.sign("RS256", &c), now()).is_ok());
    server.set(500, "oops".into());
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(v.verify(&a.sign("RS256", &c), now()).is_ok(), "keys kept after failed refreshes");
    server.set(200, "{\"keys\": 5}".into());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(v.verify(&a.sign("RS256", &c), now()).is_ok(), "keys kept after a garbage JWKS");
    server.set(200, jwks(std::slice::from_ref(&b.jwk)));
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while v.verify(&b.sign("ES256", &c), now()).is_err() {
        assert!(std::time::Instant::now() < deadline, "periodic refresh never picked up the rotation");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let hits = server.hits();
    drop(v);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(server.hits() <= hits + 1, "the refresh task stops with the verifier");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_verify_refreshes_in_the_background_on_unknown_kid() {
    let (a, b) = (TestKey::ed("ed-a"), TestKey::ed("ed-b"));
    let server = JwksServer::start(jwks(std::slice::from_ref(&a.jwk)));
    let mut cfg = JwtConfig::new(KeySource::Url(server.url()), ISS, &[AUD]);
    cfg.refresh = Duration::from_secs(3600);
    cfg.refresh_min_interval = Duration::from_secs(3600);
    let v = JwtVerifier::build(&cfg).unwrap();
    server.set(200, jwks(&[a.jwk.clone(), b.jwk.clone()]));
    let t = b.sign("EdDSA", &claims(ISS, AUD, "bob"));
    assert_eq!(v.verify(&t, now()), Err(JwtError::UnknownKey), "refused while the refresh runs");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while v.verify(&t, now()).is_err() {
        assert!(std::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(server.hits(), 2);
    assert_eq!(v.key_loads(), 2);
}

#[test]
fn unreachable_jwks_url_is_a_build_error() {
    // A port nothing listens on: a socket bound there and never set to listen, held to the test's end so no
    // parallel test is handed the port meanwhile.
    let held = tokio::net::TcpSocket::new_v4().unwrap();
    held.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let port = held.local_addr().unwrap().port();
    let mut cfg = JwtConfig::new(KeySource::Url(format!("http://127.0.0.1:{port}/jwks")), ISS, &[AUD]);
    cfg.fetch_timeout = Duration::from_secs(2);
    let e = JwtVerifier::build(&cfg).err().unwrap();
    assert!(e.starts_with("jwt.jwks_url: GET http://127.0.0.1:"), "{e}");
}
