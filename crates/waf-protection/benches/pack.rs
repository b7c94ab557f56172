//! The whole built-in rule pack per request, as `bench/candidate.sh default` runs it (no `[waf]` section: the
//! pack at the default sensitivity, blocking). The requests are the ones `../shared/bench/lua/*.lua` sends —
//! the harness's GET, its 303-byte JSON login POST, and its SQLi attack — plus a 10 KB JSON body, so the
//! per-request cost of the pack can be compared with nginx's whole-request budget (≈ 40 µs at 25k req/s on
//! one core). Run: `cargo bench -p portcullis-waf-protection --bench pack`.
//!
//! Wall-clock on a shared machine is noise; instruction counts are not. With `PORTCULLIS_CALLGRIND=N` the
//! binary skips criterion and runs each case N times inside its own `#[inline(never)]` function, so
//! `callgrind_annotate --inclusive=yes` gives instructions per request (divide by N):
//! `PORTCULLIS_CALLGRIND=200 valgrind --tool=callgrind target/release/deps/pack-* --bench`.

use std::sync::Arc;

use criterion::{black_box, criterion_group, Criterion};
use portcullis_config::{Config, WafSection};
use portcullis_waf::{Engine, EngineMode, TxInfo};
use portcullis_waf_protection::{builtin, BASE, BASE_BODY_ERROR};

/// The harness's POST body (`../shared/bench/lua/login-body.json`, 303 bytes), inlined so the bench does not
/// depend on a file outside the repository.
const LOGIN_BODY: &str = r#"{"username":"alice.example","password":"CorrectHorseBatteryStaple2024","remember_me":true,"client":{"app":"web","version":"3.14.2","platform":"linux","locale":"en-GB","timezone":"Europe/Berlin"},"device_id":"4f6c0d2e8b1a4c7d9e3f5a6b7c8d9e0f","mfa":{"method":"totp","code":"492031"},"scope":"read write"}"#;

/// One request as the gateway feeds it to the engine.
struct Req {
    method: &'static str,
    uri: &'static str,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

fn engine() -> Arc<Engine> {
    let text = "[[listeners]]\nname = \"l\"\naddress = \"127.0.0.1:0\"\n[[upstreams]]\nname = \"u\"\n\
                targets = [\"127.0.0.1:9\"]\n[[routes]]\nname = \"all\"\nupstream = \"u\"\n";
    let config = Config::from_str_at(text, None, std::env::temp_dir()).expect("bench config is valid");
    Arc::new(portcullis_waf_protection::build_engine(&config).expect("the built-in pack compiles"))
}

/// The pack's floor: the engine as `build_engine` writes it for the default config (the gateway's base rules, the
/// generated 190001), with only the pack's setup file and its blocking rule, no detection rule. What the GET and
/// the login cost on it is the transaction itself: collections, the JSON parser, five phases' bookkeeping, `TX`.
fn floor_engine() -> Arc<Engine> {
    let pack = builtin::text(&WafSection::default());
    let rule_190001 = pack.lines().next().expect("the pack's text starts with rule 190001");
    let file = |name: &str| {
        builtin::FILES.iter().find(|(n, _)| n.ends_with(name)).map(|(_, body)| *body).expect("a pack file")
    };
    let text =
        format!("{BASE}{rule_190001}\n{}\n{}\n{BASE_BODY_ERROR}", file("/00-setup.conf"), file("/90-blocking.conf"));
    Arc::new(Engine::from_str(&text, "/floor.conf").expect("the pack's floor loads"))
}

/// Runs phases 1, 2 and 5 (the request side and logging); true when the pack blocked.
fn run(engine: &Arc<Engine>, req: &Req) -> bool {
    let mut tx = engine.transaction(TxInfo {
        unique_id: "bench-1".into(),
        client_addr: "127.0.0.1".parse().expect("literal address"),
        client_port: 40000,
        server_addr: "127.0.0.1".parse().expect("literal address"),
        server_port: 47390,
    });
    tx.set_engine_mode(EngineMode::On);
    tx.request_line(req.method, req.uri, "HTTP/1.1");
    for (n, v) in &req.headers {
        tx.request_header(n.as_bytes(), v.as_bytes());
    }
    let mut blocked = tx.process_request_headers().is_some();
    if !blocked {
        if !req.body.is_empty() {
            tx.append_request_body(&req.body).expect("bench bodies are under the limit");
        }
        blocked = tx.process_request_body().is_some();
    }
    tx.process_logging();
    blocked
}

/// wrk's GET (`get.lua`): four API headers beside Host.
fn get(uri: &'static str) -> Req {
    Req {
        method: "GET",
        uri,
        headers: vec![
            ("Host", "127.0.0.1:47390".into()),
            ("Accept", "application/json".into()),
            ("User-Agent", "anchor-bench/1.0 (wrk)".into()),
            ("Authorization", "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl".into()),
            ("X-Request-Id", "9f1c2b7e-4a7d-4e2b-9a43-0d1f3c5b6a70".into()),
        ],
        body: Vec::new(),
    }
}

fn post_json(uri: &'static str, body: Vec<u8>) -> Req {
    Req {
        method: "POST",
        uri,
        headers: vec![
            ("Host", "127.0.0.1:47390".into()),
            ("Content-Type", "application/json".into()),
            ("Accept", "application/json".into()),
            ("User-Agent", "anchor-bench/1.0 (wrk)".into()),
            ("X-Request-Id", "9f1c2b7e-4a7d-4e2b-9a43-0d1f3c5b6a71".into()),
            ("Content-Length", body.len().to_string()),
        ],
        body,
    }
}

/// About 10 KB of product records: prose with apostrophes, prices, URLs and nested objects, the kind of
/// JSON an API receives in a bulk update.
fn catalogue_10k() -> Vec<u8> {
    let mut records = Vec::new();
    let mut n = 0;
    let mut len = 0;
    while len < 10_000 {
        let r = format!(
            "{{\"sku\":\"CAT-{n:05}\",\"name\":\"Reader's edition, volume {n}\",\"price\":{}.{:02},\
             \"stock\":{},\"url\":\"https://shop.example.com/p/{n}?ref=feed\",\"tags\":[\"books\",\"paper\"],\
             \"dims\":{{\"w\":12.5,\"h\":19,\"unit\":\"cm\"}},\"blurb\":\"Don't miss it - select titles from our list.\"}}",
            10 + n % 40,
            n % 100,
            n * 3 % 17
        );
        len += r.len() + 1;
        records.push(r);
        n += 1;
    }
    format!("{{\"items\":[{}]}}", records.join(",")).into_bytes()
}

/// The four requests and whether the pack must block each.
fn cases() -> [(&'static str, Req, bool); 4] {
    [
        ("get", get("/api/items?id=123&q=hello"), false),
        ("post_login_303B", post_json("/api/login", LOGIN_BODY.as_bytes().to_vec()), false),
        ("post_json_10KB", post_json("/api/items", catalogue_10k()), false),
        ("attack_sqli_get", get("/api/items?id=123&q=1%27%20OR%20%271%27%3D%271%20--"), true),
    ]
}

fn bench(c: &mut Criterion) {
    let engine = engine();
    let cases = cases();
    let mut g = c.benchmark_group("builtin_pack");
    for (name, req, attack) in &cases {
        // A bench of the wrong verdict would measure nothing useful.
        assert_eq!(run(&engine, req), *attack, "{name}: unexpected verdict");
        g.bench_function(*name, |b| b.iter(|| black_box(run(&engine, black_box(req)))));
    }
    let floor = floor_engine();
    g.bench_function("floor_get", |b| b.iter(|| black_box(run(&floor, black_box(&cases[0].1)))));
    g.bench_function("floor_login", |b| b.iter(|| black_box(run(&floor, black_box(&cases[1].1)))));
    g.finish();
}

/// Runs one case `n` times, asserting its verdict each time (a wrong verdict would measure nothing useful).
/// `case` only keeps the four callers below distinct: identical functions would be folded into one by the
/// linker, and callgrind would report all four cases under one name.
#[inline(always)]
fn repeat(engine: &Arc<Engine>, req: &Req, attack: bool, n: usize, case: u32) {
    black_box(case);
    for _ in 0..n {
        assert_eq!(run(engine, black_box(req)), attack);
    }
}

// One function per case, so callgrind's inclusive cost of each is the cost of that request times `n`.
#[inline(never)]
fn callgrind_get(engine: &Arc<Engine>, req: &Req, n: usize) {
    repeat(engine, req, false, n, 1)
}

#[inline(never)]
fn callgrind_post_login_303b(engine: &Arc<Engine>, req: &Req, n: usize) {
    repeat(engine, req, false, n, 2)
}

#[inline(never)]
fn callgrind_post_json_10kb(engine: &Arc<Engine>, req: &Req, n: usize) {
    repeat(engine, req, false, n, 3)
}

#[inline(never)]
fn callgrind_attack_sqli_get(engine: &Arc<Engine>, req: &Req, n: usize) {
    repeat(engine, req, true, n, 4)
}

#[inline(never)]
fn callgrind_floor_get(engine: &Arc<Engine>, req: &Req, n: usize) {
    repeat(engine, req, false, n, 5)
}

#[inline(never)]
fn callgrind_floor_login(engine: &Arc<Engine>, req: &Req, n: usize) {
    repeat(engine, req, false, n, 6)
}

criterion_group!(benches, bench);

/// `PORTCULLIS_RULE_PROFILE=<case>` with `--features rule-profile`: each rule's share of one case's time
/// (`portcullis_waf::profile`), over `PORTCULLIS_RULE_PROFILE_N` transactions (default 2,000). The cases are
/// the callgrind ones: get, post_login_303b, post_json_10kb, attack_sqli_get, floor_get, floor_login.
#[cfg(feature = "rule-profile")]
fn rule_profile(case: &str) {
    let [get, login, json, attack] = cases();
    let (engine, req, blocked) = match case {
        "get" => (engine(), &get.1, get.2),
        "post_login_303b" => (engine(), &login.1, login.2),
        "post_json_10kb" => (engine(), &json.1, json.2),
        "attack_sqli_get" => (engine(), &attack.1, attack.2),
        "floor_get" => (floor_engine(), &get.1, false),
        "floor_login" => (floor_engine(), &login.1, false),
        other => panic!(
            "unknown case {other:?} (get, post_login_303b, post_json_10kb, attack_sqli_get, floor_get, floor_login)"
        ),
    };
    let n = portcullis_waf::profile::transactions();
    repeat(&engine, req, blocked, 200, 0);
    portcullis_waf::profile::take();
    repeat(&engine, req, blocked, n as usize, 0);
    let rows = portcullis_waf::profile::take();
    print!("{}", portcullis_waf::profile::report(case, &rows, n));
}

fn main() {
    #[cfg(feature = "rule-profile")]
    if let Ok(case) = std::env::var("PORTCULLIS_RULE_PROFILE") {
        rule_profile(&case);
        return;
    }
    if let Some(n) = std::env::var("PORTCULLIS_CALLGRIND").ok().and_then(|v| v.parse::<usize>().ok()) {
        let engine = engine();
        let [get, login, json, attack] = cases();
        // one warm-up each, so lazily built caches do not count against the first case
        for (_, req, blocked) in [&get, &login, &json, &attack] {
            repeat(&engine, req, *blocked, 2, 0);
        }
        eprintln!("{n} requests per case");
        callgrind_get(&engine, &get.1, n);
        callgrind_post_login_303b(&engine, &login.1, n);
        callgrind_post_json_10kb(&engine, &json.1, n);
        callgrind_attack_sqli_get(&engine, &attack.1, n);
        let floor = floor_engine();
        for req in [&get.1, &login.1] {
            repeat(&floor, req, false, 2, 0);
        }
        callgrind_floor_get(&floor, &get.1, n);
        callgrind_floor_login(&floor, &login.1, n);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
