//! [`JwtBearer`]: the JWT verifier as the route auth policy's bearer-token plug-in, so a route can accept
//! `auth = { methods = ["api_key", "jwt"], require = "any" }` (the policy lives in `portcullis-keys`).

use std::sync::Arc;

use http::{request, HeaderValue};
use portcullis_keys::{BearerFailure, BearerVerifier};
use portcullis_pipeline::{AuthMethod, Identity, RequestCtx};

use crate::{JwtError, JwtVerifier};

/// Verifies `Authorization: Bearer <jwt>` for the route auth policy with the `[jwt]` keys, issuer and audience.
pub struct JwtBearer {
    verifier: Arc<JwtVerifier>,
}

impl JwtBearer {
    pub fn new(verifier: Arc<JwtVerifier>) -> JwtBearer {
        JwtBearer { verifier }
    }
}

fn failure(e: &JwtError) -> BearerFailure {
    BearerFailure {
        status: e.status(),
        reason: format!("jwt: {e}"),
        challenge: HeaderValue::from_str(&e.www_authenticate()).ok(),
    }
}

impl BearerVerifier for JwtBearer {
    fn verify(
        &self,
        token: &str,
        _route: &str,
        _ctx: &RequestCtx,
        _req: &request::Parts,
    ) -> Result<Identity, BearerFailure> {
        let t = self.verifier.verify(token, JwtVerifier::now()).map_err(|e| failure(&e))?;
        Ok(Identity {
            subject: Arc::from(t.sub.as_str()),
            method: AuthMethod::Jwt,
            scopes: t.scopes.iter().map(|s| Arc::from(s.as_str())).collect(),
        })
    }
}
