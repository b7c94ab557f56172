//! `JwtAuth`: the per-route bearer-token protection. `Authorization: Bearer <jwt>` → verify → scopes → step-up
//! → `ctx.identity` and `X-Portcullis-Subject` for the upstream; refusals are 401/403 problem+json with the
//! matching `WWW-Authenticate` challenge.
//!
//! Owns: reading the bearer credential and the route's JWT policy. Must not touch: other credentials (API keys,
//! client certificates) — the common route auth policy combines methods.

use std::collections::HashMap;
use std::sync::Arc;

use http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use http::{request, HeaderName, HeaderValue};
use portcullis_config::Config;
use portcullis_pipeline::{AuthMethod, Identity, Phases, Problem, Protection, RequestCtx, Verdict};

use crate::{JwtConfig, JwtError, JwtVerifier, StepUpPolicy};

/// The subject of the verified token, for the upstream. Client-sent copies are always removed.
pub static X_PORTCULLIS_SUBJECT: HeaderName = HeaderName::from_static("x-portcullis-subject");

/// One route's bearer-token policy.
#[derive(Debug, Clone)]
pub struct RouteJwtPolicy {
    pub required: bool,
    pub scopes: Vec<String>,
    pub step_up: Option<StepUpPolicy>,
}

/// The protection (name `jwt`).
pub struct JwtAuth {
    verifier: Arc<JwtVerifier>,
    routes: HashMap<Arc<str>, RouteJwtPolicy>,
}

impl JwtAuth {
    /// Present when the config has a `[jwt]` section (it then also strips client `X-Portcullis-Subject` on
    /// every route); `None` otherwise.
    pub fn build(config: &Config) -> Result<Option<JwtAuth>, String> {
        let Some(section) = &config.file.jwt else { return Ok(None) };
        let verifier = JwtVerifier::build(&JwtConfig::from_section(section, config)?)?;
        let routes = config
            .file
            .routes
            .iter()
            .filter_map(|r| {
                let j = r.jwt.as_ref()?;
                let policy = RouteJwtPolicy {
                    required: j.required,
                    scopes: j.scopes.clone(),
                    step_up: j.step_up.as_ref().map(StepUpPolicy::from_section),
                };
                Some((Arc::from(r.name.as_str()), policy))
            })
            .collect();
        Ok(Some(JwtAuth { verifier: Arc::new(verifier), routes }))
    }

    /// Builds from an already built verifier (tests, embedding).
    pub fn new(verifier: JwtVerifier, routes: HashMap<Arc<str>, RouteJwtPolicy>) -> JwtAuth {
        JwtAuth { verifier: Arc::new(verifier), routes }
    }

    pub fn verifier(&self) -> &JwtVerifier {
        &self.verifier
    }

    /// The verifier, shared: the route auth policy (`routes.auth.methods = ["jwt"]`) uses the same keys.
    pub fn shared_verifier(&self) -> Arc<JwtVerifier> {
        self.verifier.clone()
    }

    fn check(&self, policy: &RouteJwtPolicy, headers: &http::HeaderMap) -> Result<Option<Identity>, JwtError> {
        let token = match bearer_token(headers)? {
            Some(t) => t,
            None if policy.required => return Err(JwtError::Missing),
            None => return Ok(None),
        };
        let t = self.verifier.verify(token, JwtVerifier::now())?;
        let missing: Vec<String> = policy.scopes.iter().filter(|s| !t.scopes.contains(s)).cloned().collect();
        if !missing.is_empty() {
            return Err(JwtError::InsufficientScope { required: policy.scopes.clone() });
        }
        if let Some(step_up) = &policy.step_up {
            step_up.check(&t)?;
        }
        Ok(Some(Identity {
            subject: Arc::from(t.sub.as_str()),
            method: AuthMethod::Jwt,
            scopes: t.scopes.iter().map(|s| Arc::from(s.as_str())).collect(),
        }))
    }
}

/// The token of the one `Authorization: Bearer` header. Several `Authorization` fields are refused (which one
/// would the upstream believe?); another scheme counts as no bearer token.
pub fn bearer_token(headers: &http::HeaderMap) -> Result<Option<&str>, JwtError> {
    let mut all = headers.get_all(AUTHORIZATION).iter();
    let Some(v) = all.next() else { return Ok(None) };
    if all.next().is_some() {
        return Err(JwtError::Malformed("several Authorization fields"));
    }
    let v = v.to_str().map_err(|_| JwtError::Malformed("Authorization encoding"))?;
    let Some((scheme, rest)) = v.split_once(' ') else { return Ok(None) };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Ok(None);
    }
    let token = rest.trim();
    if token.is_empty() {
        return Err(JwtError::Malformed("empty bearer token"));
    }
    Ok(Some(token))
}

/// The refusal for a token error: status, public detail, challenge; the log reason names the error only.
pub fn problem_for(err: &JwtError) -> Problem {
    let mut p = Problem::new(err.status(), err.public_description()).with_log_reason(format!("jwt: {err}"));
    if let Ok(v) = HeaderValue::from_str(&err.www_authenticate()) {
        p = p.with_header(WWW_AUTHENTICATE, v);
    }
    p
}

/// A header value for a subject: visible ASCII as is, anything else percent-encoded.
fn subject_header(sub: &str) -> HeaderValue {
    HeaderValue::from_str(sub).ok().filter(|_| sub.bytes().all(|b| (0x21..0x7f).contains(&b))).unwrap_or_else(|| {
        let enc: String = sub
            .bytes()
            .map(|b| if (0x21..0x7f).contains(&b) && b != b'%' { (b as char).to_string() } else { format!("%{b:02X}") })
            .collect();
        HeaderValue::from_str(&enc).unwrap_or_else(|_| HeaderValue::from_static("-"))
    })
}

impl Protection for JwtAuth {
    fn name(&self) -> &'static str {
        "jwt"
    }

    fn phases(&self) -> Phases {
        Phases { request_headers: true, ..Phases::default() }
    }

    fn request_headers_filter(&self, ctx: &mut RequestCtx, req: &mut request::Parts) -> Verdict {
        // Client copies of X-Portcullis-* are stripped on every route by the route auth policy, which runs
        // first and may itself have set the subject (`auth.methods = ["jwt"]`): leave other routes alone.
        let Some(policy) = ctx.route.as_ref().and_then(|r| self.routes.get(r)) else {
            return Verdict::Continue;
        };
        req.headers.remove(&X_PORTCULLIS_SUBJECT);
        match self.check(policy, &req.headers) {
            Ok(None) => Verdict::Continue,
            Ok(Some(identity)) => {
                req.headers.insert(X_PORTCULLIS_SUBJECT.clone(), subject_header(&identity.subject));
                ctx.identity = Some(identity);
                Verdict::Continue
            }
            Err(e) => {
                ctx.refused_reason = Some(format!("jwt: {e}").into_boxed_str());
                Verdict::respond(problem_for(&e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_parsing() {
        let mut h = http::HeaderMap::new();
        assert_eq!(bearer_token(&h), Ok(None));
        h.insert(AUTHORIZATION, HeaderValue::from_static("Basic dXNlcjpwYXNz"));
        assert_eq!(bearer_token(&h), Ok(None));
        h.insert(AUTHORIZATION, HeaderValue::from_static("bearer abc.def.ghi"));
        assert_eq!(bearer_token(&h), Ok(Some("abc.def.ghi")));
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer "));
        assert!(bearer_token(&h).is_err());
        h.append(AUTHORIZATION, HeaderValue::from_static("Bearer x"));
        assert!(bearer_token(&h).is_err());
    }

    #[test]
    fn subject_header_is_always_a_valid_value() {
        assert_eq!(subject_header("user-1"), "user-1");
        assert_eq!(subject_header("a b%é"), "a%20b%25%C3%A9");
    }
}
