//! API keys for Portcullis: the key format, keyed-hash storage, the lifecycle (create, rotate with overlap,
//! revoke, expire, audit), request-path verification with a cross-process-coherent cache, and the per-route
//! auth policy protection (`api_key | jwt | mtls`, any/all, scopes).
//!
//! ```text
//! client ──key──► AuthProtection ──parse (prefix, env, checksum: no lookup for a typo)
//!                        │            └► KeyVerifier ── cache ──miss──► KeyStore (SQLite WAL, or Redis)
//!                        │                 ▲ change_seq polled ≤ 1 s        ▲
//!                        ▼                 └────────────────────── CLI / admin API (KeyManager)
//!        ctx.identity + X-Portcullis-* headers upstream
//! ```
//!
//! Owns: keys, their store and audit trail, the auth policy. Must not touch: sockets, TLS, JWT parsing (a
//! [`BearerVerifier`] plugs in), how counters are stored (per-key limits travel as [`KeyLimits`] in the request's
//! extensions to [`KeyLimitGuard`], which counts them in the traffic limits' store).

mod bearer;
pub mod format;
mod hasher;
mod lifecycle;
mod limit_guard;
mod protection;
mod record;
mod redis_store;
mod sqlite;
mod store;
mod verifier;

pub use bearer::{BearerFailure, BearerVerifier};
pub use format::{FormatError, KeyEnv, ParsedKey};
pub use hasher::{generate_secret, KeyHash, KeyHasher, SecretError, DEFAULT_SECRET_ENV, MIN_SECRET_BYTES};
pub use lifecycle::{expire, revoke, Issued, KeyManager, LifecycleError, NewKey};
pub use limit_guard::{KeyLimitGuard, QUOTA_POLICY, RATE_POLICY};
pub use protection::{
    open_manager, open_store, AuthBuildError, AuthProtection, H_KEY_ID, H_METHOD, H_SCOPES, H_SUBJECT,
    IDENTITY_HEADER_PREFIX,
};
pub use record::{now_ms, rfc3339, scope_covers, valid_scope, KeyLimits, KeyRecord, KeyStatus, Millis, Rate};
pub use redis_store::RedisKeyStore;
pub use sqlite::SqliteStore;
pub use store::{AuditEvent, KeyChange, KeyStore, StoreError, Usage};
pub use verifier::{KeyVerifier, Rejection, Verified, VerifierOptions};
