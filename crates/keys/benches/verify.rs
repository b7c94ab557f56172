//! Key verification per request: parsing (format + checksum), then the verifier on a cache hit (in-memory
//! record, one HMAC-SHA-256, constant-time compare) and on a cache miss (a SQLite primary-key read first).
//!
//! `cargo bench -p portcullis-keys --bench verify`

use std::net::IpAddr;
use std::sync::Arc;

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use portcullis_keys::{format, KeyHasher, KeyManager, KeyVerifier, NewKey, SqliteStore, VerifierOptions};

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Arc::new(SqliteStore::open(&dir.path().join("bench.db")).expect("store"));
    let manager = KeyManager::new(store, KeyHasher::new(&[42u8; 32]).expect("secret")).expect("manager");
    let issued = manager
        .create(&NewKey { name: "bench".into(), scopes: vec!["bench:read".into()], ..Default::default() }, "bench")
        .expect("create");
    let verifier = KeyVerifier::start(manager.store.clone(), manager.hasher().clone(), VerifierOptions::default());
    let ip: IpAddr = [127, 0, 0, 1].into();
    let key = issued.key.clone();

    c.bench_function("parse (prefix, shape, crc32)", |b| b.iter(|| format::parse(black_box(&key)).is_ok()));
    let mut typo = key.clone().into_bytes();
    typo[20] = if typo[20] == b'a' { b'b' } else { b'a' };
    let typo = String::from_utf8(typo).expect("ascii");
    c.bench_function("parse typo (refused before lookup)", |b| b.iter(|| format::parse(black_box(&typo)).is_err()));

    let parsed = format::parse(&key).expect("well-formed");
    c.bench_function("verify: cache hit", |b| b.iter(|| verifier.verify(black_box(&parsed), ip).is_ok()));
    c.bench_function("verify: cache miss (SQLite read)", |b| {
        b.iter(|| {
            verifier.invalidate();
            verifier.verify(black_box(&parsed), ip).is_ok()
        })
    });
}

/// The whole request-headers phase of the auth protection for a route that needs a key: strip identity
/// headers, find and parse the key, verify it (cache hit), check scopes, set identity headers.
fn filter(c: &mut Criterion) {
    use portcullis_pipeline::{ConnInfo, Protection, RequestCtx};
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("s"), "s".repeat(40)).expect("secret");
    let text = "[[listeners]]\nname = \"w\"\naddress = \"127.0.0.1:0\"\n[[upstreams]]\nname = \"u\"\n\
                targets = [\"127.0.0.1:1\"]\n[keys]\ndb = \"k.db\"\nsecret_file = \"s\"\n[[routes]]\nname = \"r\"\n\
                upstream = \"u\"\nauth = { methods = [\"api_key\"], scopes = [\"bench:read\"] }\n";
    let cfg = portcullis_config::Config::from_str_at(text, None, dir.path().to_path_buf()).expect("config");
    let protection = portcullis_keys::AuthProtection::build(&cfg, None).expect("protection");
    let manager = portcullis_keys::open_manager(&cfg, cfg.file.keys.as_ref().expect("keys")).expect("manager");
    let new = NewKey { name: "bench".into(), scopes: vec!["bench:read".into()], ..Default::default() };
    let key = manager.create(&new, "bench").expect("create").key;
    let conn = ConnInfo {
        peer: "127.0.0.1:5000".parse().expect("addr"),
        local: "127.0.0.1:80".parse().expect("addr"),
        tls: false,
        sni: None,
        listener: "w".into(),
        client_cert: None,
    };
    let req = http::Request::builder()
        .uri("/api/items?id=123&q=hello")
        .header("accept", "application/json")
        .header("user-agent", "wrk")
        .header("authorization", "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl")
        .header("x-api-key", &key)
        .body(())
        .expect("request");
    let (parts, ()) = req.into_parts();
    c.bench_function("auth request_headers_filter: api key, cache hit", |b| {
        b.iter(|| {
            let mut ctx = RequestCtx::new(String::new(), conn.clone());
            ctx.route = Some("r".into());
            let mut p = parts.clone();
            protection.request_headers_filter(&mut ctx, &mut p).is_continue()
        })
    });
}

criterion_group!(benches, bench, filter);
criterion_main!(benches);
