//! The key store behind one trait, so the embedded SQLite default and a fleet backend (Redis, later) are
//! interchangeable. Every lifecycle change writes an audit event in the same transaction and bumps a change
//! counter that gateways poll to drop cached keys.

use crate::hasher::KeyHash;
use crate::record::{KeyRecord, KeyStatus, Millis};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("key store {path}: {err}")]
    Db { path: String, err: String },
    #[error("no key with id {0:?}")]
    NotFound(String),
    #[error("a key with id {0:?} already exists")]
    Exists(String),
    #[error("key {0:?} is revoked")]
    Revoked(String),
    #[error("the keys secret does not match the one this key store was created with (fingerprint {stored}, configured {configured})")]
    SecretMismatch { stored: String, configured: String },
}

/// One audit event: who did what to which key, when. Never a secret or a hash.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditEvent {
    pub at: Millis,
    /// `cli:alice`, `admin:bob`, `demo`.
    pub actor: String,
    /// `create`, `rotate`, `revoke`, `expire`, `import`.
    pub action: String,
    pub key_id: String,
    /// A short human note (`"overlap 1h"`, `"scopes users:read"`).
    pub detail: String,
}

/// A change to a key, applied atomically with its audit event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyChange {
    /// A new hash; the previous one stays valid until `prev_until` (or not at all when `None`).
    Rotate {
        hash: KeyHash,
        prev_until: Option<Millis>,
    },
    Status(KeyStatus),
    Expires(Millis),
}

/// Last-used facts gathered by the gateway and written in batches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage {
    pub id: String,
    pub at: Millis,
    pub ip: String,
}

pub trait KeyStore: Send + Sync {
    /// The key with this id (the only lookup the request path does).
    fn get(&self, id: &str) -> Result<Option<KeyRecord>, StoreError>;
    /// Every key, newest first.
    fn list(&self) -> Result<Vec<KeyRecord>, StoreError>;
    fn insert(&self, record: &KeyRecord, audit: &AuditEvent) -> Result<(), StoreError>;
    fn update(&self, id: &str, change: &KeyChange, audit: &AuditEvent) -> Result<(), StoreError>;
    fn record_usage(&self, batch: &[Usage]) -> Result<(), StoreError>;
    /// A counter that changes whenever any key changes (not on usage updates).
    fn change_seq(&self) -> Result<i64, StoreError>;
    /// Audit events, newest first, optionally for one key.
    fn audit(&self, key_id: Option<&str>, limit: usize) -> Result<Vec<AuditEvent>, StoreError>;
    /// Checks the server-secret fingerprint, recording it on first use.
    fn check_fingerprint(&self, fingerprint: &str) -> Result<(), StoreError>;
}
