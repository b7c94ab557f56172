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
    /// The client certificate, when the listener verified one (mTLS).
    pub client_cert: Option<Arc<ClientCert>>,
}

/// A client certificate the TLS handshake verified against the listener's CA bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCert {
    /// Subject distinguished name, RFC 4514 style (`CN=svc-a,O=Example`).
    pub subject: String,
    /// Subject alternative names (DNS names, URIs, e-mail addresses, IPs) as text.
    pub sans: Vec<String>,
    /// Lowercase hex SHA-256 of the DER certificate.
    pub sha256: String,
}

/// How a request's identity was verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    ApiKey,
    Jwt,
    Mtls,
}

impl AuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::ApiKey => "api_key",
            AuthMethod::Jwt => "jwt",
            AuthMethod::Mtls => "mtls",
        }
    }
}

/// Who a request comes from, set by the identity protection once a credential is verified. Rate limits key on
/// [`Identity::subject`]; the access log records subject and method (never the credential).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Stable subject: the API key id, the JWT `sub`, or the certificate subject.
    pub subject: Arc<str>,
    pub method: AuthMethod,
    /// Scopes granted to this credential.
    pub scopes: Vec<Arc<str>>,
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
    /// The verified identity, once an identity protection has set it.
    pub identity: Option<Identity>,
    pub started: Instant,
    /// Set when a phase refused the request (for the log).
    pub refused_by: Option<&'static str>,
    /// Why it was refused, in a few words for the access log (`"rate limit login: 10/min per ip"`). Never a
    /// credential or other secret.
    pub refused_reason: Option<Box<str>>,
    /// The client IP is on an allow list: rate limits, bans and reputation checks skip this request.
    pub allowlisted: bool,
    /// A phase answered `Verdict::Close`: the connection is dropped without a response.
    pub close_connection: bool,
    pub extensions: http::Extensions,
    /// The rate limiter's record of this request for its later phases (held in-flight slots, the RateLimit
    /// numbers). A typed slot rather than an entry in `extensions`: it runs on every request of a limited route,
    /// and the type map's first insert allocates the map, its table and a box (≈ 0.5 k instructions).
    pub rate_limit: RateLimitTicket,
    /// The WAF's per-request state (portcullis-waf-protection's transaction, behind `Any`, so the pipeline does
    /// not name the engine). A typed slot for the same reason as `rate_limit`: the default protection runs on
    /// every request, and the type map's first insert allocates the map, its table and a box, and each later
    /// phase's lookup cloned an `Arc`.
    pub waf: Option<Box<dyn std::any::Any + Send + Sync>>,
}

/// What the rate limiter (portcullis-limits) keeps from the request-headers phase for the response-headers and
/// logging phases. Plain numbers, so the pipeline names it without knowing the limiter, and `Copy`, so it costs
/// no allocation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateLimitTicket {
    /// A gateway-wide in-flight slot is held (logging releases it).
    pub global_slot: bool,
    /// A per-client in-flight slot is held (logging releases it).
    pub client_slot: bool,
    /// A rate limit refused the request (ban policies count it).
    pub rate_limited: bool,
    /// The limit set whose RateLimit fields go on the response, numbered by the limiter; `None`: no fields.
    pub fields_of: Option<u32>,
    /// Per limit of that set, in order, up to [`RateLimitTicket::INLINE`]: requests left and whole seconds until
    /// rested (the RateLimit field's `r` and `t`).
    pub state: [(u64, u64); RateLimitTicket::INLINE],
}

impl RateLimitTicket {
    /// Limits per set whose numbers fit in the ticket; a set with more keeps its field text elsewhere.
    pub const INLINE: usize = 4;
}

impl RequestCtx {
    pub fn new(request_id: String, conn: ConnInfo) -> Self {
        RequestCtx {
            request_id,
            client_ip: conn.peer.ip(),
            conn,
            route: None,
            upstream: None,
            identity: None,
            started: Instant::now(),
            refused_by: None,
            refused_reason: None,
            allowlisted: false,
            close_connection: false,
            extensions: http::Extensions::new(),
            rate_limit: RateLimitTicket::default(),
            waf: None,
        }
    }
}
