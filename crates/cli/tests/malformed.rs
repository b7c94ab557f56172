//! Malformed HTTP from raw sockets never takes the gateway down and never reaches the upstream; the gateway
//! keeps serving well-formed requests afterwards. A client that shuts its write side after its request still
//! gets the answer.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::*;

fn send_raw(addr: std::net::SocketAddr, data: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let _ = s.write_all(data);
    let _ = s.shutdown(std::net::Shutdown::Write);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

fn status_of(resp: &[u8]) -> Option<u16> {
    let text = String::from_utf8_lossy(resp);
    text.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

/// The gateway with one route to `up`.
fn one_route(up: &Upstream) -> Gw {
    Gw::start(&config(&format!(
        "[[upstreams]]\nname = \"one\"\ntargets = [\"{}\"]\n[[routes]]\nname = \"api\"\nupstream = \"one\"\n",
        up.addr
    )))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_are_refused_and_the_gateway_survives() {
    let up = Upstream::start("one").await;
    let mut gw = one_route(&up);
    let addr = gw.addr("http");
    let big_header = format!("GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "a".repeat(200_000));
    let cases: Vec<(&str, Vec<u8>, Option<u16>)> = vec![
        ("garbage request line", b"GARBAGE\r\n\r\n".to_vec(), Some(400)),
        ("header without colon", b"GET / HTTP/1.1\r\nHost x\r\n\r\n".to_vec(), Some(400)),
        ("NUL in header", b"GET / HTTP/1.1\r\nHost: a\x00b\r\n\r\n".to_vec(), Some(400)),
        (
            "a transfer coding besides chunked",
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n".to_vec(),
            Some(501),
        ),
        (
            "a second Transfer-Encoding line",
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n"
                .to_vec(),
            None,
        ),
        (
            "two different Content-Lengths",
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde".to_vec(),
            Some(400),
        ),
        ("huge header beyond hard limit", big_header.into_bytes(), Some(431)),
        ("HTTP/2 preface then junk", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\xff\xff\xff\xff".to_vec(), None),
        ("TLS hello on a plain port", b"\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00".to_vec(), None),
        ("truncated head", b"GET / HTTP/1.1\r\nHost: ".to_vec(), None),
        ("absurd method", format!("{} / HTTP/1.1\r\nHost: x\r\n\r\n", "M".repeat(10_000)).into_bytes(), None),
        ("version 9.9", b"GET / HTTP/9.9\r\nHost: x\r\n\r\n".to_vec(), None),
    ];
    for (name, data, expect) in &cases {
        let resp = send_raw(addr, data);
        if let Some(code) = expect {
            assert_eq!(
                status_of(&resp),
                Some(*code),
                "{name}: {}",
                String::from_utf8_lossy(&resp[..resp.len().min(200)])
            );
        } else if let Some(code) = status_of(&resp) {
            assert!((400..500).contains(&code), "{name}: answered {code}");
        }
    }
    // CONNECT is refused, never tunnelled or forwarded.
    let resp = send_raw(addr, b"CONNECT www.example.com:443 HTTP/1.1\r\nHost: www.example.com:443\r\n\r\n");
    assert_eq!(status_of(&resp), Some(405), "{}", String::from_utf8_lossy(&resp));
    // Pseudo-random byte soup, bounded.
    let mut x: u64 = 0x9e3779b97f4a7c15;
    for _ in 0..200 {
        let len = (x % 300) as usize + 1;
        let data: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        send_raw(addr, &data);
    }
    assert!(gw.is_running(), "the gateway died");
    assert_eq!(up.hits(), 0, "a malformed request reached the upstream");
    let r = client().get(gw.url("http", "/fine")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(up.hits(), 1);
    // Content-Length and Transfer-Encoding together (the shape of request smuggling): read by the chunked framing
    // alone, and the connection closes after the answer, so the request hidden behind the body is never read.
    let resp = send_raw(
        addr,
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    let text = String::from_utf8_lossy(&resp);
    assert_eq!(status_of(&resp), Some(200), "{text}");
    assert_eq!(text.matches("HTTP/1.1 ").count(), 1, "more than one answer: {text}");
    assert!(text.to_ascii_lowercase().contains("connection: close"), "{text}");
    assert!(text.contains("\"uri\":\"/\"") && text.contains("\"body_len\":0"), "{text}");
    assert_eq!(up.hits(), 2, "the smuggled request reached the upstream");
    // A broken chunked body is only found while streaming it upstream: the client gets 400, not a 502.
    let resp =
        send_raw(addr, b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n");
    assert_eq!(status_of(&resp), Some(400), "{}", String::from_utf8_lossy(&resp));
    assert!(gw.is_running());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_header_sender_is_cut_off() {
    let up = Upstream::start("one").await;
    let gw = Gw::start(&config(&format!(
        "[limits]\nheader_read_timeout = \"500ms\"\n[[upstreams]]\nname = \"one\"\ntargets = [\"{}\"]\n[[routes]]\nname = \"api\"\nupstream = \"one\"\n",
        up.addr
    )));
    let mut s = TcpStream::connect(gw.addr("http")).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
    let t = std::time::Instant::now();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    assert!(t.elapsed() < Duration::from_secs(3), "connection held for {:?}", t.elapsed());
}

/// A client may shut its write side as soon as its request is sent (`printf ... | nc -N`) and still read the answer:
/// the upstream's, after the EOF has long arrived, and the gateway's own refusals, every time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_closed_request_still_gets_its_answer() {
    let up = Upstream::start("one").await;
    let mut gw = one_route(&up);
    let addr = gw.addr("http");
    // The upstream answers 300 ms after the request; the client's EOF is there at once.
    let resp = send_raw(addr, b"GET /slow?ms=300 HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(status_of(&resp), Some(200), "{}", String::from_utf8_lossy(&resp));
    assert!(String::from_utf8_lossy(&resp).contains("\"upstream\":\"one\""), "not the upstream's answer");
    // The gateway's own answers come as fast as the EOF: each must win that race every time.
    for i in 0..20 {
        let resp = send_raw(addr, b"CONNECT www.example.com:443 HTTP/1.1\r\nHost: www.example.com:443\r\n\r\n");
        assert_eq!(status_of(&resp), Some(405), "CONNECT #{i}: {}", String::from_utf8_lossy(&resp));
        let resp = send_raw(addr, b"GET /search?q=1%27%20OR%20%271%27%3D%271 HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(status_of(&resp), Some(403), "SQL injection #{i}: {}", String::from_utf8_lossy(&resp));
    }
    assert_eq!(up.hits(), 1, "a refused request reached the upstream");
    assert!(gw.is_running());
}
