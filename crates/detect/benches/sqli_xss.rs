//! Criterion bench for the SQL injection and XSS detectors: throughput (ns per byte = 1 / bytes per second)
//! on benign API values and on attacks, plus a 64 KB benign body to show the per-byte cost on large input.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use portcullis_detect::{sqli, xss};
use std::hint::black_box;

const BENIGN: &[&str] = &[
    "O'Reilly books",
    "I'd like to select the union of both offers",
    "john.doe@example.com",
    "https://example.com/search?q=shoes&page=2",
    "{\"name\": \"Widget\", \"price\": 9.99, \"tags\": [\"a\", \"b\"]}",
    "Dear team, I'd like to follow up; let's meet on Monday at 10. Thanks!",
    "<p>A <b>bold</b> paragraph with a <a href=\"https://example.com\">link</a>.</p>",
    "vector<int> and a < b",
];

const ATTACKS: &[&str] = &[
    "1' OR '1'='1",
    "1 UNION SELECT username, password FROM users--",
    "Robert'); DROP TABLE Students;--",
    "x' and extractvalue(1,concat(0x7e,version()))--",
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "\" onmouseover=\"alert(1)",
    "jav&#x09;ascript:alert(1)",
];

fn bench_set(c: &mut Criterion, group: &str, values: &[&str]) {
    let joined = values.join("\n");
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Bytes(values.iter().map(|v| v.len() as u64).sum()));
    g.bench_function(BenchmarkId::new("sqli", "each"), |b| {
        b.iter(|| values.iter().filter(|v| sqli::detect(black_box(v.as_bytes())).is_some()).count())
    });
    g.bench_function(BenchmarkId::new("xss", "each"), |b| {
        b.iter(|| values.iter().filter(|v| xss::detect(black_box(v.as_bytes())).is_some()).count())
    });
    g.finish();
    let body: Vec<u8> = joined.bytes().cycle().take(64 * 1024).collect();
    let mut g = c.benchmark_group(format!("{group}_64k"));
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function("sqli", |b| b.iter(|| sqli::detect(black_box(&body))));
    g.bench_function("xss", |b| b.iter(|| xss::detect(black_box(&body))));
    g.finish();
}

fn detectors(c: &mut Criterion) {
    bench_set(c, "benign", BENIGN);
    bench_set(c, "attack", ATTACKS);
}

criterion_group!(benches, detectors);
criterion_main!(benches);
