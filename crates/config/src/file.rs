//! The config file's shape. Every struct denies unknown keys; every optional key has a documented default.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;
use serde::Deserialize;

use crate::{ByteSize, ConfigError, ConfigErrors, Dur};

/// The whole file.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    #[serde(default)]
    pub server: ServerSection,
    #[serde(default)]
    pub admin: AdminSection,
    #[serde(default)]
    pub log: LogSection,
    #[serde(default)]
    pub limits: LimitsSection,
    #[serde(default)]
    pub headers: HeadersSection,
    #[serde(default)]
    pub waf: WafSection,
    #[serde(default)]
    pub ip: crate::ipguard::IpSection,
    #[serde(default)]
    pub listeners: Vec<ListenerSection>,
    #[serde(default)]
    pub upstreams: Vec<UpstreamSection>,
    #[serde(default)]
    pub routes: Vec<RouteSection>,
    pub keys: Option<crate::keys::KeysSection>,
    /// Rate limits, load shedding, bans and where their state lives.
    #[serde(default)]
    pub traffic: crate::TrafficSection,
    /// How bearer tokens are verified (keys, issuer, audience); routes opt in with `jwt = {...}`.
    pub jwt: Option<crate::jwt::JwtSection>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    /// How long in-flight requests may take to finish after SIGTERM/SIGINT.
    #[serde(default = "d_grace")]
    pub shutdown_grace: Dur,
    /// Peers whose `X-Forwarded-For` / `Forwarded` headers are believed (CIDRs). Empty: nobody's.
    #[serde(default)]
    pub trusted_proxies: Vec<IpNet>,
    /// Which header trusted proxies put the client address in: `"x-forwarded-for"` (default) or `"forwarded"`.
    #[serde(default)]
    pub client_ip_header: crate::ipguard::ClientIpHeader,
    /// Poll the config and certificate files for changes and reload them (SIGHUP always reloads).
    #[serde(default = "d_true")]
    pub watch: bool,
    /// Worker threads for the runtime; 0 = one per available core.
    #[serde(default)]
    pub workers: usize,
}

impl Default for ServerSection {
    fn default() -> Self {
        ServerSection {
            shutdown_grace: d_grace(),
            trusted_proxies: Vec::new(),
            client_ip_header: Default::default(),
            watch: true,
            workers: 0,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminSection {
    /// Address of the admin listener (health, readiness, metrics). Loopback by default; `enabled = false` turns
    /// it off.
    #[serde(default = "d_admin_addr")]
    pub address: SocketAddr,
    #[serde(default = "d_true")]
    pub enabled: bool,
    /// SQLite database of admin users for the `/api/*` admin API. Unset: the admin API refuses every request.
    #[serde(default)]
    pub users_db: Option<PathBuf>,
    /// `[admin.auth]`: sessions and login lockouts of the admin API.
    #[serde(default)]
    pub auth: crate::admin::AdminAuthSection,
    /// `[admin.tls]`: HTTPS (and optional client-certificate login) on the admin listener.
    #[serde(default)]
    pub tls: Option<crate::admin::AdminTlsSection>,
}

impl Default for AdminSection {
    fn default() -> Self {
        AdminSection { address: d_admin_addr(), enabled: true, users_db: None, auth: Default::default(), tls: None }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSection {
    /// Where the JSON access log goes: `"stdout"`, `"off"`, or a file path.
    #[serde(default = "d_stdout")]
    pub access: String,
    /// Diagnostic log level filter (`info`, `debug`, `warn`, or a tracing filter string).
    #[serde(default = "d_info")]
    pub level: String,
}

impl Default for LogSection {
    fn default() -> Self {
        LogSection { access: d_stdout(), level: d_info() }
    }
}

/// Protocol limits that apply on every listener (body size can be lowered per route).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsSection {
    /// Total bytes of all request header names and values → 431 beyond.
    #[serde(default = "d_header_bytes")]
    pub max_header_bytes: ByteSize,
    /// Number of request header fields → 431 beyond.
    #[serde(default = "d_headers")]
    pub max_headers: usize,
    /// Length of the request target (path + query) → 414 beyond.
    #[serde(default = "d_uri")]
    pub max_uri_bytes: ByteSize,
    /// Request body size → 413 beyond (routes may set their own).
    #[serde(default = "d_body")]
    pub max_body_bytes: ByteSize,
    /// Time a client has to send a complete request head (slowloris defence).
    #[serde(default = "d_header_timeout")]
    pub header_read_timeout: Dur,
    /// A keep-alive connection with no request in flight is closed after this long.
    #[serde(default = "d_idle")]
    pub idle_timeout: Dur,
    /// HTTP/2: concurrent streams per connection.
    #[serde(default = "d_streams")]
    pub h2_max_concurrent_streams: u32,
    /// HTTP/2: streams a client may reset before the connection is closed (rapid-reset defence).
    #[serde(default = "d_resets")]
    pub h2_max_pending_reset_streams: usize,
    /// Minimum request-body rate (`"1KiB/s"`) after `min_body_rate_grace`; slower bodies get a 408. Unset: no check.
    pub min_body_rate: Option<crate::ipguard::BodyRate>,
    /// How long a body may be slow before `min_body_rate` applies.
    #[serde(default = "d_body_grace")]
    pub min_body_rate_grace: Dur,
    /// Open connections one client IP may hold; further connections are closed at accept. Unset: no cap.
    pub max_connections_per_ip: Option<usize>,
}

impl Default for LimitsSection {
    fn default() -> Self {
        LimitsSection {
            max_header_bytes: d_header_bytes(),
            max_headers: d_headers(),
            max_uri_bytes: d_uri(),
            max_body_bytes: d_body(),
            header_read_timeout: d_header_timeout(),
            idle_timeout: d_idle(),
            h2_max_concurrent_streams: d_streams(),
            h2_max_pending_reset_streams: d_resets(),
            min_body_rate: None,
            min_body_rate_grace: d_body_grace(),
            max_connections_per_ip: None,
        }
    }
}

/// The header policy protection.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeadersSection {
    #[serde(default = "d_true")]
    pub enabled: bool,
    /// Set on requests before they go upstream.
    #[serde(default)]
    pub request_set: BTreeMap<String, String>,
    /// Removed from requests before they go upstream.
    #[serde(default)]
    pub request_remove: Vec<String>,
    /// Set on every response (unless `response_remove` removes them).
    #[serde(default = "d_response_set")]
    pub response_set: BTreeMap<String, String>,
    /// Removed from every response.
    #[serde(default = "d_response_remove")]
    pub response_remove: Vec<String>,
    /// `Strict-Transport-Security` max-age on TLS listeners; `"0s"` turns HSTS off.
    #[serde(default = "d_hsts")]
    pub hsts_max_age: Dur,
    #[serde(default = "d_true")]
    pub hsts_include_subdomains: bool,
}

impl Default for HeadersSection {
    fn default() -> Self {
        HeadersSection {
            enabled: true,
            request_set: BTreeMap::new(),
            request_remove: Vec::new(),
            response_set: d_response_set(),
            response_remove: d_response_remove(),
            hsts_max_age: d_hsts(),
            hsts_include_subdomains: true,
        }
    }
}

/// What the WAF does with a request.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum WafMode {
    /// Rules run and disruptive rules block (the default).
    #[default]
    On,
    /// Rules run and matches are logged; nothing is blocked.
    DetectionOnly,
    /// The WAF does not run (no cost on the request path).
    Off,
}

/// How eagerly the built-in rule pack blocks, like CRS paranoia levels.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Sensitivity {
    /// Only the high-confidence detectors on parameters, bodies, path and cookies, and request-smuggling tells.
    Low,
    /// Adds detection in every header and parameter name, base64-wrapped payloads, the method allow-list and
    /// protocol anomalies (the default).
    #[default]
    Medium,
    /// Adds strict protocol checks (unusual charsets, invalid UTF-8, bodies without a type, NUL bytes) and blocks
    /// on a lower anomaly score.
    High,
}

impl Sensitivity {
    /// The rule level that runs (1 = low … 3 = high).
    pub fn level(self) -> u8 {
        match self {
            Sensitivity::Low => 1,
            Sensitivity::Medium => 2,
            Sensitivity::High => 3,
        }
    }
}

/// The name in `waf.rules` that stands for the built-in rule pack.
pub const BUILTIN_RULES: &str = "builtin";

/// The WAF: a ModSecurity SecLang rule set run in phases 1–5.
///
/// On by default with the built-in rule pack (`rules = ["builtin"]`): Portcullis's own detectors wired into
/// anomaly scoring. Add OWASP CRS on top (`rules = ["builtin", "crs/crs-setup.conf", "crs/rules/*.conf"]`) or
/// replace the pack with it (leave `"builtin"` out).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WafSection {
    /// `on` (default), `detection_only` or `off`. Wins over `SecRuleEngine` in the rule files (rules may still
    /// switch it per request with `ctl:ruleEngine`).
    #[serde(default)]
    pub mode: WafMode,
    /// Rule sources, in load order: `"builtin"` (the built-in pack, always loaded first) and rule files relative
    /// to the config file, globs allowed (`["crs/crs-setup.conf", "crs/rules/*.conf"]`).
    #[serde(default = "d_waf_rules")]
    pub rules: Vec<PathBuf>,
    /// How eagerly the built-in pack blocks: `low`, `medium` (default) or `high`.
    #[serde(default)]
    pub sensitivity: Sensitivity,
    /// Request methods the built-in pack accepts (medium and high sensitivity); others score as an anomaly.
    #[serde(default = "d_waf_methods")]
    pub allowed_methods: Vec<String>,
    /// ModSecurity-style match log: one line per logged rule match (`[id "942100"] [msg "..."]`), appended
    /// and flushed when the request ends. Relative to the config file.
    pub log: Option<PathBuf>,
    /// Overrides `SecRequestBodyLimit`: request body bytes buffered and inspected.
    pub request_body_limit: Option<ByteSize>,
    /// Overrides `SecResponseBodyLimit`: response body bytes buffered and inspected (when
    /// `SecResponseBodyAccess On` and the type is in `SecResponseBodyMimeType`).
    pub response_body_limit: Option<ByteSize>,
    /// Carry values' scan results from one request to the next on each worker thread (default `true`): a
    /// repeated header, parameter name or value is then not scanned again. The memo keeps the bytes of up to
    /// 4,096 recent values of at most 256 bytes per worker thread in memory; `false` turns it off.
    #[serde(default = "d_true")]
    pub value_memo: bool,
}

impl WafSection {
    /// Whether the built-in pack is among the rules.
    pub fn uses_builtin(&self) -> bool {
        self.rules.iter().any(|p| p.as_os_str() == BUILTIN_RULES)
    }

    /// The configured rule files (everything but `"builtin"`).
    pub fn rule_files(&self) -> impl Iterator<Item = (usize, &PathBuf)> {
        self.rules.iter().enumerate().filter(|(_, p)| p.as_os_str() != BUILTIN_RULES)
    }
}

impl Default for WafSection {
    fn default() -> Self {
        WafSection {
            mode: WafMode::default(),
            rules: d_waf_rules(),
            sensitivity: Sensitivity::default(),
            allowed_methods: d_waf_methods(),
            log: None,
            request_body_limit: None,
            response_body_limit: None,
            value_memo: true,
        }
    }
}

fn d_waf_rules() -> Vec<PathBuf> {
    vec![PathBuf::from(BUILTIN_RULES)]
}

fn d_waf_methods() -> Vec<String> {
    ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"].map(String::from).to_vec()
}

/// Per-route WAF overrides.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RouteWafSection {
    /// This route's mode instead of `waf.mode`.
    pub mode: Option<WafMode>,
    /// Rule ids not run on this route (like `ctl:ruleRemoveById`).
    #[serde(default)]
    pub remove_rules: Vec<u32>,
    /// OWASP CRS paranoia level (1–4) on this route: pins `TX:blocking_paranoia_level` and
    /// `TX:detection_paranoia_level` for its requests, whatever the rule files assign.
    pub paranoia_level: Option<u8>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerSection {
    pub name: String,
    pub address: SocketAddr,
    /// TLS termination: present = HTTPS listener.
    pub tls: Option<ListenerTls>,
    /// Accept HTTP/2 with prior knowledge on a plain listener.
    #[serde(default = "d_true")]
    pub h2c: bool,
    /// On a plain listener: answer every request with a 308 to `https://` on this port.
    pub redirect_https_port: Option<u16>,
    /// Expect a PROXY protocol v1/v2 header (HAProxy) from `server.trusted_proxies` before anything else.
    #[serde(default)]
    pub proxy_protocol: bool,
    /// mTLS: verify client certificates against a CA bundle (TLS listeners only).
    pub client_auth: Option<crate::mtls::ClientAuthSection>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerTls {
    /// One or more certificates; the client's SNI picks one (by the names in the certificate or `sni`), and the
    /// first is the default.
    pub certificates: Vec<CertificateSection>,
    /// Offer HTTP/2 via ALPN.
    #[serde(default = "d_true")]
    pub http2: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateSection {
    /// PEM certificate chain.
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// Names this certificate answers for; empty = the DNS names in the certificate.
    #[serde(default)]
    pub sni: Vec<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Balance {
    #[default]
    RoundRobin,
    LeastInFlight,
    ConsistentHash,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamSection {
    pub name: String,
    /// `host:port` of each target.
    pub targets: Vec<String>,
    #[serde(default)]
    pub balance: Balance,
    /// For `consistent_hash`: `client_ip`, `path`, `header:NAME` or `cookie:NAME`.
    pub hash_key: Option<String>,
    pub tls: Option<UpstreamTls>,
    pub health: Option<HealthSection>,
    #[serde(default)]
    pub passive: PassiveSection,
    #[serde(default)]
    pub timeouts: TimeoutsSection,
    #[serde(default)]
    pub retries: RetriesSection,
    /// Idle pooled connections per target.
    #[serde(default = "d_pool")]
    pub pool_max_idle: usize,
    #[serde(default = "d_pool_idle")]
    pub pool_idle_timeout: Dur,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamTls {
    /// PEM CA bundle to verify the upstream; default: the system's roots.
    pub ca: Option<PathBuf>,
    /// Name sent as SNI and verified in the certificate; default: the target's host.
    pub sni: Option<String>,
    /// Skip certificate verification. Insecure; logged loudly at every load.
    #[serde(default)]
    pub insecure_skip_verify: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthSection {
    #[serde(default = "d_health_path")]
    pub path: String,
    #[serde(default = "d_health_interval")]
    pub interval: Dur,
    #[serde(default = "d_health_timeout")]
    pub timeout: Dur,
    /// Consecutive successes that re-admit a target.
    #[serde(default = "d_two")]
    pub healthy_threshold: u32,
    /// Consecutive failures that take a target out.
    #[serde(default = "d_two")]
    pub unhealthy_threshold: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PassiveSection {
    /// Consecutive connect errors / 502-504s that eject a target; 0 disables passive ejection.
    #[serde(default = "d_three")]
    pub max_failures: u32,
    #[serde(default = "d_eject")]
    pub eject_for: Dur,
}

impl Default for PassiveSection {
    fn default() -> Self {
        PassiveSection { max_failures: 3, eject_for: d_eject() }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeoutsSection {
    #[serde(default = "d_connect")]
    pub connect: Dur,
    /// Until the response head arrives.
    #[serde(default = "d_response")]
    pub response: Dur,
    /// The whole exchange with the upstream, retries included, until the response head.
    #[serde(default = "d_total")]
    pub total: Dur,
}

impl Default for TimeoutsSection {
    fn default() -> Self {
        TimeoutsSection { connect: d_connect(), response: d_response(), total: d_total() }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetriesSection {
    /// Extra attempts for idempotent requests without a body, on connection failures; 0 disables.
    #[serde(default = "d_one")]
    pub attempts: u32,
    /// Retries may add at most this percentage on top of the request rate (plus a small floor).
    #[serde(default = "d_budget")]
    pub budget_percent: u32,
}

impl Default for RetriesSection {
    fn default() -> Self {
        RetriesSection { attempts: 1, budget_percent: d_budget() }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteSection {
    pub name: String,
    #[serde(default, rename = "match")]
    pub matcher: MatchSection,
    /// Proxy to this upstream group.
    pub upstream: Option<String>,
    /// Remove this prefix from the path before proxying.
    pub strip_prefix: Option<String>,
    /// Put this prefix in front of the (stripped) path.
    pub add_prefix: Option<String>,
    /// Answer directly.
    pub respond: Option<RespondSection>,
    /// Redirect the client.
    pub redirect: Option<RedirectSection>,
    /// Request body limit for this route (overrides `limits.max_body_bytes`).
    pub max_body_bytes: Option<ByteSize>,
    /// WAF overrides for this route.
    pub waf: Option<RouteWafSection>,
    pub auth: Option<crate::keys::RouteAuthSection>,
    /// Names of `traffic.rate_limits` checked on this route; absent: `traffic.default_rate_limits`.
    pub rate_limits: Option<Vec<String>>,
    /// Bearer-token (JWT) policy for this route.
    pub jwt: Option<crate::jwt::RouteJwtSection>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct MatchSection {
    /// Hosts: `api.example.com` or `*.example.com`. Empty: any host.
    #[serde(default)]
    pub hosts: Vec<String>,
    pub path: Option<String>,
    pub path_prefix: Option<String>,
    pub path_regex: Option<String>,
    /// Methods (upper case). Empty: any.
    #[serde(default)]
    pub methods: Vec<String>,
    /// Header name → exact value that must be present.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RespondSection {
    #[serde(default = "d_200")]
    pub status: u16,
    #[serde(default)]
    pub body: String,
    #[serde(default = "d_text")]
    pub content_type: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedirectSection {
    pub to: String,
    #[serde(default = "d_302")]
    pub status: u16,
}

fn d_true() -> bool {
    true
}
fn d_grace() -> Dur {
    Dur(Duration::from_secs(30))
}
fn d_admin_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9090))
}
fn d_stdout() -> String {
    "stdout".into()
}
fn d_info() -> String {
    "info".into()
}
fn d_header_bytes() -> ByteSize {
    ByteSize(32 * 1024)
}
fn d_headers() -> usize {
    100
}
fn d_uri() -> ByteSize {
    ByteSize(8 * 1024)
}
fn d_body() -> ByteSize {
    ByteSize(10 * 1024 * 1024)
}
fn d_header_timeout() -> Dur {
    Dur(Duration::from_secs(10))
}
fn d_idle() -> Dur {
    Dur(Duration::from_secs(60))
}
fn d_body_grace() -> Dur {
    Dur(Duration::from_secs(5))
}
fn d_streams() -> u32 {
    100
}
fn d_resets() -> usize {
    20
}
fn d_response_set() -> BTreeMap<String, String> {
    BTreeMap::from([("X-Content-Type-Options".to_string(), "nosniff".to_string())])
}
fn d_response_remove() -> Vec<String> {
    vec!["Server".into(), "X-Powered-By".into()]
}
fn d_hsts() -> Dur {
    Dur(Duration::from_secs(365 * 24 * 3600))
}
fn d_pool() -> usize {
    256
}
fn d_pool_idle() -> Dur {
    Dur(Duration::from_secs(90))
}
fn d_health_path() -> String {
    "/healthz".into()
}
fn d_health_interval() -> Dur {
    Dur(Duration::from_secs(5))
}
fn d_health_timeout() -> Dur {
    Dur(Duration::from_secs(2))
}
fn d_two() -> u32 {
    2
}
fn d_three() -> u32 {
    3
}
fn d_one() -> u32 {
    1
}
fn d_eject() -> Dur {
    Dur(Duration::from_secs(30))
}
fn d_connect() -> Dur {
    Dur(Duration::from_secs(3))
}
fn d_response() -> Dur {
    Dur(Duration::from_secs(60))
}
fn d_total() -> Dur {
    Dur(Duration::from_secs(90))
}
fn d_budget() -> u32 {
    20
}
fn d_200() -> u16 {
    200
}
fn d_302() -> u16 {
    302
}
fn d_text() -> String {
    "text/plain; charset=utf-8".into()
}

/// Parses the TOML text into the raw file structs; errors carry the key path and line/column.
pub(crate) fn parse(text: &str, source: Option<&Path>) -> Result<ConfigFile, ConfigErrors> {
    let de = toml::Deserializer::new(text);
    serde_path_to_error::deserialize::<_, ConfigFile>(de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        let position = inner.span().map(|span| line_col(text, span.start));
        let path = if path == "." { String::new() } else { path };
        ConfigErrors {
            file: source.map(|p| p.display().to_string()),
            errors: vec![ConfigError { path, message: inner.message().to_string(), position }],
        }
    })
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset.min(text.len())).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let col = before.rfind('\n').map(|i| before.len() - i).unwrap_or(before.len() + 1);
    (line, col)
}
