//! The plug-in point for bearer-token (JWT/OIDC) verification. The route policy finds the token
//! (`Authorization: Bearer …` that is not a `pcl_` API key) and hands it to a [`BearerVerifier`]; the JWT
//! crate implements it. Until one is supplied, a route listing `jwt` fails to load with a clear error.

use http::{request, HeaderValue, StatusCode};
use portcullis_pipeline::{Identity, RequestCtx};

/// Why a bearer token was refused.
#[derive(Debug, Clone, PartialEq)]
pub struct BearerFailure {
    /// 401 (invalid, expired, step-up needed) or 403.
    pub status: StatusCode,
    /// For the log (`ctx.refused_reason`): never the token.
    pub reason: String,
    /// The full `WWW-Authenticate` value, e.g. `Bearer realm="portcullis", error="insufficient_user_authentication",
    /// acr_values="mfa"` (RFC 9470). `None`: the policy's generic `Bearer realm=…, error="invalid_token"`.
    pub challenge: Option<HeaderValue>,
}

/// Verifies a bearer token into an identity (subject, method `Jwt`, scopes from claims).
pub trait BearerVerifier: Send + Sync + 'static {
    /// `route` is the matched route's name (for per-route audiences or step-up requirements).
    fn verify(
        &self,
        token: &str,
        route: &str,
        ctx: &RequestCtx,
        req: &request::Parts,
    ) -> Result<Identity, BearerFailure>;
}
