//! CRS PL1 (blocking mode) transaction cost: a benign GET and an SQLi GET, phases 1–5.
//! Budget (DESIGN.md): ≈20 µs per benign GET.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use portcullis_waf::{Engine, TxInfo};
use std::path::PathBuf;
use std::sync::Arc;

fn crs() -> Arc<Engine> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/crs");
    let text = format!(
        "SecRuleEngine On\nSecRequestBodyAccess On\nInclude {}/crs-setup.conf.example\nInclude {}/rules/*.conf\n",
        dir.display(),
        dir.display()
    );
    let t = std::time::Instant::now();
    let e = Engine::from_str(&text, "/bench.conf").expect("CRS loads");
    eprintln!("CRS v4 loaded: {} rules in {:?}", e.rule_count(), t.elapsed());
    Arc::new(e)
}

fn info() -> TxInfo {
    TxInfo {
        unique_id: "YHx8b3rMfKcAAAAAAQAAAA".into(),
        client_addr: "192.0.2.10".parse().unwrap(),
        client_port: 40000,
        server_addr: "192.0.2.1".parse().unwrap(),
        server_port: 80,
    }
}

fn run(engine: &Arc<Engine>, uri: &str) -> bool {
    let mut tx = engine.transaction(info());
    tx.request_line("GET", uri, "HTTP/1.1");
    tx.request_header(b"Host", b"api.example.com");
    tx.request_header(b"User-Agent", b"Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0");
    tx.request_header(b"Accept", b"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8");
    tx.request_header(b"Accept-Language", b"en-US,en;q=0.5");
    tx.request_header(b"Accept-Encoding", b"gzip, deflate, br");
    tx.request_header(b"Cookie", b"session=3f1a9c0e7b2d4a6f; theme=dark");
    let mut blocked = tx.process_request_headers().is_some();
    if !blocked {
        blocked = tx.process_request_body().is_some();
    }
    if !blocked {
        tx.response_status(200, "HTTP/1.1");
        tx.response_header(b"Content-Type", b"application/json");
        tx.process_response_headers();
        tx.process_response_body();
    }
    tx.process_logging();
    blocked
}

fn bench(c: &mut Criterion) {
    let engine = crs();
    assert!(!run(&engine, "/api/v1/users/42?page=2&sort=name&fields=id,name,email"));
    c.bench_function("crs_pl1_empty_transaction", |b| b.iter(|| black_box(engine.transaction(info()))));
    assert!(run(&engine, "/api/v1/users?q=1%27%20OR%20%271%27%3D%271"));
    c.bench_function("crs_pl1_benign_get", |b| {
        b.iter(|| black_box(run(&engine, "/api/v1/users/42?page=2&sort=name&fields=id,name,email")))
    });
    c.bench_function("crs_pl1_sqli_get", |b| {
        b.iter(|| black_box(run(&engine, "/api/v1/users?q=1%27%20OR%20%271%27%3D%271")))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
