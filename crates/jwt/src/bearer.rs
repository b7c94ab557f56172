//! [`JwtBearer`]: the JWT verifier as the route auth policy's bearer-token plug-in, so a route can accept
//! `auth = { methods = ["api_key", "jwt"], require = "any" }` (the policy lives in `portcullis-keys`), with the
//! route's `auth.step_up` (RFC 9470 `acr`/`amr` demands) checked by the same [`StepUpPolicy`] as `routes.jwt`.

use std::collections::HashMap;
use std::sync::Arc;

use http::{request, HeaderValue};
use portcullis_config::Config;
use portcullis_keys::{BearerFailure, BearerVerifier};
use portcullis_pipeline::{AuthMethod, Identity, RequestCtx};

use crate::{JwtError, JwtVerifier, StepUpPolicy};

/// Verifies `Authorization: Bearer <jwt>` for the route auth policy with the `[jwt]` keys, issuer and audience.
pub struct JwtBearer {
    verifier: Arc<JwtVerifier>,
    /// Route name → what that route's `auth.step_up` demands.
    step_up: HashMap<Box<str>, StepUpPolicy>,
}

impl JwtBearer {
    pub fn new(verifier: Arc<JwtVerifier>) -> JwtBearer {
        JwtBearer { verifier, step_up: HashMap::new() }
    }

    /// Adds every route's `auth.step_up` from `config` (validated: only on routes whose methods list `jwt`).
    pub fn with_route_step_up(mut self, config: &Config) -> JwtBearer {
        for r in &config.file.routes {
            if let Some(s) = r.auth.as_ref().and_then(|a| a.step_up.as_ref()) {
                self.step_up.insert(r.name.as_str().into(), StepUpPolicy::from_section(s));
            }
        }
        self
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
        route: &str,
        _ctx: &RequestCtx,
        _req: &request::Parts,
    ) -> Result<Identity, BearerFailure> {
        let t = self.verifier.verify(token, JwtVerifier::now()).map_err(|e| failure(&e))?;
        if let Some(p) = self.step_up.get(route) {
            p.check(&t).map_err(|e| failure(&e))?;
        }
        Ok(Identity {
            subject: Arc::from(t.sub.as_str()),
            method: AuthMethod::Jwt,
            scopes: t.scopes.iter().map(|s| Arc::from(s.as_str())).collect(),
        })
    }
}
