//! Header policy: the first protection on the pipeline. Sets and removes request headers before they go
//! upstream, and response headers before they reach the client: strips `Server`/`X-Powered-By` (so a scanner
//! learns less about the stack), adds `X-Content-Type-Options: nosniff`, and `Strict-Transport-Security` on TLS
//! listeners.
//!
//! Owns: header rewriting. Must not touch: bodies, routing.

use http::header::STRICT_TRANSPORT_SECURITY;
use http::{request, response, HeaderName, HeaderValue};
use portcullis_config::HeadersSection;
use portcullis_pipeline::{Phases, Protection, RequestCtx, Verdict};

/// The header policy, built once from config.
#[derive(Debug, Clone)]
pub struct HeaderPolicy {
    request_set: Vec<(HeaderName, HeaderValue)>,
    request_remove: Vec<HeaderName>,
    response_set: Vec<(HeaderName, HeaderValue)>,
    response_remove: Vec<HeaderName>,
    hsts: Option<HeaderValue>,
}

/// A header name or value in the config that is not valid HTTP (config validation catches these first).
#[derive(Debug, thiserror::Error)]
#[error("headers.{key}: {value:?} is not valid")]
pub struct HeaderPolicyError {
    key: &'static str,
    value: String,
}

impl HeaderPolicy {
    pub fn build(cfg: &HeadersSection) -> Result<Self, HeaderPolicyError> {
        let name = |key: &'static str, n: &str| {
            HeaderName::from_bytes(n.as_bytes()).map_err(|_| HeaderPolicyError { key, value: n.to_string() })
        };
        let pair = |key: &'static str, n: &str, v: &str| {
            Ok::<_, HeaderPolicyError>((
                name(key, n)?,
                HeaderValue::from_str(v).map_err(|_| HeaderPolicyError { key, value: v.to_string() })?,
            ))
        };
        let hsts = if cfg.hsts_max_age.0.is_zero() {
            None
        } else {
            let mut v = format!("max-age={}", cfg.hsts_max_age.0.as_secs());
            if cfg.hsts_include_subdomains {
                v.push_str("; includeSubDomains");
            }
            Some(HeaderValue::from_str(&v).expect("digits and ascii are a valid header value"))
        };
        Ok(HeaderPolicy {
            request_set: cfg.request_set.iter().map(|(n, v)| pair("request_set", n, v)).collect::<Result<_, _>>()?,
            request_remove: cfg.request_remove.iter().map(|n| name("request_remove", n)).collect::<Result<_, _>>()?,
            response_set: cfg.response_set.iter().map(|(n, v)| pair("response_set", n, v)).collect::<Result<_, _>>()?,
            response_remove: cfg
                .response_remove
                .iter()
                .map(|n| name("response_remove", n))
                .collect::<Result<_, _>>()?,
            hsts,
        })
    }
}

impl Protection for HeaderPolicy {
    fn name(&self) -> &'static str {
        "headers"
    }

    fn phases(&self) -> Phases {
        Phases { request_headers: true, response_headers: true, ..Phases::default() }
    }

    fn request_headers_filter(&self, _ctx: &mut RequestCtx, req: &mut request::Parts) -> Verdict {
        for n in &self.request_remove {
            req.headers.remove(n);
        }
        for (n, v) in &self.request_set {
            req.headers.insert(n.clone(), v.clone());
        }
        Verdict::Continue
    }

    fn response_headers_filter(&self, ctx: &mut RequestCtx, resp: &mut response::Parts) -> Verdict {
        for n in &self.response_remove {
            resp.headers.remove(n);
        }
        for (n, v) in &self.response_set {
            resp.headers.insert(n.clone(), v.clone());
        }
        if ctx.conn.tls {
            if let Some(h) = &self.hsts {
                resp.headers.insert(STRICT_TRANSPORT_SECURITY, h.clone());
            }
        }
        Verdict::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_pipeline::ConnInfo;

    fn ctx(tls: bool) -> RequestCtx {
        let a = "127.0.0.1:1".parse().unwrap();
        RequestCtx::new(
            "r".into(),
            ConnInfo { peer: a, local: a, tls, sni: None, listener: "l".into(), client_cert: None },
        )
    }

    #[test]
    fn strips_and_adds_response_headers() {
        let p = HeaderPolicy::build(&HeadersSection::default()).unwrap();
        let (mut parts, _) = http::Response::builder()
            .header("Server", "nginx/1.22")
            .header("X-Powered-By", "PHP")
            .header("Content-Type", "text/plain")
            .body(())
            .unwrap()
            .into_parts();
        p.response_headers_filter(&mut ctx(false), &mut parts);
        assert!(parts.headers.get("server").is_none());
        assert!(parts.headers.get("x-powered-by").is_none());
        assert_eq!(parts.headers["x-content-type-options"], "nosniff");
        assert!(parts.headers.get("strict-transport-security").is_none(), "no HSTS on plain HTTP");
        p.response_headers_filter(&mut ctx(true), &mut parts);
        assert_eq!(parts.headers["strict-transport-security"], "max-age=31536000; includeSubDomains");
    }

    #[test]
    fn request_set_and_remove() {
        let mut cfg = HeadersSection::default();
        cfg.request_set.insert("X-Env".into(), "prod".into());
        cfg.request_remove.push("X-Debug".into());
        let p = HeaderPolicy::build(&cfg).unwrap();
        let (mut parts, _) = http::Request::builder().header("X-Debug", "1").body(()).unwrap().into_parts();
        p.request_headers_filter(&mut ctx(false), &mut parts);
        assert_eq!(parts.headers["x-env"], "prod");
        assert!(parts.headers.get("x-debug").is_none());
    }
}
