//! Slow and greedy clients through the real binary: 500 slowloris connections (request heads that never end)
//! do not stop legitimate requests and are cut off at `header_read_timeout` and counted; the per-IP
//! connection cap closes connections over `limits.max_connections_per_ip` at accept.

mod common;

use std::time::{Duration, Instant};

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const ROUTE: &str = "[[routes]]\nname = \"ok\"\n[routes.respond]\nstatus = 200\nbody = \"ok\"\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_slowloris_connections_do_not_stop_legitimate_requests() {
    let gw = Gw::start(&format!("[limits]\nheader_read_timeout = \"3s\"\n{}", config(ROUTE)));
    let addr = gw.addr("http");
    let mut slow = Vec::new();
    for i in 0..500 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        // An unfinished request head; the connection then goes quiet.
        s.write_all(format!("GET /slow{i} HTTP/1.1\r\nHost: t\r\nX-A: ").as_bytes()).await.unwrap();
        slow.push(s);
    }
    let c = client();
    let mut worst = Duration::ZERO;
    for _ in 0..50 {
        let t = Instant::now();
        let r = c.get(gw.url("http", "/ok")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        worst = worst.max(t.elapsed());
    }
    println!("50 legitimate requests beside 500 slowloris connections: worst latency {worst:?}");
    assert!(worst < Duration::from_secs(1), "{worst:?}");
    // Every slow connection is closed by the gateway at the deadline.
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut closed = 0;
    for s in &mut slow {
        let mut b = [0u8; 512];
        let left = deadline.saturating_duration_since(Instant::now());
        if let Ok(Ok(_)) = tokio::time::timeout(left, s.read(&mut b)).await {
            closed += 1;
        }
    }
    assert_eq!(closed, 500);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let m = gw.metrics().await;
    let timeouts = metric(&m, "portcullis_slow_clients_total{kind=\"header_timeout\"}");
    assert_eq!(timeouts, 500.0, "{m}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_per_ip_connection_cap_is_enforced_at_accept() {
    let gw = Gw::start(&format!("[limits]\nmax_connections_per_ip = 5\n{}", config(ROUTE)));
    let addr = gw.addr("http");
    let mut held = Vec::new();
    for _ in 0..5 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /ok HTTP/1.1\r\nHost: t\r\n\r\n").await.unwrap();
        let mut b = [0u8; 256];
        let n = s.read(&mut b).await.unwrap();
        assert!(b[..n].starts_with(b"HTTP/1.1 200"));
        held.push(s);
    }
    // The sixth concurrent connection is closed without an answer.
    let mut s = TcpStream::connect(addr).await.unwrap();
    let _ = s.write_all(b"GET /ok HTTP/1.1\r\nHost: t\r\n\r\n").await;
    let mut b = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut b)).await.expect("not closed");
    assert!(b.is_empty(), "{}", String::from_utf8_lossy(&b));
    // Closing one frees a slot.
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let _ = s.write_all(b"GET /ok HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").await;
        let mut b = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut b)).await;
        if b.starts_with(b"HTTP/1.1 200") {
            break;
        }
        assert!(Instant::now() < deadline, "the freed slot was never reusable");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let m = gw.metrics().await;
    assert!(metric(&m, "portcullis_connections_refused_total{reason=\"per_ip_cap\"}") >= 1.0, "{m}");
    let r = gw.admin_request(reqwest::Method::GET, "/api/ips/127.0.0.1").await.send().await.unwrap();
    let v: serde_json::Value = r.json().await.unwrap();
    assert!(v["blocks"]["conn_cap"].as_u64().unwrap() >= 1, "{v}");
    drop(gw);

    // Allow-listed addresses are not capped.
    let gw =
        Gw::start(&format!("[limits]\nmax_connections_per_ip = 1\n[ip]\nallow = [\"127.0.0.1\"]\n{}", config(ROUTE)));
    let addr = gw.addr("http");
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /ok HTTP/1.1\r\nHost: t\r\n\r\n").await.unwrap();
        let mut b = [0u8; 256];
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut b)).await.unwrap().unwrap();
        assert!(b[..n].starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&b[..n]));
        held.push(s);
    }
}

/// Sends a request head announcing `announced` body bytes, then `sent` bytes, then waits for the answer.
async fn trickle(addr: std::net::SocketAddr, announced: usize, sent: usize) -> (String, Duration) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let head = format!("POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: {announced}\r\n\r\n");
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&vec![b'x'; sent]).await.unwrap();
    let t = Instant::now();
    let mut b = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut b)).await.expect("no answer").unwrap_or(0);
    (String::from_utf8_lossy(&b[..n]).into_owned(), t.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_below_the_minimum_rate_gets_408_after_the_grace_period() {
    let up = Upstream::start("one").await;
    let gw = Gw::start(&format!(
        "[limits]\nmin_body_rate = \"1KiB/s\"\nmin_body_rate_grace = \"1s\"\n{}",
        config(&format!(
            "[[upstreams]]\nname = \"one\"\ntargets = [\"{}\"]\n[[routes]]\nname = \"api\"\nupstream = \"one\"\n",
            up.addr
        ))
    ));
    let addr = gw.addr("http");
    // A small body (read whole before going upstream) and a large one (streamed upstream) that stall.
    for announced in [1000, 200_000] {
        let (resp, waited) = trickle(addr, announced, 10).await;
        assert!(resp.starts_with("HTTP/1.1 408"), "{announced}: {resp}");
        assert!(resp.contains("application/problem+json"), "{resp}");
        assert!(waited >= Duration::from_millis(800) && waited < Duration::from_secs(5), "{waited:?}");
    }
    // A body sent at once is fine.
    let r = client().post(gw.url("http", "/upload")).body(vec![b'y'; 20_000]).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let m = gw.metrics().await;
    assert_eq!(metric(&m, "portcullis_slow_clients_total{kind=\"slow_body\"}"), 2.0, "{m}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let log = gw.stdout.lock().unwrap().join("\n");
    assert!(log.contains("\"refused_by\":\"slow_body\""), "{log}");
}
