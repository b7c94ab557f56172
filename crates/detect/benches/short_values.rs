//! Each detector as the WAF operator runs it — prefilter ([`prefilter::may_match`]) then the detector — on the
//! short values one API request carries (the `../shared/bench` GET and POST: ids, words, a UUID, a
//! User-Agent, an Accept list, a JSON login's fields) and on a short attack of its class. Reported per value
//! set; ns per byte is the time divided by the total length in the group name.
//! Run: `cargo bench -p portcullis-detect --bench short_values`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
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
criterion_main!(benches);
