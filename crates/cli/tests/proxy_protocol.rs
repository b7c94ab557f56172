//! PROXY protocol v1/v2 on a listener with `proxy_protocol = true`, through the real binary: the header's
//! source becomes the client (forwarding headers, access log, IP rules), only trusted peers may send it, a
//! trusted peer without it is closed, and a header that never completes times out.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::*;
use portcullis_proxy::proxy_protocol::{v1_header, v2_header};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn cfg(trusted: &str, up: SocketAddr, extra: &str) -> String {
    format!(
        "[server]\ntrusted_proxies = [\"{trusted}\"]\n[limits]\nheader_read_timeout = \"1s\"\n{extra}\n{}",
        config(&format!(
            "proxy_protocol = true\n[[upstreams]]\nname = \"one\"\ntargets = [\"{up}\"]\n\
             [[routes]]\nname = \"api\"\nupstream = \"one\"\n"
        ))
    )
}

/// Sends `prefix` then a GET; returns the raw response (empty when the gateway closed the connection).
async fn exchange(addr: SocketAddr, prefix: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut out = prefix.to_vec();
    out.extend_from_slice(b"GET /who HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    // The gateway may close before reading everything; a write error is then expected.
    let _ = s.write_all(&out).await;
    let mut resp = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut resp)).await.expect("no answer in time");
    String::from_utf8_lossy(&resp).into_owned()
}

fn echo_of(resp: &str) -> Value {
    let body = resp.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    // The echo upstream's JSON may be chunked; take the JSON object out.
    let start = body.find('{').unwrap_or(0);
    let end = body.rfind('}').map(|e| e + 1).unwrap_or(body.len());
    serde_json::from_str(&body[start..end]).unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_and_v2_from_a_trusted_peer_set_the_client_address() {
    let up = Upstream::start("one").await;
    let gw = Gw::start(&cfg("127.0.0.1/32", up.addr, ""));
    let addr = gw.addr("http");
    let dst: SocketAddr = "127.0.0.1:443".parse().unwrap();

    let resp = exchange(addr, v1_header("198.51.100.7:40000".parse().unwrap(), dst).as_bytes()).await;
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    // The PROXY source is the client; it is not trusted, so its own X-Forwarded-For would be replaced.
    assert_eq!(echoed_header(&echo_of(&resp), "x-forwarded-for"), vec!["198.51.100.7"]);

    let resp =
        exchange(addr, &v2_header("[2001:db8::7]:40000".parse().unwrap(), "[::1]:443".parse().unwrap(), &[])).await;
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert_eq!(echoed_header(&echo_of(&resp), "x-forwarded-for"), vec!["2001:db8::7"]);

    // A spoofed X-Forwarded-For behind the PROXY header is not believed: the PROXY source is untrusted.
    let mut prefix = v1_header("198.51.100.8:1".parse().unwrap(), dst).into_bytes();
    prefix.extend_from_slice(b"GET /x HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: 6.6.6.6\r\n\r\n");
    let resp = exchange(addr, &prefix).await;
    let first = resp.split("HTTP/1.1 ").nth(1).unwrap_or("");
    assert!(first.starts_with("200"), "{resp}");
    assert!(!resp.contains("6.6.6.6, 198.51.100.8\"") && resp.contains("\"198.51.100.8\""), "{resp}");

    // v2 LOCAL (a balancer's health check): the real peer stays.
    let local = [portcullis_proxy::proxy_protocol::V2_SIGNATURE.to_vec(), vec![0x20, 0x00, 0, 0]].concat();
    let resp = exchange(addr, &local).await;
    assert_eq!(echoed_header(&echo_of(&resp), "x-forwarded-for"), vec!["127.0.0.1"], "{resp}");

    tokio::time::sleep(Duration::from_millis(300)).await;
    let log = gw.stdout.lock().unwrap().join("\n");
    assert!(log.contains("\"client_ip\":\"198.51.100.7\""), "{log}");
    assert!(log.contains("\"client_ip\":\"2001:db8::7\""), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_malformed_slow_and_untrusted_headers_close_the_connection() {
    let up = Upstream::start("one").await;
    let gw = Gw::start(&cfg("127.0.0.1/32", up.addr, ""));
    let addr = gw.addr("http");
    // A trusted peer without the header.
    assert_eq!(exchange(addr, b"").await, "");
    // Malformed v1 and v2.
    assert_eq!(exchange(addr, b"PROXY TCP4 1.2.3.4 nonsense 1 2\r\n").await, "");
    let mut bad = v2_header("192.0.2.1:1".parse().unwrap(), "192.0.2.2:2".parse().unwrap(), &[]);
    bad[12] = 0x31;
    assert_eq!(exchange(addr, &bad).await, "");
    // An oversized v2 length field.
    let huge = [portcullis_proxy::proxy_protocol::V2_SIGNATURE.to_vec(), vec![0x21, 0x11, 0xFF, 0xFF]].concat();
    assert_eq!(exchange(addr, &huge).await, "");
    // A header that never completes is cut off at header_read_timeout (1s).
    let started = Instant::now();
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"PROXY TCP4 192.0.2.1").await.unwrap();
    let mut buf = Vec::new();
    let n = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf)).await.expect("not closed in time");
    assert_eq!(n.unwrap_or(0), 0);
    assert!(started.elapsed() >= Duration::from_millis(900), "{:?}", started.elapsed());
    assert_eq!(up.hits(), 0);
    let m = gw.metrics().await;
    assert_eq!(metric(&m, "portcullis_connections_refused_total{reason=\"proxy_protocol_missing\"}"), 1.0, "{m}");
    assert_eq!(metric(&m, "portcullis_connections_refused_total{reason=\"proxy_protocol_invalid\"}"), 3.0, "{m}");
    assert_eq!(metric(&m, "portcullis_connections_refused_total{reason=\"proxy_protocol_timeout\"}"), 1.0, "{m}");
    drop(gw);

    // 127.0.0.1 is not a trusted proxy here: even a valid header is refused, before a byte is read.
    let gw = Gw::start(&cfg("10.0.0.0/8", up.addr, ""));
    let addr = gw.addr("http");
    let resp =
        exchange(addr, v1_header("198.51.100.7:1".parse().unwrap(), "127.0.0.1:80".parse().unwrap()).as_bytes()).await;
    assert_eq!(resp, "");
    assert_eq!(exchange(addr, b"").await, "");
    let m = gw.metrics().await;
    assert_eq!(metric(&m, "portcullis_connections_refused_total{reason=\"proxy_protocol_untrusted\"}"), 2.0, "{m}");
    assert_eq!(up.hits(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ip_rules_apply_to_the_proxy_protocol_source() {
    let up = Upstream::start("one").await;
    let gw = Gw::start(&cfg("127.0.0.1/32", up.addr, "[ip]\ndeny = [\"198.51.100.0/24\"]\ndeny_action = \"drop\"\n"));
    let addr = gw.addr("http");
    let dst: SocketAddr = "127.0.0.1:80".parse().unwrap();
    // Dropped at accept: the PROXY source is denied (the trusted peer itself is not).
    assert_eq!(exchange(addr, v1_header("198.51.100.1:1".parse().unwrap(), dst).as_bytes()).await, "");
    let resp = exchange(addr, v1_header("192.0.2.1:1".parse().unwrap(), dst).as_bytes()).await;
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert_eq!(up.hits(), 1);
}
