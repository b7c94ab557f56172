//! Request body processors on typical API and form bodies: a 300-byte and a 10 KB JSON document, a form
//! body, a multipart upload and a small XML document. Run: `cargo bench -p portcullis-waf --bench body`.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use portcullis_waf::body::{parse_json, parse_multipart, parse_urlencoded, parse_xml, BodyLimits};

/// A ~300-byte JSON body shaped like a typical API call.
fn json_small() -> Vec<u8> {
    let body = r#"{"user":{"id":18231,"name":"Jane Doe","email":"jane.doe@example.com","roles":["admin","editor"]},"action":"update","items":[{"sku":"A-1001","qty":2,"price":19.99},{"sku":"B-2002","qty":1,"price":5.5}],"note":"Please deliver after 5pm, ring twice","gift":false,"coupon":null}"#;
    body.as_bytes().to_vec()
}

/// A ~10 KB JSON body: an array of records with nested objects, escapes and numbers.
fn json_10k() -> Vec<u8> {
    let mut s = String::from(r#"{"page":1,"total":40,"results":["#);
    let mut i = 0;
    while s.len() < 10 * 1024 - 300 {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&format!(
            r#"{{"id":{i},"title":"Item number {i} \u00e9\"quoted\"","tags":["t{i}","common"],"meta":{{"score":{}.5,"ok":true,"owner":{{"name":"user{i}","mail":"u{i}@example.com"}}}}}}"#,
            i * 7
        ));
        i += 1;
    }
    s.push_str("]}");
    s.into_bytes()
}

/// A ~600-byte form body with a few encoded values.
fn form() -> Vec<u8> {
    let mut s = String::from("username=jane.doe%40example.com&password=s3cr3t%21%21&remember=on&redirect=%2Faccount%2Fsettings%3Ftab%3Dsecurity");
    for i in 0..12 {
        s.push_str(&format!("&field{i}=value+number+{i}&opt{i}=x"));
    }
    s.into_bytes()
}

fn multipart() -> (Vec<u8>, &'static [u8]) {
    let mut s = String::new();
    for i in 0..4 {
        s.push_str(&format!("------WebKitFormBoundaryABC\r\nContent-Disposition: form-data; name=\"field{i}\"\r\n\r\nsome value {i}\r\n"));
    }
    s.push_str("------WebKitFormBoundaryABC\r\nContent-Disposition: form-data; name=\"upload\"; filename=\"report.csv\"\r\nContent-Type: text/csv\r\n\r\n");
    for i in 0..100 {
        s.push_str(&format!("{i},alpha,beta,gamma,{}\r\n", i * 3));
    }
    s.push_str("------WebKitFormBoundaryABC--\r\n");
    (s.into_bytes(), b"multipart/form-data; boundary=----WebKitFormBoundaryABC")
}

fn xml() -> Vec<u8> {
    let mut s = String::from(
        r#"<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"><soap:Body><order id="42">"#,
    );
    for i in 0..10 {
        s.push_str(&format!(
            r#"<line n="{i}" sku="SKU-{i}"><qty>{i}</qty><desc>Widget &amp; gadget {i}</desc></line>"#
        ));
    }
    s.push_str("</order></soap:Body></soap:Envelope>");
    s.into_bytes()
}

fn bench(c: &mut Criterion) {
    let limits = BodyLimits::default();
    let mut g = c.benchmark_group("body");
    let small = json_small();
    g.throughput(Throughput::Bytes(small.len() as u64));
    g.bench_function(format!("json_{}B", small.len()), |b| b.iter(|| parse_json(black_box(&small), &limits)));
    let big = json_10k();
    g.throughput(Throughput::Bytes(big.len() as u64));
    g.bench_function(format!("json_{}B", big.len()), |b| b.iter(|| parse_json(black_box(&big), &limits)));
    let f = form();
    g.throughput(Throughput::Bytes(f.len() as u64));
    g.bench_function(format!("urlencoded_{}B", f.len()), |b| b.iter(|| parse_urlencoded(black_box(&f), &limits)));
    let (m, ct) = multipart();
    g.throughput(Throughput::Bytes(m.len() as u64));
    g.bench_function(format!("multipart_{}B", m.len()), |b| b.iter(|| parse_multipart(black_box(&m), ct, &limits)));
    let x = xml();
    g.throughput(Throughput::Bytes(x.len() as u64));
    g.bench_function(format!("xml_{}B", x.len()), |b| b.iter(|| parse_xml(black_box(&x), &limits)));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
