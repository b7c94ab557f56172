//! Upstream behaviour through the real binary: each balancing policy, active health checks, passive
//! ejection, retries (never for a POST) and timeouts.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

async fn who(c: &reqwest::Client, url: &str, header: Option<(&str, &str)>) -> (u16, String) {
    let mut rq = c.get(url);
    if let Some((k, v)) = header {
        rq = rq.header(k, v);
    }
    let r = rq.send().await.unwrap();
    let status = r.status().as_u16();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    (status, v["upstream"].as_str().unwrap_or("-").to_string())
}

fn group(name: &str, targets: &[std::net::SocketAddr], extra: &str) -> String {
    let t: Vec<String> = targets.iter().map(|a| format!("\"{a}\"")).collect();
    format!("[[upstreams]]\nname = \"{name}\"\ntargets = [{}]\n{extra}\n", t.join(", "))
}

const ROUTE: &str = "[[routes]]\nname = \"all\"\nupstream = \"pool\"\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_robin_spreads_evenly() {
    let (a, b, c) = (Upstream::start("a").await, Upstream::start("b").await, Upstream::start("c").await);
    let gw = Gw::start(&config(&format!("{}{ROUTE}", group("pool", &[a.addr, b.addr, c.addr], ""))));
    let cl = client();
    let mut seen = HashMap::new();
    for _ in 0..30 {
        *seen.entry(who(&cl, &gw.url("http", "/"), None).await.1).or_insert(0) += 1;
    }
    assert_eq!(seen, HashMap::from([("a".into(), 10), ("b".into(), 10), ("c".into(), 10)]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn least_in_flight_avoids_the_busy_target() {
    let (a, b) = (Upstream::start("a").await, Upstream::start("b").await);
    let gw =
        Gw::start(&config(&format!("{}{ROUTE}", group("pool", &[a.addr, b.addr], "balance = \"least_in_flight\""))));
    let cl = client();
    // Occupy one target with slow requests (whichever it is), then fast requests go to the other.
    let mut slow = Vec::new();
    for _ in 0..2 {
        let (cl, url) = (cl.clone(), gw.url("http", "/slow?ms=1500"));
        slow.push(tokio::spawn(async move { who(&cl, &url, None).await }));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Two slow requests on two idle targets: one each. Add a third to make one target busier.
    let (cl2, url) = (cl.clone(), gw.url("http", "/slow?ms=1500"));
    slow.push(tokio::spawn(async move { who(&cl2, &url, None).await }));
    tokio::time::sleep(Duration::from_millis(150)).await;
    let busy_hits = (a.hits(), b.hits());
    let busier = if busy_hits.0 > busy_hits.1 { "a" } else { "b" };
    assert_ne!(busy_hits.0, busy_hits.1, "{busy_hits:?}");
    for _ in 0..6 {
        let (s, name) = who(&cl, &gw.url("http", "/"), None).await;
        assert_eq!(s, 200);
        assert_ne!(name, busier, "a fast request went to the busier target");
    }
    for s in slow {
        assert_eq!(s.await.unwrap().0, 200);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consistent_hash_keeps_a_key_on_one_target() {
    let (a, b, c) = (Upstream::start("a").await, Upstream::start("b").await, Upstream::start("c").await);
    let gw = Gw::start(&config(&format!(
        "{}{ROUTE}",
        group("pool", &[a.addr, b.addr, c.addr], "balance = \"consistent_hash\"\nhash_key = \"header:x-user\"")
    )));
    let cl = client();
    let mut targets = std::collections::HashSet::new();
    for u in 0..12 {
        let user = format!("user-{u}");
        let (_, first) = who(&cl, &gw.url("http", "/"), Some(("x-user", &user))).await;
        for _ in 0..4 {
            assert_eq!(who(&cl, &gw.url("http", "/"), Some(("x-user", &user))).await.1, first);
        }
        targets.insert(first);
    }
    assert!(targets.len() >= 2, "12 keys all landed on one target: {targets:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_checks_eject_and_readmit_a_target() {
    let (a, b) = (Upstream::start("a").await, Upstream::start("b").await);
    let gw = Gw::start(&config(&format!(
        "{}{ROUTE}",
        group(
            "pool",
            &[a.addr, b.addr],
            "[upstreams.health]\npath = \"/healthz\"\ninterval = \"100ms\"\ntimeout = \"500ms\"\nhealthy_threshold = 2\nunhealthy_threshold = 2"
        )
    )));
    let cl = client();
    b.healthy.store(false, std::sync::atomic::Ordering::SeqCst);
    gw.wait_stderr("failed health checks", Duration::from_secs(5));
    for _ in 0..10 {
        assert_eq!(who(&cl, &gw.url("http", "/"), None).await.1, "a");
    }
    let m = cl.get(format!("http://{}/metrics", gw.admin.unwrap())).send().await.unwrap().text().await.unwrap();
    assert!(m.contains("portcullis_upstream_healthy_targets{upstream=\"pool\"} 1"), "{m}");
    b.healthy.store(true, std::sync::atomic::Ordering::SeqCst);
    gw.wait_stderr("passed health checks again", Duration::from_secs(5));
    let mut seen = std::collections::HashSet::new();
    for _ in 0..10 {
        seen.insert(who(&cl, &gw.url("http", "/"), None).await.1);
    }
    assert_eq!(seen.len(), 2, "b is back in rotation");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_target_is_passively_ejected_and_gets_do_not_fail() {
    let a = Upstream::start("a").await;
    let (dead, _held) = dead_addr();
    let gw = Gw::start(&config(&format!(
        "{}{ROUTE}",
        group("pool", &[a.addr, dead], "[upstreams.passive]\nmax_failures = 2\neject_for = \"30s\"")
    )));
    let cl = client();
    // GETs are retried on the live target when the dead one refuses the connection.
    for _ in 0..10 {
        assert_eq!(who(&cl, &gw.url("http", "/"), None).await, (200, "a".to_string()));
    }
    gw.wait_stderr("ejected after consecutive failures", Duration::from_secs(5));
    let m = cl.get(format!("http://{}/metrics", gw.admin.unwrap())).send().await.unwrap().text().await.unwrap();
    let connect_errors: f64 = m
        .lines()
        .find(|l| l.starts_with("portcullis_upstream_errors_total{") && l.contains("kind=\"connect\""))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0);
    // Ejected after 2 failures: the dead target is not tried again for every request.
    assert!(connect_errors <= 3.0, "{connect_errors} connect errors");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_is_never_retried() {
    // Target "x" accepts the connection, reads the request and closes without answering: a request that
    // may have been processed. A POST must not be sent again to "b".
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let x_addr = listener.local_addr().unwrap();
    let x_requests = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let xr = x_requests.clone();
    tokio::spawn(async move {
        use tokio::io::AsyncReadExt;
        loop {
            let Ok((mut s, _)) = listener.accept().await else { return };
            let xr = xr.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                if let Ok(n) = s.read(&mut buf).await {
                    if n > 0 {
                        xr.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                }
                // Close without a response.
            });
        }
    });
    let b = Upstream::start("b").await;
    let gw = Gw::start(&config(&format!(
        "{}{ROUTE}",
        group("pool", &[x_addr, b.addr], "[upstreams.passive]\nmax_failures = 0\n[upstreams.retries]\nattempts = 3")
    )));
    let cl = client();
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(cl.post(gw.url("http", "/order")).body("{\"buy\":1}").send().await.unwrap().status().as_u16());
    }
    // Round-robin: half the POSTs went to x and failed with 502; none of them reached b as well.
    assert_eq!(statuses.iter().filter(|s| **s == 502).count(), 3, "{statuses:?}");
    assert_eq!(x_requests.load(std::sync::atomic::Ordering::SeqCst), 3);
    assert_eq!(b.hits(), 3, "a failed POST was repeated on b");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_upstream_gets_504_problem_json() {
    let a = Upstream::start("a").await;
    let gw = Gw::start(&config(&format!(
        "{}{ROUTE}",
        group("pool", &[a.addr], "[upstreams.timeouts]\nconnect = \"1s\"\nresponse = \"300ms\"\ntotal = \"2s\"")
    )));
    let t = Instant::now();
    let r = client().get(gw.url("http", "/slow?ms=3000")).send().await.unwrap();
    assert_eq!(r.status(), 504);
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["status"], 504);
    // A fast request on the same route is fine.
    assert_eq!(client().get(gw.url("http", "/slow?ms=10")).send().await.unwrap().status(), 200);
}
