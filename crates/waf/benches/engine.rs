//! CRS PL1 (blocking mode) transaction cost, phases 1–5: a benign GET, a benign 300-byte and 10 KB JSON POST,
//! and an SQLi GET. Budget (DESIGN.md): ≈20 µs per benign GET. The `harness_get` and `harness_post` cases
//! replay the requests of `../shared/bench`'s workloads as the gateway hands them to the engine, so the
//! engine's share of `bench/callgrind.sh crs-pl1 get|post` can be measured in seconds rather than minutes.
//!
//! Wall-clock on a shared machine is noise; instruction counts are not. With `PORTCULLIS_CALLGRIND=N` the
//! binary skips criterion and runs each case N times inside its own `#[inline(never)]` function, so
//! `callgrind_annotate --inclusive=yes` gives instructions per case (divide by N):
//! `PORTCULLIS_CALLGRIND=200 valgrind --tool=callgrind target/release/deps/engine-* --bench`.
//!
//! The engine's fixed costs are measured on small rule sets of [`FIXED_RULES`] rules that cannot match the
//! benign GET (`fixed_*` cases, run before CRS loads; `PORTCULLIS_CALLGRIND_FIXED_ONLY=1` skips CRS): the
//! cost of a skipped or evaluated rule is (instructions of the case − those of `callgrind_fixed_base`) ÷
//! (N × [`FIXED_RULES`]).
//!
//! The `_cold` cases time the harness requests after reading `PORTCULLIS_EVICT_KB` (default 8,192) KB of other
//! data, as the gateway meets the engine after a request's network and proxy work: the cost of the lines the
//! engine touches that are no longer cached. `callgrind_harness_get_cold` (with `--cache-sim=yes` and this
//! machine's sizes, `--D1=49152,12,64 --I1=65536,8,64 --LL=2097152,16,64`) counts those lines per function
//! (`DLmr`, `ILmr`; `engine::evict`'s own are the eviction's).
//!
//! What one CRS rule costs a transaction: `PORTCULLIS_BENCH_REMOVE="ID ..."` loads CRS with
//! `SecRuleRemoveById ID ...` after it, and `PORTCULLIS_CALLGRIND_HARNESS_ONLY=1` runs only the two harness cases;
//! the difference to the full rule set is the rule's marginal cost, its effects on later rules included
//! (`bench/rule-costs.sh` runs it per rule).

use criterion::{black_box, criterion_group, Criterion};
use portcullis_waf::{Engine, Transaction, TxInfo};
use std::path::PathBuf;
use std::sync::Arc;

fn crs() -> Arc<Engine> {
    crs_with("")
}

/// CRS PL1 with `prelude` loaded before it.
fn crs_with(prelude: &str) -> Arc<Engine> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/crs");
    let mut text = format!(
        "SecRuleEngine On\nSecRequestBodyAccess On\n{prelude}Include {}/crs-setup.conf.example\nInclude {}/rules/*.conf\n",
        dir.display(),
        dir.display()
    );
    if let Ok(ids) = std::env::var("PORTCULLIS_BENCH_REMOVE") {
        text.push_str(&format!("SecRuleRemoveById {ids}\n"));
    }
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

/// What the gateway's WAF adapter loads before the rule files and the harness cases depend on: JSON request
/// bodies parsed as JSON (`portcullis_waf_protection::build::BASE`, rule 199001). The other cases keep the
/// engine they were measured with in earlier sessions (their JSON bodies are not parsed into `ARGS`).
const HARNESS_PRELUDE: &str = "SecRule REQUEST_HEADERS:Content-Type \"@beginsWith application/json\" \
     \"id:199001,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON\"\n";

const BENIGN_GET: &str = "/api/v1/users/42?page=2&sort=name&fields=id,name,email";
const SQLI_GET: &str = "/api/v1/users?q=1%27%20OR%20%271%27%3D%271";

/// A benign JSON order of about `target` bytes: a customer, an address and as many line items as fit.
fn json_body(target: usize) -> Vec<u8> {
    let mut s = String::from(
        r#"{"customer":{"id":"c_8841","name":"Jane O'Neil","email":"jane.oneil@example.com"},"address":{"street":"12 Harbour Road","city":"Leith","zip":"EH6 6LX"},"items":["#,
    );
    let mut i = 0;
    loop {
        let item = format!(
            r#"{}{{"sku":"SKU-{i:05}","qty":{},"price":"{}.99","note":"gift wrap, blue paper"}}"#,
            if i == 0 { "" } else { "," },
            i % 7 + 1,
            i % 90 + 9
        );
        if s.len() + item.len() + 2 > target && i > 0 {
            break;
        }
        s.push_str(&item);
        i += 1;
    }
    s.push_str("]}");
    s.into_bytes()
}

/// Rules per fixed-cost rule set.
const FIXED_RULES: usize = 100;

/// The rule sets behind the fixed-cost cases: the same phase-1 rule (it copies the method into `TX`, so no
/// later `TX` test is load-time constant) plus [`FIXED_RULES`] phase-2 rules of one kind.
fn fixed_engine(kind: &str) -> Arc<Engine> {
    let mut text = String::from(
        "SecRuleEngine On\nSecRequestBodyAccess On\n\
         SecRule REQUEST_METHOD \"@unconditionalMatch\" \"id:1,phase:1,pass,nolog,setvar:tx.m=%{REQUEST_METHOD}\"\n",
    );
    for i in 0..FIXED_RULES {
        let id = 1000 + i;
        let rule = match kind {
            // gated: the literal is in no value, so the rule is skipped before its targets are read
            "skipped_rx" => {
                format!("SecRule ARGS|REQUEST_HEADERS \"@rx qzx{i}vwj\" \"id:{id},phase:2,block,t:none,t:lowercase\"")
            }
            // evaluated over an empty collection (a GET has no body arguments)
            "empty_eq" => format!("SecRule ARGS_POST \"@eq {i}\" \"id:{id},phase:2,block\""),
            // evaluated on one TX value written at run time
            "tx_eq" => format!("SecRule TX:m \"@streq M{i}\" \"id:{id},phase:2,block\""),
            // evaluated on every argument and header value (3 + 6 values), no match
            "members_streq" => format!("SecRule ARGS|REQUEST_HEADERS \"@streq v{i}\" \"id:{id},phase:2,block\""),
            _ => String::new(),
        };
        text.push_str(&rule);
        text.push('\n');
    }
    Arc::new(Engine::from_str(&text, "/fixed.conf").expect("fixed-cost rules load"))
}

/// The fixed-cost cases, in order: the base rule set, then one per rule kind.
const FIXED_KINDS: [&str; 5] = ["base", "skipped_rx", "empty_eq", "tx_eq", "members_streq"];

fn run(engine: &Arc<Engine>, uri: &str) -> bool {
    run_request(engine, "GET", uri, None)
}

fn run_request(engine: &Arc<Engine>, method: &str, uri: &str, json: Option<&[u8]>) -> bool {
    let mut tx = engine.transaction(info());
    tx.request_line(method, uri, "HTTP/1.1");
    tx.request_header(b"Host", b"api.example.com");
    tx.request_header(b"User-Agent", b"Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0");
    tx.request_header(b"Accept", b"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8");
    tx.request_header(b"Accept-Language", b"en-US,en;q=0.5");
    tx.request_header(b"Accept-Encoding", b"gzip, deflate, br");
    tx.request_header(b"Cookie", b"session=3f1a9c0e7b2d4a6f; theme=dark");
    if let Some(body) = json {
        tx.request_header(b"Content-Type", b"application/json");
        tx.request_header(b"Content-Length", body.len().to_string().as_bytes());
    }
    run_phases(&mut tx, json, &[(b"Content-Type", b"application/json")])
}

/// Runs phases 1–5 on a request whose line and headers are in: `body` (if any) after phase 1, then, unless it
/// was blocked, a 200 response with `response_headers`. Returns whether the request was blocked.
fn run_phases(tx: &mut Transaction, body: Option<&[u8]>, response_headers: &[(&[u8], &[u8])]) -> bool {
    let mut blocked = tx.process_request_headers().is_some();
    if let (false, Some(body)) = (blocked, body) {
        blocked = tx.append_request_body(body).is_err();
    }
    if !blocked {
        blocked = tx.process_request_body().is_some();
    }
    if !blocked {
        tx.response_status(200, "HTTP/1.1");
        for (n, v) in response_headers {
            tx.response_header(n, v);
        }
        tx.process_response_headers();
        tx.process_response_body();
    }
    tx.process_logging();
    blocked
}

/// The request of `../shared/bench`'s `get` or `post` workload as the gateway hands it to the engine (wrk's
/// `Host` is the gateway's numeric address, which CRS 920350 scores at PL1 without blocking), the origin's
/// response headers, phases 1–5. Kept in step with `../shared/bench/lua/{get,post}.lua` by hand.
fn run_harness(engine: &Arc<Engine>, login: Option<&[u8]>) -> bool {
    let mut tx = engine.transaction(info());
    match login {
        None => tx.request_line("GET", "/api/items?id=123&q=hello", "HTTP/1.1"),
        Some(_) => tx.request_line("POST", "/api/login", "HTTP/1.1"),
    }
    tx.request_header(b"Host", b"127.0.0.1:47890");
    if let Some(body) = login {
        tx.request_header(b"Content-Length", body.len().to_string().as_bytes());
        tx.request_header(b"Content-Type", b"application/json");
    }
    tx.request_header(b"Accept", b"application/json");
    tx.request_header(b"User-Agent", b"anchor-bench/1.0 (wrk)");
    match login {
        None => {
            tx.request_header(b"Authorization", b"Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl");
            tx.request_header(b"X-Request-Id", b"9f1c2b7e-4a7d-4e2b-9a43-0d1f3c5b6a70");
        }
        Some(_) => tx.request_header(b"X-Request-Id", b"9f1c2b7e-4a7d-4e2b-9a43-0d1f3c5b6a71"),
    }
    let response: [(&[u8], &[u8]); 4] = [
        (b"Server", b"nginx"),
        (b"Content-Type", b"application/json"),
        (b"Content-Length", b"1024"),
        (b"Connection", b"keep-alive"),
    ];
    run_phases(&mut tx, login, &response)
}

/// The harness's login body (`../shared/bench/lua/login-body.json`).
fn login_body() -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/bench/lua/login-body.json");
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn bench(c: &mut Criterion) {
    let engine = crs();
    let (small, large) = (json_body(300), json_body(10 * 1024));
    assert!(!run(&engine, BENIGN_GET));
    assert!(!run_request(&engine, "POST", "/api/v1/orders", Some(&small)));
    assert!(!run_request(&engine, "POST", "/api/v1/orders", Some(&large)));
    assert!(run(&engine, SQLI_GET));
    for kind in FIXED_KINDS {
        let e = fixed_engine(kind);
        assert!(!run(&e, BENIGN_GET));
        c.bench_function(&format!("fixed_{kind}_x{FIXED_RULES}"), |b| b.iter(|| black_box(run(&e, BENIGN_GET))));
    }
    c.bench_function("crs_pl1_empty_transaction", |b| b.iter(|| black_box(engine.transaction(info()))));
    c.bench_function("crs_pl1_benign_get", |b| b.iter(|| black_box(run(&engine, BENIGN_GET))));
    c.bench_function("crs_pl1_json_post_300b", |b| {
        b.iter(|| black_box(run_request(&engine, "POST", "/api/v1/orders", Some(&small))))
    });
    c.bench_function("crs_pl1_json_post_10kb", |b| {
        b.iter(|| black_box(run_request(&engine, "POST", "/api/v1/orders", Some(&large))))
    });
    c.bench_function("crs_pl1_sqli_get", |b| b.iter(|| black_box(run(&engine, SQLI_GET))));
    let harness = crs_with(HARNESS_PRELUDE);
    let login = login_body();
    assert!(!run_harness(&harness, None));
    assert!(!run_harness(&harness, Some(&login)));
    c.bench_function("crs_pl1_harness_get", |b| b.iter(|| black_box(run_harness(&harness, None))));
    c.bench_function("crs_pl1_harness_post", |b| b.iter(|| black_box(run_harness(&harness, Some(&login)))));
    let kb: usize = std::env::var("PORTCULLIS_EVICT_KB").ok().and_then(|v| v.parse().ok()).unwrap_or(8192);
    let junk: Vec<u8> = (0..kb << 10).map(|i| i as u8).collect();
    c.bench_function("crs_pl1_harness_get_cold", |b| b.iter_custom(|n| cold(n, &junk, || run_harness(&harness, None))));
    c.bench_function("crs_pl1_harness_post_cold", |b| {
        b.iter_custom(|n| cold(n, &junk, || run_harness(&harness, Some(&login))))
    });
}

/// `n` runs of `f`, each after `junk` was read (evicting the caches' lines of the previous run), timing
/// only the runs: the engine as the gateway meets it, after a request's network and proxy work.
fn cold(n: u64, junk: &[u8], mut f: impl FnMut() -> bool) -> std::time::Duration {
    let mut total = std::time::Duration::ZERO;
    for _ in 0..n {
        evict(junk);
        let t = std::time::Instant::now();
        black_box(f());
        total += t.elapsed();
    }
    total
}

/// Reads one byte per cache line of `junk` (larger than the L2 cache), so the next run starts without its own
/// lines in L1/L2.
#[inline(never)]
fn evict(junk: &[u8]) {
    let sum = junk.iter().step_by(64).fold(0u8, |a, b| a.wrapping_add(*b));
    black_box(sum);
}

#[inline(never)]
fn callgrind_harness_get_cold(engine: &Arc<Engine>, junk: &[u8], n: usize) {
    for _ in 0..n {
        evict(junk);
        assert!(!run_harness(engine, None));
    }
}

/// One function per fixed-cost case, so each has its own callgrind toggle.
macro_rules! fixed_case {
    ($name:ident) => {
        #[inline(never)]
        fn $name(engine: &Arc<Engine>, n: usize) {
            for _ in 0..n {
                assert!(!run(engine, BENIGN_GET));
            }
        }
    };
}
fixed_case!(callgrind_fixed_base);
fixed_case!(callgrind_fixed_skipped_rx);
fixed_case!(callgrind_fixed_empty_eq);
fixed_case!(callgrind_fixed_tx_eq);
fixed_case!(callgrind_fixed_members_streq);

#[inline(never)]
fn callgrind_benign_get(engine: &Arc<Engine>, n: usize) {
    for _ in 0..n {
        assert!(!run(engine, BENIGN_GET));
    }
}

#[inline(never)]
fn callgrind_json_post_300b(engine: &Arc<Engine>, body: &[u8], n: usize) {
    for _ in 0..n {
        assert!(!run_request(engine, "POST", "/api/v1/orders", Some(body)));
    }
}

#[inline(never)]
fn callgrind_json_post_10kb(engine: &Arc<Engine>, body: &[u8], n: usize) {
    for _ in 0..n {
        assert!(!run_request(engine, "POST", "/api/v1/orders", Some(body)));
    }
}

#[inline(never)]
fn callgrind_sqli_get(engine: &Arc<Engine>, n: usize) {
    for _ in 0..n {
        assert!(run(engine, SQLI_GET));
    }
}

#[inline(never)]
fn callgrind_harness_get(engine: &Arc<Engine>, n: usize) {
    for _ in 0..n {
        assert!(!run_harness(engine, None));
    }
}

#[inline(never)]
fn callgrind_harness_post(engine: &Arc<Engine>, body: &[u8], n: usize) {
    for _ in 0..n {
        assert!(!run_harness(engine, Some(body)));
    }
}

criterion_group!(benches, bench);

/// `PORTCULLIS_RULE_PROFILE=<case>` with `--features rule-profile`: each rule's share of one case's time
/// (`portcullis_waf::profile`), over `PORTCULLIS_RULE_PROFILE_N` transactions (default 2,000).
#[cfg(feature = "rule-profile")]
fn rule_profile(case: &str) {
    let engine = crs();
    let (small, large) = (json_body(300), json_body(10 * 1024));
    let (harness, login) = (crs_with(HARNESS_PRELUDE), login_body());
    let one = |e: &Arc<Engine>| match case {
        "benign_get" => run(e, BENIGN_GET),
        "json_post_300b" => run_request(e, "POST", "/api/v1/orders", Some(&small)),
        "json_post_10kb" => run_request(e, "POST", "/api/v1/orders", Some(&large)),
        "sqli_get" => run(e, SQLI_GET),
        "harness_get" => run_harness(&harness, None),
        "harness_post" => run_harness(&harness, Some(&login)),
        other => panic!(
            "unknown case {other:?} (benign_get, json_post_300b, json_post_10kb, sqli_get, harness_get, harness_post)"
        ),
    };
    let n = portcullis_waf::profile::transactions();
    for _ in 0..200 {
        one(&engine);
    }
    portcullis_waf::profile::take();
    for _ in 0..n {
        one(&engine);
    }
    let rows = portcullis_waf::profile::take();
    print!("{}", portcullis_waf::profile::report(case, &rows, n));
}

/// The harness cases under callgrind (`n` transactions each, after two warm-ups); returns their engine.
fn harness_cases(n: usize) -> Arc<Engine> {
    let (harness, login) = (crs_with(HARNESS_PRELUDE), login_body());
    for _ in 0..2 {
        run_harness(&harness, None);
        run_harness(&harness, Some(&login));
    }
    callgrind_harness_get(&harness, n);
    callgrind_harness_post(&harness, &login, n);
    harness
}

fn main() {
    #[cfg(feature = "rule-profile")]
    if let Ok(case) = std::env::var("PORTCULLIS_RULE_PROFILE") {
        rule_profile(&case);
        return;
    }
    if let Some(n) = std::env::var("PORTCULLIS_CALLGRIND").ok().and_then(|v| v.parse::<usize>().ok()) {
        let cases: [fn(&Arc<Engine>, usize); 5] = [
            callgrind_fixed_base,
            callgrind_fixed_skipped_rx,
            callgrind_fixed_empty_eq,
            callgrind_fixed_tx_eq,
            callgrind_fixed_members_streq,
        ];
        for (kind, case) in FIXED_KINDS.iter().zip(cases) {
            let e = fixed_engine(kind);
            for _ in 0..2 {
                run(&e, BENIGN_GET);
            }
            case(&e, n);
        }
        if std::env::var_os("PORTCULLIS_CALLGRIND_FIXED_ONLY").is_some() {
            return;
        }
        if std::env::var_os("PORTCULLIS_CALLGRIND_HARNESS_ONLY").is_some() {
            // the two harness cases alone (one CRS load, not two): what `bench/rule-costs.sh` runs per rule
            harness_cases(n);
            return;
        }
        let engine = crs();
        let (small, large) = (json_body(300), json_body(10 * 1024));
        eprintln!("JSON bodies: {} and {} bytes; {n} transactions per case", small.len(), large.len());
        // one warm-up each, so lazily built regex caches do not count against the first case
        for _ in 0..2 {
            run(&engine, BENIGN_GET);
            run_request(&engine, "POST", "/api/v1/orders", Some(&small));
            run_request(&engine, "POST", "/api/v1/orders", Some(&large));
            run(&engine, SQLI_GET);
        }
        callgrind_benign_get(&engine, n);
        callgrind_json_post_300b(&engine, &small, n);
        callgrind_json_post_10kb(&engine, &large, n);
        callgrind_sqli_get(&engine, n);
        let harness = harness_cases(n);
        let junk: Vec<u8> = (0..8usize << 20).map(|i| i as u8).collect();
        callgrind_harness_get_cold(&harness, &junk, n);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
