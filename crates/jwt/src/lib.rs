//! JWT bearer-token verification for Portcullis, written on `ring` (see [`JwtVerifier`]), and the per-route
//! [`JwtAuth`] protection.
//!
//! Why not `jsonwebtoken`: its key and algorithm checks are family-level and it takes a caller-chosen
//! algorithm list per call; we want each key pinned by its own JWK (`kty`/`crv`/`alg`), symmetric keys never
//! taken from a JWKS, and every parse bounded and panic-free — a small amount of code on `ring` (already our TLS
//! crypto) does exactly that and adds no dependency.
//!
//! The rules it enforces:
//! - **algorithms**: an explicit allow-list (RS256/384/512, PS256/384/512, ES256/384, EdDSA; HS256 only with a
//!   configured secret). `none` cannot even be named ([`Algorithm`]).
//! - **keys pin the algorithm**: an RSA key verifies only RS*/PS* (and only its JWK `alg` if it has one), a P-256
//!   key only ES256, and so on; `kty: "oct"` entries in a JWKS are skipped, so HS256 signed with an RSA public
//!   key finds no HMAC key (the HS/RS confusion).
//! - **`kid`**: a bounded string used only as a map key; an unknown one triggers at most one refresh per
//!   `refresh_min_interval`, then the token is refused.
//! - **claims**: `iss` exact, `aud` string or array, `exp` required, `nbf`, `iat`; skew at most 5 minutes.
//! - **step-up** (RFC 9470): [`StepUpPolicy`] → [`JwtError::StepUpRequired`] → a challenge naming `acr_values`.
//!
//! Config (`crates/config/src/jwt.rs`):
//!
//! ```toml
//! [jwt]
//! jwks_url = "https://idp.example/.well-known/jwks.json"   # or jwks_file = "jwks.json"
//! issuer = "https://idp.example"
//! audience = ["shop-api"]
//! algorithms = ["RS256", "ES256"]      # default RS256, PS256, ES256, EdDSA
//! leeway = "60s"                       # at most 5m
//! scope_claim = "scope"                # or "scp", "permissions"
//! refresh = "5m"                       # periodic re-read
//! refresh_min_interval = "30s"         # unknown-kid re-reads at most this often
//! claim_scopes = [{ claim = "groups", value = "admins", scopes = ["admin"] }]
//!
//! [[routes]]
//! name = "admin"
//! upstream = "shop"
//! jwt = { required = true, scopes = ["admin"], step_up = { acr_values = ["mfa"], amr = ["otp", "hwk"] } }
//! ```
//!
//! The first key load happens at build (a URL is fetched then, bounded by `fetch_timeout`; failure fails the
//! build, so a reload keeps the old config). [`JwtVerifier::verify`] never blocks: an unknown `kid` starts a
//! background refresh and that request is refused; [`JwtVerifier::verify_refreshing`] awaits it instead.
//!
//! Owns: token parsing, key sets, claim checks, challenges. Must not touch: other credentials, rate limits.

mod alg;
mod auth;
mod bearer;
mod claims;
mod error;
mod jwk;
mod source;
mod step_up;
mod token;
mod verifier;

pub use alg::{Algorithm, KeyFamily};
pub use auth::{bearer_token, problem_for, JwtAuth, RouteJwtPolicy, X_PORTCULLIS_SUBJECT};
pub use bearer::JwtBearer;
pub use claims::{ClaimRules, ClaimScope, VerifiedToken};
pub use error::{bearer_challenge, step_up_challenge, JwtError, REALM};
pub use jwk::{parse_jwks, JwksError, KeySet, VerifyKey, MAX_JWKS_BYTES};
pub use source::KeySource;
pub use step_up::StepUpPolicy;
pub use token::MAX_TOKEN_BYTES;
pub use verifier::{JwtConfig, JwtVerifier};
