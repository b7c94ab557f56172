//! A raw HTTP/1.x client: one TCP connection per request, bytes written as given, the response framed by
//! hand (status line, headers, Content-Length / chunked / until close). It never panics on what the server
//! sends and gives up at a deadline.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Largest response head we accept.
const MAX_HEAD: usize = 64 * 1024;
/// Largest response body we keep (the rest is read and dropped).
const MAX_BODY: usize = 4 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Status line, headers and body as received, for `response_contains`.
    pub raw: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Sends `request` to `addr` and reads one response, all within `timeout`.
pub fn send(addr: SocketAddr, request: &[u8], timeout: Duration) -> Result<Response, String> {
    let deadline = Instant::now() + timeout;
    let mut stream = TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("connect to {addr}: {e}"))?;
    let _ = stream.set_nodelay(true);
    stream.set_write_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    // A WAF may answer and close before it has read a large or malformed request; the answer still counts,
    // so a failed write is only reported if no response can be read afterwards.
    let write_err = stream.write_all(request).err();
    let head_only = request.starts_with(b"HEAD ");
    match read_response(&mut stream, deadline, head_only) {
        Ok(r) => {
            let _ = stream.shutdown(Shutdown::Both);
            Ok(r)
        }
        Err(e) => match write_err {
            Some(w) => Err(format!("sending request: {w}; {e}")),
            None => Err(e),
        },
    }
}

struct Reader<'a> {
    stream: &'a mut TcpStream,
    deadline: Instant,
    buf: Vec<u8>,
    pos: usize,
    eof: bool,
}

impl Reader<'_> {
    /// Reads more bytes into the buffer; false at end of stream.
    fn fill(&mut self) -> Result<bool, String> {
        if self.eof {
            return Ok(false);
        }
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err("timed out waiting for the response".into());
        }
        self.stream.set_read_timeout(Some(left)).map_err(|e| e.to_string())?;
        let mut chunk = [0u8; 16 * 1024];
        match self.stream.read(&mut chunk) {
            Ok(0) => {
                self.eof = true;
                Ok(false)
            }
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(true)
            }
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                Err("timed out waiting for the response".into())
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => Ok(true),
            // A reset after some data is treated like a close: the server said what it had to say.
            Err(e) if self.buf.len() > self.pos => {
                let _ = e;
                self.eof = true;
                Ok(false)
            }
            Err(e) => Err(format!("reading the response: {e}")),
        }
    }

    fn available(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    /// The next line without its line ending (CRLF or LF).
    fn line(&mut self) -> Result<Option<Vec<u8>>, String> {
        loop {
            if let Some(i) = self.available().iter().position(|&b| b == b'\n') {
                let mut line = self.available()[..i].to_vec();
                self.pos += i + 1;
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(Some(line));
            }
            if self.available().len() > MAX_HEAD {
                return Err("response head too large".into());
            }
            if !self.fill()? {
                return Ok(None);
            }
        }
    }

    fn take(&mut self, n: usize) -> Result<Vec<u8>, String> {
        while self.available().len() < n {
            if !self.fill()? {
                return Err(format!("connection closed after {} of {n} body bytes", self.available().len()));
            }
        }
        let out = self.available()[..n].to_vec();
        self.pos += n;
        Ok(out)
    }

    fn rest(&mut self) -> Result<Vec<u8>, String> {
        while self.fill()? {
            if self.available().len() > MAX_BODY {
                break;
            }
        }
        let out = self.available().to_vec();
        self.pos = self.buf.len();
        Ok(out)
    }
}

fn read_response(stream: &mut TcpStream, deadline: Instant, head_only: bool) -> Result<Response, String> {
    let mut r = Reader { stream, deadline, buf: Vec::with_capacity(4096), pos: 0, eof: false };
    loop {
        let start = r.pos;
        let status_line = r.line()?.ok_or("connection closed without a response")?;
        let status = parse_status_line(&status_line)?;
        let mut headers = Vec::new();
        loop {
            let line = r.line()?.ok_or("connection closed inside the response headers")?;
            if line.is_empty() {
                break;
            }
            let text = String::from_utf8_lossy(&line);
            match text.split_once(':') {
                Some((n, v)) => headers.push((n.trim().to_owned(), v.trim().to_owned())),
                None => return Err(format!("malformed response header line `{text}`")),
            }
        }
        // Interim responses (100 Continue) precede the real one.
        if (100..200).contains(&status) && status != 101 {
            continue;
        }
        let find = |name: &str| headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone());
        let body = if head_only || status == 204 || status == 304 || (100..200).contains(&status) {
            Vec::new()
        } else if find("Transfer-Encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked")) {
            read_chunked(&mut r)?
        } else if let Some(len) = find("Content-Length") {
            let len: usize = len.parse().map_err(|_| format!("bad response Content-Length `{len}`"))?;
            let mut body = r.take(len.min(MAX_BODY))?;
            if len > MAX_BODY {
                body.extend(r.rest()?);
            }
            body
        } else {
            r.rest()?
        };
        let raw = r.buf[start..r.pos].to_vec();
        return Ok(Response { status, headers, body, raw });
    }
}

fn read_chunked(r: &mut Reader<'_>) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let line = r.line()?.ok_or("connection closed inside a chunked body")?;
        let text = String::from_utf8_lossy(&line);
        let size_text = text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| format!("bad chunk size `{size_text}`"))?;
        if size == 0 {
            // Trailers, then the empty line; a server that closes right away is tolerated.
            while let Some(l) = r.line()? {
                if l.is_empty() {
                    break;
                }
            }
            return Ok(body);
        }
        let chunk = r.take(size)?;
        if body.len() < MAX_BODY {
            body.extend_from_slice(&chunk);
        }
        r.line()?;
    }
}

fn parse_status_line(line: &[u8]) -> Result<u16, String> {
    let text = String::from_utf8_lossy(line);
    let mut parts = text.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    let code = parts.next().unwrap_or("");
    if !version.starts_with("HTTP/") || code.len() != 3 {
        return Err(format!("malformed status line `{text}`"));
    }
    code.parse().map_err(|_| format!("malformed status line `{text}`"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn serve_once(reply: &'static [u8], close: bool) -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            s.write_all(reply).unwrap();
            if !close {
                std::thread::sleep(Duration::from_secs(2));
            }
        });
        addr
    }

    #[test]
    fn reads_content_length_without_waiting_for_close() {
        let addr = serve_once(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 3\r\n\r\nnope", false);
        let r = send(addr, b"GET / HTTP/1.1\r\n\r\n", Duration::from_secs(1)).unwrap();
        assert_eq!((r.status, r.body.as_slice()), (403, &b"nop"[..]));
    }

    #[test]
    fn reads_chunked_and_until_close() {
        let addr = serve_once(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
            false,
        );
        let r = send(addr, b"GET / HTTP/1.1\r\n\r\n", Duration::from_secs(1)).unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"abc"[..]));
        let addr = serve_once(b"HTTP/1.0 200 OK\r\nX: y\r\n\r\nhello", true);
        let r = send(addr, b"GET / HTTP/1.1\r\n\r\n", Duration::from_secs(1)).unwrap();
        assert_eq!(r.body, b"hello");
        assert_eq!(r.header("x"), Some("y"));
        assert!(String::from_utf8_lossy(&r.raw).starts_with("HTTP/1.0 200 OK\r\nX: y"));
    }

    #[test]
    fn closed_connection_and_garbage_are_errors_not_panics() {
        let addr = serve_once(b"", true);
        assert!(send(addr, b"GET / HTTP/1.1\r\n\r\n", Duration::from_secs(1)).unwrap_err().contains("closed"));
        let addr = serve_once(b"SSH-2.0\r\n\r\n", true);
        assert!(send(addr, b"x", Duration::from_secs(1)).unwrap_err().contains("malformed"));
        let addr = serve_once(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab", false);
        assert!(send(addr, b"x", Duration::from_millis(200)).unwrap_err().contains("timed out"));
    }
}
