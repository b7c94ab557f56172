//! Listeners and connections: accept, TLS handshake with ALPN, HTTP/1.1 or HTTP/2 (h2c by prior knowledge on
//! plain listeners), idle and header-read deadlines, and graceful drain on shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use portcullis_config::{Config, LimitsSection, ListenerSection};
use portcullis_pipeline::{ConnInfo, Verdict};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify};
use tokio_rustls::TlsAcceptor;

use crate::metrics::Metrics;
use crate::runtime::Runtime;
use crate::tls::{server_config, SniResolver};

/// State shared by every listener and connection of one gateway process.
pub struct GatewayShared {
    pub runtime: ArcSwap<Runtime>,
    pub metrics: Arc<Metrics>,
    pub(crate) shutdown: watch::Sender<bool>,
    pub(crate) open_connections: AtomicUsize,
    pub(crate) drained: Notify,
    /// Open connections per client IP (`limits.max_connections_per_ip`).
    pub(crate) per_ip: Arc<portcullis_ipguard::ConnTracker>,
}

/// Per-connection request activity, for the idle deadline.
pub struct Activity {
    in_flight: AtomicUsize,
    /// Milliseconds since `epoch` when the last request ended (or the connection opened).
    last_ms: AtomicU64,
    epoch: Instant,
}

impl Activity {
    fn new() -> Self {
        Activity { in_flight: AtomicUsize::new(0), last_ms: AtomicU64::new(0), epoch: Instant::now() }
    }

    pub fn begin(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
    }

    /// A request ended at `now` (a time the caller already read: one clock read per request, not two).
    pub fn end_at(&self, now: Instant) {
        let ms = now.saturating_duration_since(self.epoch).as_millis() as u64;
        // At least 1, so that 0 keeps meaning "no request finished yet" (see `served_any`).
        self.last_ms.store(ms.max(1), Ordering::Relaxed);
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
    }

    /// Whether a request has finished on this connection.
    fn served_any(&self) -> bool {
        self.last_ms.load(Ordering::Relaxed) > 0
    }

    fn idle_for(&self) -> Option<Duration> {
        if self.in_flight.load(Ordering::Relaxed) > 0 {
            return None;
        }
        let now = self.epoch.elapsed().as_millis() as u64;
        Some(Duration::from_millis(now.saturating_sub(self.last_ms.load(Ordering::Relaxed))))
    }
}

/// What every request on one connection shares.
pub struct ConnShared {
    pub gateway: Arc<GatewayShared>,
    pub conn: ConnInfo,
    /// The peer as forwarding headers describe it, computed once per connection.
    pub peer: crate::forward::Peer,
    pub activity: Activity,
    pub redirect_https_port: Option<u16>,
    /// The upstream response deadline's reusable `Sleep` (see `conn_timer`).
    pub upstream_timer: crate::conn_timer::TimerSlot,
}

/// The two ALPN variants of a TLS listener's acceptor (same certificates): which one a new connection uses
/// follows the listener's current `tls.http2`, so a reload can turn HTTP/2 on or off.
#[derive(Clone)]
pub struct TlsAcceptors {
    pub h2: TlsAcceptor,
    pub h1: TlsAcceptor,
}

/// A bound listener, ready to accept.
pub struct BoundListener {
    pub cfg: ListenerSection,
    pub listener: TcpListener,
    pub tls: Option<(TlsAcceptors, Arc<SniResolver>)>,
}

impl BoundListener {
    pub fn bind(cfg: &ListenerSection, resolver: Option<Arc<SniResolver>>) -> Result<BoundListener, String> {
        let addr = cfg.address;
        let socket = socket2::Socket::new(
            socket2::Domain::for_address(addr),
            socket2::Type::STREAM,
            Some(socket2::Protocol::TCP),
        )
        .map_err(|e| format!("listeners.{}: {e}", cfg.name))?;
        let _ = socket.set_reuse_address(true);
        if addr.is_ipv6() {
            let _ = socket.set_only_v6(true);
        }
        socket.set_nonblocking(true).map_err(|e| format!("listeners.{}: {e}", cfg.name))?;
        socket.bind(&addr.into()).map_err(|e| format!("listeners.{}: cannot bind {addr}: {e}", cfg.name))?;
        socket.listen(1024).map_err(|e| format!("listeners.{}: cannot listen on {addr}: {e}", cfg.name))?;
        let listener = TcpListener::from_std(socket.into()).map_err(|e| format!("listeners.{}: {e}", cfg.name))?;
        let tls = match (resolver, &cfg.tls) {
            (Some(r), Some(_)) => {
                let h2 = TlsAcceptor::from(server_config(r.clone(), true)?);
                let h1 = TlsAcceptor::from(server_config(r.clone(), false)?);
                Some((TlsAcceptors { h2, h1 }, r))
            }
            _ => None,
        };
        Ok(BoundListener { cfg: cfg.clone(), listener, tls })
    }

    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr().ok()
    }
}

/// Accepts connections until shutdown.
pub async fn accept_loop(gw: Arc<GatewayShared>, l: BoundListener) {
    let mut shutdown = gw.shutdown.subscribe();
    let local = l.local_addr().unwrap_or(l.cfg.address);
    loop {
        let accepted = tokio::select! {
            r = l.listener.accept() => r,
            _ = shutdown.changed() => break,
        };
        let (tcp, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                // Usually EMFILE: back off briefly instead of spinning.
                tracing::warn!(listener = %l.cfg.name, error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let gw = gw.clone();
        let tls = l.tls.as_ref().map(|(a, _)| a.clone());
        let cfg = l.cfg.clone();
        tokio::spawn(async move {
            gw.open_connections.fetch_add(1, Ordering::SeqCst);
            gw.metrics.connections.inc();
            serve_connection(&gw, tcp, peer, local, tls, &cfg).await;
            gw.metrics.connections.dec();
            if gw.open_connections.fetch_sub(1, Ordering::SeqCst) == 1 {
                gw.drained.notify_waiters();
            }
        });
    }
    tracing::info!(listener = %l.cfg.name, "listener stopped accepting");
}

async fn serve_connection(
    gw: &Arc<GatewayShared>,
    mut tcp: TcpStream,
    peer: SocketAddr,
    local: SocketAddr,
    tls: Option<TlsAcceptors>,
    cfg: &ListenerSection,
) {
    let _ = tcp.set_nodelay(true);
    let rt = gw.runtime.load_full();
    let limits = rt.config.file.limits.clone();
    // Per-connection listener settings come from the current config (a reload may change them); the address
    // and TLS on/off are fixed at bind time.
    let live = rt.config.file.listeners.iter().find(|l| l.name == cfg.name).unwrap_or(cfg);
    let (h2c, redirect_https_port) = (live.h2c, live.redirect_https_port);
    let http2 = live.tls.as_ref().or(cfg.tls.as_ref()).is_none_or(|t| t.http2);
    let tls = tls.map(|a| if http2 { a.h2 } else { a.h1 });
    // IP monitoring at accept: the PROXY header (its source becomes the peer), then the per-IP cap.
    let Some((peer, _slot)) = ip_accept(gw, &rt, live.proxy_protocol, &mut tcp, peer, &limits).await else {
        return;
    };
    let mut conn =
        ConnInfo { peer, local, tls: tls.is_some(), sni: None, listener: cfg.name.as_str().into(), client_cert: None };
    if rt.phases.connection {
        for p in &rt.protections {
            if let Verdict::Close | Verdict::Respond(_) = p.connection_filter(&conn) {
                return;
            }
        }
    }
    drop(rt);
    match tls {
        None => {
            let shared = Arc::new(ConnShared {
                gateway: gw.clone(),
                peer: crate::forward::Peer::new(conn.peer.ip(), false),
                conn,
                activity: Activity::new(),
                redirect_https_port,
                upstream_timer: Default::default(),
            });
            run_http(gw, TokioIo::new(tcp), shared, &limits, if h2c { Proto::Auto } else { Proto::H1 }).await;
        }
        Some(acceptor) => {
            // A handshake has no request in flight: on shutdown, drop it rather than let a client that never
            // finishes it hold the drain up until `header_read_timeout`.
            let mut shutdown = gw.shutdown.subscribe();
            let handshake = tokio::time::timeout(limits.header_read_timeout.0, acceptor.accept(tcp));
            let done = tokio::select! {
                r = handshake => r,
                _ = shutdown.wait_for(|stopping| *stopping) => {
                    tracing::debug!(%peer, "shutting down: TLS handshake abandoned");
                    return;
                }
            };
            let stream = match done {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "TLS handshake timed out");
                    return;
                }
            };
            let (_, session) = stream.get_ref();
            conn.sni = session.server_name().map(Arc::from);
            // mTLS: the handshake verified this certificate against the listener's CA bundle (and CRLs).
            conn.client_cert = session
                .peer_certificates()
                .and_then(|c| c.first())
                .and_then(crate::tls::client_cert_info)
                .map(Arc::new);
            let proto = if session.alpn_protocol() == Some(b"h2") { Proto::H2 } else { Proto::H1 };
            let shared = Arc::new(ConnShared {
                gateway: gw.clone(),
                peer: crate::forward::Peer::new(conn.peer.ip(), true).with_client_cert(conn.client_cert.as_deref()),
                conn,
                activity: Activity::new(),
                redirect_https_port: None,
                upstream_timer: Default::default(),
            });
            run_http(gw, TokioIo::new(stream), shared, &limits, proto).await;
        }
    }
}

/// The accept-path part of IP monitoring: the PROXY protocol header on listeners that expect one, then the
/// per-IP connection cap (trusted proxies are exempt, as they carry many clients, and so are allow-listed
/// addresses). `None`: close the connection (counted under `portcullis_connections_refused_total`). The slot
/// is held until the connection ends.
async fn ip_accept(
    gw: &Arc<GatewayShared>,
    rt: &Runtime,
    proxy_protocol: bool,
    tcp: &mut TcpStream,
    mut peer: SocketAddr,
    limits: &LimitsSection,
) -> Option<(SocketAddr, Option<portcullis_ipguard::ConnSlot>)> {
    if proxy_protocol {
        match crate::proxy_protocol::accept(tcp, peer, &rt.trusted_proxies, limits.header_read_timeout.0).await {
            Ok(source) => peer = source,
            Err(reason) => {
                gw.metrics.connection_refused(reason);
                return None;
            }
        }
    }
    let ip = match peer.ip() {
        std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map(std::net::IpAddr::V4).unwrap_or(peer.ip()),
        v4 => v4,
    };
    let slot = match limits.max_connections_per_ip {
        Some(max)
            if !crate::forward::trusted(ip, &rt.trusted_proxies)
                && !rt.ipguard.as_ref().is_some_and(|g| g.is_allowlisted(ip)) =>
        {
            match gw.per_ip.try_acquire(ip, max) {
                Some(slot) => Some(slot),
                None => {
                    gw.metrics.connection_refused("per_ip_cap");
                    gw.metrics.ipguard.stats.record_block(ip, "conn_cap");
                    tracing::debug!(%peer, max, "per-IP connection cap reached; closed");
                    return None;
                }
            }
        }
        _ => None,
    };
    Some((peer, slot))
}

/// Counts connection errors that mean a misbehaving client: a request head not complete within
/// `header_read_timeout` (slowloris) and HTTP/2 connections closed for a stream-reset or frame flood.
/// hyper's head timer also closes a keep-alive connection that sends no next request in time; that is an idle
/// client, not a slow one, so only connections that never finished a request count as `header_timeout`.
fn count_connection_error(gw: &GatewayShared, e: &(dyn std::error::Error + 'static), served_any: bool) {
    let mut cur = Some(e);
    let mut text = String::new();
    while let Some(err) = cur {
        if err.downcast_ref::<hyper::Error>().is_some_and(|h| h.is_timeout()) {
            if !served_any {
                gw.metrics.slow_client("header_timeout");
            }
            return;
        }
        text.push_str(&err.to_string());
        text.push_str(&format!(" {err:?} "));
        cur = err.source();
    }
    if text.contains("ENHANCE_YOUR_CALM") || text.contains("excessive load") {
        gw.metrics.h2_error("reset_flood");
    } else if text.contains("GoAway") || text.contains("PROTOCOL_ERROR") || text.contains("FLOW_CONTROL_ERROR") {
        gw.metrics.h2_error("protocol");
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Proto {
    H1,
    H2,
    Auto,
}

// The same settings for hyper's HTTP/1 and HTTP/2 builders, whether standalone or inside the auto builder
// (their setter names match). HTTP/1's only timer is the header-read deadline, one at a time per connection:
// it reuses the connection's one `Sleep` (`ConnTimer`) instead of a new one per request.
// `half_close`: a client may shut its write side once its request is sent (`printf … | nc -N`, HTTP/1.0 tools)
// and still read the answer, as HAProxy allows. hyper's default closes such a connection when it sees the EOF
// while the request is in flight, so whether the client got its answer (even the gateway's own 403 or 405)
// depended on whether the handler finished before that read. Work for a client that left is still bounded by the
// upstream timeouts and the concurrency limits.
macro_rules! configure_http1 {
    ($b:expr, $limits:expr, $hard_buf:expr) => {
        $b.timer(crate::conn_timer::ConnTimer::new())
            .header_read_timeout($limits.header_read_timeout.0)
            .max_buf_size($hard_buf.max(8192))
            .max_headers($limits.max_headers * 2 + 16)
            .keep_alive(true)
            .half_close(true)
    };
}
macro_rules! configure_http2 {
    ($b:expr, $limits:expr, $hard_buf:expr) => {
        $b.timer(TokioTimer::new())
            .max_concurrent_streams($limits.h2_max_concurrent_streams)
            .max_pending_accept_reset_streams($limits.h2_max_pending_reset_streams)
            .max_header_list_size(u32::try_from($hard_buf).unwrap_or(u32::MAX))
            .keep_alive_interval(Some(Duration::from_secs(30)))
            .keep_alive_timeout(Duration::from_secs(20))
    };
}

async fn run_http<I>(gw: &Arc<GatewayShared>, io: I, shared: Arc<ConnShared>, limits: &LimitsSection, proto: Proto)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    // hyper's own hard limits sit above the configured ones so that requests over our limits reach the
    // handler and get a problem+json answer; hyper only answers (431/414, empty body) far beyond them.
    let hard_buf = (limits.max_header_bytes.as_usize() + limits.max_uri_bytes.as_usize()) * 2 + 8192;
    let svc_shared = shared.clone();
    let service = service_fn(move |req| crate::handler::handle(svc_shared.clone(), req));
    // A fixed protocol uses hyper's own builder: the auto builder's `http1_only`/`http2_only` are ignored by
    // `serve_connection_with_upgrades`, which would let an `h2c = false` listener (or a TLS connection that
    // negotiated http/1.1) speak HTTP/2 anyway.
    match proto {
        Proto::H1 => {
            let mut b = hyper::server::conn::http1::Builder::new();
            configure_http1!(b, limits, hard_buf);
            let conn = b.serve_connection(io, service).with_upgrades();
            tokio::pin!(conn);
            drive(gw, &shared, limits, conn, |c| c.graceful_shutdown()).await;
        }
        Proto::H2 => {
            let mut b = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
            configure_http2!(b, limits, hard_buf);
            let conn = b.serve_connection(io, service);
            tokio::pin!(conn);
            drive(gw, &shared, limits, conn, |c| c.graceful_shutdown()).await;
        }
        Proto::Auto => {
            let mut b = auto::Builder::new(TokioExecutor::new());
            configure_http1!(b.http1(), limits, hard_buf);
            configure_http2!(b.http2(), limits, hard_buf);
            let conn = b.serve_connection_with_upgrades(io, service);
            tokio::pin!(conn);
            drive(gw, &shared, limits, conn, |c| c.graceful_shutdown()).await;
        }
    }
}

/// Runs one connection to its end: graceful shutdown when the gateway stops or the connection has been idle
/// for `idle_timeout`.
async fn drive<C, E>(
    gw: &Arc<GatewayShared>,
    shared: &ConnShared,
    limits: &LimitsSection,
    mut conn: std::pin::Pin<&mut C>,
    graceful: impl Fn(std::pin::Pin<&mut C>),
) where
    C: std::future::Future<Output = Result<(), E>>,
    E: std::fmt::Display + Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut shutdown = gw.shutdown.subscribe();
    let idle = limits.idle_timeout.0;
    let mut tick = tokio::time::interval((idle / 4).max(Duration::from_millis(100)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut closing = *shutdown.borrow();
    if closing {
        graceful(conn.as_mut());
    }
    // The shutdown signal and the tick are polled only when one of them woke the task (see `gate`): the task
    // wakes two or three times per request, and polling both each time cost ≈ 700 instructions per request.
    let (gate, gate_waker) = crate::gate::Gate::new();
    enum Event<T> {
        Ended(T),
        Shutdown,
        Tick,
    }
    loop {
        let event = {
            let changed = shutdown.changed();
            tokio::pin!(changed);
            // A new `changed` future must be polled once to register.
            gate.open();
            std::future::poll_fn(|cx| {
                if let std::task::Poll::Ready(res) = conn.as_mut().poll(cx) {
                    return std::task::Poll::Ready(Event::Ended(res));
                }
                if !closing && gate.take(cx) {
                    let side = &mut std::task::Context::from_waker(&gate_waker);
                    if changed.as_mut().poll(side).is_ready() {
                        return std::task::Poll::Ready(Event::Shutdown);
                    }
                    if tick.poll_tick(side).is_ready() {
                        return std::task::Poll::Ready(Event::Tick);
                    }
                }
                std::task::Poll::Pending
            })
            .await
        };
        match event {
            Event::Ended(res) => {
                if let Err(e) = res {
                    tracing::debug!(peer = %shared.conn.peer, error = %e, "connection ended with an error");
                    let e: Box<dyn std::error::Error + Send + Sync> = e.into();
                    count_connection_error(gw, &*e, shared.activity.served_any());
                }
                break;
            }
            Event::Shutdown => {
                closing = true;
                graceful(conn.as_mut());
            }
            Event::Tick => {
                if shared.activity.idle_for().is_some_and(|d| d >= idle) {
                    closing = true;
                    graceful(conn.as_mut());
                }
            }
        }
    }
}

impl GatewayShared {
    pub fn new(runtime: Runtime, metrics: Arc<Metrics>) -> Arc<Self> {
        Arc::new(GatewayShared {
            runtime: ArcSwap::from_pointee(runtime),
            metrics,
            shutdown: watch::channel(false).0,
            open_connections: AtomicUsize::new(0),
            drained: Notify::new(),
            per_ip: portcullis_ipguard::ConnTracker::new(),
        })
    }

    pub fn config(&self) -> Config {
        self.runtime.load().config.clone()
    }
}
