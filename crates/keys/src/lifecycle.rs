//! Key lifecycle operations shared by the CLI and the admin API: create, import, rotate, revoke, expire.
//! Each is one store transaction with its audit event. The secret exists only in the return value of
//! [`KeyManager::create`] / [`KeyManager::rotate`]: shown once, never stored or logged.

use std::sync::Arc;
use std::time::Duration;

use crate::format::{self, KeyEnv};
use crate::hasher::KeyHasher;
use crate::record::{now_ms, valid_scope, KeyLimits, KeyRecord, KeyStatus, Millis};
use crate::store::{AuditEvent, KeyChange, KeyStore, StoreError};

/// What a new key is made of.
#[derive(Debug, Clone, Default)]
pub struct NewKey {
    pub name: String,
    pub scopes: Vec<String>,
    /// Valid for this long from now; `None`: no expiry.
    pub expires_in: Option<Duration>,
    pub limits: KeyLimits,
    pub env: Option<KeyEnv>,
}

#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Invalid(String),
}

/// A key as created or rotated: the record and the secret, to be shown exactly once.
pub struct Issued {
    pub record: KeyRecord,
    pub key: String,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issued").field("record", &self.record).field("key", &"<secret>").finish()
    }
}

/// The lifecycle operations over a store and a hasher.
#[derive(Clone)]
pub struct KeyManager {
    pub store: Arc<dyn KeyStore>,
    hasher: KeyHasher,
}

fn check_new(k: &NewKey) -> Result<(), LifecycleError> {
    if k.name.trim().is_empty() || k.name.len() > 200 || k.name.chars().any(char::is_control) {
        return Err(LifecycleError::Invalid("name: 1–200 printable characters".into()));
    }
    if let Some(bad) = k.scopes.iter().find(|s| !valid_scope(s)) {
        return Err(LifecycleError::Invalid(format!(
            "scope {bad:?}: 1–64 characters of A-Z a-z 0-9 : _ - . (optionally ending in *)"
        )));
    }
    Ok(())
}

fn audit(actor: &str, action: &str, key_id: &str, detail: String) -> AuditEvent {
    AuditEvent {
        at: now_ms(),
        actor: actor.to_string(),
        action: action.to_string(),
        key_id: key_id.to_string(),
        detail,
    }
}

impl KeyManager {
    /// Checks that `hasher`'s secret is the one the store was created with (recording it the first time).
    pub fn new(store: Arc<dyn KeyStore>, hasher: KeyHasher) -> Result<KeyManager, StoreError> {
        store.check_fingerprint(&hasher.fingerprint())?;
        Ok(KeyManager { store, hasher })
    }

    pub fn hasher(&self) -> &KeyHasher {
        &self.hasher
    }

    pub fn create(&self, new: &NewKey, actor: &str) -> Result<Issued, LifecycleError> {
        check_new(new)?;
        let env = new.env.unwrap_or(KeyEnv::Live);
        let id = format::new_id();
        let key = format::generate(env, &id);
        let record = self.record(new, env, id, &key);
        let detail = format!("name {:?}, scopes {}", record.name, record.scopes.join(","));
        self.store.insert(&record, &audit(actor, "create", &record.id, detail))?;
        Ok(Issued { record, key })
    }

    /// Stores an existing well-formed key (provisioning a key generated elsewhere, e.g. a benchmark's).
    pub fn import(&self, new: &NewKey, key: &str, actor: &str) -> Result<KeyRecord, LifecycleError> {
        check_new(new)?;
        let parsed = format::parse(key).map_err(|e| LifecycleError::Invalid(format!("not a Portcullis key: {e}")))?;
        let record = self.record(new, parsed.env, parsed.id.to_string(), key);
        let detail = format!("name {:?}, scopes {}", record.name, record.scopes.join(","));
        self.store.insert(&record, &audit(actor, "import", &record.id, detail))?;
        Ok(record)
    }

    fn record(&self, new: &NewKey, env: KeyEnv, id: String, key: &str) -> KeyRecord {
        let now = now_ms();
        KeyRecord {
            id,
            name: new.name.trim().to_string(),
            env,
            hash: self.hasher.hash(key),
            scopes: new.scopes.clone(),
            created: now,
            expires: new.expires_in.map(|d| now.saturating_add(d.as_millis() as Millis)),
            status: KeyStatus::Active,
            limits: new.limits,
            last_used: None,
            last_ip: None,
            prev_hash: None,
            prev_until: None,
        }
    }

    /// A new secret for key `id` (same id, env, scopes); the old secret keeps working for `overlap`.
    pub fn rotate(&self, id: &str, overlap: Duration, actor: &str) -> Result<Issued, LifecycleError> {
        let old = self.store.get(id)?.ok_or_else(|| StoreError::NotFound(id.to_string()))?;
        let key = format::generate(old.env, id);
        let hash = self.hasher.hash(&key);
        let prev_until = (!overlap.is_zero()).then(|| now_ms().saturating_add(overlap.as_millis() as Millis));
        let detail = format!("overlap {}", humantime::format_duration(overlap));
        self.store.update(id, &KeyChange::Rotate { hash, prev_until }, &audit(actor, "rotate", id, detail))?;
        let record = self.store.get(id)?.ok_or_else(|| StoreError::NotFound(id.to_string()))?;
        Ok(Issued { record, key })
    }

    pub fn revoke(&self, id: &str, actor: &str) -> Result<(), LifecycleError> {
        revoke(&*self.store, id, actor)
    }

    pub fn expire(&self, id: &str, actor: &str) -> Result<(), LifecycleError> {
        expire(&*self.store, id, actor)
    }
}

/// Revokes key `id` (no secret needed): it stops working on every gateway within the poll interval.
pub fn revoke(store: &dyn KeyStore, id: &str, actor: &str) -> Result<(), LifecycleError> {
    let change = KeyChange::Status(KeyStatus::Revoked);
    Ok(store.update(id, &change, &audit(actor, "revoke", id, String::new()))?)
}

/// Ends key `id`'s validity now (no secret needed).
pub fn expire(store: &dyn KeyStore, id: &str, actor: &str) -> Result<(), LifecycleError> {
    Ok(store.update(id, &KeyChange::Expires(now_ms()), &audit(actor, "expire", id, String::new()))?)
}
