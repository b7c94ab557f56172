//! A slow Redis holds up only the requests that wait on it: with the gateway on one worker thread (the
//! current-thread runtime it uses on one core), requests on a route without limits and the admin health check
//! answer at once while rate-limited requests wait for a Redis slowed by a delaying TCP proxy.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Gw, RedisServer, Upstream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Added one-way delay of the proxy (on the answers), while the test asks for it.
const DELAY: Duration = Duration::from_millis(400);

/// A loopback TCP proxy in front of Redis that delays every byte from Redis by `delay_ms` (settable while
/// running). Each chunk keeps its own deadline, so concurrent calls are each delayed once, not queued.
struct SlowProxy {
    addr: std::net::SocketAddr,
    delay_ms: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl SlowProxy {
    async fn start(redis_port: u16) -> SlowProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let delay_ms = Arc::new(AtomicU64::new(0));
        let d = delay_ms.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(("127.0.0.1", redis_port)).await else { continue };
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                tokio::spawn(async move { tokio::io::copy(&mut cr, &mut sw).await });
                let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
                let d = d.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 16 * 1024];
                    while let Ok(n) = sr.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                        let due = Instant::now() + Duration::from_millis(d.load(Ordering::Relaxed));
                        if tx.send((due, buf[..n].to_vec())).is_err() {
                            break;
                        }
                    }
                });
                tokio::spawn(async move {
                    while let Some((due, bytes)) = rx.recv().await {
                        tokio::time::sleep_until(due.into()).await;
                        if cw.write_all(&bytes).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        SlowProxy { addr, delay_ms, task }
    }

    fn set_delay(&self, d: Duration) {
        self.delay_ms.store(d.as_millis() as u64, Ordering::Relaxed);
    }
}

impl Drop for SlowProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn gateway(upstream: std::net::SocketAddr, redis: &str) -> Gw {
    Gw::start(&common::config(&format!(
        r#"
[server]
workers = 1

[traffic]
store = "redis"
redis_url = "{redis}"
redis_timeout = "2s"
on_store_error = "fail_closed"
default_rate_limits = ["per-ip"]
[[traffic.rate_limits]]
name = "per-ip"
key = "ip"
rate = "1000/h"

[[upstreams]]
name = "app"
targets = ["{upstream}"]

[[routes]]
name = "free"
upstream = "app"
rate_limits = []
[routes.match]
path_prefix = "/free"

[[routes]]
name = "limited"
upstream = "app"
[routes.match]
path_prefix = "/"
"#
    )))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_redis_delays_only_the_requests_that_wait_on_it() {
    let redis = RedisServer::start();
    let proxy = SlowProxy::start(redis.port).await;
    let up = Upstream::start("app").await;
    let gw = gateway(up.addr, &format!("redis://{}", proxy.addr));
    gw.wait_stderr("connected to Redis", Duration::from_secs(10));
    let c = common::client();
    let limited = gw.url("http", "/limited");
    let free = gw.url("http", "/free");
    let health = format!("http://{}/healthz", gw.admin.unwrap());
    // Warm up: connections open, the script loaded, every path answers.
    for url in [&limited, &free, &health] {
        assert_eq!(c.get(url).send().await.unwrap().status(), 200, "{url}");
    }

    proxy.set_delay(DELAY);
    let started = Instant::now();
    let waiting: Vec<_> = (0..8)
        .map(|_| {
            let (c, url) = (c.clone(), limited.clone());
            tokio::spawn(async move {
                let t = Instant::now();
                let s = c.get(&url).send().await.unwrap().status().as_u16();
                (s, t.elapsed())
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(50)).await;
    // While those eight wait on Redis, the same single worker thread serves the rest.
    let mut worst = Duration::ZERO;
    let mut served = 0;
    while started.elapsed() < DELAY - Duration::from_millis(100) {
        for url in [&free, &health] {
            let t = Instant::now();
            assert_eq!(c.get(url).send().await.unwrap().status(), 200, "{url}");
            worst = worst.max(t.elapsed());
            served += 1;
        }
    }
    let mut slowest_limited = Duration::ZERO;
    let mut quickest_limited = Duration::MAX;
    for w in waiting {
        let (s, took) = w.await.unwrap();
        assert_eq!(s, 200);
        slowest_limited = slowest_limited.max(took);
        quickest_limited = quickest_limited.min(took);
    }
    println!(
        "Redis delayed by {DELAY:?}: 8 limited requests took {quickest_limited:?}..{slowest_limited:?}; meanwhile \
         {served} unlimited/health requests, slowest {worst:?}"
    );
    assert!(quickest_limited >= DELAY - Duration::from_millis(20), "Redis was not slow: {quickest_limited:?}");
    assert!(slowest_limited < Duration::from_secs(2), "limited requests queued behind each other");
    assert!(served >= 4, "only {served} requests served meanwhile");
    // Blocking the worker on Redis would make these wait for the whole delay.
    assert!(worst < Duration::from_millis(150), "an unlimited request waited {worst:?}");
}
