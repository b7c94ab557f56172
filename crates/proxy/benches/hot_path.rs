//! Hot paths of the gateway core: route matching and per-request header work.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use http::{HeaderMap, HeaderValue, Method};
use portcullis_config::{HeadersSection, RouteSection};
use portcullis_pipeline::{ConnInfo, Protection, RequestCtx};
use portcullis_proxy::router::{Route, Router};
use portcullis_proxy::{forward, Metrics};

fn routes(n: usize) -> Router {
    let metrics = Metrics::new();
    let mut out = Vec::new();
    for i in 0..n {
        let text = match i % 4 {
            0 => format!("name = \"r{i}\"\nrespond = {{ status = 200 }}\n[match]\npath_prefix = \"/svc{i}\"\n"),
            1 => format!("name = \"r{i}\"\nrespond = {{ status = 200 }}\n[match]\npath = \"/exact/{i}\"\nmethods = [\"GET\"]\n"),
            2 => format!("name = \"r{i}\"\nrespond = {{ status = 200 }}\n[match]\nhosts = [\"h{i}.example.com\"]\npath_prefix = \"/api\"\n"),
            _ => format!("name = \"r{i}\"\nrespond = {{ status = 200 }}\n[match]\npath_regex = \"^/v{i}/[a-z]+$\"\n"),
        };
        let cfg: RouteSection = toml::from_str(&text).unwrap();
        out.push(Route::build(&cfg, &[], 1 << 20, metrics.route(&cfg.name)).unwrap());
    }
    let last: RouteSection =
        toml::from_str("name = \"api\"\nrespond = { status = 200 }\n[match]\npath_prefix = \"/api\"\n").unwrap();
    out.push(Route::build(&last, &[], 1 << 20, metrics.route("api")).unwrap());
    Router::new(out)
}

fn browser_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in [
        ("host", "shop.example.com"),
        (
            "user-agent",
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
        ),
        ("accept", "application/json"),
        ("accept-encoding", "gzip, deflate, br"),
        ("authorization", "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJl"),
        ("connection", "keep-alive"),
        ("x-request-id", "4b1d7f0e-7a53-4f0e-9c9b-0d4f6b2a9e11"),
        ("cookie", "session=abc123; theme=dark"),
    ] {
        h.insert(k, HeaderValue::from_static(v));
    }
    h
}

fn bench(c: &mut Criterion) {
    for n in [10, 100] {
        let router = routes(n);
        let headers = browser_headers();
        c.bench_function(&format!("route_match/{n}_routes/prefix_hit_last"), |b| {
            b.iter(|| router.find(black_box("shop.example.com"), black_box("/api/items/42"), &Method::GET, &headers))
        });
        c.bench_function(&format!("route_match/{n}_routes/miss"), |b| {
            b.iter(|| router.find(black_box("shop.example.com"), black_box("/nothing/here"), &Method::GET, &headers))
        });
    }

    let policy = portcullis_headers::HeaderPolicy::build(&HeadersSection::default()).unwrap();
    let peer = "203.0.113.7:50000".parse().unwrap();
    let conn = ConnInfo { peer, local: peer, tls: true, sni: None, listener: "bench".into(), client_cert: None };
    let fwd_peer = forward::Peer::new(peer.ip(), true);
    c.bench_function("headers/request_forwarding", |b| {
        b.iter_batched(
            browser_headers,
            |mut h| {
                let host = h.get("host").cloned();
                let id = forward::request_id_and_value(&h);
                forward::remove_hop_by_hop(&mut h, false);
                forward::set_forwarded(&mut h, &fwd_peer, host.as_ref(), &[]);
                (h, id)
            },
            criterion::BatchSize::SmallInput,
        )
    });
    c.bench_function("headers/response_policy", |b| {
        b.iter_batched(
            || {
                let resp = http::Response::builder()
                    .header("server", "nginx")
                    .header("x-powered-by", "PHP/8")
                    .header("content-type", "application/json")
                    .header("content-length", "1045")
                    .body(())
                    .unwrap();
                (resp.into_parts().0, RequestCtx::new("id".into(), conn.clone()))
            },
            |(mut parts, mut ctx)| {
                policy.response_headers_filter(&mut ctx, &mut parts);
                parts
            },
            criterion::BatchSize::SmallInput,
        )
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
