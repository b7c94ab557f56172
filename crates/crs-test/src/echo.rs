//! The upstream the CRS suite expects behind the WAF: answers everything, and implements albedo's `/reflect`
//! so that response-phase tests (95xxxx) can make the backend send a chosen status, headers and body.
//!
//! - `POST /reflect` (or `/reflect/`) with a JSON spec `{"status": 200, "headers": {"k": "v"}, "body": "...",
//!   "encodedBody": "<base64>", "logMessage": "..."}` is answered with exactly that (status defaults to 200,
//!   `body` wins over `encodedBody`). Bad JSON, a status outside 100..=599 or bad base64 give 400. As in albedo
//!   (a Go server), a non-empty body without a Content-Type header gets a sniffed one, usually
//!   `text/plain; charset=utf-8`, which is what makes the WAF inspect the response body.
//! - Any other request gets 200 with `METHOD URI\n` followed by the request body. That echo is sent as
//!   `application/octet-stream` on purpose: albedo answers with an empty body, and the echo must not feed attack
//!   payloads into the WAF's response-body rules (a test-mode WAF inspects `text/*` bodies).
//!
//! It runs on its own thread and tokio runtime, so it can be started from sync or async code alike.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::thread::JoinHandle;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use hyper::{Request, Response, StatusCode};
use serde::Deserialize;

use crate::error::Error;

/// Largest request body the echo accepts.
const MAX_BODY: usize = 16 * 1024 * 1024;

/// A running echo upstream; stops when dropped.
pub struct EchoServer {
    addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl EchoServer {
    /// Binds `addr` (port 0 picks a free one) and starts serving.
    pub fn start(addr: SocketAddr) -> Result<EchoServer, Error> {
        let listener = std::net::TcpListener::bind(addr).map_err(Error::Echo)?;
        listener.set_nonblocking(true).map_err(Error::Echo)?;
        let addr = listener.local_addr().map_err(Error::Echo)?;
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(Error::Echo)?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        let thread = std::thread::Builder::new()
            .name("crs-echo".into())
            .spawn(move || runtime.block_on(serve(listener, rx)))
            .map_err(Error::Echo)?;
        Ok(EchoServer { addr, shutdown: Some(tx), thread: Some(thread) })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting and waits for the server thread.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn serve(listener: std::net::TcpListener, mut stop: tokio::sync::oneshot::Receiver<()>) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        return;
    };
    loop {
        let accepted = tokio::select! {
            _ = &mut stop => return,
            a = listener.accept() => a,
        };
        let Ok((stream, _)) = accepted else { continue };
        tokio::spawn(async move {
            let io = hyper_util::rt::TokioIo::new(stream);
            let service = hyper::service::service_fn(handle);
            // Broken requests simply end the connection; this is a test fixture, not the gateway.
            // CRS tests send many and odd headers; hyper's default cap of 100 would turn some into 431s.
            let _ = hyper::server::conn::http1::Builder::new().max_headers(1000).serve_connection(io, service).await;
        });
    }
}

async fn handle(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let method = req.method().clone();
    let uri = req.uri().to_string();
    let is_reflect = method == hyper::Method::POST && matches!(req.uri().path(), "/reflect" | "/reflect/");
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return Ok(plain(StatusCode::BAD_REQUEST, "Failed to read request body")),
    };
    if is_reflect {
        return Ok(reflect(&body));
    }
    let mut echo = format!("{method} {uri}\n").into_bytes();
    echo.extend_from_slice(&body);
    let mut resp = Response::new(Full::new(Bytes::from(echo)));
    resp.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    Ok(resp)
}

/// albedo's reflection spec.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ReflectionSpec {
    status: i64,
    headers: std::collections::BTreeMap<String, String>,
    body: String,
    #[serde(rename = "encodedBody")]
    encoded_body: String,
    #[serde(rename = "logMessage")]
    #[allow(dead_code)]
    log_message: String,
}

fn reflect(body: &[u8]) -> Response<Full<Bytes>> {
    let spec: ReflectionSpec = match serde_json::from_slice(body) {
        Ok(s) => s,
        Err(_) => return plain(StatusCode::BAD_REQUEST, "Invalid JSON in request body"),
    };
    let status = match spec.status {
        0 => StatusCode::OK,
        s => {
            match u16::try_from(s).ok().filter(|s| (100..600).contains(s)).and_then(|s| StatusCode::from_u16(s).ok()) {
                Some(s) => s,
                None => return plain(StatusCode::BAD_REQUEST, &format!("Invalid status code: {s}")),
            }
        }
    };
    let content = if !spec.body.is_empty() {
        spec.body.into_bytes()
    } else if !spec.encoded_body.is_empty() {
        match crate::request::decode_base64(&spec.encoded_body) {
            Ok(b) => b,
            Err(_) => return plain(StatusCode::BAD_REQUEST, "invalid base64 encoding of response body"),
        }
    } else {
        Vec::new()
    };
    let mut resp = Response::new(Full::new(Bytes::from(content.clone())));
    *resp.status_mut() = status;
    for (name, value) in &spec.headers {
        // Invalid names or values are dropped, as albedo documents.
        if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value)) {
            resp.headers_mut().append(n, v);
        }
    }
    if !content.is_empty() && !resp.headers().contains_key(CONTENT_TYPE) {
        resp.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(sniff(&content)));
    }
    resp
}

fn plain(status: StatusCode, text: &str) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(text.to_owned())));
    *resp.status_mut() = status;
    resp.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    resp
}

/// The common cases of the WHATWG sniffing algorithm that Go's `http.DetectContentType` implements.
fn sniff(data: &[u8]) -> &'static str {
    let data = &data[..data.len().min(512)];
    let trimmed = {
        let start = data.iter().position(|b| !matches!(b, b'\t' | b'\n' | 0x0c | b'\r' | b' ')).unwrap_or(data.len());
        &data[start..]
    };
    const HTML: [&[u8]; 17] = [
        b"<!DOCTYPE HTML",
        b"<HTML",
        b"<HEAD",
        b"<SCRIPT",
        b"<IFRAME",
        b"<H1",
        b"<DIV",
        b"<FONT",
        b"<TABLE",
        b"<A",
        b"<STYLE",
        b"<TITLE",
        b"<B",
        b"<BODY",
        b"<BR",
        b"<P",
        b"<!--",
    ];
    for sig in HTML {
        if trimmed.len() > sig.len()
            && trimmed[..sig.len()].eq_ignore_ascii_case(sig)
            && matches!(trimmed[sig.len()], b' ' | b'>')
        {
            return "text/html; charset=utf-8";
        }
    }
    if trimmed.starts_with(b"<?xml") {
        return "text/xml; charset=utf-8";
    }
    let exact: [(&[u8], &str); 8] = [
        (b"%PDF-", "application/pdf"),
        (b"%!PS-Adobe-", "application/postscript"),
        (b"GIF87a", "image/gif"),
        (b"GIF89a", "image/gif"),
        (b"\x89PNG\x0D\x0A\x1A\x0A", "image/png"),
        (b"\xFF\xD8\xFF", "image/jpeg"),
        (b"PK\x03\x04", "application/zip"),
        (b"\x1F\x8B\x08", "application/x-gzip"),
    ];
    for (sig, ct) in exact {
        if data.starts_with(sig) {
            return ct;
        }
    }
    if data.starts_with(b"\xFE\xFF") {
        return "text/plain; charset=utf-16be";
    }
    if data.starts_with(b"\xFF\xFE") {
        return "text/plain; charset=utf-16le";
    }
    if data.iter().any(|b| matches!(b, 0x00..=0x08 | 0x0B | 0x0E..=0x1A | 0x1C..=0x1F)) {
        return "application/octet-stream";
    }
    "text/plain; charset=utf-8"
}

#[cfg(test)]
mod tests {
    use super::sniff;

    #[test]
    fn sniffs_like_go() {
        assert_eq!(sniff(b"<?php echo 1; ?>"), "text/plain; charset=utf-8");
        assert_eq!(sniff(b"\n <html>\n<head>"), "text/html; charset=utf-8");
        assert_eq!(sniff(b"<?xml version"), "text/xml; charset=utf-8");
        assert_eq!(sniff(b"\x00\x01"), "application/octet-stream");
        assert_eq!(sniff(b"<p>x"), "text/html; charset=utf-8");
        assert_eq!(sniff(b"<pre>"), "text/plain; charset=utf-8");
    }
}
