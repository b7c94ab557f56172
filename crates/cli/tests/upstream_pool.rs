//! The upstream connection pool through the real binary: connections are reused across requests, a pooled
//! connection the upstream closed is never used, and a request written to a connection that then died is not
//! sent again (a POST may have been processed).
//!
//! The upstream here is a scripted raw-socket HTTP/1.1 server, so each test decides exactly when the upstream
//! closes a connection and counts connections and requests itself.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the scripted upstream does once a connection has answered `answers` requests.
#[derive(Clone, Copy)]
enum Then {
    /// Keep the connection open for more.
    KeepOpen,
    /// Close it after this long idle, without `Connection: close` (as servers with a short keep-alive do).
    CloseIdleAfter(Duration),
    /// Read the next request, then close without answering it.
    DropNextRequest,
    /// Read the next request, send its head (`Content-Length: 1000`) and 10 bytes of body, then close.
    CutNextBody,
}

struct Scripted {
    addr: std::net::SocketAddr,
    connections: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
}

impl Scripted {
    async fn start(answers: usize, then: Then) -> Scripted {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(AtomicUsize::new(0));
        let (c, r) = (connections.clone(), requests.clone());
        tokio::spawn(async move {
            loop {
                let Ok((s, _)) = listener.accept().await else { return };
                c.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(serve(s, answers, then, r.clone()));
            }
        });
        Scripted { addr, connections, requests }
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

async fn serve(mut s: TcpStream, answers: usize, then: Then, requests: Arc<AtomicUsize>) {
    let mut buf = Vec::new();
    let mut answered = 0;
    loop {
        if answered == answers {
            match then {
                Then::KeepOpen => {}
                Then::CloseIdleAfter(d) => {
                    tokio::time::sleep(d).await;
                    return;
                }
                Then::DropNextRequest => {
                    if read_request(&mut s, &mut buf).await {
                        requests.fetch_add(1, Ordering::SeqCst);
                    }
                    return;
                }
                Then::CutNextBody => {
                    if read_request(&mut s, &mut buf).await {
                        requests.fetch_add(1, Ordering::SeqCst);
                        let cut =
                            "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 1000\r\n\r\n0123456789";
                        let _ = s.write_all(cut.as_bytes()).await;
                    }
                    return;
                }
            }
        }
        if !read_request(&mut s, &mut buf).await {
            return;
        }
        let n = requests.fetch_add(1, Ordering::SeqCst) + 1;
        let body = format!("request {n}");
        let head = format!("HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\r\n", body.len());
        if s.write_all(format!("{head}{body}").as_bytes()).await.is_err() {
            return;
        }
        answered += 1;
    }
}

/// Reads one request (head and a `Content-Length` body) off `s`; false at EOF or on an error.
async fn read_request(s: &mut TcpStream, buf: &mut Vec<u8>) -> bool {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            let total = end + 4 + len;
            while buf.len() < total {
                if !read_more(s, buf).await {
                    return false;
                }
            }
            buf.drain(..total);
            return true;
        }
        if !read_more(s, buf).await {
            return false;
        }
    }
}

async fn read_more(s: &mut TcpStream, buf: &mut Vec<u8>) -> bool {
    let mut chunk = [0u8; 4096];
    match s.read(&mut chunk).await {
        Ok(0) | Err(_) => false,
        Ok(n) => {
            buf.extend_from_slice(&chunk[..n]);
            true
        }
    }
}

fn gateway(upstream: std::net::SocketAddr) -> Gw {
    Gw::start(&config(&format!(
        "[[upstreams]]\nname = \"pool\"\ntargets = [\"{upstream}\"]\n\
         [upstreams.passive]\nmax_failures = 0\n\
         [[routes]]\nname = \"all\"\nupstream = \"pool\"\n"
    )))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequential_requests_share_one_upstream_connection() {
    let up = Scripted::start(usize::MAX, Then::KeepOpen).await;
    let gw = gateway(up.addr);
    let cl = client();
    for i in 1..=20 {
        let rq =
            if i % 2 == 0 { cl.post(gw.url("http", "/p")).body("{\"n\":1}") } else { cl.get(gw.url("http", "/g")) };
        let r = rq.send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.text().await.unwrap(), format!("request {i}"));
    }
    assert_eq!(up.requests(), 20);
    assert_eq!(up.connections(), 1, "every request after the first should reuse the pooled connection");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_the_upstream_closed_while_idle_is_not_used() {
    // One answer per connection, then the upstream closes it after 50 ms idle, without saying so beforehand.
    let up = Scripted::start(1, Then::CloseIdleAfter(Duration::from_millis(50))).await;
    let gw = gateway(up.addr);
    let cl = client();
    for i in 1..=6 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let rq =
            if i % 2 == 0 { cl.post(gw.url("http", "/p")).body("{\"n\":1}") } else { cl.get(gw.url("http", "/g")) };
        let r = rq.send().await.unwrap();
        assert_eq!(r.status(), 200, "request {i} went to a connection the upstream had closed");
    }
    assert_eq!(up.requests(), 6);
    assert_eq!(up.connections(), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_that_died_on_a_reused_connection_is_not_sent_again() {
    // The first request on each connection is answered; the second is read, then the connection closes
    // unanswered: the upstream may have acted on it, so the gateway must answer 502 and not send it again.
    let up = Scripted::start(1, Then::DropNextRequest).await;
    let gw = gateway(up.addr);
    let cl = client();
    let r = cl.post(gw.url("http", "/order")).body("{\"buy\":1}").send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = cl.post(gw.url("http", "/order")).body("{\"buy\":2}").send().await.unwrap();
    assert_eq!(r.status(), 502);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    assert_eq!(up.requests(), 2, "the POST was repeated");
    assert_eq!(up.connections(), 1, "the POST was repeated on a new connection");
    // The broken connection left the pool: the next request opens a fresh one and succeeds.
    let r = cl.get(gw.url("http", "/after")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(up.connections(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_that_closes_mid_body_cuts_the_client_off_and_leaves_the_pool() {
    // The first request on each connection is answered; the second gets a head promising 1000 bytes, 10 of
    // them, then the close. The client must see a cut response promptly (not wait for bytes that never come),
    // and the broken connection must not go back to the pool.
    let up = Scripted::start(1, Then::CutNextBody).await;
    let gw = gateway(up.addr);
    let cl = client();
    let r = cl.get(gw.url("http", "/first")).send().await.unwrap();
    assert_eq!(r.text().await.unwrap(), "request 1");
    let cut = tokio::time::timeout(Duration::from_secs(5), async {
        let r = cl.get(gw.url("http", "/cut")).send().await.unwrap();
        assert_eq!(r.status(), 200, "the head arrived whole");
        r.bytes().await
    })
    .await
    .expect("the client hung on a body the upstream cut");
    assert!(cut.is_err(), "a cut body was delivered as complete: {cut:?}");
    assert_eq!(up.connections(), 1);
    let r = cl.get(gw.url("http", "/after")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "request 3");
    assert_eq!(up.connections(), 2, "the cut connection was reused");
}
