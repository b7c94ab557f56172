//! The HTTP/1.1 connection pool of an upstream group: idle connections kept per target in a small LIFO, handed
//! out without channels or extra tasks, and returned when a response body has been read to its end.
//!
//! Each connection is a `hyper::client::conn::http1` pair, and both halves travel together: the request that
//! uses a connection polls its [`Connection`](http1::Connection) future in its own task, beside the response
//! future while waiting for the head and inside [`PooledBody`] while the body streams, so a request costs no
//! hand-off to a separate connection task and no extra wake-ups. An idle connection is polled by nobody; when
//! it is taken out (and by the reaper) it is polled once, and a connection the upstream closed meanwhile shows
//! as finished there and is dropped. A WebSocket upgrade request gets a fresh connection run as its own task
//! (with upgrades, so a `101` can take the socket over), which is never pooled.
//!
//! A connection goes back to the pool only after its response body ended cleanly; a body dropped early, an
//! upgrade, a timeout or an error drops the connection instead (which closes the socket), so a half-read
//! response can never be mixed with the next one.
//!
//! This module owns connection reuse only: target choice, timeouts, retries across targets and the client
//! side of the request stay in the group ([`super`]) and the handler.

use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::client::conn::TrySendError;
use hyper_util::rt::TokioIo;

use super::connector::{UpStream, UpstreamConnector};
use super::{Target, UpBody};

/// The connection half of a pooled connection, boxed once per connection so that handing it between the pool
/// and requests moves a pointer, not hyper's dispatcher state.
type Driver = Pin<Box<http1::Connection<TokioIo<UpStream>, UpBody>>>;

/// Idle connections to one target, most recently used last.
pub struct IdleConns {
    max: usize,
    list: Mutex<Vec<Idle>>,
}

struct Idle {
    tx: SendRequest<UpBody>,
    conn: Driver,
    since: Instant,
}

impl fmt::Debug for IdleConns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdleConns").field("max", &self.max).field("idle", &self.len()).finish()
    }
}

/// Polls an idle connection once: `false` if it has ended (the upstream closed it, or sent something it should
/// not have while idle). Reading an idle socket is how hyper notices the upstream's close.
fn still_open(conn: &mut Driver, cx: &mut Context<'_>) -> bool {
    match conn.as_mut().poll(cx) {
        Poll::Pending => true,
        Poll::Ready(r) => {
            if let Err(e) = r {
                tracing::debug!(error = %e, "idle upstream connection ended with an error");
            }
            false
        }
    }
}

impl IdleConns {
    pub fn new(max: usize) -> Self {
        IdleConns { max, list: Mutex::new(Vec::new()) }
    }

    /// The most recently used connection that is still open and younger than `timeout`. Each candidate is
    /// polled once (outside the lock), which also finishes what the connection had left to do after its last
    /// response and tells whether the upstream closed it. The poll uses a waker that does nothing: the request
    /// polls the connection again right after handing it the request, and a real waker registered here would
    /// only be woken by that hand-off, an extra poll of the whole request for nothing.
    fn take(&self, timeout: Duration) -> Option<(SendRequest<UpBody>, Driver)> {
        let cx = &mut Context::from_waker(Waker::noop());
        loop {
            let mut idle = self.list.lock().unwrap_or_else(|p| p.into_inner()).pop()?;
            if idle.since.elapsed() >= timeout {
                // Entries below are older still; the reaper drops them too, but nothing is gained by waiting.
                self.list.lock().unwrap_or_else(|p| p.into_inner()).clear();
                return None;
            }
            // Polled even when it already waits for the next request (`is_ready`): the poll also swaps the
            // waker hyper keeps for its request channel, which is still that of the task that last drove the
            // connection, for the no-op one; otherwise handing over the request wakes that task for nothing
            // (measured: +0.5 task polls per request). A close the upstream made after this poll is noticed by
            // the first poll in `drive`, before the request is written, and hyper hands the request back for a
            // fresh connection (see `Pool::send`).
            if still_open(&mut idle.conn, cx) && idle.tx.is_ready() {
                return Some((idle.tx, idle.conn));
            }
        }
    }

    fn put(&self, tx: SendRequest<UpBody>, conn: Driver) {
        let mut list = self.list.lock().unwrap_or_else(|p| p.into_inner());
        if list.len() < self.max {
            list.push(Idle { tx, conn, since: Instant::now() });
        }
    }

    /// Drops connections idle longer than `timeout` or closed by the upstream (dropping a connection closes its
    /// socket). Nobody waits on an idle connection, so it is polled with a waker that does nothing.
    fn prune(&self, timeout: Duration) {
        let mut cx = Context::from_waker(Waker::noop());
        let mut list = self.list.lock().unwrap_or_else(|p| p.into_inner());
        list.retain_mut(|i| i.since.elapsed() < timeout && still_open(&mut i.conn, &mut cx));
    }

    /// How many connections are idle now (tests and diagnostics).
    pub fn len(&self) -> usize {
        self.list.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A connection checked out for one request.
pub struct Conn {
    tx: SendRequest<UpBody>,
    /// The connection future, polled by the request; `None` for an upgrade connection running as its own task.
    conn: Option<Driver>,
    /// Taken from the idle list rather than just opened: the upstream may have closed it meanwhile.
    reused: bool,
}

/// Why a request got no response.
#[derive(Debug)]
pub enum SendError {
    /// No connection could be opened (TCP or TLS); nothing was sent.
    Connect(io::Error),
    /// The request failed on an open connection; it may have been (partly) sent.
    Http(hyper::Error),
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Connect(e) => write!(f, "connect: {e}"),
            SendError::Http(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for SendError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SendError::Connect(e) => e.source(),
            SendError::Http(e) => e.source(),
        }
    }
}

impl SendError {
    pub fn is_connect(&self) -> bool {
        matches!(self, SendError::Connect(_))
    }
}

/// Opens, hands out and takes back connections for one upstream group.
pub struct Pool {
    connector: UpstreamConnector,
    builder: http1::Builder,
    idle_timeout: Duration,
}

impl Pool {
    pub fn new(connector: UpstreamConnector, idle_timeout: Duration) -> Self {
        let mut builder = http1::Builder::new();
        builder.preserve_header_case(false);
        Pool { connector, builder, idle_timeout }
    }

    /// An idle connection to `target` if one is usable, else a new one. An `upgrade` request (WebSocket) always
    /// gets a new connection of its own.
    pub async fn checkout(&self, target: &Target, upgrade: bool) -> Result<Conn, SendError> {
        if upgrade {
            return self.connect_upgradable(target).await;
        }
        match target.idle.take(self.idle_timeout) {
            Some((tx, conn)) => Ok(Conn { tx, conn: Some(conn), reused: true }),
            None => self.connect(target).await,
        }
    }

    /// Opens a new connection, to be polled by the requests that use it.
    pub async fn connect(&self, target: &Target) -> Result<Conn, SendError> {
        let io = self.connector.connect(&target.authority).await.map_err(SendError::Connect)?;
        let (tx, conn) = self.builder.handshake(TokioIo::new(io)).await.map_err(SendError::Http)?;
        Ok(Conn { tx, conn: Some(Box::pin(conn)), reused: false })
    }

    /// Opens a new connection for an upgrade request and spawns its connection task with upgrades, so that a
    /// `101` hands the socket over (the upgrade outlives the request's task).
    async fn connect_upgradable(&self, target: &Target) -> Result<Conn, SendError> {
        let io = self.connector.connect(&target.authority).await.map_err(SendError::Connect)?;
        let (tx, conn) = self.builder.handshake(TokioIo::new(io)).await.map_err(SendError::Http)?;
        let addr = target.addr.clone();
        tokio::spawn(async move {
            if let Err(e) = conn.with_upgrades().await {
                tracing::debug!(target_addr = %addr, error = %e, "upstream connection ended with an error");
            }
        });
        Ok(Conn { tx, conn: None, reused: false })
    }

    /// Sends `req` (origin-form URI, `Host` set) on `conn`. A reused connection that hyper found closed before
    /// it wrote anything hands the request back; it then goes once more on a fresh connection, which is safe
    /// for every method because the upstream never saw it. A request that was (partly) written is never resent.
    pub async fn send(
        &self,
        target: &Arc<Target>,
        mut conn: Conn,
        mut req: Request<UpBody>,
    ) -> Result<Response<PooledBody>, SendError> {
        loop {
            let result = if conn.conn.is_some() {
                drive(&mut conn.tx, &mut conn.conn, req).await
            } else {
                conn.tx.try_send_request(req).await
            };
            match result {
                Ok(resp) => return Ok(PooledBody::wrap(resp, conn, target.clone())),
                Err(mut e) => match e.take_message() {
                    Some(unsent) if conn.reused => {
                        tracing::debug!(target_addr = %target.addr, "pooled connection was closed; using a new one");
                        req = unsent;
                        conn = self.connect(target).await?;
                    }
                    _ => return Err(SendError::Http(e.into_error())),
                },
            }
        }
    }

    /// Drops expired and closed idle connections of `targets`.
    pub fn prune(&self, targets: &[Arc<Target>]) {
        for t in targets {
            t.idle.prune(self.idle_timeout);
        }
    }

    pub fn idle_timeout(&self) -> Duration {
        self.idle_timeout
    }
}

/// Sends `req` on a connection polled right here: the connection future writes the request and reads the
/// response head, then the response future has it. A connection that ends first has failed or handed back the
/// request (hyper answers the response future when its dispatcher is dropped), so the result always comes from
/// the response future; the ended connection is dropped from `slot`, never polled again.
///
/// Only the connection's poll can complete the response future, so that future is polled with a waker that
/// does nothing: a real one would be woken from inside the connection's poll, i.e. the task would wake itself
/// and be polled once more for nothing. The connection's poll registers the wakers that matter (the socket,
/// the request body).
async fn drive(
    tx: &mut SendRequest<UpBody>,
    slot: &mut Option<Driver>,
    req: Request<UpBody>,
) -> Result<Response<Incoming>, TrySendError<Request<UpBody>>> {
    let mut resp = std::pin::pin!(tx.try_send_request(req));
    poll_fn(|cx| {
        if let Some(c) = slot.as_mut() {
            if let Poll::Ready(r) = c.as_mut().poll(cx) {
                if let Err(e) = r {
                    tracing::debug!(error = %e, "upstream connection ended with an error before the response");
                }
                *slot = None;
            }
        }
        if slot.is_some() {
            resp.as_mut().poll(&mut Context::from_waker(Waker::noop()))
        } else {
            resp.as_mut().poll(cx)
        }
    })
    .await
}

/// A response body that drives its connection while it streams and returns the connection to the pool when
/// the body ends.
pub struct PooledBody {
    inner: Incoming,
    link: Link,
    /// Data has been handed out: an error after it is held back for one poll (see `poll_frame`).
    sent_data: bool,
    /// The error that cut the body, delivered on the next poll.
    cut: Option<hyper::Error>,
}

enum Link {
    /// Polled here while the body streams; back to the target's idle list once it ends cleanly.
    InTask { tx: SendRequest<UpBody>, conn: Driver, target: Arc<Target> },
    /// Never pooled: an upgrade connection running as its own task, or one that ended with its response head.
    /// The sender is kept until the body ends.
    Unpooled(#[allow(dead_code)] SendRequest<UpBody>),
    /// Returned to the pool, ended, broken, or handed to an upgrade.
    Done,
}

impl PooledBody {
    fn wrap(resp: Response<Incoming>, conn: Conn, target: Arc<Target>) -> Response<PooledBody> {
        let link = match conn.conn {
            // A `101` hands the socket to the upgrade; the connection can never carry another request.
            _ if resp.status() == http::StatusCode::SWITCHING_PROTOCOLS => Link::Done,
            Some(driver) => Link::InTask { tx: conn.tx, conn: driver, target },
            None => Link::Unpooled(conn.tx),
        };
        let mut resp = resp.map(|inner| PooledBody { inner, link, sent_data: false, cut: None });
        // hyper's server never polls a body that says it is empty, so an empty body is finished now.
        if resp.body().inner.is_end_stream() {
            resp.body_mut().release();
        }
        resp
    }

    fn release(&mut self) {
        if let Link::InTask { tx, conn, target } = std::mem::replace(&mut self.link, Link::Done) {
            // Whatever the connection still has to do after the message (seeing a `Connection: close`, noting
            // the end of the body) happens when it is next polled: on checkout, which drops a closed one.
            target.idle.put(tx, conn);
        }
    }
}

impl Body for PooledBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = &mut *self;
        if let Some(e) = this.cut.take() {
            return Poll::Ready(Some(Err(e)));
        }
        // While the connection is polled here, only that poll puts anything into `inner`, so `inner` is polled
        // with a waker that does nothing (a real one would only be woken from inside the connection's poll: the
        // task waking itself). `inner` first: a small response's body usually came in with its head, and then
        // the connection needs no poll at all until its next request.
        let noop = &mut Context::from_waker(Waker::noop());
        let mut r = match this.link {
            Link::InTask { .. } => Pin::new(&mut this.inner).poll_frame(noop),
            _ => Pin::new(&mut this.inner).poll_frame(cx),
        };
        if r.is_pending() {
            if let Link::InTask { conn, .. } = &mut this.link {
                // The connection moves the next bytes from the socket into `inner`, registering the real waker
                // with the socket.
                r = match conn.as_mut().poll(cx) {
                    Poll::Pending => Pin::new(&mut this.inner).poll_frame(noop),
                    Poll::Ready(res) => {
                        if let Err(e) = res {
                            tracing::debug!(error = %e, "upstream connection ended with an error during the body");
                        }
                        // Ended (closed or failed): `inner` holds what it delivered and then ends, whole or cut.
                        this.link = Link::Done;
                        Pin::new(&mut this.inner).poll_frame(cx)
                    }
                };
            }
        }
        match r {
            Poll::Ready(None) => this.release(),
            Poll::Ready(Some(Ok(_))) => {
                this.sent_data = true;
                if this.inner.is_end_stream() {
                    this.release();
                }
            }
            // An error leaves the connection in an unknown state: never reuse it.
            Poll::Ready(Some(Err(e))) => {
                this.link = Link::Done;
                if this.sent_data {
                    // The bytes before the cut often arrive in the same read as the upstream's close, and hyper's
                    // server drops a connection on a body error without flushing what it buffered: one `Pending`
                    // lets it write the head and those bytes first, so the client sees a cut body rather than no
                    // response at all.
                    this.cut = Some(e);
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                return Poll::Ready(Some(Err(e)));
            }
            Poll::Pending => {}
        }
        r
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    //! The pool against a raw-socket upstream on loopback: a connection driven by its requests goes back to the
    //! pool and is reused, one the upstream closed while idle is never used, and a body cut by the upstream
    //! ends with an error instead of hanging.

    use std::sync::atomic::{AtomicUsize, Ordering};

    use http_body_util::{BodyExt, Empty};
    use portcullis_config::Config;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;
    use crate::metrics::Metrics;
    use crate::upstream::UpstreamGroup;

    /// What the upstream does with each connection after answering it `answers` times.
    #[derive(Clone, Copy)]
    enum After {
        Close,
        KeepOpen,
        /// Answer the next request with a head promising 100 bytes, send 5, close.
        Cut,
    }

    /// Counts accepted connections; answers `GET` heads with `ok`.
    async fn upstream(answers: usize, after: After) -> (std::net::SocketAddr, Arc<AtomicUsize>) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let conns = Arc::new(AtomicUsize::new(0));
        let c = conns.clone();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                c.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut answered = 0;
                    loop {
                        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                            let mut chunk = [0u8; 1024];
                            match s.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        }
                        let end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
                        buf.drain(..end);
                        if answered == answers {
                            match after {
                                After::Close => return,
                                After::KeepOpen => {}
                                After::Cut => {
                                    let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nabcde").await;
                                    return;
                                }
                            }
                        }
                        let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok").await;
                        answered += 1;
                        if answered == answers && matches!(after, After::Close) {
                            return;
                        }
                    }
                });
            }
        });
        (addr, conns)
    }

    fn group(addr: std::net::SocketAddr) -> Arc<UpstreamGroup> {
        let text = format!(
            "[[listeners]]\nname = \"l\"\naddress = \"127.0.0.1:0\"\n\
             [[upstreams]]\nname = \"u\"\ntargets = [\"{addr}\"]\n\
             [[routes]]\nname = \"r\"\nupstream = \"u\"\n"
        );
        let config = Config::from_str_at(&text, None, ".".into()).unwrap();
        UpstreamGroup::build(&config.file.upstreams[0], &config, Metrics::new()).unwrap()
    }

    async fn get(g: &UpstreamGroup) -> Result<Bytes, String> {
        let target = &g.targets[0];
        let req = Request::get("/")
            .header(http::header::HOST, "t")
            .body(Empty::<Bytes>::new().map_err(|never| match never {}).boxed_unsync())
            .unwrap();
        let conn = g.pool.checkout(target, false).await.map_err(|e| e.to_string())?;
        let resp = g.pool.send(target, conn, req).await.map_err(|e| e.to_string())?;
        let body = tokio::time::timeout(Duration::from_secs(5), resp.into_body().collect())
            .await
            .expect("the body hung")
            .map_err(|e| e.to_string())?;
        Ok(body.to_bytes())
    }

    #[tokio::test]
    async fn a_connection_driven_by_its_requests_returns_to_the_pool_and_is_reused() {
        let (addr, conns) = upstream(usize::MAX, After::KeepOpen).await;
        let g = group(addr);
        for _ in 0..5 {
            assert_eq!(get(&g).await.unwrap(), "ok");
            assert_eq!(g.targets[0].idle.len(), 1, "the connection went back to the pool");
        }
        assert_eq!(conns.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_connection_the_upstream_closed_while_idle_is_not_used_and_is_pruned() {
        let (addr, conns) = upstream(1, After::Close).await;
        let g = group(addr);
        assert_eq!(get(&g).await.unwrap(), "ok");
        tokio::time::sleep(Duration::from_millis(100)).await;
        // The reaper's pass notices the close without a request.
        g.pool.prune(&g.targets);
        assert_eq!(g.targets[0].idle.len(), 0);
        assert_eq!(get(&g).await.unwrap(), "ok");
        // Closed again while idle; this time the next request finds it on checkout or on its first poll.
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(get(&g).await.unwrap(), "ok");
        assert_eq!(conns.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_body_the_upstream_cuts_ends_in_an_error_and_the_connection_is_not_pooled() {
        let (addr, conns) = upstream(1, After::Cut).await;
        let g = group(addr);
        assert_eq!(get(&g).await.unwrap(), "ok");
        assert!(get(&g).await.is_err(), "a cut body was delivered as complete");
        assert_eq!(g.targets[0].idle.len(), 0);
        assert_eq!(get(&g).await.unwrap(), "ok");
        assert_eq!(conns.load(Ordering::SeqCst), 2);
    }
}
