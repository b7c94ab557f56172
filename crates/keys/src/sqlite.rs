//! The embedded key store: one SQLite file (rusqlite, bundled), WAL mode so the gateway's readers never wait
//! for the CLI or admin API writing, and several gateway processes can share the file on one host.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::format::KeyEnv;
use crate::hasher::KeyHash;
use crate::record::{KeyLimits, KeyRecord, KeyStatus, Rate};
use crate::store::{AuditEvent, KeyChange, KeyStore, StoreError, Usage};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS keys (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    env         TEXT NOT NULL,
    hash        BLOB NOT NULL,
    scopes      TEXT NOT NULL,
    created     INTEGER NOT NULL,
    expires     INTEGER,
    status      TEXT NOT NULL,
    rate_limit  TEXT,
    quota       TEXT,
    last_used   INTEGER,
    last_ip     TEXT,
    prev_hash   BLOB,
    prev_until  INTEGER
);
CREATE TABLE IF NOT EXISTS audit (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    at      INTEGER NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    key_id  TEXT NOT NULL,
    detail  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_key ON audit(key_id, seq);
CREATE TABLE IF NOT EXISTS meta (
    k TEXT PRIMARY KEY,
    v TEXT NOT NULL
);
INSERT OR IGNORE INTO meta(k, v) VALUES ('change_seq', '0');
";

const COLUMNS: &str =
    "id, name, env, hash, scopes, created, expires, status, rate_limit, quota, last_used, last_ip, prev_hash, prev_until";

/// The SQLite key store. One connection behind a mutex: key lookups are single-row primary-key reads, and the
/// gateway caches their results, so contention stays low.
pub struct SqliteStore {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SqliteStore({})", self.path.display())
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the store at `path`. The directory must exist.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let db = |e: rusqlite::Error| StoreError::Db { path: path.display().to_string(), err: e.to_string() };
        let conn = Connection::open(path).map_err(db)?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(db)?;
        // WAL: readers and the one writer do not block each other; NORMAL is durable across process crashes
        // (the only loss on power failure is the last transactions, acceptable for key metadata).
        conn.pragma_update(None, "journal_mode", "WAL").map_err(db)?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(db)?;
        conn.execute_batch(SCHEMA).map_err(db)?;
        Ok(SqliteStore { conn: Mutex::new(conn), path: path.to_path_buf() })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, e: rusqlite::Error) -> StoreError {
        StoreError::Db { path: self.path.display().to_string(), err: e.to_string() }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut conn)
    }
}

fn hash_col(row: &Row, i: usize) -> rusqlite::Result<Option<KeyHash>> {
    let v: Option<Vec<u8>> = row.get(i)?;
    Ok(v.and_then(|b| <KeyHash>::try_from(b.as_slice()).ok()))
}

fn rate_col(row: &Row, i: usize) -> rusqlite::Result<Option<Rate>> {
    let v: Option<String> = row.get(i)?;
    Ok(v.and_then(|s| Rate::parse(&s).ok()))
}

fn from_row(row: &Row) -> rusqlite::Result<KeyRecord> {
    let env: String = row.get(2)?;
    let scopes: String = row.get(4)?;
    let status: String = row.get(7)?;
    Ok(KeyRecord {
        id: row.get(0)?,
        name: row.get(1)?,
        env: KeyEnv::parse(&env).unwrap_or(KeyEnv::Live),
        // A hash column of the wrong size can only come from outside tampering; an all-zero hash never
        // matches an HMAC output in practice, so such a key simply stops working.
        hash: hash_col(row, 3)?.unwrap_or([0; 32]),
        scopes: scopes.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect(),
        created: row.get(5)?,
        expires: row.get(6)?,
        // Unknown status text: treat as revoked (fail closed).
        status: KeyStatus::parse(&status).unwrap_or(KeyStatus::Revoked),
        limits: KeyLimits { rate_limit: rate_col(row, 8)?, quota: rate_col(row, 9)? },
        last_used: row.get(10)?,
        last_ip: row.get(11)?,
        prev_hash: hash_col(row, 12)?,
        prev_until: row.get(13)?,
    })
}

fn write_audit(tx: &rusqlite::Transaction, a: &AuditEvent) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO audit(at, actor, action, key_id, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![a.at, a.actor, a.action, a.key_id, a.detail],
    )?;
    tx.execute("UPDATE meta SET v = CAST(v AS INTEGER) + 1 WHERE k = 'change_seq'", [])?;
    Ok(())
}

impl KeyStore for SqliteStore {
    fn get(&self, id: &str) -> Result<Option<KeyRecord>, StoreError> {
        self.with(|c| {
            let mut st =
                c.prepare_cached(&format!("SELECT {COLUMNS} FROM keys WHERE id = ?1")).map_err(|e| self.err(e))?;
            st.query_row([id], from_row).optional().map_err(|e| self.err(e))
        })
    }

    fn list(&self) -> Result<Vec<KeyRecord>, StoreError> {
        self.with(|c| {
            let mut st = c
                .prepare_cached(&format!("SELECT {COLUMNS} FROM keys ORDER BY created DESC, id"))
                .map_err(|e| self.err(e))?;
            let rows = st.query_map([], from_row).map_err(|e| self.err(e))?;
            rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
        })
    }

    fn insert(&self, r: &KeyRecord, audit: &AuditEvent) -> Result<(), StoreError> {
        self.with(|c| {
            let tx = c.transaction().map_err(|e| self.err(e))?;
            let exists: bool = tx
                .query_row("SELECT 1 FROM keys WHERE id = ?1", [&r.id], |_| Ok(true))
                .optional()
                .map_err(|e| self.err(e))?
                .unwrap_or(false);
            if exists {
                return Err(StoreError::Exists(r.id.clone()));
            }
            tx.execute(
                &format!(
                    "INSERT INTO keys({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
                ),
                params![
                    r.id,
                    r.name,
                    r.env.as_str(),
                    r.hash.as_slice(),
                    r.scopes.join(","),
                    r.created,
                    r.expires,
                    r.status.as_str(),
                    r.limits.rate_limit.map(|x| x.to_string()),
                    r.limits.quota.map(|x| x.to_string()),
                    r.last_used,
                    r.last_ip,
                    r.prev_hash.as_ref().map(|h| h.as_slice()),
                    r.prev_until,
                ],
            )
            .map_err(|e| self.err(e))?;
            write_audit(&tx, audit).map_err(|e| self.err(e))?;
            tx.commit().map_err(|e| self.err(e))
        })
    }

    fn update(&self, id: &str, change: &KeyChange, audit: &AuditEvent) -> Result<(), StoreError> {
        self.with(|c| {
            let tx = c.transaction().map_err(|e| self.err(e))?;
            let status: Option<String> = tx
                .query_row("SELECT status FROM keys WHERE id = ?1", [id], |r| r.get(0))
                .optional()
                .map_err(|e| self.err(e))?;
            let Some(status) = status else {
                return Err(StoreError::NotFound(id.to_string()));
            };
            let revoked = status != KeyStatus::Active.as_str();
            let n = match change {
                KeyChange::Rotate { .. } | KeyChange::Expires(_) if revoked => {
                    return Err(StoreError::Revoked(id.to_string()))
                }
                KeyChange::Rotate { hash, prev_until } => tx.execute(
                    // The hash being replaced becomes the previous one; `prev_until` NULL means it stops at once.
                    "UPDATE keys SET prev_hash = CASE WHEN ?2 IS NULL THEN NULL ELSE hash END, prev_until = ?2, hash = ?1 WHERE id = ?3",
                    params![hash.as_slice(), prev_until, id],
                ),
                // A revocation also ends any rotation overlap.
                KeyChange::Status(s) => tx.execute(
                    "UPDATE keys SET status = ?1, prev_hash = NULL, prev_until = NULL WHERE id = ?2",
                    params![s.as_str(), id],
                ),
                KeyChange::Expires(at) => tx.execute(
                    "UPDATE keys SET expires = ?1 WHERE id = ?2",
                    params![at, id],
                ),
            }
            .map_err(|e| self.err(e))?;
            if n == 0 {
                return Err(StoreError::NotFound(id.to_string()));
            }
            write_audit(&tx, audit).map_err(|e| self.err(e))?;
            tx.commit().map_err(|e| self.err(e))
        })
    }

    fn record_usage(&self, batch: &[Usage]) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        self.with(|c| {
            let tx = c.transaction().map_err(|e| self.err(e))?;
            {
                let mut st = tx
                    .prepare_cached(
                        "UPDATE keys SET last_used = ?1, last_ip = ?2 WHERE id = ?3 AND COALESCE(last_used, 0) <= ?1",
                    )
                    .map_err(|e| self.err(e))?;
                for u in batch {
                    st.execute(params![u.at, u.ip, u.id]).map_err(|e| self.err(e))?;
                }
            }
            tx.commit().map_err(|e| self.err(e))
        })
    }

    fn change_seq(&self) -> Result<i64, StoreError> {
        self.with(|c| {
            c.query_row("SELECT CAST(v AS INTEGER) FROM meta WHERE k = 'change_seq'", [], |r| r.get(0))
                .map_err(|e| self.err(e))
        })
    }

    fn audit(&self, key_id: Option<&str>, limit: usize) -> Result<Vec<AuditEvent>, StoreError> {
        self.with(|c| {
            let mut st = c
                .prepare_cached(
                    "SELECT at, actor, action, key_id, detail FROM audit WHERE ?1 IS NULL OR key_id = ?1 ORDER BY seq DESC LIMIT ?2",
                )
                .map_err(|e| self.err(e))?;
            let rows = st
                .query_map(params![key_id, limit as i64], |r| {
                    Ok(AuditEvent { at: r.get(0)?, actor: r.get(1)?, action: r.get(2)?, key_id: r.get(3)?, detail: r.get(4)? })
                })
                .map_err(|e| self.err(e))?;
            rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
        })
    }

    fn check_fingerprint(&self, fingerprint: &str) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute("INSERT OR IGNORE INTO meta(k, v) VALUES ('secret_fingerprint', ?1)", [fingerprint])
                .map_err(|e| self.err(e))?;
            let stored: String = c
                .query_row("SELECT v FROM meta WHERE k = 'secret_fingerprint'", [], |r| r.get(0))
                .map_err(|e| self.err(e))?;
            if stored == fingerprint {
                Ok(())
            } else {
                Err(StoreError::SecretMismatch { stored, configured: fingerprint.to_string() })
            }
        })
    }
}
