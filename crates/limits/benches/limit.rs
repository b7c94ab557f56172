//! Cost of a limit check: the GCRA cell in the in-memory store, the whole request-headers phase of the
//! traffic guard (key building, check, RateLimit fields), and — when `/usr/bin/redis-server` exists — the
//! Redis round-trip: through the store's blocking bridge, through the async path the gateway takes (awaited on
//! a current-thread runtime like the gateway's on one core, one at a time and 32 concurrent), and the guard's
//! whole async request-headers phase. Without Redis that part is skipped with a message.

use std::net::{IpAddr, SocketAddr};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use portcullis_config::Config;
use portcullis_limits::TrafficGuard;
use portcullis_pipeline::{ConnInfo, Protection, RequestCtx};
use portcullis_store::{Gcra, RedisTarget, Store, StoreSpec};

fn conn(ip: IpAddr) -> ConnInfo {
    ConnInfo {
        peer: SocketAddr::new(ip, 40000),
        local: "127.0.0.1:8080".parse().unwrap(),
        tls: false,
        sni: None,
        listener: "http".into(),
        client_cert: None,
    }
}

fn embedded(c: &mut Criterion) {
    let store = Store::memory(1_000_000);
    // A permissive limit that never refuses, like the `limits` bench mode.
    let g = Gcra::new(1_000_000, Duration::from_secs(1), 1_000_000);
    c.bench_function("memory store: one key", |b| b.iter(|| black_box(store.rate_check("per-ip|ip=10.0.0.1", &g))));
    // The guard's path in memory: the key's parts hashed straight into the store's seeded hasher, the request's
    // start time as "now".
    let m = store.local().expect("a memory store");
    let started = Instant::now();
    c.bench_function("memory store: one key, hashed parts", |b| {
        b.iter(|| {
            let mut h = m.key_hasher();
            std::hash::Hasher::write_u32(&mut h, 0x0a00_0001);
            black_box(m.rate_check_hashed(std::hash::Hasher::finish(&h), &g, started))
        })
    });
    let keys: Vec<String> = (0..10_000).map(|i| format!("per-ip|ip=10.0.{}.{}", i / 256, i % 256)).collect();
    let mut i = 0;
    c.bench_function("memory store: 10k keys", |b| {
        b.iter(|| {
            i = (i + 1) % keys.len();
            black_box(store.rate_check(&keys[i], &g))
        })
    });

    let config = Config::from_str_at(
        r#"
[[listeners]]
name = "http"
address = "127.0.0.1:0"
[traffic]
default_rate_limits = ["per-ip"]
[[traffic.rate_limits]]
name = "per-ip"
key = "ip"
rate = "1000000/s"
[[routes]]
name = "all"
respond = { status = 200 }
"#,
        None,
        ".".into(),
    )
    .unwrap();
    let guard = TrafficGuard::build(&config).unwrap();
    let (mut parts, ()) = http::Request::get("/items").body(()).unwrap().into_parts();
    let ip: IpAddr = "192.0.2.1".parse().unwrap();
    // The RateLimit field's value is written in the response phase (from the numbers the check kept), so the
    // guard's cost per request is the three phases together.
    let (mut resp, ()) = http::Response::new(()).into_parts();
    c.bench_function("traffic guard: request + response headers phases + logging", |b| {
        b.iter(|| {
            let mut ctx = RequestCtx::new(String::new(), conn(ip));
            ctx.route = Some("all".into());
            let v = guard.request_headers_filter(&mut ctx, &mut parts);
            guard.response_headers_filter(&mut ctx, &mut resp);
            guard.logging(&ctx, 200);
            black_box(v)
        })
    });
}

struct RedisChild(Child);

impl Drop for RedisChild {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn redis(c: &mut Criterion) {
    if !std::path::Path::new("/usr/bin/redis-server").exists() {
        eprintln!("redis round-trip bench skipped: /usr/bin/redis-server is not installed");
        return;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = std::env::temp_dir();
    let child = Command::new("/usr/bin/redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let Ok(child) = child else {
        eprintln!("redis round-trip bench skipped: cannot start redis-server");
        return;
    };
    let _guard = RedisChild(child);
    let store = Store::new(StoreSpec {
        redis: Some(RedisTarget::Standalone(format!("redis://127.0.0.1:{port}"))),
        timeout: Duration::from_millis(50),
        key_prefix: "bench".into(),
        memory_max_keys: 1 << 16,
    })
    .unwrap();
    let g = Gcra::new(1_000_000, Duration::from_secs(1), 1_000_000);
    let deadline = Instant::now() + Duration::from_secs(10);
    while store.rate_check("warmup", &g).is_err() {
        if Instant::now() > deadline {
            eprintln!("redis round-trip bench skipped: redis-server did not answer");
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    c.bench_function("redis store: GCRA script round-trip", |b| {
        b.iter(|| black_box(store.rate_check("per-ip|ip=10.0.0.1", &g).unwrap()))
    });

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    c.bench_function("redis store: async round-trip (current-thread caller)", |b| {
        b.iter(|| black_box(rt.block_on(store.rate_check_async("per-ip|ip=10.0.0.1", &g)).unwrap()))
    });
    // What one worker gains by not blocking: 32 checks in flight at once share the round trips.
    let store = Arc::new(store);
    const CONCURRENT: usize = 32;
    c.bench_function("redis store: 32 concurrent async checks (per batch)", |b| {
        b.iter(|| {
            rt.block_on(async {
                let mut set = tokio::task::JoinSet::new();
                for i in 0..CONCURRENT {
                    let store = store.clone();
                    set.spawn(async move { store.rate_check_async(&format!("per-ip|ip=10.1.0.{i}"), &g).await });
                }
                while let Some(r) = set.join_next().await {
                    black_box(r.unwrap().unwrap());
                }
            })
        })
    });

    let config = Config::from_str_at(
        &format!(
            r#"
[[listeners]]
name = "http"
address = "127.0.0.1:0"
[traffic]
store = "redis"
redis_url = "redis://127.0.0.1:{port}"
key_prefix = "bench-guard"
default_rate_limits = ["per-ip"]
[[traffic.rate_limits]]
name = "per-ip"
key = "ip"
rate = "1000000/s"
[[routes]]
name = "all"
respond = {{ status = 200 }}
"#
        ),
        None,
        ".".into(),
    )
    .unwrap();
    let guard = TrafficGuard::build(&config).unwrap();
    let (mut parts, ()) = http::Request::get("/items").body(()).unwrap().into_parts();
    let ip: IpAddr = "192.0.2.1".parse().unwrap();
    let phase = |parts: &mut http::request::Parts| {
        let mut ctx = RequestCtx::new(String::new(), conn(ip));
        ctx.route = Some("all".into());
        let v = rt.block_on(guard.request_headers_step(&mut ctx, parts).verdict());
        guard.logging(&ctx, 200);
        v
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !phase(&mut parts).is_continue() {
        if Instant::now() > deadline {
            eprintln!("redis guard bench skipped: the guard's store did not connect");
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    c.bench_function("traffic guard (redis): async request headers phase + logging", |b| {
        b.iter(|| black_box(phase(&mut parts)))
    });
}

criterion_group!(benches, embedded, redis);
criterion_main!(benches);
