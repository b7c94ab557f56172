//! Transformation throughput on the two inputs that matter: a benign 200-byte value (the common case, which
//! must not allocate) and an encoded attack of the same size. Criterion reports bytes/s; ns/byte is
//! time / 200.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use portcullis_waf::transforms::lookup;

/// Plain text as found in most parameters and headers: no escapes, no upper case, single spaces.
fn benign() -> Vec<u8> {
    let text = b"the quick brown fox jumps over the lazy dog and then searches for product id 4711 in category \
garden-tools sorted by price ascending with page size 50 and locale en-us for the customer account 0042 ok";
    text[..200].to_vec()
}

/// Mixed URL, %u, HTML entity and shell evasion, padded to 200 bytes.
fn attack() -> Vec<u8> {
    let unit = b"%3Cscript%3Ealert(%u0027XSS%uff07)%3C/script%3E&#x3C;img src=x onerror=&#97;lert(1)&gt;\
 C^md.exe /c \"who\"ami;,cat%20/etc/passwd &lt;/";
    unit.iter().copied().cycle().take(200).collect()
}

fn bench_transforms(c: &mut Criterion) {
    let inputs = [("benign", benign()), ("attack", attack())];
    for name in ["urlDecodeUni", "lowercase", "htmlEntityDecode", "cmdLine", "compressWhitespace", "removeNulls"] {
        let t = lookup(name).expect("registered");
        let mut group = c.benchmark_group(name);
        for (label, input) in &inputs {
            group.throughput(Throughput::Bytes(input.len() as u64));
            group.bench_with_input(BenchmarkId::from_parameter(label), input, |b, input| {
                b.iter(|| (t.apply)(black_box(input)).len())
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench_transforms);
criterion_main!(benches);
