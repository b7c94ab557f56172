//! Per-connection deadlines on a reused keep-alive connection, through the real binary: the header-read deadline
//! and the upstream response deadline reuse one timer per connection (`crates/proxy/src/conn_timer.rs`), so
//! these tests check that each request still gets its own deadline, measured from its own start: not the first
//! request's, not one that already fired.

mod common;

use std::time::{Duration, Instant};

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One HTTP/1.1 response read from a keep-alive connection: status and body (Content-Length or chunked).
async fn read_response(s: &mut TcpStream, buf: &mut Vec<u8>) -> Option<(u16, Vec<u8>)> {
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let mut chunk = [0u8; 4096];
        let n = s.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let status = head.get(9..12)?.parse().ok()?;
    let header = |name: &str| {
        head.lines().find_map(|l| l.strip_prefix(name).map(|v| v.trim_start_matches(':').trim().to_string()))
    };
    let mut rest = buf.split_off(head_end);
    buf.clear();
    let body = if let Some(len) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
        while rest.len() < len {
            let mut chunk = [0u8; 4096];
            let n = s.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            rest.extend_from_slice(&chunk[..n]);
        }
        *buf = rest.split_off(len);
        rest
    } else {
        assert_eq!(header("transfer-encoding").as_deref(), Some("chunked"), "{head}");
        // Read to the terminating chunk, then decode.
        while !rest.windows(5).any(|w| w == b"0\r\n\r\n") {
            let mut chunk = [0u8; 4096];
            let n = s.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            rest.extend_from_slice(&chunk[..n]);
        }
        let mut body = Vec::new();
        let mut at = 0;
        loop {
            let line_end = at + rest[at..].windows(2).position(|w| w == b"\r\n")?;
            let size = usize::from_str_radix(std::str::from_utf8(&rest[at..line_end]).ok()?.trim(), 16).ok()?;
            at = line_end + 2;
            if size == 0 {
                *buf = rest.split_off(at + 2);
                break;
            }
            body.extend_from_slice(&rest[at..at + size]);
            at += size + 2;
        }
        body
    };
    Some((status, body))
}

async fn get(s: &mut TcpStream, buf: &mut Vec<u8>, path: &str) -> (u16, Duration) {
    let t = Instant::now();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes()).await.unwrap();
    let (status, _) = tokio::time::timeout(Duration::from_secs(10), read_response(s, buf))
        .await
        .expect("no response in 10 s")
        .expect("connection closed");
    (status, t.elapsed())
}

fn upstream_config(addr: std::net::SocketAddr, extra_limits: &str) -> String {
    format!(
        "{extra_limits}[[upstreams]]\nname = \"one\"\ntargets = [\"{addr}\"]\n[upstreams.timeouts]\nconnect = \"1s\"\n\
         response = \"400ms\"\ntotal = \"3s\"\n[[routes]]\nname = \"api\"\nupstream = \"one\"\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_request_on_a_keep_alive_connection_gets_its_own_response_deadline() {
    let up = Upstream::start("one").await;
    let gw = Gw::start(&config(&upstream_config(up.addr, "")));
    let mut s = TcpStream::connect(gw.addr("http")).await.unwrap();
    let mut buf = Vec::new();
    // Fast, slow, fast, slow, fast on one connection: every slow one times out at its own 400 ms (not earlier,
    // from a deadline left over by the request before it), and a fast one after a fired deadline is not cut.
    for round in 0..2 {
        let (status, _) = get(&mut s, &mut buf, "/slow?ms=150").await;
        assert_eq!(status, 200, "round {round}: a 150 ms upstream within a 400 ms deadline");
        let (status, took) = get(&mut s, &mut buf, "/slow?ms=2000").await;
        assert_eq!(status, 504, "round {round}");
        assert!(took >= Duration::from_millis(390), "round {round}: 504 after only {took:?}");
        assert!(took < Duration::from_millis(1900), "round {round}: 504 after {took:?}");
    }
    let (status, _) = get(&mut s, &mut buf, "/slow?ms=300").await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_header_read_deadline_restarts_for_every_request_on_a_connection() {
    let up = Upstream::start("one").await;
    let gw = Gw::start(&config(&upstream_config(up.addr, "[limits]\nheader_read_timeout = \"600ms\"\n")));
    let mut s = TcpStream::connect(gw.addr("http")).await.unwrap();
    let mut buf = Vec::new();
    // Four requests, each after a 350 ms pause: 1.4 s in all, more than twice the deadline, and none is cut.
    for i in 0..4 {
        tokio::time::sleep(Duration::from_millis(350)).await;
        let (status, _) = get(&mut s, &mut buf, "/ok").await;
        assert_eq!(status, 200, "request {i}");
    }
    // Then a head that never ends: the connection is closed at the deadline, counted from this request.
    let t = Instant::now();
    s.write_all(b"GET /ok HTTP/1.1\r\nHost: t\r\nX-A: ").await.unwrap();
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut rest)).await.expect("not closed in 5 s");
    let took = t.elapsed();
    // Closed, at most with an error status for the unfinished head (never a response from the upstream).
    assert!(rest.is_empty() || rest.starts_with(b"HTTP/1.1 4"), "{}", String::from_utf8_lossy(&rest));
    assert!(took >= Duration::from_millis(500), "closed after only {took:?}");
    assert!(took < Duration::from_millis(2500), "closed after {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed_at_idle_timeout_counted_from_its_last_request() {
    let up = Upstream::start("one").await;
    // The header-read deadline is far away, so only the idle timeout (checked on the connection's tick) can
    // close the connection.
    let limits = "[limits]\nheader_read_timeout = \"30s\"\nidle_timeout = \"800ms\"\n";
    let gw = Gw::start(&config(&upstream_config(up.addr, limits)));
    let mut s = TcpStream::connect(gw.addr("http")).await.unwrap();
    let mut buf = Vec::new();
    // Busy for 1.5 s, a request every 300 ms: never idle for 800 ms, so never closed.
    for i in 0..5 {
        let (status, _) = get(&mut s, &mut buf, "/ok").await;
        assert_eq!(status, 200, "request {i}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let (status, _) = get(&mut s, &mut buf, "/ok").await;
    assert_eq!(status, 200);
    // Then quiet: closed after 800 ms (plus at most a tick of 200 ms), well before the 30 s head deadline.
    let t = Instant::now();
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut rest)).await.expect("not closed in 10 s");
    let took = t.elapsed();
    assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
    assert!(took >= Duration::from_millis(700), "closed after only {took:?}");
    assert!(took < Duration::from_secs(3), "closed after {took:?}");
}
