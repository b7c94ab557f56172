use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

/// Facts about the client connection, known at accept time.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    /// The TCP peer.
    pub peer: SocketAddr,
    /// The local address the connection arrived on.
    pub local: SocketAddr,
    /// Whether the listener terminates TLS.
    pub tls: bool,
    /// The SNI name the client asked for, if any.
    pub sni: Option<Arc<str>>,
    /// Name of the listener (from config).
    pub listener: Arc<str>,
}

/// The upstream target chosen for a request.
#[derive(Debug, Clone)]
pub struct UpstreamInfo {
    pub group: Arc<str>,
    pub target: Arc<str>,
}

/// Per-request state shared by every phase and protection.
///
/// Protections keep their own per-request state in [`RequestCtx::extensions`] (a type map), so the context
/// stays independent of which protections exist.
#[derive(Debug)]
pub struct RequestCtx {
    pub request_id: String,
    /// The client's address as Portcullis trusts it (the peer, or the forwarded address from a trusted proxy).
    pub client_ip: std::net::IpAddr,
    pub conn: ConnInfo,
    /// Name of the matched route, if any.
    pub route: Option<Arc<str>>,
    pub upstream: Option<UpstreamInfo>,
    pub started: Instant,
    /// Set when a phase refused the request (for the log).
    pub refused_by: Option<&'static str>,
    /// A phase answered `Verdict::Close`: the connection is dropped without a response.
    pub close_connection: bool,
    pub extensions: http::Extensions,
}

impl RequestCtx {
    pub fn new(request_id: String, conn: ConnInfo) -> Self {
        RequestCtx {
            request_id,
            client_ip: conn.peer.ip(),
            conn,
            route: None,
            upstream: None,
            started: Instant::now(),
            refused_by: None,
            close_connection: false,
            extensions: http::Extensions::new(),
        }
    }
}
