//! The route auth policy as a protection (request-headers phase): find the credential each accepted method
//! looks for, verify it, check scopes, set `ctx.identity` and tell the upstream who it is in headers the
//! gateway controls.
//!
//! On **every** route (with or without a policy) client-supplied `X-Portcullis-*` headers are removed first:
//! that prefix is reserved for what the gateway asserts, so an upstream can trust it.
//!
//! | outcome                                                    | answer                                   |
//! |------------------------------------------------------------|------------------------------------------|
//! | no credential                                              | 401 + `WWW-Authenticate` for each method |
//! | malformed / unknown / revoked / expired / rotated-out key  | 401, a distinct reason in the log        |
//! | key in the query string (not allowed)                      | 401 "not accepted in the URL"            |
//! | valid credential without a required scope                  | 403                                      |
//! | key store unreachable                                      | 503 (fail closed)                        |

use std::collections::HashMap;
use std::sync::Arc;

use http::header::AUTHORIZATION;
use http::{request, HeaderName, HeaderValue, Method, StatusCode};
use portcullis_config::{AuthMethodName, AuthRequire, Config, KeysSection};
use portcullis_pipeline::{AuthMethod, Identity, Phases, Problem, Protection, RequestCtx, Verdict};

use crate::bearer::{BearerFailure, BearerVerifier};
use crate::format::{self, FormatError, PREFIX};
use crate::hasher::KeyHasher;
use crate::lifecycle::KeyManager;
use crate::record::{scope_covers, KeyLimits};
use crate::redis_store::RedisKeyStore;
use crate::sqlite::SqliteStore;
use crate::store::KeyStore;
use crate::verifier::{KeyVerifier, Rejection, VerifierOptions};

/// Headers the gateway sets upstream. Any client-sent header with this prefix is removed.
pub const IDENTITY_HEADER_PREFIX: &str = "x-portcullis-";
pub const H_SUBJECT: HeaderName = HeaderName::from_static("x-portcullis-subject");
pub const H_METHOD: HeaderName = HeaderName::from_static("x-portcullis-auth-method");
pub const H_SCOPES: HeaderName = HeaderName::from_static("x-portcullis-scopes");
pub const H_KEY_ID: HeaderName = HeaderName::from_static("x-portcullis-key-id");
const WWW_AUTHENTICATE: HeaderName = http::header::WWW_AUTHENTICATE;

#[derive(Debug, thiserror::Error)]
pub enum AuthBuildError {
    #[error("{0}")]
    Config(String),
}

/// One route's policy, compiled.
#[derive(Debug)]
struct RoutePolicy {
    methods: Vec<AuthMethodName>,
    require: AuthRequire,
    scopes: Vec<Box<str>>,
    method_scopes: HashMap<Method, Vec<Box<str>>>,
    allow_query: bool,
}

/// How clients present API keys, and the verifier.
struct KeysRuntime {
    verifier: KeyVerifier,
    header: HeaderName,
    bearer: bool,
    query_param: String,
}

/// The auth protection. Built once per config load.
pub struct AuthProtection {
    routes: HashMap<Box<str>, RoutePolicy>,
    keys: Option<KeysRuntime>,
    bearer: Option<Arc<dyn BearerVerifier>>,
    challenges: HashMap<Box<str>, Vec<HeaderValue>>,
    realm: String,
}

impl std::fmt::Debug for AuthProtection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthProtection").field("routes", &self.routes).finish_non_exhaustive()
    }
}

/// Opens the key store named by `[keys]` (SQLite or Redis) and loads the server secret (for the gateway, CLI and admin API).
pub fn open_manager(config: &Config, keys: &KeysSection) -> Result<KeyManager, String> {
    let store = open_store(config, keys)?;
    let hasher = match (&keys.secret_file, &keys.secret_env) {
        (Some(f), _) => KeyHasher::from_file(&config.resolve(f)).map_err(|e| format!("keys.secret_file: {e}"))?,
        (None, Some(v)) => KeyHasher::from_env(v).map_err(|e| format!("keys.secret_env: {e}"))?,
        (None, None) => return Err("keys: set secret_file or secret_env".into()),
    };
    KeyManager::new(store, hasher).map_err(|e| format!("keys: {e}"))
}

/// The key store `[keys]` names: Redis when `store` is set, else the SQLite file `db`.
pub fn open_store(config: &Config, keys: &KeysSection) -> Result<Arc<dyn KeyStore>, String> {
    Ok(match &keys.store {
        Some(url) => Arc::new(
            RedisKeyStore::connect(url, &keys.redis_prefix, keys.redis_timeout.0)
                .map_err(|e| format!("keys.store: {e}"))?,
        ),
        None => Arc::new(SqliteStore::open(&config.resolve(&keys.db)).map_err(|e| format!("keys.db: {e}"))?),
    })
}

impl AuthProtection {
    /// Builds the policy for every route. `bearer` verifies `jwt` credentials; without one, a route that
    /// accepts `jwt` is a load error.
    pub fn build(config: &Config, bearer: Option<Arc<dyn BearerVerifier>>) -> Result<AuthProtection, AuthBuildError> {
        let f = &config.file;
        let realm = f.keys.as_ref().map_or_else(|| "portcullis".to_string(), |k| k.realm.clone());
        let mut routes = HashMap::new();
        let mut challenges = HashMap::new();
        let mut needs_keys = false;
        for (i, r) in f.routes.iter().enumerate() {
            let Some(a) = &r.auth else { continue };
            if a.methods.contains(&AuthMethodName::Jwt) && bearer.is_none() {
                return Err(AuthBuildError::Config(format!(
                    "routes[{i}].auth.methods: \"jwt\" needs a [jwt] section (keys, issuer, audience)"
                )));
            }
            needs_keys |= a.methods.contains(&AuthMethodName::ApiKey);
            let method_scopes = a
                .method_scopes
                .iter()
                .filter_map(|(m, s)| {
                    Some((Method::from_bytes(m.as_bytes()).ok()?, s.iter().map(|x| x.as_str().into()).collect()))
                })
                .collect();
            let allow_query = a.allow_query.unwrap_or_else(|| f.keys.as_ref().is_some_and(|k| k.allow_query));
            let policy = RoutePolicy {
                methods: a.methods.clone(),
                require: a.require,
                scopes: a.scopes.iter().map(|s| s.as_str().into()).collect(),
                method_scopes,
                allow_query,
            };
            challenges.insert(r.name.as_str().into(), challenge_values(&policy, f.keys.as_ref(), &realm, false));
            routes.insert(r.name.as_str().into(), policy);
        }
        let keys = match (&f.keys, needs_keys) {
            (Some(k), true) => {
                let manager = open_manager(config, k).map_err(AuthBuildError::Config)?;
                let opts = VerifierOptions {
                    cache_ttl: k.cache_ttl.0,
                    poll_interval: k.poll_interval.0,
                    usage_flush: k.usage_flush.0,
                };
                let header = HeaderName::from_bytes(k.header.as_bytes())
                    .map_err(|_| AuthBuildError::Config(format!("keys.header: {:?} is not a header name", k.header)))?;
                Some(KeysRuntime {
                    verifier: KeyVerifier::start(manager.store.clone(), manager.hasher().clone(), opts),
                    header,
                    bearer: k.bearer,
                    query_param: k.query_param.clone(),
                })
            }
            _ => None,
        };
        Ok(AuthProtection { routes, keys, bearer, challenges, realm })
    }

    /// The key verifier, when some route accepts API keys (for tests and benches).
    pub fn verifier(&self) -> Option<&KeyVerifier> {
        self.keys.as_ref().map(|k| &k.verifier)
    }
}

fn challenge_values(
    p: &RoutePolicy,
    keys: Option<&KeysSection>,
    realm: &str,
    invalid_bearer: bool,
) -> Vec<HeaderValue> {
    let mut out = Vec::new();
    let mut bearer = false;
    for m in &p.methods {
        match m {
            AuthMethodName::ApiKey => {
                let header = keys.map_or("x-api-key", |k| k.header.as_str());
                out.push(format!("ApiKey realm=\"{realm}\", header=\"{header}\""));
                bearer |= keys.is_some_and(|k| k.bearer);
            }
            AuthMethodName::Jwt => bearer = true,
            // No HTTP scheme exists for TLS client certificates; this tells a client what is expected.
            AuthMethodName::Mtls => out.push(format!("ClientCertificate realm=\"{realm}\"")),
        }
    }
    if bearer {
        let err = if invalid_bearer { ", error=\"invalid_token\"" } else { "" };
        out.push(format!("Bearer realm=\"{realm}\"{err}"));
    }
    out.into_iter().filter_map(|s| HeaderValue::from_str(&s).ok()).collect()
}

/// The result of trying one method.
enum Outcome {
    Absent,
    Verified(Identity, Option<KeyLimits>),
    Invalid { status: StatusCode, reason: String, challenge: Option<HeaderValue>, bearer: bool },
    Unavailable(String),
}

fn bearer_token(req: &request::Parts) -> Option<&str> {
    let v = req.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn query_has_key(query: Option<&str>, param: &str) -> bool {
    query.is_some_and(|q| {
        q.split('&').any(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            name == param || value.starts_with(PREFIX) || name.starts_with(PREFIX)
        })
    })
}

fn query_value<'a>(query: Option<&'a str>, param: &str) -> Option<&'a str> {
    query?.split('&').find_map(|pair| pair.split_once('=').filter(|(n, _)| *n == param).map(|(_, v)| v))
}

fn malformed_reason(e: FormatError) -> String {
    format!("api key malformed: {e}")
}

impl AuthProtection {
    fn try_api_key(&self, ctx: &RequestCtx, req: &request::Parts, policy: &RoutePolicy) -> Outcome {
        let Some(k) = &self.keys else { return Outcome::Absent };
        let mut via_bearer = false;
        let presented = match req.headers.get(&k.header) {
            Some(v) => Some(v.to_str().unwrap_or("").trim()),
            None => match bearer_token(req).filter(|t| k.bearer && t.starts_with(PREFIX)) {
                Some(t) => {
                    via_bearer = true;
                    Some(t)
                }
                None if policy.allow_query => query_value(req.uri.query(), &k.query_param),
                None => None,
            },
        };
        let Some(presented) = presented else { return Outcome::Absent };
        let invalid = |reason: String| Outcome::Invalid {
            status: StatusCode::UNAUTHORIZED,
            reason,
            challenge: None,
            bearer: via_bearer,
        };
        let parsed = match format::parse(presented) {
            Ok(p) => p,
            Err(e) => return invalid(malformed_reason(e)),
        };
        match k.verifier.verify(&parsed, ctx.client_ip) {
            Ok(v) => Outcome::Verified(
                Identity { subject: v.id.clone(), method: AuthMethod::ApiKey, scopes: v.scopes.to_vec() },
                Some(v.limits),
            ),
            Err(Rejection::Unavailable) => {
                Outcome::Unavailable(format!("api key {}: key store unavailable", parsed.id))
            }
            Err(r) => invalid(format!("api key {} {r}", parsed.id)),
        }
    }

    fn try_jwt(&self, ctx: &RequestCtx, req: &request::Parts) -> Outcome {
        let Some(v) = &self.bearer else { return Outcome::Absent };
        let Some(token) = bearer_token(req).filter(|t| !t.starts_with(PREFIX)) else { return Outcome::Absent };
        let route = ctx.route.as_deref().unwrap_or("");
        match v.verify(token, route, ctx, req) {
            Ok(id) => Outcome::Verified(id, None),
            Err(BearerFailure { status, reason, challenge }) => {
                Outcome::Invalid { status, reason: format!("jwt {reason}"), challenge, bearer: true }
            }
        }
    }

    fn try_mtls(ctx: &RequestCtx) -> Outcome {
        match &ctx.conn.client_cert {
            Some(c) => Outcome::Verified(
                Identity { subject: Arc::from(c.subject.as_str()), method: AuthMethod::Mtls, scopes: Vec::new() },
                None,
            ),
            None => Outcome::Absent,
        }
    }

    fn refuse(
        &self,
        ctx: &mut RequestCtx,
        route: &str,
        status: StatusCode,
        reason: String,
        extra: Vec<HeaderValue>,
    ) -> Verdict {
        let detail = match status {
            StatusCode::FORBIDDEN => "The credential is valid but does not allow this request.",
            StatusCode::SERVICE_UNAVAILABLE => "Authentication is temporarily unavailable.",
            _ => "A valid credential is required.",
        };
        let mut p = Problem::new(status, detail);
        if status == StatusCode::UNAUTHORIZED {
            let values = if extra.is_empty() { self.challenges.get(route).cloned().unwrap_or_default() } else { extra };
            for v in values {
                p = p.with_header(WWW_AUTHENTICATE, v);
            }
        }
        ctx.refused_reason = Some(reason.into_boxed_str());
        Verdict::respond(p)
    }

    fn unauthorized_challenges(&self, route: &str, o: &Outcome) -> Vec<HeaderValue> {
        match o {
            Outcome::Invalid { challenge: Some(c), .. } => vec![c.clone()],
            Outcome::Invalid { bearer: true, .. } => {
                let mut v: Vec<HeaderValue> = self
                    .challenges
                    .get(route)
                    .map(|c| c.iter().filter(|h| !h.as_bytes().starts_with(b"Bearer")).cloned().collect())
                    .unwrap_or_default();
                if let Ok(h) =
                    HeaderValue::from_str(&format!("Bearer realm=\"{}\", error=\"invalid_token\"", self.realm))
                {
                    v.push(h);
                }
                v
            }
            _ => Vec::new(),
        }
    }
}

fn strip_identity_headers(req: &mut request::Parts) {
    // Collected first: a HeaderMap cannot be changed while iterated. No allocation when none is present.
    let found: Vec<HeaderName> =
        req.headers.keys().filter(|n| n.as_str().starts_with(IDENTITY_HEADER_PREFIX)).cloned().collect();
    for n in found {
        req.headers.remove(n);
    }
}

impl Protection for AuthProtection {
    fn name(&self) -> &'static str {
        "auth"
    }

    fn phases(&self) -> Phases {
        Phases { request_headers: true, ..Phases::default() }
    }

    fn request_headers_filter(&self, ctx: &mut RequestCtx, req: &mut request::Parts) -> Verdict {
        strip_identity_headers(req);
        let Some(route) = ctx.route.clone() else { return Verdict::Continue };
        let Some(policy) = self.routes.get(&*route) else { return Verdict::Continue };

        if let Some(k) = &self.keys {
            if !policy.allow_query
                && policy.methods.contains(&AuthMethodName::ApiKey)
                && query_has_key(req.uri.query(), &k.query_param)
            {
                let mut v = self.refuse(
                    ctx,
                    &route,
                    StatusCode::UNAUTHORIZED,
                    "api key in query string refused".into(),
                    Vec::new(),
                );
                if let Verdict::Respond(p) = &mut v {
                    p.detail = Some(format!(
                        "API keys are not accepted in the URL; send the key in the {} header.",
                        k.header.as_str()
                    ));
                }
                return v;
            }
        }

        let mut first: Option<(Identity, Option<KeyLimits>)> = None;
        let mut failure: Option<Outcome> = None;
        let mut missing = Vec::new();
        for m in &policy.methods {
            let outcome = match m {
                AuthMethodName::ApiKey => self.try_api_key(ctx, req, policy),
                AuthMethodName::Jwt => self.try_jwt(ctx, req),
                AuthMethodName::Mtls => Self::try_mtls(ctx),
            };
            match outcome {
                Outcome::Verified(id, limits) => {
                    if first.is_none() {
                        first = Some((id, limits));
                    }
                    if policy.require == AuthRequire::Any {
                        break;
                    }
                }
                Outcome::Absent => missing.push(m.as_str()),
                other => {
                    // A presented but bad credential is refused even if another method could still pass:
                    // it is a mistake or an attack, and either deserves a clear answer.
                    failure.get_or_insert(other);
                    if policy.require == AuthRequire::All {
                        break;
                    }
                }
            }
        }
        let complete = match policy.require {
            AuthRequire::Any => first.is_some() && failure.is_none(),
            AuthRequire::All => failure.is_none() && missing.is_empty(),
        };
        if !complete {
            return match failure {
                Some(Outcome::Unavailable(reason)) => {
                    self.refuse(ctx, &route, StatusCode::SERVICE_UNAVAILABLE, reason, Vec::new())
                }
                Some(o @ Outcome::Invalid { .. }) => {
                    let extra = self.unauthorized_challenges(&route, &o);
                    let Outcome::Invalid { status, reason, .. } = o else { unreachable!() };
                    self.refuse(ctx, &route, status, reason, extra)
                }
                _ => {
                    let reason = format!("credential missing ({})", missing.join(", "));
                    self.refuse(ctx, &route, StatusCode::UNAUTHORIZED, reason, Vec::new())
                }
            };
        }
        let Some((identity, limits)) = first else { return Verdict::Continue };

        let required = policy.scopes.iter().chain(policy.method_scopes.get(&req.method).into_iter().flatten());
        for need in required {
            if !identity.scopes.iter().any(|g| scope_covers(g, need)) {
                let reason = format!("scope missing: {need} ({} {})", identity.method.as_str(), identity.subject);
                return self.refuse(ctx, &route, StatusCode::FORBIDDEN, reason, Vec::new());
            }
        }

        // The credential itself does not travel upstream; the verified identity does.
        if identity.method == AuthMethod::ApiKey {
            if let Some(k) = &self.keys {
                req.headers.remove(&k.header);
                if bearer_token(req).is_some_and(|t| t.starts_with(PREFIX)) {
                    req.headers.remove(AUTHORIZATION);
                }
            }
            if let Ok(v) = HeaderValue::from_str(&identity.subject) {
                req.headers.insert(H_KEY_ID, v);
            }
        }
        if let Ok(v) = HeaderValue::from_str(&identity.subject) {
            req.headers.insert(H_SUBJECT, v);
        }
        req.headers.insert(H_METHOD, HeaderValue::from_static(identity.method.as_str()));
        let scopes = identity.scopes.iter().map(|s| &**s).collect::<Vec<_>>().join(" ");
        if let Ok(v) = HeaderValue::from_str(&scopes) {
            req.headers.insert(H_SCOPES, v);
        }
        if let Some(l) = limits {
            ctx.extensions.insert(l);
        }
        ctx.identity = Some(identity);
        Verdict::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::NewKey;
    use portcullis_pipeline::{ClientCert, ConnInfo};

    struct TestJwt;
    impl BearerVerifier for TestJwt {
        fn verify(
            &self,
            token: &str,
            _route: &str,
            _ctx: &RequestCtx,
            _req: &request::Parts,
        ) -> Result<Identity, BearerFailure> {
            match token {
                "good" => {
                    Ok(Identity { subject: "alice".into(), method: AuthMethod::Jwt, scopes: vec!["users:read".into()] })
                }
                "weak" => Err(BearerFailure {
                    status: StatusCode::UNAUTHORIZED,
                    reason: "acr missing".into(),
                    challenge: Some(HeaderValue::from_static(
                        "Bearer error=\"insufficient_user_authentication\", acr_values=\"mfa\"",
                    )),
                }),
                _ => Err(BearerFailure {
                    status: StatusCode::UNAUTHORIZED,
                    reason: "bad signature".into(),
                    challenge: None,
                }),
            }
        }
    }

    fn setup(auth: &str) -> (tempfile::TempDir, AuthProtection, String) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("s"), "x".repeat(40)).unwrap();
        // A [jwt] section so routes may list jwt; the test verifier stands in for it.
        std::fs::write(dir.path().join("j.json"), "{\"keys\": []}").unwrap();
        let text = format!(
            "[[listeners]]\nname = \"w\"\naddress = \"127.0.0.1:0\"\n[[upstreams]]\nname = \"u\"\ntargets = [\"127.0.0.1:1\"]\n\
             [jwt]\njwks_file = \"j.json\"\nissuer = \"i\"\naudience = [\"a\"]\n[keys]\ndb = \"k.db\"\nsecret_file = \"s\"\n[[routes]]\nname = \"r\"\nupstream = \"u\"\nauth = {auth}\n"
        );
        let cfg = Config::from_str_at(&text, None, dir.path().to_path_buf()).unwrap();
        let p = AuthProtection::build(&cfg, Some(Arc::new(TestJwt))).unwrap();
        let m = open_manager(&cfg, cfg.file.keys.as_ref().unwrap()).unwrap();
        let key = m
            .create(&NewKey { name: "t".into(), scopes: vec!["users:*".into()], ..Default::default() }, "t")
            .unwrap()
            .key;
        (dir, p, key)
    }

    fn run(p: &AuthProtection, headers: &[(&str, &str)], cert: bool) -> (RequestCtx, Verdict, request::Parts) {
        let conn = ConnInfo {
            peer: "127.0.0.1:5000".parse().unwrap(),
            local: "127.0.0.1:443".parse().unwrap(),
            tls: true,
            sni: None,
            listener: "w".into(),
            client_cert: cert
                .then(|| Arc::new(ClientCert { subject: "CN=svc-a".into(), sans: vec![], sha256: "00".into() })),
        };
        let mut ctx = RequestCtx::new("id".into(), conn);
        ctx.route = Some("r".into());
        let mut b = http::Request::builder().uri("/x");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let mut parts = b.body(()).unwrap().into_parts().0;
        let v = p.request_headers_filter(&mut ctx, &mut parts);
        (ctx, v, parts)
    }

    fn status(v: &Verdict) -> u16 {
        match v {
            Verdict::Continue => 200,
            Verdict::Respond(p) => p.status.as_u16(),
            Verdict::Close => 0,
        }
    }

    #[test]
    fn require_all_needs_every_method() {
        let (_d, p, key) = setup("{ methods = [\"api_key\", \"mtls\"], require = \"all\" }");
        let (ctx, v, _) = run(&p, &[("x-api-key", &key)], false);
        assert_eq!(status(&v), 401);
        assert_eq!(ctx.refused_reason.as_deref(), Some("credential missing (mtls)"));
        let (ctx, v, parts) = run(&p, &[("x-api-key", &key)], true);
        assert_eq!(status(&v), 200);
        assert_eq!(ctx.identity.unwrap().method, AuthMethod::ApiKey);
        assert!(parts.headers.get("x-api-key").is_none());
    }

    #[test]
    fn any_accepts_mtls_alone_but_mtls_carries_no_scopes() {
        let (_d, p, _) = setup("{ methods = [\"api_key\", \"mtls\"] }");
        let (ctx, v, parts) = run(&p, &[], true);
        assert_eq!(status(&v), 200);
        assert_eq!(&*ctx.identity.unwrap().subject, "CN=svc-a");
        assert_eq!(parts.headers["x-portcullis-auth-method"], "mtls");
        let (_d, p, _) = setup("{ methods = [\"mtls\"], scopes = [\"users:read\"] }");
        assert_eq!(status(&run(&p, &[], true).1), 403);
        let (_, v, _) = run(&p, &[], false);
        assert_eq!(status(&v), 401);
        let Verdict::Respond(pr) = v else { panic!() };
        assert_eq!(pr.headers[0].1, "ClientCertificate realm=\"portcullis\"");
    }

    #[test]
    fn bearer_verifier_plugs_in_and_api_keys_still_win_their_prefix() {
        let (_d, p, key) = setup("{ methods = [\"jwt\", \"api_key\"], scopes = [\"users:read\"] }");
        let (ctx, v, _) = run(&p, &[("authorization", "Bearer good")], false);
        assert_eq!(status(&v), 200);
        assert_eq!(&*ctx.identity.unwrap().subject, "alice");
        let (ctx, v, _) = run(&p, &[("authorization", "Bearer forged")], false);
        assert_eq!(status(&v), 401);
        assert_eq!(ctx.refused_reason.as_deref(), Some("jwt bad signature"));
        let Verdict::Respond(pr) = v else { panic!() };
        assert!(pr.headers.iter().any(|(_, h)| h == "Bearer realm=\"portcullis\", error=\"invalid_token\""), "{pr:?}");
        let (_, v, _) = run(&p, &[("authorization", "Bearer weak")], false);
        let Verdict::Respond(pr) = v else { panic!() };
        assert_eq!(
            pr.headers,
            vec![(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer error=\"insufficient_user_authentication\", acr_values=\"mfa\"")
            )]
        );
        // A pcl_ bearer is an API key, not a JWT.
        let (ctx, v, parts) = run(&p, &[("authorization", &format!("Bearer {key}"))], false);
        assert_eq!(status(&v), 200);
        assert_eq!(ctx.identity.unwrap().method, AuthMethod::ApiKey);
        assert!(parts.headers.get("authorization").is_none());
    }

    #[test]
    fn jwt_without_a_verifier_is_a_load_error() {
        let dir = tempfile::tempdir().unwrap();
        let route = "[[routes]]\nname = \"r\"\nupstream = \"u\"\nauth = { methods = [\"jwt\"] }\n";
        let base = "[[listeners]]\nname = \"w\"\naddress = \"127.0.0.1:0\"\n[[upstreams]]\nname = \"u\"\ntargets = [\"127.0.0.1:1\"]\n";
        // Without [jwt] the config does not even validate...
        let e = Config::from_str_at(&format!("{base}{route}"), None, dir.path().to_path_buf()).unwrap_err();
        assert!(e.to_string().contains("routes[0].auth.methods[0]: jwt needs a [jwt] section"), "{e}");
        // ...and a caller that passes no verifier for a config with [jwt] is told so at build.
        std::fs::write(dir.path().join("j.json"), "{\"keys\": []}").unwrap();
        let jwt = "[jwt]\njwks_file = \"j.json\"\nissuer = \"i\"\naudience = [\"a\"]\n";
        let cfg = Config::from_str_at(&format!("{base}{jwt}{route}"), None, dir.path().to_path_buf()).unwrap();
        let e = AuthProtection::build(&cfg, None).unwrap_err().to_string();
        assert!(e.starts_with("routes[0].auth.methods: \"jwt\" needs a [jwt] section"), "{e}");
    }

    #[test]
    fn query_keys_are_spotted_by_name_or_prefix() {
        assert!(query_has_key(Some("a=1&api_key=x"), "api_key"));
        assert!(query_has_key(Some("token=pcl_live_abc"), "api_key"));
        assert!(!query_has_key(Some("q=pcl"), "api_key"));
        assert!(!query_has_key(None, "api_key"));
        assert_eq!(query_value(Some("a=1&api_key=xyz"), "api_key"), Some("xyz"));
    }
}
