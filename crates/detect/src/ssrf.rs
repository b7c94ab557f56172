//! Server-side request forgery: URLs in a value (anywhere in it) and bare hosts (the whole value) are
//! parsed the way a URL library or `inet_aton` would: userinfo dropped (`http://good@127.0.0.1`), host
//! percent-decoded, IPv4 in every form `inet_aton` accepts (`2130706433`, `0177.0.0.1`, `0x7f.1`,
//! `127.1`), IPv6 with mapped/NAT64 IPv4 inside, then judged: loopback, unspecified, link-local and cloud
//! metadata, private and shared ranges, internal names (`localhost`, `*.localhost`,
//! `metadata.google.internal`, wildcard-DNS names embedding a private IP), and schemes that reach other
//! protocols (`gopher`, `dict`, `file`, `tftp`, `jar`...); `ldap://` is judged by its host like
//! `http://` (directory URLs to public servers are ordinary configuration).
//!
//! Bare values are stricter than URLs: a bare private address (`10.0.0.5`) is ordinary data in many APIs,
//! so without a scheme only loopback, unspecified, metadata and internal names count.
//!
//! Owns: the URL/host view of a value. Must not touch: local paths (`traversal`).

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::{decode, Class, Finding};

/// Schemes that make the server speak another protocol (or read files) for the attacker.
const DANGEROUS_SCHEMES: &[&str] =
    &["gopher", "dict", "file", "tftp", "jar", "netdoc", "sftp", "ssh2", "expect", "phar", "smb"];

/// Hosts that resolve to the machine itself or to cloud metadata services.
const INTERNAL_NAMES: &[&str] = &[
    "localhost",
    "localhost.localdomain",
    "ip6-localhost",
    "ip6-loopback",
    "metadata.google.internal",
    "metadata.goog",
    "metadata",
    "instance-data",
    "instance-data.ec2.internal",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
    "localtest.me",
    "lvh.me",
    "vcap.me",
    "lacolhost.com",
];

/// Wildcard DNS services: `127.0.0.1.nip.io` resolves to 127.0.0.1.
const WILDCARD_DNS: &[&str] = &[".nip.io", ".sslip.io", ".xip.io", ".traefik.me", ".localtest.me", ".lvh.me"];

/// Analyses `input` for URLs or hosts that reach internal services.
///
/// ```
/// use portcullis_detect::ssrf::detect;
/// assert!(detect(b"http://0x7f.1:8080/admin").is_some());
/// assert!(detect(b"https://api.example.com/v1/items").is_none());
/// ```
pub fn detect(input: &[u8]) -> Option<Finding> {
    crate::decode::or_base64(input, detect_plain)
}

/// [`detect`] without the base64 layer.
fn detect_plain(input: &[u8]) -> Option<Finding> {
    decode::or_deep(input, analyse)
}

/// [`detect`] on a value that is its own only form (see the crate docs, "Own-form entry points").
#[doc(hidden)]
pub fn detect_own_form(input: &[u8]) -> Option<Finding> {
    analyse(input)
}

fn analyse(b: &[u8]) -> Option<Finding> {
    analyse_with(b, true)
}

/// [`analyse`], with its two shortcuts (`shortcuts`: the `:` test ahead of the URL loop, no judgement of an
/// empty bare host) or without them: the tests compare the two.
#[inline(always)]
fn analyse_with(b: &[u8], shortcuts: bool) -> Option<Finding> {
    // Both URL needles start with `:`: a value without one holds no URL, found by one `memchr` instead of the
    // two needle scans (paths, User-Agents and most parameters have no colon).
    let mut from = if !shortcuts || memchr::memchr(b':', b).is_some() { 0 } else { b.len() };
    while let Some(k) = find(&b[from..], b"://").or_else(|| find(&b[from..], b":\\\\")) {
        let colon = from + k;
        let scheme_start = b[..colon]
            .iter()
            .rposition(|&c| !(c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.')))
            .map_or(0, |p| p + 1);
        // Compared in place: every URL in every value comes through here, most of them `http(s)`.
        let scheme = &b[scheme_start..colon];
        let auth_start = colon + 3;
        from = auth_start;
        if scheme.is_empty() || !scheme[0].is_ascii_alphabetic() {
            continue;
        }
        // `jar:http://host/a.jar!/`: Java fetches and opens the archive.
        if scheme_start >= 4 && b[scheme_start - 4..scheme_start].eq_ignore_ascii_case(b"jar:") {
            return Some(finding("jar: URL makes the server fetch an archive", scheme_start - 4..auth_start, "jar"));
        }
        if DANGEROUS_SCHEMES.iter().any(|d| d.as_bytes().eq_ignore_ascii_case(scheme)) {
            let scheme_s = String::from_utf8_lossy(scheme).to_ascii_lowercase();
            return Some(finding(
                &format!("URL with scheme {scheme_s}:// reaches a non-HTTP service"),
                scheme_start..auth_start,
                &scheme_s,
            ));
        }
        let auth_end = b[auth_start..]
            .iter()
            .position(|&c| {
                matches!(c, b'/' | b'\\' | b'?' | b'#' | b'"' | b'\'' | b'<' | b'>' | b'`' | b')')
                    || c.is_ascii_whitespace()
            })
            .map_or(b.len(), |p| auth_start + p);
        if let Some(why) = judge_authority(&b[auth_start..auth_end], true, false) {
            return Some(finding(&format!("URL to {why}"), scheme_start..auth_end, &why_sig(&why)));
        }
    }
    // Protocol-relative `//host/...` or a bare host as the whole value.
    let t = b.trim_ascii();
    let t = t.strip_prefix(b"//").unwrap_or(t);
    if !t.is_empty() && !t.iter().any(|c| c.is_ascii_whitespace()) && !t.contains(&b'@') || t.starts_with(b"[") {
        let end = t.iter().position(|&c| matches!(c, b'/' | b'\\' | b'?' | b'#')).unwrap_or(t.len());
        // A bare name (`localhost`) is a word until a port or path makes it an address. An empty host (a value
        // starting with its path, `/api/items`) is judged nothing: not asked.
        if shortcuts && end == 0 {
            return None;
        }
        if let Some(why) = judge_authority(&t[..end], false, end == t.len()) {
            return Some(finding(&format!("host {why}"), 0..b.len(), &why_sig(&why)));
        }
    }
    None
}

/// Can [`detect`] report `v`, a value without URL syntax (`:` `/` `@` `[` `?` `#`) and without an escape the
/// decoders undo? Then no scheme is found and the value is read as a bare host with no port or path, and of
/// those only a dotted-quad address (four runs of digits, an optional final `.`) is judged: a bare name or
/// number is a word until a port or a path makes it an address (`judge_authority`'s `bare_word`). The
/// prefilter's question for such values (`crate::prefilter`).
pub(crate) fn may_be_bare_ipv4(v: &[u8]) -> bool {
    let t = v.trim_ascii();
    let t = t.strip_suffix(b".").unwrap_or(t);
    let mut parts = 0;
    for part in t.split(|&c| c == b'.') {
        parts += 1;
        if parts > 4 || part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
            return false;
        }
    }
    parts == 4
}

fn finding(reason: &str, span: std::ops::Range<usize>, sig: &str) -> Finding {
    Finding { class: Class::Ssrf, reason: reason.to_string(), span, signature: sig.to_string() }
}

fn why_sig(why: &str) -> String {
    why.split_whitespace().next().unwrap_or("").to_string()
}

/// Judges `userinfo@host:port`. `with_scheme`: the authority came from a URL (stricter).
fn judge_authority(auth: &[u8], with_scheme: bool, bare_word: bool) -> Option<String> {
    // The host is after the last `@` (what curl and browsers connect to).
    let hostport = auth.iter().rposition(|&c| c == b'@').map_or(auth, |p| &auth[p + 1..]);
    let hostport = decode::url_decode(hostport);
    let hostport = fold_lookalikes(&hostport);
    let (host, port) = split_port(&hostport);
    if host.is_empty() {
        return None;
    }
    if !with_scheme && port.is_some_and(|p| p.is_empty() || !p.iter().all(u8::is_ascii_digit)) {
        // `key:value` in a bare value is not a host.
        return None;
    }
    let host: std::borrow::Cow<'_, [u8]> =
        if host.iter().any(u8::is_ascii_uppercase) { host.to_ascii_lowercase().into() } else { host.into() };
    let host = host.strip_suffix(b".").unwrap_or(&host);
    if host.first() == Some(&b'[') {
        let inner = host.strip_prefix(b"[")?.strip_suffix(b"]")?;
        let inner = inner.split(|&c| c == b'%').next().unwrap_or(inner);
        let ip: Ipv6Addr = std::str::from_utf8(inner).ok()?.parse().ok()?;
        return judge_v6(ip, with_scheme);
    }
    if !host.iter().all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_')) {
        return None;
    }
    if let Some(ip) = parse_ipv4(host, with_scheme) {
        return judge_v4(ip, with_scheme);
    }
    let name = std::str::from_utf8(host).ok()?;
    if bare_word && port.is_none() {
        return None;
    }
    if INTERNAL_NAMES.contains(&name) || name.ends_with(".localhost") {
        return Some(format!("internal host name {name}"));
    }
    if let Some(sfx) = WILDCARD_DNS.iter().find(|s| name.ends_with(*s)) {
        let embedded = &name[..name.len() - sfx.len()];
        // `127.0.0.1.nip.io`, `app.10.0.0.1.nip.io`, `7f000001.nip.io`.
        let tail: Vec<&str> = embedded.rsplit('.').take(4).collect();
        let dotted = tail.iter().rev().copied().collect::<Vec<_>>().join(".");
        let ip = dotted.parse::<Ipv4Addr>().ok().or_else(|| {
            (embedded.len() == 8).then(|| u32::from_str_radix(embedded, 16).ok()).flatten().map(Ipv4Addr::from)
        });
        if let Some(ip) = ip {
            if judge_v4(ip, true).is_some() {
                return Some(format!("wildcard DNS name {name} for {ip}"));
            }
        }
        if sfx == &".localtest.me" || sfx == &".lvh.me" {
            return Some(format!("internal host name {name}"));
        }
    }
    None
}

/// Unicode look-alikes that URL libraries normalise (IDNA/NFKC) to ASCII: circled and full-width digits
/// and letters, ideographic and full-width full stops (`①②⑦.⓪.⓪.①`, `ｌｏｃａｌｈｏｓｔ`).
fn fold_lookalikes(b: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if b.is_ascii() {
        return std::borrow::Cow::Borrowed(b);
    }
    let s = String::from_utf8_lossy(b);
    let mut out = Vec::with_capacity(b.len());
    for c in s.chars() {
        let u = c as u32;
        let mapped = match u {
            0x2460..=0x2468 => Some(b'1' + (u - 0x2460) as u8),
            0x24EA | 0x24FF => Some(b'0'),
            0x24D0..=0x24E9 => Some(b'a' + (u - 0x24D0) as u8),
            0x24B6..=0x24CF => Some(b'a' + (u - 0x24B6) as u8),
            0xFF10..=0xFF19 => Some(b'0' + (u - 0xFF10) as u8),
            0xFF21..=0xFF3A => Some(b'a' + (u - 0xFF21) as u8),
            0xFF41..=0xFF5A => Some(b'a' + (u - 0xFF41) as u8),
            0x3002 | 0xFF0E | 0xFF61 => Some(b'.'),
            _ => None,
        };
        match mapped {
            Some(m) => out.push(m),
            None => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    std::borrow::Cow::Owned(out)
}

fn split_port(hp: &[u8]) -> (&[u8], Option<&[u8]>) {
    if hp.first() == Some(&b'[') {
        if let Some(close) = hp.iter().position(|&c| c == b']') {
            let rest = &hp[close + 1..];
            return (&hp[..=close], rest.strip_prefix(b":"));
        }
        return (hp, None);
    }
    match hp.iter().rposition(|&c| c == b':') {
        Some(p) => (&hp[..p], Some(&hp[p + 1..])),
        None => (hp, None),
    }
}

/// IPv4 as `inet_aton` reads it: 1–4 parts, each decimal, octal (`0` prefix) or hex (`0x`), the last part
/// filling the remaining bytes. Bare values (no scheme) accept only the dotted four-part form, since `10`
/// or `2130706433` alone are ordinary numbers.
fn parse_ipv4(host: &[u8], with_scheme: bool) -> Option<Ipv4Addr> {
    let parts: Vec<&[u8]> = host.split(|&c| c == b'.').collect();
    if parts.is_empty() || parts.len() > 4 || parts.iter().any(|p| p.is_empty()) {
        return None;
    }
    if !with_scheme && (parts.len() != 4 || !parts.iter().all(|p| p.iter().all(u8::is_ascii_digit))) {
        return None;
    }
    let mut vals = Vec::with_capacity(4);
    for p in &parts {
        let (digits, radix) = if p.len() > 2 && (p.starts_with(b"0x") || p.starts_with(b"0X")) {
            (&p[2..], 16)
        } else if p == b"0x" {
            (&b"0"[..], 16)
        } else if p.len() > 1 && p[0] == b'0' {
            (&p[1..], 8)
        } else {
            (&p[..], 10)
        };
        let s = std::str::from_utf8(digits).ok()?;
        if s.len() > 11 {
            return None;
        }
        vals.push(u64::from_str_radix(s, radix).ok()?);
    }
    let n = vals.len();
    let (head, last) = vals.split_at(n - 1);
    if head.iter().any(|&v| v > 255) || last[0] >= 1u64 << (8 * (5 - n)) {
        return None;
    }
    let mut v: u64 = last[0];
    for (k, &h) in head.iter().enumerate() {
        v |= h << (8 * (3 - k));
    }
    Some(Ipv4Addr::from(v as u32))
}

fn judge_v4(ip: Ipv4Addr, with_scheme: bool) -> Option<String> {
    let o = ip.octets();
    let why = if ip.is_loopback() {
        "loopback"
    } else if ip.is_unspecified() || o[0] == 0 {
        "unspecified address"
    } else if ip == Ipv4Addr::new(169, 254, 169, 254)
        || ip == Ipv4Addr::new(100, 100, 100, 200)
        || ip == Ipv4Addr::new(169, 254, 170, 2)
    {
        "cloud metadata"
    } else if ip.is_link_local() {
        "link-local"
    } else if !with_scheme {
        return None;
    } else if ip.is_private() {
        "private range"
    } else if o[0] == 100 && (64..128).contains(&o[1]) {
        "shared (CGNAT) range"
    } else if o[0] == 192 && o[1] == 0 && o[2] == 0 {
        "IETF protocol range"
    } else if o[0] == 198 && (o[1] == 18 || o[1] == 19) {
        "benchmark range"
    } else {
        return None;
    };
    Some(format!("{why} address {ip}"))
}

fn judge_v6(ip: Ipv6Addr, with_scheme: bool) -> Option<String> {
    let s = ip.segments();
    if let Some(v4) = ip.to_ipv4_mapped() {
        return judge_v4(v4, true).map(|w| format!("{w} (IPv4-mapped {ip})"));
    }
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        let v4 = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
        return judge_v4(v4, true).map(|w| format!("{w} (NAT64 {ip})"));
    }
    // Deprecated IPv4-compatible `::a.b.c.d`.
    if s[..6] == [0, 0, 0, 0, 0, 0] && !ip.is_loopback() && !ip.is_unspecified() {
        let v4 = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
        return judge_v4(v4, true).map(|w| format!("{w} (IPv4-compatible {ip})"));
    }
    let why = if ip.is_loopback() {
        "loopback"
    } else if ip.is_unspecified() {
        "unspecified address"
    } else if ip == "fd00:ec2::254".parse::<Ipv6Addr>().ok()? {
        "cloud metadata"
    } else if s[0] & 0xffc0 == 0xfe80 {
        "link-local"
    } else if s[0] & 0xfe00 == 0xfc00 && with_scheme {
        "unique-local range"
    } else {
        return None;
    };
    Some(format!("{why} address {ip}"))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    crate::traversal::find(hay, needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shortcuts change nothing: `analyse` against `analyse_with(_, false)` (the URL loop over every value,
    /// every bare host judged, even an empty one) on every string of up to three atoms
    /// (URL syntax, schemes, hosts, separators) and 100,000 random strings of up to seven: the same finding
    /// (reason, span, signature) or none. Mutant: the URL loop gated on `@` instead of `:` fails it
    /// (`http://127.0.0.1`).
    #[test]
    fn the_shortcuts_are_the_analysis() {
        let atoms: [&[u8]; 22] = [
            b":",
            b"//",
            b"/",
            b"\\\\",
            b"@",
            b"?",
            b"#",
            b" ",
            b"[",
            b"]",
            b"http",
            b"gopher",
            b"jar:",
            b"127.0.0.1",
            b"localhost",
            b"::1",
            b"10.0.0.5",
            b":8080",
            b"a.b",
            b".",
            b"-",
            b"x",
        ];
        let mut hits = 0;
        let mut check = |v: &[u8]| {
            let (a, b) = (analyse(v), analyse_with(v, false));
            hits += usize::from(a.is_some());
            assert_eq!(
                a.map(|f| (f.reason, f.span, f.signature)),
                b.map(|f| (f.reason, f.span, f.signature)),
                "{:?}",
                String::from_utf8_lossy(v)
            );
        };
        for x in &atoms {
            for y in &atoms {
                for z in &atoms {
                    check(&[*x, *y, *z].concat());
                }
            }
        }
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..100_000 {
            let mut v = Vec::new();
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            for k in 0..(state % 8) {
                v.extend_from_slice(atoms[((state >> (8 * k)) % atoms.len() as u64) as usize]);
            }
            check(&v);
        }
        assert!(hits > 1000, "the strings reach findings ({hits})");
    }

    #[test]
    fn internal_targets() {
        for a in [
            "http://127.0.0.1/admin",
            "http://localhost:8080",
            "http://169.254.169.254/latest/meta-data/",
            "http://[fd00:ec2::254]/latest/",
            "http://metadata.google.internal/computeMetadata/v1/",
            "http://100.100.100.200/latest/meta-data",
            "http://10.0.0.5:9200/_cat",
            "http://0.0.0.0:6379",
            "http://app.localhost/",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://2130706433/",
            "http://0177.0.0.1/",
            "http://0x7f.1/",
            "http://127.1/",
            "http://good.com@127.0.0.1/",
            "gopher://evil.com:70/_x",
            "dict://evil.com:11211/stat",
            "file:///etc/passwd",
            "http://%31%32%37.0.0.1/",
            "http://127.0.0.1.nip.io/",
            "127.0.0.1",
            "169.254.169.254/latest/meta-data",
            "localhost:3306",
            "url=http://127.0.0.1:22",
            "http://\u{2460}\u{2461}\u{2466}.\u{24EA}.\u{24EA}.\u{2460}/",
            "http://\u{24DB}\u{24DE}\u{24D2}\u{24D0}\u{24DB}\u{24D7}\u{24DE}\u{24E2}\u{24E3}/",
        ] {
            assert!(detect(a.as_bytes()).is_some(), "{a}");
        }
    }

    #[test]
    fn public_and_data() {
        for b in [
            "https://api.example.com/v1/items",
            "http://8.8.8.8/",
            "10.0.0.5",
            "version 1.2.3.4",
            "2130706433",
            "http://127.0.0.1.example.com/",
            "http://evil.com#@127.0.0.1",
            "time 12:30",
            "see http://example.org/localhost/x",
            "mailto:someone@example.com",
        ] {
            assert!(detect(b.as_bytes()).is_none(), "{b}: {:?}", detect(b.as_bytes()));
        }
    }
}
