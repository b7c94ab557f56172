//! The PROXY protocol (HAProxy, versions 1 and 2): a load balancer in front of Portcullis writes the real
//! client's address before the connection's first byte of TLS or HTTP.
//!
//! Written here rather than taken from a crate: the parser is ~150 lines, the two crates that exist either
//! parse from a buffer that may hold bytes past the header (which we must not consume, since TLS follows) or
//! pull in more than we use, and we need the exact-read behaviour below. The reader never consumes a byte past
//! the header: it reads the 15 bytes every header has, then exactly what the header says is left (v2: its
//! length field; v1: byte by byte up to the CRLF, at most 107 bytes). Bounds: v1 at 107 bytes (the spec's
//! maximum), v2 at [`V2_MAX_PAYLOAD`] bytes of addresses and TLVs, and the whole header within the listener's
//! `header_read_timeout`.
//!
//! Trust: on a `proxy_protocol = true` listener only `server.trusted_proxies` may connect; any other peer is
//! closed before a byte is read (whatever it would send), and a trusted peer whose first bytes are not a
//! valid header is closed too. The header's source address then replaces the peer for everything after
//! (connection filters, per-IP cap, forwarding headers, logs).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};

/// The 12-byte v2 signature.
pub const V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";
/// The longest v1 line, CRLF included (spec §2.1).
pub const V1_MAX: usize = 107;
/// The largest v2 address block + TLVs accepted (the spec allows 65535; real balancers send far less).
pub const V2_MAX_PAYLOAD: usize = 1024;
/// Every header is at least this long (`PROXY UNKNOWN\r\n`; a v2 header is 16+), so reading it never
/// over-reads.
const MIN_HEADER: usize = 15;

/// What the header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyHeader {
    /// The connection is the proxy's own (v2 `LOCAL`, health checks) or its origin is unknown (v1 `UNKNOWN`,
    /// v2 `UNSPEC`/`UNIX`): the real peer stays.
    Local,
    /// A relayed TCP connection.
    Proxied { source: SocketAddr, destination: SocketAddr },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProxyError {
    #[error("no PROXY protocol header")]
    Missing,
    #[error("malformed PROXY v1 header: {0}")]
    V1(&'static str),
    #[error("malformed PROXY v2 header: {0}")]
    V2(&'static str),
    #[error("PROXY v2 header of {0} bytes is over the {V2_MAX_PAYLOAD}-byte limit")]
    TooLarge(usize),
    #[error("timed out waiting for the PROXY header")]
    Timeout,
    #[error("reading the PROXY header: {0}")]
    Io(String),
}

impl ProxyError {
    /// The metric reason for a refused connection.
    pub fn reason(&self) -> &'static str {
        match self {
            ProxyError::Missing => "proxy_protocol_missing",
            ProxyError::Timeout => "proxy_protocol_timeout",
            ProxyError::Io(_) => "proxy_protocol_io",
            _ => "proxy_protocol_invalid",
        }
    }
}

fn prefix_of(buf: &[u8], sig: &[u8]) -> bool {
    let n = buf.len().min(sig.len());
    buf[..n] == sig[..n]
}

/// Parses a header at the start of `buf`: `Ok(Some((header, length)))` when complete, `Ok(None)` when more
/// bytes are needed, an error when `buf` cannot start a valid header.
pub fn parse(buf: &[u8]) -> Result<Option<(ProxyHeader, usize)>, ProxyError> {
    if buf.is_empty() {
        return Ok(None);
    }
    if prefix_of(buf, b"PROXY ") {
        if buf.len() < 6 {
            return Ok(None);
        }
        let window = &buf[..buf.len().min(V1_MAX)];
        return match window.windows(2).position(|w| w == b"\r\n") {
            Some(end) => parse_v1(&buf[6..end]).map(|h| Some((h, end + 2))),
            None if buf.len() >= V1_MAX => Err(ProxyError::V1("no CRLF within 107 bytes")),
            // A lone LF (or CR followed by something else) is never valid.
            None if window.contains(&b'\n') => Err(ProxyError::V1("line not ended by CRLF")),
            None => Ok(None),
        };
    }
    if prefix_of(buf, &V2_SIGNATURE) {
        if buf.len() < 16 {
            return Ok(None);
        }
        let len = usize::from(u16::from_be_bytes([buf[14], buf[15]]));
        if len > V2_MAX_PAYLOAD {
            return Err(ProxyError::TooLarge(len));
        }
        if buf.len() < 16 + len {
            // Version and command are checked early so garbage is refused before waiting for more bytes.
            check_v2_head(buf[12])?;
            return Ok(None);
        }
        return parse_v2(buf[12], buf[13], &buf[16..16 + len]).map(|h| Some((h, 16 + len)));
    }
    Err(ProxyError::Missing)
}

fn parse_v1(line: &[u8]) -> Result<ProxyHeader, ProxyError> {
    let line = std::str::from_utf8(line).map_err(|_| ProxyError::V1("not ASCII"))?;
    let mut f = line.split(' ');
    let proto = f.next().unwrap_or("");
    if proto == "UNKNOWN" {
        // The receiver must ignore anything after UNKNOWN.
        return Ok(ProxyHeader::Local);
    }
    let fields: Vec<&str> = f.collect();
    let [src, dst, sport, dport] = fields[..] else {
        return Err(ProxyError::V1("expected 4 fields after the protocol"));
    };
    let (src, dst): (IpAddr, IpAddr) = match proto {
        "TCP4" => (
            src.parse::<Ipv4Addr>().map_err(|_| ProxyError::V1("bad IPv4 source"))?.into(),
            dst.parse::<Ipv4Addr>().map_err(|_| ProxyError::V1("bad IPv4 destination"))?.into(),
        ),
        "TCP6" => (
            src.parse::<Ipv6Addr>().map_err(|_| ProxyError::V1("bad IPv6 source"))?.into(),
            dst.parse::<Ipv6Addr>().map_err(|_| ProxyError::V1("bad IPv6 destination"))?.into(),
        ),
        _ => return Err(ProxyError::V1("protocol is not TCP4, TCP6 or UNKNOWN")),
    };
    let port = |p: &str| -> Result<u16, ProxyError> {
        if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ProxyError::V1("bad port"));
        }
        p.parse().map_err(|_| ProxyError::V1("bad port"))
    };
    Ok(ProxyHeader::Proxied {
        source: SocketAddr::new(src, port(sport)?),
        destination: SocketAddr::new(dst, port(dport)?),
    })
}

fn check_v2_head(ver_cmd: u8) -> Result<u8, ProxyError> {
    if ver_cmd >> 4 != 2 {
        return Err(ProxyError::V2("version is not 2"));
    }
    match ver_cmd & 0x0F {
        cmd @ (0 | 1) => Ok(cmd),
        _ => Err(ProxyError::V2("unknown command")),
    }
}

fn parse_v2(ver_cmd: u8, fam: u8, payload: &[u8]) -> Result<ProxyHeader, ProxyError> {
    if check_v2_head(ver_cmd)? == 0 {
        // LOCAL: the address block (if any) is ignored.
        return Ok(ProxyHeader::Local);
    }
    let transport = fam & 0x0F;
    if transport > 1 {
        return Err(ProxyError::V2("not a stream (TCP) connection"));
    }
    let port = |b: &[u8]| u16::from_be_bytes([b[0], b[1]]);
    match fam >> 4 {
        0 | 3 => Ok(ProxyHeader::Local),
        1 => {
            if payload.len() < 12 {
                return Err(ProxyError::V2("IPv4 address block too short"));
            }
            let src = Ipv4Addr::new(payload[0], payload[1], payload[2], payload[3]);
            let dst = Ipv4Addr::new(payload[4], payload[5], payload[6], payload[7]);
            Ok(ProxyHeader::Proxied {
                source: SocketAddr::new(src.into(), port(&payload[8..10])),
                destination: SocketAddr::new(dst.into(), port(&payload[10..12])),
            })
        }
        2 => {
            if payload.len() < 36 {
                return Err(ProxyError::V2("IPv6 address block too short"));
            }
            let ip = |b: &[u8]| {
                let mut a = [0u8; 16];
                a.copy_from_slice(&b[..16]);
                Ipv6Addr::from(a)
            };
            Ok(ProxyHeader::Proxied {
                source: SocketAddr::new(ip(&payload[0..16]).into(), port(&payload[32..34])),
                destination: SocketAddr::new(ip(&payload[16..32]).into(), port(&payload[34..36])),
            })
        }
        _ => Err(ProxyError::V2("unknown address family")),
    }
}

/// Reads exactly one header from `io` within `timeout`, consuming nothing after it.
pub async fn read_header<S: AsyncRead + Unpin>(io: &mut S, timeout: Duration) -> Result<ProxyHeader, ProxyError> {
    tokio::time::timeout(timeout, async {
        let mut buf = vec![0u8; MIN_HEADER];
        read(io, &mut buf).await?;
        loop {
            if let Some((h, _)) = parse(&buf)? {
                return Ok(h);
            }
            let more = if buf.starts_with(&V2_SIGNATURE) && buf.len() >= 16 {
                16 + usize::from(u16::from_be_bytes([buf[14], buf[15]])) - buf.len()
            } else if buf.len() < 16 && buf[0] == b'\r' {
                16 - buf.len()
            } else {
                1
            };
            let start = buf.len();
            buf.resize(start + more, 0);
            read(io, &mut buf[start..]).await?;
        }
    })
    .await
    .map_err(|_| ProxyError::Timeout)?
}

async fn read<S: AsyncRead + Unpin>(io: &mut S, buf: &mut [u8]) -> Result<(), ProxyError> {
    io.read_exact(buf).await.map(|_| ()).map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => ProxyError::Io("connection closed before the header ended".into()),
        _ => ProxyError::Io(e.to_string()),
    })
}

/// On a `proxy_protocol` listener: the client's address from the header (the peer itself for `LOCAL`), or
/// the metric reason the connection must be closed for.
pub(crate) async fn accept(
    tcp: &mut tokio::net::TcpStream,
    peer: SocketAddr,
    proxies: &[ipnet::IpNet],
    timeout: Duration,
) -> Result<SocketAddr, &'static str> {
    if !crate::forward::trusted(peer.ip(), proxies) {
        tracing::debug!(%peer, "PROXY protocol listener: peer is not a trusted proxy; closed");
        return Err("proxy_protocol_untrusted");
    }
    match read_header(tcp, timeout).await {
        Ok(ProxyHeader::Proxied { source, .. }) => Ok(source),
        Ok(ProxyHeader::Local) => Ok(peer),
        Err(e) => {
            tracing::debug!(%peer, error = %e, "PROXY protocol header rejected; closed");
            Err(e.reason())
        }
    }
}

/// Builds a v1 header line (for tests and tools).
pub fn v1_header(source: SocketAddr, destination: SocketAddr) -> String {
    let proto = if source.is_ipv4() { "TCP4" } else { "TCP6" };
    format!("PROXY {proto} {} {} {} {}\r\n", source.ip(), destination.ip(), source.port(), destination.port())
}

/// Builds a v2 `PROXY` header with optional TLV bytes (for tests and tools).
pub fn v2_header(source: SocketAddr, destination: SocketAddr, tlvs: &[u8]) -> Vec<u8> {
    let mut out = V2_SIGNATURE.to_vec();
    out.push(0x21);
    let mut block = Vec::new();
    match (source.ip(), destination.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            out.push(0x11);
            block.extend_from_slice(&s.octets());
            block.extend_from_slice(&d.octets());
        }
        (s, d) => {
            out.push(0x21);
            let v6 = |ip: IpAddr| match ip {
                IpAddr::V4(a) => a.to_ipv6_mapped(),
                IpAddr::V6(a) => a,
            };
            block.extend_from_slice(&v6(s).octets());
            block.extend_from_slice(&v6(d).octets());
        }
    }
    block.extend_from_slice(&source.port().to_be_bytes());
    block.extend_from_slice(&destination.port().to_be_bytes());
    block.extend_from_slice(tlvs);
    out.extend_from_slice(&(block.len() as u16).to_be_bytes());
    out.extend_from_slice(&block);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn v1_tcp4_tcp6_unknown() {
        let h = b"PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nGET / HTTP/1.1\r\n";
        let (p, n) = parse(h).unwrap().unwrap();
        assert_eq!(p, ProxyHeader::Proxied { source: sa("192.0.2.1:56324"), destination: sa("198.51.100.2:443") });
        assert_eq!(&h[n..n + 3], b"GET");
        let (p, _) = parse(b"PROXY TCP6 2001:db8::1 2001:db8::2 1 65535\r\n").unwrap().unwrap();
        assert_eq!(p, ProxyHeader::Proxied { source: sa("[2001:db8::1]:1"), destination: sa("[2001:db8::2]:65535") });
        assert_eq!(parse(b"PROXY UNKNOWN ffff::1 x y z\r\n").unwrap().unwrap().0, ProxyHeader::Local);
        assert_eq!(parse(b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2").unwrap(), None);
    }

    #[test]
    fn v1_malformed() {
        for bad in [
            &b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n"[..],
            b"PROXY TCP4 2001:db8::1 5.6.7.8 1 2\r\n",
            b"PROXY TCP6 1.2.3.4 ::1 1 2\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n",
            b"PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n",
            b"PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",
        ] {
            assert!(parse(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        let long = [b"PROXY ".to_vec(), vec![b'1'; 200]].concat();
        assert_eq!(parse(&long), Err(ProxyError::V1("no CRLF within 107 bytes")));
        assert_eq!(parse(b"GET / HTTP/1.1\r\n"), Err(ProxyError::Missing));
        assert_eq!(parse(b"\x16\x03\x01"), Err(ProxyError::Missing));
    }

    #[test]
    fn v2_inet_inet6_local_and_tlvs() {
        let h = v2_header(sa("192.0.2.1:1000"), sa("198.51.100.2:443"), &[0x04, 0x00, 0x01, 0xAA]);
        let mut with_tail = h.clone();
        with_tail.extend_from_slice(b"\x16\x03\x01");
        let (p, n) = parse(&with_tail).unwrap().unwrap();
        assert_eq!(n, h.len());
        assert_eq!(p, ProxyHeader::Proxied { source: sa("192.0.2.1:1000"), destination: sa("198.51.100.2:443") });
        let h6 = v2_header(sa("[2001:db8::5]:7"), sa("[2001:db8::6]:8"), &[]);
        assert!(matches!(parse(&h6).unwrap().unwrap().0, ProxyHeader::Proxied { source, .. }
                if source == sa("[2001:db8::5]:7")));
        // LOCAL with no address block.
        let local = [V2_SIGNATURE.to_vec(), vec![0x20, 0x00, 0, 0]].concat();
        assert_eq!(parse(&local).unwrap().unwrap(), (ProxyHeader::Local, 16));
        // Incomplete, then errors.
        assert_eq!(parse(&h[..20]).unwrap(), None);
        let mut bad = h.clone();
        bad[12] = 0x11;
        assert!(parse(&bad).is_err());
        let mut dgram = h.clone();
        dgram[13] = 0x12;
        assert!(parse(&dgram).is_err());
        let mut short = h.clone();
        short[15] = 4;
        assert!(parse(&short[..20]).is_err());
        let huge = [V2_SIGNATURE.to_vec(), vec![0x21, 0x11, 0xFF, 0xFF]].concat();
        assert_eq!(parse(&huge), Err(ProxyError::TooLarge(65535)));
    }

    #[tokio::test]
    async fn reader_consumes_exactly_the_header() {
        for header in [
            v1_header(sa("192.0.2.9:4000"), sa("127.0.0.1:80")).into_bytes(),
            v2_header(sa("192.0.2.9:4000"), sa("127.0.0.1:80"), &[1, 0, 2, 9, 9]),
        ] {
            let mut data = header.clone();
            data.extend_from_slice(b"GET / HTTP/1.1\r\n\r\n");
            let mut r = &data[..];
            let h = read_header(&mut r, Duration::from_secs(1)).await.unwrap();
            assert!(matches!(h, ProxyHeader::Proxied { source, .. } if source == sa("192.0.2.9:4000")));
            assert_eq!(r, b"GET / HTTP/1.1\r\n\r\n");
        }
        let mut r = &b"PROXY TCP4 1.2"[..];
        assert!(matches!(read_header(&mut r, Duration::from_secs(1)).await, Err(ProxyError::Io(_))));
        let (_keep_open, mut server) = tokio::io::duplex(64);
        assert_eq!(read_header(&mut server, Duration::from_millis(50)).await, Err(ProxyError::Timeout));
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse(&data);
        }

        #[test]
        fn never_panics_after_a_signature(tail in proptest::collection::vec(any::<u8>(), 0..120), v1 in any::<bool>()) {
            let head: &[u8] = if v1 { b"PROXY " } else { &V2_SIGNATURE };
            let data = [head, &tail[..]].concat();
            let _ = parse(&data);
        }

        #[test]
        fn round_trips(
            a in any::<u32>(), b in any::<[u8; 16]>(), sp in any::<u16>(), dp in any::<u16>(), v4 in any::<bool>()
        ) {
            let (s, d) = if v4 {
                (SocketAddr::new(Ipv4Addr::from(a).into(), sp), SocketAddr::new(Ipv4Addr::from(!a).into(), dp))
            } else {
                (SocketAddr::new(Ipv6Addr::from(b).into(), sp), SocketAddr::new(Ipv6Addr::from(a as u128).into(), dp))
            };
            let want = ProxyHeader::Proxied { source: s, destination: d };
            prop_assert_eq!(parse(v1_header(s, d).as_bytes()).unwrap().unwrap().0, want);
            prop_assert_eq!(parse(&v2_header(s, d, &[])).unwrap().unwrap().0, want);
        }
    }
}
