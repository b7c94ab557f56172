//! What a proxy must do to headers between client and upstream: drop hop-by-hop fields (RFC 9110 §7.6.1),
//! believe `X-Forwarded-For` / `Forwarded` only from trusted proxies, and carry a request id.

use std::net::IpAddr;
use std::sync::Mutex;

use http::header::{CONNECTION, HOST, TE, TRAILER, TRANSFER_ENCODING, UPGRADE};
use http::{HeaderMap, HeaderName, HeaderValue};
use ipnet::IpNet;
use portcullis_config::ClientIpHeader;

pub static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
pub static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
pub static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
pub static FORWARDED: HeaderName = HeaderName::from_static("forwarded");
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// The subject DN of the client certificate the TLS handshake verified (mTLS); client copies are removed.
pub static X_PORTCULLIS_CLIENT_CERT_SUBJECT: HeaderName = HeaderName::from_static("x-portcullis-client-cert-subject");
static KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
static PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");

/// Removes hop-by-hop headers, including every field named in `Connection`. With `upgrade`, keeps
/// `Connection: upgrade` and `Upgrade` so a WebSocket handshake passes through.
pub fn remove_hop_by_hop(headers: &mut HeaderMap, upgrade: bool) {
    // The usual tokens (`keep-alive`, `close`, `upgrade`) name fields the fixed pass below removes anyway, or
    // none at all, so only other tokens need a name parsed; most messages have none of those and collect
    // nothing (an empty Vec does not allocate). A plain loop over the bytes: this runs twice per request, and
    // an iterator chain of `split`/`trim`/`filter` cost several hundred instructions for one `keep-alive`.
    let mut connection = false;
    let mut named: Vec<HeaderName> = Vec::new();
    for v in headers.get_all(CONNECTION) {
        connection = true;
        for t in v.as_bytes().split(|b| *b == b',') {
            let t = t.trim_ascii();
            if !t.is_empty() && !is_fixed_token(t) {
                if let Ok(n) = HeaderName::from_bytes(t) {
                    named.push(n);
                }
            }
        }
    }
    if connection {
        for n in named {
            headers.remove(&n);
        }
        headers.remove(CONNECTION);
    }
    // One pass over the names is cheaper than a hash lookup per hop-by-hop name, and most requests have none.
    let hop = |n: &HeaderName| {
        n == KEEP_ALIVE
            || n == PROXY_CONNECTION
            || n == TE
            || n == TRAILER
            || n == TRANSFER_ENCODING
            || (!upgrade && n == UPGRADE)
    };
    if headers.keys().any(hop) {
        for h in [&KEEP_ALIVE, &PROXY_CONNECTION, &TE, &TRAILER, &TRANSFER_ENCODING] {
            headers.remove(h);
        }
        if !upgrade {
            headers.remove(UPGRADE);
        }
    }
    if upgrade {
        headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
    }
}

/// A `Connection` token whose field the fixed hop-by-hop pass handles, or that names no field (`close` is a
/// connection option; RFC 9110 §16.3.2.2 reserves `Close` as a field name).
fn is_fixed_token(t: &[u8]) -> bool {
    [&b"keep-alive"[..], b"close", b"upgrade", b"te", b"trailer", b"transfer-encoding", b"proxy-connection"]
        .iter()
        .any(|f| t.eq_ignore_ascii_case(f))
}

/// Whether the request asks for a protocol upgrade (WebSocket) the proxy should pass through.
pub fn is_upgrade(headers: &HeaderMap) -> bool {
    headers.contains_key(UPGRADE)
        && headers
            .get_all(CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
}

pub(crate) fn trusted(ip: IpAddr, proxies: &[IpNet]) -> bool {
    let ip = canonical(ip);
    proxies.iter().any(|n| n.contains(&ip))
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// The client's address: the peer, unless the peer is a trusted proxy, in which case the right-most
/// address in `X-Forwarded-For` that is not itself a trusted proxy. A spoofed left-most entry is ignored.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, proxies: &[IpNet]) -> IpAddr {
    client_ip_from(peer, headers, proxies, ClientIpHeader::XForwardedFor)
}

/// [`client_ip`] reading the configured header: `X-Forwarded-For`, or RFC 7239 `Forwarded` (`for=` of each
/// element). Every field line of the header counts, in order. The chain is walked right to left from the peer;
/// the first hop that is not a trusted proxy is the client. A hop that does not parse (`unknown`, an
/// obfuscated `_node`, garbage) where the walk reaches it ends the walk at the last trusted hop: nothing left of
/// it can be believed, and the trusted hop is the best known client.
pub fn client_ip_from(peer: IpAddr, headers: &HeaderMap, proxies: &[IpNet], which: ClientIpHeader) -> IpAddr {
    let peer = canonical(peer);
    if proxies.is_empty() || !trusted(peer, proxies) {
        return peer;
    }
    let mut hops: Vec<Option<IpAddr>> = Vec::new();
    let name = match which {
        ClientIpHeader::XForwardedFor => &X_FORWARDED_FOR,
        ClientIpHeader::Forwarded => &FORWARDED,
    };
    for v in headers.get_all(name) {
        let Ok(v) = v.to_str() else {
            // A non-ASCII field line: nothing in it (or before it) can be placed in the chain.
            hops.push(None);
            continue;
        };
        match which {
            ClientIpHeader::XForwardedFor => hops.extend(v.split(',').map(|p| parse_node(p.trim()))),
            ClientIpHeader::Forwarded => hops.extend(split_quoted(v, ',').map(forwarded_for)),
        }
    }
    let mut client = peer;
    for hop in hops.into_iter().rev() {
        let Some(ip) = hop else { break };
        client = canonical(ip);
        if !trusted(client, proxies) {
            break;
        }
    }
    client
}

/// An address as proxies write it: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`, `[2001:db8::1]`,
/// `[2001:db8::1]:443`, optionally quoted.
fn parse_node(s: &str) -> Option<IpAddr> {
    let s = s.strip_prefix('"').and_then(|x| x.strip_suffix('"')).unwrap_or(s);
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Some(rest) = s.strip_prefix('[') {
        let (inner, after) = rest.split_once(']')?;
        if !(after.is_empty() || after.strip_prefix(':').is_some_and(|p| p.parse::<u16>().is_ok())) {
            return None;
        }
        return inner.parse::<std::net::Ipv6Addr>().ok().map(IpAddr::V6);
    }
    let (host, port) = s.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

/// The `for=` node of one `Forwarded` element (`for=192.0.2.60;proto=http`), if it names an address.
fn forwarded_for(element: &str) -> Option<IpAddr> {
    let mut found = None;
    for pair in split_quoted(element, ';') {
        let (k, v) = pair.trim().split_once('=')?;
        if k.trim().eq_ignore_ascii_case("for") {
            if found.is_some() {
                // Two `for=` in one element: malformed.
                return None;
            }
            found = Some(parse_node(v.trim())?);
        }
    }
    found
}

/// Splits on `sep` outside double quotes (RFC 7239 quoted strings may hold `,` and `;`).
fn split_quoted(s: &str, sep: char) -> impl Iterator<Item = &str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == sep && !quoted => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts.into_iter()
}

/// What Portcullis says about a connection's peer when it forwards requests, computed once per connection.
#[derive(Debug)]
pub struct Peer {
    pub ip: IpAddr,
    pub tls: bool,
    /// The peer's address as a header value (`X-Forwarded-For` from an untrusted peer).
    xff: HeaderValue,
    /// `for=...;proto=...`, the start of this hop's `Forwarded` element.
    element: String,
    /// The verified client certificate's subject, as sent upstream.
    client_cert_subject: Option<HeaderValue>,
    /// The last `Forwarded` value built for an untrusted peer, by the `Host` it was built for: requests on one
    /// connection nearly always carry the same `Host`, so the value is formatted and validated once.
    forwarded_cache: Mutex<Option<(Option<HeaderValue>, HeaderValue)>>,
}

impl Peer {
    pub fn new(ip: IpAddr, tls: bool) -> Peer {
        let ip = canonical(ip);
        let text = ip.to_string();
        let node = match ip {
            IpAddr::V6(_) => format!("\"[{text}]\""),
            IpAddr::V4(_) => text.clone(),
        };
        let proto = if tls { "https" } else { "http" };
        Peer {
            ip,
            tls,
            xff: HeaderValue::from_str(&text).expect("an IP address is a valid header value"),
            element: format!("for={node};proto={proto}"),
            client_cert_subject: None,
            forwarded_cache: Mutex::new(None),
        }
    }

    /// Adds the verified client certificate (mTLS), whose subject is then sent upstream. Non-ASCII in the
    /// subject is percent-encoded (header values are ASCII).
    pub fn with_client_cert(mut self, cert: Option<&portcullis_pipeline::ClientCert>) -> Peer {
        self.client_cert_subject = cert.and_then(|c| {
            let enc: String =
                c.subject
                    .bytes()
                    .map(|b| {
                        if (0x20..0x7f).contains(&b) && b != b'%' {
                            (b as char).to_string()
                        } else {
                            format!("%{b:02X}")
                        }
                    })
                    .collect();
            HeaderValue::from_str(&enc).ok()
        });
        self
    }
}

/// Sets `X-Forwarded-For/-Proto/-Host` and `Forwarded` for the upstream. Client-supplied values are kept
/// (and appended to) only when the peer is a trusted proxy; otherwise they are replaced.
pub fn set_forwarded(headers: &mut HeaderMap, peer: &Peer, host: Option<&HeaderValue>, proxies: &[IpNet]) {
    let from_trusted = !proxies.is_empty() && trusted(peer.ip, proxies);
    // Identity headers are the gateway's: a client's own copy never reaches the upstream. A scan of the names
    // costs less than hashing this long custom name for a removal that almost never finds anything.
    if headers.keys().any(|n| n == X_PORTCULLIS_CLIENT_CERT_SUBJECT) {
        headers.remove(&X_PORTCULLIS_CLIENT_CERT_SUBJECT);
    }
    if let Some(subject) = &peer.client_cert_subject {
        headers.insert(X_PORTCULLIS_CLIENT_CERT_SUBJECT.clone(), subject.clone());
    }
    if !from_trusted {
        // Nothing the client sent is kept: plain inserts, and a `Forwarded` value reused from the last request.
        headers.insert(X_FORWARDED_FOR.clone(), peer.xff.clone());
        headers.insert(X_FORWARDED_PROTO.clone(), HeaderValue::from_static(proto(peer)));
        match host {
            Some(h) => headers.insert(X_FORWARDED_HOST.clone(), h.clone()),
            None => headers.remove(&X_FORWARDED_HOST),
        };
        if let Some(v) = untrusted_forwarded(peer, host) {
            headers.insert(FORWARDED.clone(), v);
        }
        return;
    }

    let peer_s = peer.xff.to_str().unwrap_or_default();
    match headers.get(&X_FORWARDED_FOR).and_then(|v| v.to_str().ok()) {
        Some(prev) if !prev.is_empty() => {
            if let Ok(v) = HeaderValue::from_str(&format!("{prev}, {peer_s}")) {
                headers.insert(X_FORWARDED_FOR.clone(), v);
            }
        }
        _ => {
            headers.insert(X_FORWARDED_FOR.clone(), peer.xff.clone());
        }
    }
    if !headers.contains_key(&X_FORWARDED_PROTO) {
        headers.insert(X_FORWARDED_PROTO.clone(), HeaderValue::from_static(proto(peer)));
    }
    if !headers.contains_key(&X_FORWARDED_HOST) {
        if let Some(h) = host {
            headers.insert(X_FORWARDED_HOST.clone(), h.clone());
        }
    }
    let prev = headers.get(&FORWARDED).and_then(|v| v.to_str().ok());
    if let Some(v) = forwarded_value(peer, prev, host) {
        headers.insert(FORWARDED.clone(), v);
    }
}

fn proto(peer: &Peer) -> &'static str {
    if peer.tls {
        "https"
    } else {
        "http"
    }
}

/// This hop's `Forwarded` value for an untrusted peer, from the connection's cache when the `Host` is the one
/// it was built for.
fn untrusted_forwarded(peer: &Peer, host: Option<&HeaderValue>) -> Option<HeaderValue> {
    let mut cache = peer.forwarded_cache.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((for_host, v)) = cache.as_ref() {
        if for_host.as_ref().map(HeaderValue::as_bytes) == host.map(HeaderValue::as_bytes) {
            return Some(v.clone());
        }
    }
    let v = forwarded_value(peer, None, host)?;
    *cache = Some((host.cloned(), v.clone()));
    Some(v)
}

/// `prev, for=...;proto=...;host=...`: this hop's element appended to a trusted previous value.
fn forwarded_value(peer: &Peer, prev: Option<&str>, host: Option<&HeaderValue>) -> Option<HeaderValue> {
    let mut fwd = String::with_capacity(peer.element.len() + 64 + prev.map_or(0, str::len));
    if let Some(prev) = prev.filter(|p| !p.is_empty()) {
        fwd.push_str(prev);
        fwd.push_str(", ");
    }
    fwd.push_str(&peer.element);
    if let Some(h) = host.and_then(|h| h.to_str().ok()) {
        if h.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b)) {
            fwd.push_str(";host=");
            fwd.push_str(h);
        }
    }
    HeaderValue::from_str(&fwd).ok()
}

/// Bytes allowed in a client's own `X-Request-Id` (`[A-Za-z0-9_.:-]`), as a table: the check runs on every
/// request that carries one.
const REQUEST_ID_BYTES: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric() || c == b'-' || c == b'_' || c == b'.' || c == b':';
        b += 1;
    }
    t
};

/// The request id — the client's `X-Request-Id` if it is short and plain, else a new UUID — and the same id
/// as a header value: the client's own value when it was kept (a reference count, no copy), else the new one's.
pub fn request_id_and_value(headers: &HeaderMap) -> (String, Option<HeaderValue>) {
    if let Some(v) = headers.get(&X_REQUEST_ID) {
        let b = v.as_bytes();
        if !b.is_empty() && b.len() <= 128 && b.iter().all(|&c| REQUEST_ID_BYTES[usize::from(c)]) {
            if let Ok(s) = std::str::from_utf8(b) {
                return (s.to_owned(), Some(v.clone()));
            }
        }
    }
    let id = uuid::Uuid::new_v4().to_string();
    let value = HeaderValue::from_str(&id).ok();
    (id, value)
}

/// The host the client asked for, without port: from `Host`, else the URI authority (HTTP/2).
pub fn request_host<'a>(headers: &'a HeaderMap, uri: &'a http::Uri) -> &'a str {
    let raw = headers.get(HOST).and_then(|h| h.to_str().ok()).or_else(|| uri.authority().map(|a| a.as_str()));
    let Some(raw) = raw else { return "" };
    if raw.starts_with('[') {
        return raw.split_once(']').map(|(h, _)| &h[1..]).unwrap_or(raw);
    }
    raw.rsplit_once(':').map(|(h, _)| h).unwrap_or(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(s: &[&str]) -> Vec<IpNet> {
        s.iter().map(|x| x.parse().unwrap()).collect()
    }

    #[test]
    fn hop_by_hop_and_connection_tokens_are_removed() {
        let mut h = HeaderMap::new();
        h.insert(CONNECTION, HeaderValue::from_static("keep-alive, X-Secret"));
        h.insert("x-secret", HeaderValue::from_static("1"));
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert(TE, HeaderValue::from_static("trailers"));
        h.insert(UPGRADE, HeaderValue::from_static("h2c"));
        h.insert("x-keep", HeaderValue::from_static("1"));
        remove_hop_by_hop(&mut h, false);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key("x-keep"));
    }

    #[test]
    fn usual_connection_tokens_and_custom_ones() {
        // Mixed case, several field lines, a custom token beside the usual ones.
        let mut h = HeaderMap::new();
        h.append(CONNECTION, HeaderValue::from_static("Keep-Alive, close"));
        h.append(CONNECTION, HeaderValue::from_static("X-Hop"));
        h.insert("x-hop", HeaderValue::from_static("1"));
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert("x-keep", HeaderValue::from_static("1"));
        remove_hop_by_hop(&mut h, false);
        assert_eq!(h.keys().map(|k| k.as_str()).collect::<Vec<_>>(), ["x-keep"]);

        // A WebSocket handshake keeps `Upgrade` and gets `Connection: upgrade` back; other hops still go.
        let mut h = HeaderMap::new();
        h.insert(CONNECTION, HeaderValue::from_static("Upgrade, TE"));
        h.insert(UPGRADE, HeaderValue::from_static("websocket"));
        h.insert(TE, HeaderValue::from_static("trailers"));
        remove_hop_by_hop(&mut h, true);
        assert_eq!(h[UPGRADE], "websocket");
        assert_eq!(h[CONNECTION], "upgrade");
        assert!(!h.contains_key(TE));
    }

    #[test]
    fn forwarded_value_is_reused_per_host_and_client_identity_headers_are_dropped() {
        let peer = Peer::new("203.0.113.9".parse().unwrap(), true);
        let a = HeaderValue::from_static("a.example");
        let b = HeaderValue::from_static("b.example:8443");
        let run = |host: Option<&HeaderValue>| {
            let mut h = HeaderMap::new();
            h.insert(X_PORTCULLIS_CLIENT_CERT_SUBJECT.clone(), HeaderValue::from_static("CN=admin"));
            h.insert(X_FORWARDED_HOST.clone(), HeaderValue::from_static("spoofed.example"));
            set_forwarded(&mut h, &peer, host, &[]);
            assert!(!h.contains_key(&X_PORTCULLIS_CLIENT_CERT_SUBJECT));
            assert_eq!(h[&X_FORWARDED_PROTO], "https");
            (h.get(&X_FORWARDED_HOST).cloned(), h[&FORWARDED].clone())
        };
        for _ in 0..2 {
            assert_eq!(
                run(Some(&a)),
                (Some(a.clone()), HeaderValue::from_static("for=203.0.113.9;proto=https;host=a.example"))
            );
            assert_eq!(
                run(Some(&b)),
                (Some(b.clone()), HeaderValue::from_static("for=203.0.113.9;proto=https;host=b.example:8443"))
            );
            assert_eq!(run(None), (None, HeaderValue::from_static("for=203.0.113.9;proto=https")));
        }
    }

    #[test]
    fn spoofed_xff_from_untrusted_peer_is_replaced() {
        let mut h = HeaderMap::new();
        h.insert(X_FORWARDED_FOR.clone(), HeaderValue::from_static("1.2.3.4"));
        let peer: IpAddr = "203.0.113.9".parse().unwrap();
        assert_eq!(client_ip(peer, &h, &nets(&["10.0.0.0/8"])), peer);
        set_forwarded(&mut h, &Peer::new(peer, false), None, &nets(&["10.0.0.0/8"]));
        assert_eq!(h[&X_FORWARDED_FOR], "203.0.113.9");
        assert_eq!(h[&FORWARDED], "for=203.0.113.9;proto=http");
    }

    #[test]
    fn trusted_chain_yields_rightmost_untrusted() {
        let mut h = HeaderMap::new();
        h.insert(X_FORWARDED_FOR.clone(), HeaderValue::from_static("6.6.6.6, 198.51.100.7, 10.0.0.2"));
        let peer: IpAddr = "10.0.0.1".parse().unwrap();
        let ip = client_ip(peer, &h, &nets(&["10.0.0.0/8"]));
        assert_eq!(ip.to_string(), "198.51.100.7");
        set_forwarded(
            &mut h,
            &Peer::new(peer, true),
            Some(&HeaderValue::from_static("shop.example")),
            &nets(&["10.0.0.0/8"]),
        );
        assert_eq!(h[&X_FORWARDED_FOR], "6.6.6.6, 198.51.100.7, 10.0.0.2, 10.0.0.1");
        assert_eq!(h[&X_FORWARDED_PROTO], "https");
        assert_eq!(h[&FORWARDED], "for=10.0.0.1;proto=https;host=shop.example");
    }

    #[test]
    fn garbage_in_xff_stops_trust() {
        let mut h = HeaderMap::new();
        h.insert(X_FORWARDED_FOR.clone(), HeaderValue::from_static("1.1.1.1, junk"));
        let peer: IpAddr = "10.0.0.1".parse().unwrap();
        assert_eq!(client_ip(peer, &h, &nets(&["10.0.0.0/8"])), peer);
    }

    #[test]
    fn garbage_right_of_the_client_ends_at_the_trusted_hop_and_left_garbage_is_ignored() {
        let proxies = nets(&["10.0.0.0/8"]);
        let peer: IpAddr = "10.0.0.1".parse().unwrap();
        let ip = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(X_FORWARDED_FOR.clone(), HeaderValue::from_str(v).unwrap());
            client_ip(peer, &h, &proxies).to_string()
        };
        assert_eq!(ip("junk, 198.51.100.7"), "198.51.100.7");
        assert_eq!(ip("198.51.100.7, unknown, 10.0.0.5"), "10.0.0.5");
        assert_eq!(ip("198.51.100.7:4711"), "198.51.100.7");
        assert_eq!(ip("[2001:db8::7]:443, 10.0.0.9"), "2001:db8::7");
        assert_eq!(ip("2001:db8::8"), "2001:db8::8");
        assert_eq!(ip("::ffff:198.51.100.9"), "198.51.100.9");
        assert_eq!(ip(""), "10.0.0.1");
        assert_eq!(ip("10.0.0.3, 10.0.0.2"), "10.0.0.3");
    }

    #[test]
    fn several_field_lines_are_one_list_in_order() {
        let mut h = HeaderMap::new();
        h.append(X_FORWARDED_FOR.clone(), HeaderValue::from_static("6.6.6.6"));
        h.append(X_FORWARDED_FOR.clone(), HeaderValue::from_static("198.51.100.7, 10.0.0.2"));
        let peer: IpAddr = "10.0.0.1".parse().unwrap();
        assert_eq!(client_ip(peer, &h, &nets(&["10.0.0.0/8"])).to_string(), "198.51.100.7");
    }

    #[test]
    fn forwarded_header_with_ipv6_quotes_and_params() {
        let proxies = nets(&["10.0.0.0/8", "2001:db8:ffff::/48"]);
        let ip = |peer: &str, v: &str| {
            let mut h = HeaderMap::new();
            h.insert(FORWARDED.clone(), HeaderValue::from_str(v).unwrap());
            // A spoofed XFF is not read when the Forwarded header is the configured one.
            h.insert(X_FORWARDED_FOR.clone(), HeaderValue::from_static("6.6.6.6"));
            client_ip_from(peer.parse().unwrap(), &h, &proxies, ClientIpHeader::Forwarded).to_string()
        };
        assert_eq!(ip("10.0.0.1", "for=192.0.2.60;proto=http;by=203.0.113.43"), "192.0.2.60");
        assert_eq!(ip("10.0.0.1", r#"for="[2001:db8:cafe::17]:4711", for=10.1.1.1"#), "2001:db8:cafe::17");
        assert_eq!(ip("2001:db8:ffff::1", r#"For="[2001:db8:cafe::17]";proto=https"#), "2001:db8:cafe::17");
        assert_eq!(ip("10.0.0.1", "for=6.6.6.6, for=198.51.100.1;host=\"a,b\", for=10.2.2.2"), "198.51.100.1");
        assert_eq!(ip("10.0.0.1", "for=unknown"), "10.0.0.1");
        assert_eq!(ip("10.0.0.1", "for=_hidden, for=10.3.3.3"), "10.3.3.3");
        assert_eq!(ip("10.0.0.1", "for=1.1.1.1;for=2.2.2.2"), "10.0.0.1");
        assert_eq!(ip("10.0.0.1", "proto=https"), "10.0.0.1");
        // An untrusted peer's header is never read.
        assert_eq!(ip("203.0.113.5", "for=192.0.2.60"), "203.0.113.5");
    }

    #[test]
    fn request_ids() {
        let mut h = HeaderMap::new();
        h.insert(X_REQUEST_ID.clone(), HeaderValue::from_static("abc-123"));
        assert_eq!(request_id_and_value(&h).0, "abc-123");
        assert_eq!(request_id_and_value(&h).1.unwrap(), "abc-123");
        h.insert(X_REQUEST_ID.clone(), HeaderValue::from_static("bad id<script>"));
        assert_eq!(request_id_and_value(&h).0.len(), 36);
        let (id, value) = request_id_and_value(&h);
        assert_eq!(value.unwrap(), id.as_str(), "a replaced id is sent as generated");
        h.insert(X_REQUEST_ID.clone(), HeaderValue::from_str(&"a".repeat(129)).unwrap());
        assert_eq!(request_id_and_value(&h).0.len(), 36);
        h.insert(X_REQUEST_ID.clone(), HeaderValue::from_static("Trace_1.2:3-x"));
        assert_eq!(request_id_and_value(&h).0, "Trace_1.2:3-x");
    }

    #[test]
    fn hosts() {
        let mut h = HeaderMap::new();
        let uri: http::Uri = "/".parse().unwrap();
        h.insert(HOST, HeaderValue::from_static("Shop.example:8080"));
        assert_eq!(request_host(&h, &uri), "Shop.example");
        h.insert(HOST, HeaderValue::from_static("[::1]:8080"));
        assert_eq!(request_host(&h, &uri), "::1");
    }
}
