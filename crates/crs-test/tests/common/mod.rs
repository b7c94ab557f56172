//! A tiny fake WAF for driving the runner the way the gateway will be driven: a loopback HTTP server that
//! logs `[id "999999"] ... X-CRS-Test <value>` for marker requests and `[id "942100"]` when the (URL-decoded)
//! request contains `OR 1=1`, into a log file. Requests to `/reflect` are forwarded to an upstream (the echo
//! server); `/close` gets no answer; a request line whose version is not `HTTP/1.x` gets 400. The first request
//! to a `/late...` URI has its `[id "942100"]` line written 1 s after the response (the phase-5 race that
//! `retry_once` works around); `/login` sets a cookie, and a request carrying it logs `[id "943120"]`.

#![allow(dead_code)]

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use portcullis_crs_test::client;

pub struct FakeWaf {
    pub addr: SocketAddr,
    pub log_path: PathBuf,
}

pub fn crs_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/crs");
    assert!(dir.join("tests/regression/tests").is_dir(), "CRS not found at {}", dir.display());
    dir
}

impl FakeWaf {
    /// `log_markers: false` simulates a WAF that is not in test mode.
    pub fn start(log_path: &Path, upstream: Option<SocketAddr>, log_markers: bool) -> FakeWaf {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let log = Arc::new(Mutex::new(std::fs::OpenOptions::new().create(true).append(true).open(log_path).unwrap()));
        let late_seen = Arc::new(Mutex::new(HashSet::new()));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let log = log.clone();
                let late_seen = late_seen.clone();
                std::thread::spawn(move || handle(stream, log, upstream, log_markers, &late_seen));
            }
        });
        FakeWaf { addr, log_path: log_path.to_owned() }
    }
}

fn write_line(log: &Mutex<std::fs::File>, line: &str) {
    let mut f = log.lock().unwrap();
    f.write_all(format!("{line}\n").as_bytes()).unwrap();
    f.flush().unwrap();
}

fn handle(
    mut stream: TcpStream,
    log: Arc<Mutex<std::fs::File>>,
    upstream: Option<SocketAddr>,
    log_markers: bool,
    late_seen: &Mutex<HashSet<String>>,
) {
    let _ = stream.set_read_timeout(Some(Duration::from_millis(150)));
    let request = read_request(&mut stream);
    if request.is_empty() {
        return;
    }
    let text = String::from_utf8_lossy(&request).into_owned();
    let request_line = text.lines().next().unwrap_or("").to_owned();
    let mut parts = request_line.split(' ');
    let (uri, version) = (parts.nth(1).unwrap_or(""), parts.next_back().unwrap_or(""));
    let marker = text.split("\r\n").take_while(|l| !l.is_empty()).find_map(|l| {
        l.split_once(':').filter(|(n, _)| n.eq_ignore_ascii_case("x-crs-test")).map(|(_, v)| v.trim().to_owned())
    });
    let sqli = "[client 127.0.0.1] ModSecurity: Warning. [id \"942100\"] [msg \"SQL Injection Attack Detected via libinjection\"]";
    match &marker {
        Some(m) if log_markers => write_line(
            &log,
            &format!("[client 127.0.0.1] ModSecurity: Warning. Matched \"Operator `Rx'\" [id \"999999\"] [msg \"X-CRS-Test {m}\"]"),
        ),
        Some(_) => {}
        None if uri.starts_with("/late") => {
            if late_seen.lock().unwrap().insert(uri.to_owned()) {
                let log = log.clone();
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(1000));
                    write_line(&log, sqli);
                });
            } else {
                write_line(&log, sqli);
            }
        }
        None if url_decode(&text).contains("OR 1=1") => write_line(&log, &format!("{sqli} [uri \"{uri}\"]")),
        None if text.contains("\r\nCookie: sid=abc") => write_line(&log, "[id \"943120\"] [msg \"session cookie\"]"),
        None => {}
    }
    if uri == "/close" {
        return;
    }
    let reply = if !version.starts_with("HTTP/1.") {
        b"HTTP/1.1 400 Bad Request\r\nContent-Length: 3\r\nConnection: close\r\n\r\nbad".to_vec()
    } else if let (Some(up), true) = (upstream, uri.starts_with("/reflect")) {
        match client::send(up, &request, Duration::from_secs(2)) {
            Ok(r) => r.raw,
            Err(_) => b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n".to_vec(),
        }
    } else if uri == "/login" {
        b"HTTP/1.1 200 OK\r\nSet-Cookie: sid=abc; Path=/\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok".to_vec()
    } else {
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok".to_vec()
    };
    let _ = stream.write_all(&reply);
}

/// The head, then as much body as Content-Length promises (or chunked data up to its end), giving up quietly
/// when the client stops sending.
fn read_request(stream: &mut TcpStream) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16384];
    let mut head_end = None;
    loop {
        if head_end.is_none() {
            head_end = find(&buf, b"\r\n\r\n").map(|i| i + 4);
        }
        if let Some(end) = head_end {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:").and_then(|v| v.trim().parse::<usize>().ok()));
            let body = &buf[end..];
            let done = match len {
                Some(n) => body.len() >= n,
                None if head.contains("transfer-encoding: chunked") => body.ends_with(b"0\r\n\r\n"),
                None => true,
            };
            if done {
                return buf;
            }
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return buf,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn url_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
