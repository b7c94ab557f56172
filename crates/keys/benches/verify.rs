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

criterion_group!(benches, bench);
criterion_main!(benches);
