//! End-to-end bearer tokens against the real binary: the JWKS is served on loopback, every attack from the
//! issue is refused with a 401 problem+json and the right `WWW-Authenticate`, a missing scope is a 403, a route
//! demanding step-up challenges a plain token and admits an `acr`/`amr`-carrying one, a rotated key is picked
//! up through the rate-limited unknown-`kid` refresh, and no token ever appears in the logs.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::{echoed_header, Gw, Upstream};
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair};
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey};
use rsa::traits::PublicKeyParts;
use serde_json::{json, Value};

const ISS: &str = "https://idp.test";
const AUD: &str = "shop-api";

fn b64(d: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(d)
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

enum Key {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Hmac(Vec<u8>),
}

fn sign(header: Value, claims: &Value, key: &Key) -> String {
    let input = format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()));
    let rng = SystemRandom::new();
    let sig = match key {
        Key::Rsa(kp) => {
            let mut sig = vec![0; kp.public().modulus_len()];
            kp.sign(&signature::RSA_PKCS1_SHA256, &rng, input.as_bytes(), &mut sig).unwrap();
            sig
        }
        Key::Ec(kp) => kp.sign(&rng, input.as_bytes()).unwrap().as_ref().to_vec(),
        Key::Hmac(secret) => {
            ring::hmac::sign(&ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret), input.as_bytes()).as_ref().to_vec()
        }
    };
    format!("{input}.{}", b64(&sig))
}

fn claims(sub: &str) -> Value {
    let n = now();
    json!({"iss": ISS, "aud": AUD, "sub": sub, "iat": n, "exp": n + 600, "scope": "items:read"})
}

/// Serves whatever JWKS is current, over HTTP/1.1 on loopback, counting fetches.
struct JwksServer {
    addr: SocketAddr,
    body: Arc<Mutex<String>>,
    hits: Arc<Mutex<usize>>,
}

impl JwksServer {
    fn start(body: String) -> JwksServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (body, hits) = (Arc::new(Mutex::new(body)), Arc::new(Mutex::new(0)));
        let (b, h) = (body.clone(), hits.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut s) = stream else { continue };
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut chunk) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                *h.lock().unwrap() += 1;
                let text = b.lock().unwrap().clone();
                let _ = s.write_all(
                    format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
                        text.len()
                    )
                    .as_bytes(),
                );
            }
        });
        JwksServer { addr, body, hits }
    }
}

fn config(jwks: SocketAddr, up: SocketAddr) -> String {
    common::config(&format!(
        r#"
[jwt]
jwks_url = "http://{jwks}/jwks.json"
issuer = "{ISS}"
audience = ["{AUD}", "other"]
refresh_min_interval = "1s"

[[upstreams]]
name = "echo"
targets = ["{up}"]

[[routes]]
name = "admin"
upstream = "echo"
jwt = {{ required = true, scopes = ["items:read"], step_up = {{ acr_values = ["mfa"], amr = ["otp", "hwk"] }} }}
[routes.match]
path_prefix = "/admin"

[[routes]]
name = "write"
upstream = "echo"
jwt = {{ scopes = ["items:write"] }}
[routes.match]
path_prefix = "/write"

[[routes]]
name = "api"
upstream = "echo"
jwt = {{ required = true }}
[routes.match]
path_prefix = "/api"

[[routes]]
name = "policy-mfa"
upstream = "echo"
auth = {{ methods = ["jwt"], step_up = {{ acr_values = ["mfa", "urn:example:loa:3"] }} }}
[routes.match]
path_prefix = "/stepup"

[[routes]]
name = "policy"
upstream = "echo"
auth = {{ methods = ["jwt"], scopes = ["items:read"] }}
[routes.match]
path_prefix = "/policy"

[[routes]]
name = "open"
upstream = "echo"
[routes.match]
path_prefix = "/"
"#
    ))
}

struct Answer {
    status: u16,
    challenge: String,
    content_type: String,
    body: Value,
}

async fn get(c: &reqwest::Client, url: String, token: Option<&str>) -> Answer {
    let mut r = c.get(url).header("X-Portcullis-Subject", "spoofed-admin");
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let resp = r.send().await.unwrap();
    let h = |n: &str| resp.headers().get(n).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    let (challenge, content_type) = (h("www-authenticate"), h("content-type"));
    Answer { status: resp.status().as_u16(), challenge, content_type, body: resp.json().await.unwrap_or(Value::Null) }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_tokens_end_to_end() {
    let rng = SystemRandom::new();
    let rsa_key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).unwrap();
    let rsa_pub_pem = rsa_key.to_public_key().to_public_key_pem(rsa::pkcs8::LineEnding::LF).unwrap();
    let rsa = Key::Rsa(RsaKeyPair::from_pkcs8(rsa_key.to_pkcs8_der().unwrap().as_bytes()).unwrap());
    let rsa_jwk = json!({"kty": "RSA", "kid": "rsa-1", "alg": "RS256", "n": b64(&rsa_key.n().to_bytes_be()),
        "e": b64(&rsa_key.e().to_bytes_be())});
    let ec_alg = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
    let ec_new =
        EcdsaKeyPair::from_pkcs8(ec_alg, EcdsaKeyPair::generate_pkcs8(ec_alg, &rng).unwrap().as_ref(), &rng).unwrap();
    let p = ec_new.public_key().as_ref().to_vec();
    let ec_jwk = json!({"kty": "EC", "crv": "P-256", "kid": "ec-2", "x": b64(&p[1..33]), "y": b64(&p[33..65])});
    let ec_new = Key::Ec(ec_new);

    let jwks = JwksServer::start(json!({"keys": [rsa_jwk]}).to_string());
    let up = Upstream::start("echo").await;
    let gw = Gw::start(&config(jwks.addr, up.addr));
    let c = common::client();
    let url = |p: &str| gw.url("http", p);
    let rs = |claims: &Value| sign(json!({"alg": "RS256", "kid": "rsa-1"}), claims, &rsa);
    let mut issued: Vec<String> = Vec::new();

    // A valid token: through, with the subject the gateway vouches for (the client's copy is replaced).
    let good = rs(&claims("alice"));
    issued.push(good.clone());
    let a = get(&c, url("/api/items"), Some(&good)).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(echoed_header(&a.body, "x-portcullis-subject"), vec!["alice"]);
    // The same verifier behind the common route auth policy (`auth.methods = ["jwt"]`).
    let a = get(&c, url("/policy/items"), Some(&good)).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(echoed_header(&a.body, "x-portcullis-subject"), vec!["alice"]);
    assert_eq!(get(&c, url("/policy/items"), None).await.status, 401);
    assert_eq!(get(&c, url("/policy/items"), Some(&format!("{good}x"))).await.status, 401);
    // The open route never passes a client-made subject on.
    let a = get(&c, url("/public"), None).await;
    assert_eq!(a.status, 200);
    assert!(echoed_header(&a.body, "x-portcullis-subject").is_empty(), "{}", a.body);

    // No token: 401 with a bare challenge.
    let a = get(&c, url("/api/items"), None).await;
    assert_eq!((a.status, a.challenge.as_str()), (401, "Bearer realm=\"portcullis\""));
    assert_eq!(a.content_type, "application/problem+json");
    assert_eq!(a.body["status"], 401);

    // Every attack: 401 invalid_token, and the upstream never sees the request.
    let n = now();
    let mut attacks: Vec<(&str, String)> = Vec::new();
    let c0 = claims("mallory");
    let unsigned = format!("{}.{}.", b64(br#"{"alg":"none","typ":"JWT"}"#), b64(c0.to_string().as_bytes()));
    attacks.push(("alg none", unsigned));
    attacks.push((
        "HS256 with the RSA public key",
        sign(json!({"alg": "HS256", "kid": "rsa-1"}), &c0, &Key::Hmac(rsa_pub_pem.as_bytes().to_vec())),
    ));
    attacks.push(("unknown kid", sign(json!({"alg": "RS256", "kid": "nope"}), &c0, &rsa)));
    let mut c1 = c0.clone();
    c1["exp"] = json!(n - 3600);
    attacks.push(("expired", rs(&c1)));
    let mut c1 = c0.clone();
    c1["nbf"] = json!(n + 3600);
    attacks.push(("not yet valid", rs(&c1)));
    let mut c1 = c0.clone();
    c1["aud"] = json!("another-api");
    attacks.push(("wrong audience", rs(&c1)));
    let mut c1 = c0.clone();
    c1["iss"] = json!("https://evil.test");
    attacks.push(("wrong issuer", rs(&c1)));
    let parts: Vec<&str> = good.split('.').collect();
    let admin_claims = b64(claims("admin").to_string().as_bytes());
    attacks.push(("tampered payload", format!("{}.{admin_claims}.{}", parts[0], parts[2])));
    let mut sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    sig[10] ^= 1;
    attacks.push(("tampered signature", format!("{}.{}.{}", parts[0], parts[1], b64(&sig))));
    attacks.push(("garbage", "not-a-jwt".into()));
    attacks.push(("two segments", format!("{}.{}", parts[0], parts[1])));
    let hits = up.hits();
    for (what, token) in &attacks {
        issued.push(token.clone());
        let a = get(&c, url("/api/items"), Some(token)).await;
        assert_eq!(a.status, 401, "{what}: {}", a.body);
        assert!(a.challenge.contains("error=\"invalid_token\""), "{what}: {}", a.challenge);
        assert_eq!(a.content_type, "application/problem+json", "{what}");
    }
    assert_eq!(up.hits(), hits, "no refused request reached the upstream");

    // A valid token without the scope a route needs: 403 insufficient_scope.
    let a = get(&c, url("/write/x"), Some(&good)).await;
    assert_eq!(a.status, 403, "{}", a.body);
    assert!(a.challenge.contains("error=\"insufficient_scope\"") && a.challenge.contains("scope=\"items:write\""));

    // Step-up: a plain login is challenged, an MFA login gets through.
    let a = get(&c, url("/admin/panel"), Some(&good)).await;
    assert_eq!(a.status, 401);
    assert!(a.challenge.contains("error=\"insufficient_user_authentication\""), "{}", a.challenge);
    assert!(a.challenge.contains("acr_values=\"mfa\""), "{}", a.challenge);
    let mut strong = claims("alice");
    strong["acr"] = json!("mfa");
    strong["amr"] = json!(["pwd", "otp"]);
    let strong = rs(&strong);
    issued.push(strong.clone());
    let a = get(&c, url("/admin/panel"), Some(&strong)).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(echoed_header(&a.body, "x-portcullis-subject"), vec!["alice"]);
    // The same demand in the common route auth policy (`auth.step_up`): RFC 9470 challenge, then success.
    let hits = up.hits();
    let a = get(&c, url("/stepup/payout"), Some(&good)).await;
    assert_eq!(a.status, 401, "{}", a.body);
    assert_eq!(a.content_type, "application/problem+json");
    assert!(a.challenge.contains("error=\"insufficient_user_authentication\""), "{}", a.challenge);
    assert!(a.challenge.contains("acr_values=\"mfa urn:example:loa:3\""), "{}", a.challenge);
    assert_eq!(up.hits(), hits, "the weak token never reached the upstream");
    let a = get(&c, url("/stepup/payout"), Some(&strong)).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(echoed_header(&a.body, "x-portcullis-auth-method"), vec!["jwt"]);

    // Key rotation: the IdP adds ec-2. The first token signed with it meets an unknown kid (refused, and a
    // background refresh starts); soon after, it verifies.
    *jwks.body.lock().unwrap() = json!({"keys": [rsa_jwk, ec_jwk]}).to_string();
    let rotated = sign(json!({"alg": "ES256", "kid": "ec-2"}), &claims("bob"), &ec_new);
    issued.push(rotated.clone());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let a = get(&c, url("/api/items"), Some(&rotated)).await;
        if a.status == 200 {
            assert_eq!(echoed_header(&a.body, "x-portcullis-subject"), vec!["bob"]);
            break;
        }
        assert_eq!(a.status, 401);
        assert!(Instant::now() < deadline, "the rotated key was never picked up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A flood of unknown kids does not turn into a flood of fetches (at most one per refresh_min_interval).
    let before = *jwks.hits.lock().unwrap();
    let started = Instant::now();
    for i in 0..40 {
        let t = sign(json!({"alg": "RS256", "kid": format!("flood-{i}")}), &c0, &rsa);
        assert_eq!(get(&c, url("/api/items"), Some(&t)).await.status, 401);
    }
    let secs = started.elapsed().as_secs() as usize;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let fetched = *jwks.hits.lock().unwrap() - before;
    assert!(fetched <= secs + 2, "{fetched} fetches in {secs}s for 40 unknown kids");

    // The access log names the identity and the refusal reason, and no token (or a signature) appears
    // anywhere in what the gateway printed.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let out = gw.stdout.lock().unwrap().join("\n");
    let err = gw.stderr.lock().unwrap().join("\n");
    assert!(out.contains("identity=alice") || out.contains("\"identity\":\"alice\""), "{out}");
    assert!(out.contains("jwt: bad signature") && out.contains("jwt: token expired"), "{out}");
    for t in &issued {
        for piece in t.split('.').filter(|p| p.len() > 16) {
            assert!(!out.contains(piece) && !err.contains(piece), "a token piece was logged");
        }
    }
}

#[test]
fn jwt_config_errors_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("p.toml");
    std::fs::write(
        &p,
        r#"
[[listeners]]
name = "web"
address = "127.0.0.1:0"
[jwt]
jwks_file = "missing.json"
jwks_url = "ftp://x"
issuer = ""
audience = []
algorithms = ["none", "HS256"]
leeway = "10m"
[[upstreams]]
name = "u"
targets = ["127.0.0.1:9"]
[[routes]]
name = "r"
upstream = "u"
jwt = { step_up = {} }
"#,
    )
    .unwrap();
    let out = std::process::Command::new(common::BIN).arg("check-config").arg(&p).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success());
    for e in [
        "jwt: use only one of jwks_file, jwks_url",
        "jwt.issuer: must not be empty",
        "jwt.audience: needs at least one",
        "jwt.algorithms[0]: \"none\" is not one of",
        "jwt.algorithms[1]: HS256 needs jwt.hs256_secret",
        "jwt.leeway: must be at most 5m",
        "routes[0].jwt.step_up: needs acr_values or amr",
    ] {
        assert!(text.contains(e), "missing {e:?} in:\n{text}");
    }
}
