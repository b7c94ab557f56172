//! The HTTP/1.1 connection pool of an upstream group: idle connections kept per target in a small LIFO, handed
//! out without channels or extra tasks, and returned when a response body has been read to its end.
//!
//! Each connection is a `hyper::client::conn::http1` pair: the [`SendRequest`] half lives in the pool or with
//! the request using it, the connection future runs as its own task on the runtime (with upgrades, so a
//! WebSocket `101` can take the socket over). A connection goes back to the pool only after its response body
//! ended cleanly; a body dropped early, an upgrade, a timeout or an error drops the connection instead (hyper
//! closes it), so a half-read response can never be mixed with the next one.
//!
//! This module owns connection reuse only: target choice, timeouts, retries across targets and the client
//! side of the request stay in the group ([`super`]) and the handler.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;

use super::connector::UpstreamConnector;
use super::{Target, UpBody};

/// Idle connections to one target, most recently used last.
pub struct IdleConns {
    max: usize,
    list: Mutex<Vec<Idle>>,
}

struct Idle {
    tx: SendRequest<UpBody>,
    since: Instant,
}

impl fmt::Debug for IdleConns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdleConns").field("max", &self.max).field("idle", &self.len()).finish()
    }
}

impl IdleConns {
    pub fn new(max: usize) -> Self {
        IdleConns { max, list: Mutex::new(Vec::new()) }
    }

    /// The most recently used connection that is still open and younger than `timeout`. Older entries sit
    /// below it in the stack and are left for [`IdleConns::prune`].
    fn take(&self, timeout: Duration) -> Option<SendRequest<UpBody>> {
        let mut list = self.list.lock().unwrap_or_else(|p| p.into_inner());
        while let Some(idle) = list.pop() {
            // `is_ready` is false once the upstream closed the connection (hyper watches idle sockets for EOF).
            if idle.tx.is_ready() && idle.since.elapsed() < timeout {
                return Some(idle.tx);
            }
        }
        None
    }

    fn put(&self, tx: SendRequest<UpBody>) {
        let mut list = self.list.lock().unwrap_or_else(|p| p.into_inner());
        if list.len() < self.max {
            list.push(Idle { tx, since: Instant::now() });
        }
    }

    /// Drops connections idle longer than `timeout` or closed by the upstream (dropping the sender ends hyper's
    /// connection task, which closes the socket).
    fn prune(&self, timeout: Duration) {
        let mut list = self.list.lock().unwrap_or_else(|p| p.into_inner());
        list.retain(|i| !i.tx.is_closed() && i.since.elapsed() < timeout);
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

    /// An idle connection to `target` if one is usable, else a new one.
    pub async fn checkout(&self, target: &Target) -> Result<Conn, SendError> {
        match target.idle.take(self.idle_timeout) {
            Some(tx) => Ok(Conn { tx, reused: true }),
            None => self.connect(target).await,
        }
    }

    /// Opens a new connection and spawns its connection task.
    pub async fn connect(&self, target: &Target) -> Result<Conn, SendError> {
        let io = self.connector.connect(&target.authority).await.map_err(SendError::Connect)?;
        let (tx, conn) = self.builder.handshake(TokioIo::new(io)).await.map_err(SendError::Http)?;
        let addr = target.addr.clone();
        tokio::spawn(async move {
            if let Err(e) = conn.with_upgrades().await {
                tracing::debug!(target_addr = %addr, error = %e, "upstream connection ended with an error");
            }
        });
        Ok(Conn { tx, reused: false })
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
            match conn.tx.try_send_request(req).await {
                Ok(resp) => return Ok(PooledBody::wrap(resp, conn.tx, target.clone())),
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

/// A response body that returns its connection to the pool when it ends.
pub struct PooledBody {
    inner: Incoming,
    /// The connection and where it goes back; `None` once returned (or for an upgrade, never).
    home: Option<(SendRequest<UpBody>, Arc<Target>)>,
}

impl PooledBody {
    fn wrap(resp: Response<Incoming>, tx: SendRequest<UpBody>, target: Arc<Target>) -> Response<PooledBody> {
        // A `101` hands the socket to the upgrade; the connection can never carry another request.
        let home = (resp.status() != http::StatusCode::SWITCHING_PROTOCOLS).then_some((tx, target));
        let mut resp = resp.map(|inner| PooledBody { inner, home });
        // hyper's server never polls a body that says it is empty, so an empty body is finished now.
        if resp.body().inner.is_end_stream() {
            resp.body_mut().release();
        }
        resp
    }

    fn release(&mut self) {
        let Some((mut tx, target)) = self.home.take() else { return };
        if tx.is_ready() {
            target.idle.put(tx);
        } else if !tx.is_closed() {
            // The connection task has not yet seen the end of the message (it runs separately); hand the
            // connection back once it is ready rather than lose it.
            tokio::spawn(async move {
                if tx.ready().await.is_ok() {
                    target.idle.put(tx);
                }
            });
        }
    }
}

impl Body for PooledBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = &mut *self;
        let r = Pin::new(&mut this.inner).poll_frame(cx);
        match &r {
            Poll::Ready(None) => this.release(),
            Poll::Ready(Some(Ok(_))) if this.inner.is_end_stream() => this.release(),
            // An error leaves the connection in an unknown state: never reuse it.
            Poll::Ready(Some(Err(_))) => this.home = None,
            _ => {}
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
