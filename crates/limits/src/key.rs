//! The state-store key of one limit for one request: `name|ip=1.2.3.4`, `name|id=subject`, `name|h=value`,
//! `name|r=route`, `name|*`, parts joined by `|` in the order the config names them.
//!
//! The text is the Redis key (inside the hash tag) that every gateway of a fleet must compute alike, so its
//! format is fixed; it is built without `write!` because it runs on every limited request and formatting an
//! address through `Display` cost more than the whole in-memory check.

use std::hash::Hasher;
use std::net::IpAddr;

use http::request;
use portcullis_config::KeyPart;
use portcullis_pipeline::RequestCtx;

use crate::fields::push_u64;

/// A header value can hold this many bytes of a header used as a key part; longer values are cut (they still
/// identify a client: nobody needs 256 bytes of tenant id).
const MAX_KEY_HEADER: usize = 256;

/// The key of limit `name` with `parts` for this request.
pub fn limit_key(name: &str, parts: &[KeyPart], ctx: &RequestCtx, req: &request::Parts) -> String {
    let mut k = String::with_capacity(64);
    k.push_str(name);
    for p in parts {
        k.push('|');
        match p {
            KeyPart::Ip => {
                k.push_str("ip=");
                push_ip(&mut k, ctx.client_ip);
            }
            KeyPart::Identity => match &ctx.identity {
                Some(id) => {
                    k.push_str("id=");
                    k.push_str(&id.subject);
                }
                // Unauthenticated requests under an identity limit are counted per address.
                None => {
                    k.push_str("anon-ip=");
                    push_ip(&mut k, ctx.client_ip);
                }
            },
            KeyPart::Header(name) => {
                k.push_str("h=");
                match req.headers.get(name.as_str()) {
                    Some(v) => {
                        let b = v.as_bytes();
                        k.push_str(&String::from_utf8_lossy(&b[..b.len().min(MAX_KEY_HEADER)]));
                    }
                    None => k.push('-'),
                }
            }
            KeyPart::Route => {
                k.push_str("r=");
                k.push_str(ctx.route.as_deref().unwrap_or("-"));
            }
            KeyPart::Global => k.push('*'),
        }
    }
    k
}

/// Feeds the same key as [`limit_key`] to `h` part by part, without building its text: the in-memory store
/// needs only the key's hash. [`hash_name`] first (the guard keeps a hasher with its limit's name already fed),
/// then [`hash_parts`]. Each part starts with a tag byte and every variable-length part carries its length, so two
/// keys hash alike exactly when their texts are equal (up to the hash's own collisions); the tests check both
/// agree. Keep these functions and [`limit_key`] in step.
#[cfg(test)]
pub fn hash_key(h: &mut impl Hasher, name: &str, parts: &[KeyPart], ctx: &RequestCtx, req: &request::Parts) {
    hash_name(h, name);
    hash_parts(h, parts, ctx, req);
}

/// The limit's name, the constant start of every key of that limit.
pub fn hash_name(h: &mut impl Hasher, name: &str) {
    h.write_usize(name.len());
    h.write(name.as_bytes());
}

/// The request's parts of the key (see [`hash_key`]).
pub fn hash_parts(h: &mut impl Hasher, parts: &[KeyPart], ctx: &RequestCtx, req: &request::Parts) {
    for p in parts {
        match p {
            KeyPart::Ip => hash_ip(h, 1, ctx.client_ip),
            KeyPart::Identity => match &ctx.identity {
                Some(id) => {
                    h.write_u8(2);
                    h.write_usize(id.subject.len());
                    h.write(id.subject.as_bytes());
                }
                None => hash_ip(h, 3, ctx.client_ip),
            },
            KeyPart::Header(name) => match req.headers.get(name.as_str()) {
                Some(v) => {
                    let b = &v.as_bytes()[..v.len().min(MAX_KEY_HEADER)];
                    h.write_u8(4);
                    h.write_usize(b.len());
                    h.write(b);
                }
                None => h.write_u8(5),
            },
            KeyPart::Route => {
                let r = ctx.route.as_deref().unwrap_or("-");
                h.write_u8(6);
                h.write_usize(r.len());
                h.write(r.as_bytes());
            }
            KeyPart::Global => h.write_u8(7),
        }
    }
}

/// An address part: the tag, then the family (the two lengths differ, and a part's bytes must never read as
/// another's), then the address. IPv4, the usual case, goes in one write: each write into SipHash has its cost.
fn hash_ip(h: &mut impl Hasher, tag: u8, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => h.write_u64(u64::from(tag) | 4 << 8 | u64::from(u32::from(v4)) << 16),
        IpAddr::V6(v6) => {
            h.write_u16(u16::from(tag) | 6 << 8);
            h.write_u128(u128::from(v6));
        }
    }
}

/// Appends `ip` as `Display` writes it (dotted quad; IPv6 through `Display`, which is rarer and not hot).
fn push_ip(out: &mut String, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            for (i, o) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                push_u64(out, u64::from(o));
            }
        }
        IpAddr::V6(v6) => {
            use std::fmt::Write;
            let _ = write!(out, "{v6}");
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use portcullis_pipeline::ConnInfo;

    /// A request context from peer `ip` (`[…]` around IPv6), on no route yet.
    pub(crate) fn ctx_at(ip: &str) -> RequestCtx {
        let conn = ConnInfo {
            peer: format!("{ip}:1000").parse().unwrap(),
            local: "127.0.0.1:80".parse().unwrap(),
            tls: false,
            sni: None,
            listener: "http".into(),
            client_cert: None,
        };
        RequestCtx::new("r".into(), conn)
    }

    #[test]
    fn addresses_read_as_display_writes_them() {
        for s in ["0.0.0.0", "1.2.3.4", "255.255.255.255", "10.0.100.9", "::1", "2001:db8::7", "::ffff:1.2.3.4"] {
            let ip: IpAddr = s.parse().unwrap();
            let mut out = String::new();
            push_ip(&mut out, ip);
            assert_eq!(out, ip.to_string());
        }
    }

    fn hashed(name: &str, parts: &[KeyPart], ctx: &RequestCtx, req: &request::Parts) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        hash_key(&mut h, name, parts, ctx, req);
        h.finish()
    }

    /// Over every pair of a spread of requests and key shapes: the hashed keys are equal exactly when the texts
    /// are.
    #[test]
    fn hashed_keys_agree_with_the_text_keys() {
        use portcullis_pipeline::{AuthMethod, Identity};
        let mut requests = Vec::new();
        for ip in ["10.0.0.1", "10.0.0.2", "[::1]", "[::ffff:10.0.0.1]"] {
            for route in [None, Some("a"), Some("b")] {
                for subject in [None, Some("k1"), Some("10.0.0.1")] {
                    for tenant in [None, Some("t1"), Some("t2")] {
                        let mut c = ctx_at(ip);
                        c.route = route.map(Into::into);
                        c.identity = subject.map(|s| Identity {
                            subject: s.into(),
                            method: AuthMethod::ApiKey,
                            scopes: Vec::new(),
                        });
                        let mut b = http::Request::get("/");
                        if let Some(t) = tenant {
                            b = b.header("x-tenant", t);
                        }
                        requests.push((c, b.body(()).unwrap().into_parts().0));
                    }
                }
            }
        }
        let shapes: Vec<(&str, Vec<KeyPart>)> = vec![
            ("a", vec![KeyPart::Ip]),
            ("b", vec![KeyPart::Ip]),
            ("a", vec![KeyPart::Identity]),
            ("a", vec![KeyPart::Header("x-tenant".into())]),
            ("a", vec![KeyPart::Route]),
            ("a", vec![KeyPart::Global]),
            ("a", vec![KeyPart::Ip, KeyPart::Route]),
            ("a", vec![KeyPart::Identity, KeyPart::Header("x-tenant".into()), KeyPart::Route]),
        ];
        let mut keys = Vec::new();
        for (name, parts) in &shapes {
            for (c, r) in &requests {
                keys.push((limit_key(name, parts, c, r), hashed(name, parts, c, r)));
            }
        }
        for (i, (ta, ha)) in keys.iter().enumerate() {
            for (tb, hb) in &keys[i + 1..] {
                assert_eq!(ta == tb, ha == hb, "{ta} / {tb}");
            }
        }
    }
}
