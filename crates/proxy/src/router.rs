//! Route matching: host (exact or `*.wildcard`), path (exact, prefix, regex), method and headers.
//!
//! Precedence is by specificity, then by order in the file: an exact host beats a wildcard beats any host; an
//! exact path beats a longer prefix beats a shorter prefix beats a regex beats no path rule; a route that also
//! restricts methods or headers beats one that doesn't. Routes are sorted once at load, so a request walks
//! them in order and takes the first match.

use std::sync::Arc;

use http::{HeaderName, HeaderValue, Method};
use portcullis_config::RouteSection;
use regex::Regex;

use crate::metrics::RouteMetrics;
use crate::upstream::UpstreamGroup;

#[derive(Debug, Clone)]
enum HostMatch {
    Exact(String),
    /// `*.example.com` stored as `.example.com`: matches `a.example.com`, not `example.com`.
    Suffix(String),
}

#[derive(Debug, Clone)]
enum PathMatch {
    Any,
    Exact(String),
    Prefix(String),
    Regex(Regex),
}

/// What a matched route does.
pub enum RouteAction {
    Proxy { upstream: Arc<UpstreamGroup>, strip_prefix: Option<String>, add_prefix: Option<String> },
    Respond { status: http::StatusCode, body: bytes::Bytes, content_type: HeaderValue },
    Redirect { to: HeaderValue, status: http::StatusCode },
}

/// One route, compiled.
pub struct Route {
    pub name: Arc<str>,
    hosts: Vec<HostMatch>,
    path: PathMatch,
    methods: Vec<Method>,
    headers: Vec<(HeaderName, HeaderValue)>,
    pub action: RouteAction,
    pub max_body_bytes: u64,
    pub metrics: RouteMetrics,
}

impl Route {
    pub fn build(
        cfg: &RouteSection,
        upstreams: &[Arc<UpstreamGroup>],
        default_body: u64,
        metrics: RouteMetrics,
    ) -> Result<Route, String> {
        let m = &cfg.matcher;
        let hosts = m
            .hosts
            .iter()
            .map(|h| match h.strip_prefix('*') {
                Some(suffix) => HostMatch::Suffix(suffix.to_ascii_lowercase()),
                None => HostMatch::Exact(h.to_ascii_lowercase()),
            })
            .collect();
        let path = if let Some(p) = &m.path {
            PathMatch::Exact(p.clone())
        } else if let Some(p) = &m.path_prefix {
            PathMatch::Prefix(p.clone())
        } else if let Some(r) = &m.path_regex {
            PathMatch::Regex(Regex::new(r).map_err(|e| format!("routes.{}.match.path_regex: {e}", cfg.name))?)
        } else {
            PathMatch::Any
        };
        let methods = m
            .methods
            .iter()
            .map(|s| Method::from_bytes(s.as_bytes()).map_err(|e| e.to_string()))
            .collect::<Result<_, _>>()?;
        let headers = m
            .headers
            .iter()
            .map(|(n, v)| {
                Ok((
                    HeaderName::from_bytes(n.as_bytes()).map_err(|e| e.to_string())?,
                    HeaderValue::from_str(v).map_err(|e| e.to_string())?,
                ))
            })
            .collect::<Result<_, String>>()?;
        let action = if let Some(name) = &cfg.upstream {
            let upstream = upstreams
                .iter()
                .find(|u| &*u.name == name.as_str())
                .cloned()
                .ok_or_else(|| format!("no upstream named {name:?}"))?;
            RouteAction::Proxy { upstream, strip_prefix: cfg.strip_prefix.clone(), add_prefix: cfg.add_prefix.clone() }
        } else if let Some(r) = &cfg.respond {
            RouteAction::Respond {
                status: http::StatusCode::from_u16(r.status).map_err(|e| e.to_string())?,
                body: bytes::Bytes::from(r.body.clone()),
                content_type: HeaderValue::from_str(&r.content_type).map_err(|e| e.to_string())?,
            }
        } else if let Some(r) = &cfg.redirect {
            RouteAction::Redirect {
                to: HeaderValue::from_str(&r.to).map_err(|e| e.to_string())?,
                status: http::StatusCode::from_u16(r.status).map_err(|e| e.to_string())?,
            }
        } else {
            return Err(format!("route {:?} has no action", cfg.name));
        };
        Ok(Route {
            name: cfg.name.as_str().into(),
            hosts,
            path,
            methods,
            headers,
            action,
            max_body_bytes: cfg.max_body_bytes.map(|b| b.0).unwrap_or(default_body),
            metrics,
        })
    }

    /// Sort key: higher is more specific.
    fn specificity(&self) -> (u8, u8, usize, u8) {
        let host = if self.hosts.iter().any(|h| matches!(h, HostMatch::Exact(_))) {
            2
        } else if self.hosts.is_empty() {
            0
        } else {
            1
        };
        let (path, len) = match &self.path {
            PathMatch::Exact(p) => (3, p.len()),
            PathMatch::Prefix(p) => (2, p.len()),
            PathMatch::Regex(_) => (1, 0),
            PathMatch::Any => (0, 0),
        };
        let extra = u8::from(!self.methods.is_empty()) + u8::from(!self.headers.is_empty());
        (host, path, len, extra)
    }

    fn matches(&self, host: &str, path: &str, method: &Method, headers: &http::HeaderMap) -> bool {
        if !self.hosts.is_empty()
            && !self.hosts.iter().any(|h| match h {
                HostMatch::Exact(e) => e.eq_ignore_ascii_case(host),
                HostMatch::Suffix(s) => {
                    host.len() > s.len() && host.as_bytes()[host.len() - s.len()..].eq_ignore_ascii_case(s.as_bytes())
                }
            })
        {
            return false;
        }
        let path_ok = match &self.path {
            PathMatch::Any => true,
            PathMatch::Exact(p) => path == p,
            PathMatch::Prefix(p) => prefix_matches(path, p),
            PathMatch::Regex(r) => r.is_match(path),
        };
        path_ok
            && (self.methods.is_empty() || self.methods.contains(method))
            && self.headers.iter().all(|(n, v)| headers.get_all(n).iter().any(|x| x == v))
    }
}

/// `/api` matches `/api`, `/api/` and `/api/items`, not `/apis`; a prefix ending in `/` matches what follows.
fn prefix_matches(path: &str, prefix: &str) -> bool {
    path.starts_with(prefix)
        && (prefix.ends_with('/') || path.len() == prefix.len() || path.as_bytes()[prefix.len()] == b'/')
}

/// All routes, most specific first.
pub struct Router {
    routes: Vec<Arc<Route>>,
}

impl Router {
    pub fn new(mut routes: Vec<Route>) -> Router {
        // Stable sort keeps file order among equally specific routes.
        routes.sort_by_key(|r| std::cmp::Reverse(r.specificity()));
        Router { routes: routes.into_iter().map(Arc::new).collect() }
    }

    /// The route for a request, if any. `host` is without port, `path` without query.
    pub fn find(&self, host: &str, path: &str, method: &Method, headers: &http::HeaderMap) -> Option<&Arc<Route>> {
        self.routes.iter().find(|r| r.matches(host, path, method, headers))
    }
}

/// The path after a route's prefix strip/add rewrite; keeps the query string.
pub fn rewrite_path(path_and_query: &str, strip: Option<&str>, add: Option<&str>) -> String {
    let (path, query) = match path_and_query.find('?') {
        Some(i) => path_and_query.split_at(i),
        None => (path_and_query, ""),
    };
    let mut rest = match strip {
        Some(s) if prefix_matches(path, s) => &path[s.trim_end_matches('/').len()..],
        _ => path,
    };
    if rest.is_empty() {
        rest = "/";
    }
    let mut out = String::with_capacity(path_and_query.len() + add.map_or(0, str::len));
    if let Some(a) = add {
        out.push_str(a.trim_end_matches('/'));
    }
    out.push_str(rest);
    out.push_str(query);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_boundaries() {
        assert!(prefix_matches("/api", "/api"));
        assert!(prefix_matches("/api/x", "/api"));
        assert!(!prefix_matches("/apis", "/api"));
        assert!(prefix_matches("/api/x", "/api/"));
        assert!(!prefix_matches("/api", "/api/"));
    }

    #[test]
    fn rewrites() {
        assert_eq!(rewrite_path("/api/items?x=1", Some("/api"), None), "/items?x=1");
        assert_eq!(rewrite_path("/api", Some("/api"), None), "/");
        assert_eq!(rewrite_path("/api/items", Some("/api/"), Some("/v2")), "/v2/items");
        assert_eq!(rewrite_path("/other", Some("/api"), Some("/v2/")), "/v2/other");
    }
}
