//! The state-store key of one limit for one request: `name|ip=1.2.3.4`, `name|id=subject`, `name|h=value`,
//! `name|r=route`, `name|*`, parts joined by `|` in the order the config names them.
//!
//! The text is the Redis key (inside the hash tag) that every gateway of a fleet must compute alike, so its
//! format is fixed; it is built without `write!` because it runs on every limited request and formatting an
//! address through `Display` cost more than the whole in-memory check.

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
mod tests {
    use super::*;

    #[test]
    fn addresses_read_as_display_writes_them() {
        for s in ["0.0.0.0", "1.2.3.4", "255.255.255.255", "10.0.100.9", "::1", "2001:db8::7", "::ffff:1.2.3.4"] {
            let ip: IpAddr = s.parse().unwrap();
            let mut out = String::new();
            push_ip(&mut out, ip);
            assert_eq!(out, ip.to_string());
        }
    }
}
