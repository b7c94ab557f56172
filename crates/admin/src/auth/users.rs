//! The admin users store: one SQLite file (`[admin] users_db`), separate from any other database.
//!
//! Per user: name, Argon2id password hash (PHC string), the 160-bit TOTP secret sealed with AES-256-GCM
//! ([`super::sealing`]: key from `<users_db>.key`, user name as associated data), the last TOTP time step
//! accepted (a code is accepted once: the step only moves forward, in one conditional `UPDATE`, so even two
//! gateways or a gateway and the CLI on the same file cannot both accept it), created time, disabled flag and
//! failed-login counters. The file is created with mode 0600 and forced back to 0600 on every open. Schema 1
//! stored TOTP secrets in the clear; opening such a file seals every row and moves it to schema 2 in one
//! transaction, with `secure_delete` on so the clear bytes are overwritten rather than left in free pages.
//!
//! Argon2id parameters: m = 19 MiB, t = 2, p = 1 — the OWASP Password Storage Cheat Sheet's first
//! recommended setting (and RFC 9106's memory-hard Argon2id). About 20–40 ms per hash here, which is
//! nothing for a human logging in and costly for an offline guesser; the login handler lets only two
//! verifications run at once so a login flood cannot allocate unbounded memory.
//!
//! Owns: the schema, password hashing, TOTP step bookkeeping. Must not touch: HTTP, sessions, lockouts.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rusqlite::{params, Connection, OptionalExtension};

use super::sealing::{self, SealError, TotpSealer};
use super::totp;

/// Argon2id memory cost in KiB (19 MiB).
pub const ARGON2_M_KIB: u32 = 19 * 1024;
/// Argon2id passes.
pub const ARGON2_T: u32 = 2;
/// Argon2id lanes.
pub const ARGON2_P: u32 = 1;
/// Shortest admin password accepted.
pub const MIN_PASSWORD_LEN: usize = 12;
/// Longest password accepted (bytes): bounds the work and memory of one login request.
pub const MAX_PASSWORD_LEN: usize = 1024;

/// 1: TOTP secrets in the clear; 2: sealed.
const SCHEMA_VERSION: i64 = 2;

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("users database {path}: {source}")]
    Db { path: String, source: rusqlite::Error },
    #[error("users database {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("users database {path} has schema version {found}, this portcullis knows {SCHEMA_VERSION}")]
    Schema { path: String, found: i64 },
    #[error("an admin user named {0:?} already exists")]
    Exists(String),
    #[error("no admin user named {0:?}")]
    NotFound(String),
    #[error("invalid user name {0:?}: use 1–64 characters from A–Z a–z 0–9 . _ @ -")]
    BadName(String),
    #[error("the password must be {MIN_PASSWORD_LEN} to {MAX_PASSWORD_LEN} bytes long")]
    BadPassword,
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("admin user {user:?}: {source}")]
    Seal { user: String, source: SealError },
    #[error("{0}")]
    KeyFile(SealError),
}

/// A user as the login check sees it (secrets included; never logged, never serialised).
pub struct UserRecord {
    pub username: String,
    pub password_hash: String,
    pub totp_secret: Vec<u8>,
    pub disabled: bool,
}

/// A user as `list-users` shows it: no secrets.
#[derive(Debug, Clone, serde::Serialize)]
pub struct UserSummary {
    pub username: String,
    pub created_at: i64,
    pub disabled: bool,
    pub failed_logins: i64,
    pub last_failed_at: Option<i64>,
    pub last_login_at: Option<i64>,
}

/// The admin users database.
pub struct UserStore {
    // One connection behind a mutex: admin traffic is a handful of requests, every statement is a point query
    // on a tiny table, and Argon2 runs outside the lock.
    conn: Mutex<Connection>,
    path: PathBuf,
    sealer: TotpSealer,
}

pub fn valid_username(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._@-".contains(&b))
}

fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

fn argon2() -> Argon2<'static> {
    let params = Params::new(ARGON2_M_KIB, ARGON2_T, ARGON2_P, None).expect("constant Argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password as an Argon2id PHC string with a fresh 128-bit salt.
pub fn hash_password(password: &str) -> Result<String, UserError> {
    if !(MIN_PASSWORD_LEN..=MAX_PASSWORD_LEN).contains(&password.len()) {
        return Err(UserError::BadPassword);
    }
    let mut salt = [0u8; 16];
    rand::Rng::fill(&mut rand::rng(), &mut salt[..]);
    let salt = SaltString::encode_b64(&salt).map_err(|e| UserError::Hash(e.to_string()))?;
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| UserError::Hash(e.to_string()))
}

/// Checks a password against a PHC string (its own parameters apply). A malformed hash never matches.
pub fn verify_password(password: &str, phc: &str) -> bool {
    if password.len() > MAX_PASSWORD_LEN {
        return false;
    }
    match PasswordHash::new(phc) {
        Ok(parsed) => argon2().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// A hash of a random password, verified against when the user does not exist, so an unknown name costs
/// the same Argon2 time as a wrong password and response timing does not reveal which names exist.
pub fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let mut pw = [0u8; 24];
        rand::Rng::fill(&mut rand::rng(), &mut pw[..]);
        hash_password(&data_encoding::BASE32_NOPAD.encode(&pw)).expect("hashing a 39-byte password succeeds")
    })
}

impl UserStore {
    /// Opens (creating if needed, mode 0600) the database at `path` and its schema, with the TOTP sealing key
    /// from `<path>.key` (created if missing).
    pub fn open(path: &Path) -> Result<UserStore, UserError> {
        Self::open_with_key(path, &sealing::default_key_file(path))
    }

    /// Like [`open`](Self::open), with the sealing key's secret file at `key_file`.
    pub fn open_with_key(path: &Path, key_file: &Path) -> Result<UserStore, UserError> {
        let sealer = TotpSealer::load_or_create(key_file).map_err(UserError::KeyFile)?;
        let shown = path.display().to_string();
        let io = |source| UserError::Io { path: shown.clone(), source };
        {
            use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
            std::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(path).map_err(io)?;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
        }
        let db = |source| UserError::Db { path: shown.clone(), source };
        let conn = Connection::open(path).map_err(db)?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(db)?;
        // Overwrite deleted and replaced content: a secret once stored in the clear must not linger.
        conn.execute_batch("PRAGMA secure_delete = ON;").map_err(db)?;
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(db)?;
        match version {
            0 => conn
                .execute_batch(
                    "BEGIN;
                     CREATE TABLE IF NOT EXISTS admin_users (
                         username       TEXT PRIMARY KEY NOT NULL,
                         password_hash  TEXT NOT NULL,
                         totp_secret    BLOB NOT NULL,
                         totp_last_step INTEGER NOT NULL DEFAULT -1,
                         created_at     INTEGER NOT NULL,
                         disabled       INTEGER NOT NULL DEFAULT 0,
                         failed_logins  INTEGER NOT NULL DEFAULT 0,
                         last_failed_at INTEGER,
                         last_login_at  INTEGER
                     );
                     PRAGMA user_version = 2;
                     COMMIT;",
                )
                .map_err(db)?,
            1 => seal_clear_rows(&conn, &sealer).map_err(|e| match e {
                Migration::Db(source) => UserError::Db { path: shown.clone(), source },
                Migration::Seal(user, source) => UserError::Seal { user, source },
            })?,
            SCHEMA_VERSION => {}
            found => return Err(UserError::Schema { path: shown, found }),
        }
        Ok(UserStore { conn: Mutex::new(conn), path: path.to_path_buf(), sealer })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn db_err(&self, source: rusqlite::Error) -> UserError {
        UserError::Db { path: self.path.display().to_string(), source }
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave a half-done statement behind (SQLite is transactional).
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Creates a user; returns the new TOTP secret (shown once, as the provisioning URI).
    pub fn add_user(&self, name: &str, password: &str) -> Result<[u8; totp::SECRET_LEN], UserError> {
        if !valid_username(name) {
            return Err(UserError::BadName(name.to_string()));
        }
        let hash = hash_password(password)?;
        let secret = totp::new_secret();
        let sealed = self.seal(name, &secret)?;
        let r = self.conn().execute(
            "INSERT INTO admin_users (username, password_hash, totp_secret, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![name, hash, sealed, unix_now()],
        );
        match r {
            Ok(_) => Ok(secret),
            Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == rusqlite::ErrorCode::ConstraintViolation => {
                Err(UserError::Exists(name.to_string()))
            }
            Err(e) => Err(self.db_err(e)),
        }
    }

    /// Number of users that can log in.
    pub fn active_count(&self) -> Result<u64, UserError> {
        self.conn()
            .query_row("SELECT COUNT(*) FROM admin_users WHERE disabled = 0", [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(|e| self.db_err(e))
    }

    fn seal(&self, name: &str, secret: &[u8]) -> Result<Vec<u8>, UserError> {
        self.sealer.seal(name, secret).map_err(|source| UserError::Seal { user: name.to_string(), source })
    }

    /// The user with the TOTP secret opened. A row that does not open (another key file, a tampered or
    /// swapped row) is an error, never a usable secret.
    pub fn get(&self, name: &str) -> Result<Option<UserRecord>, UserError> {
        let rec = self
            .conn()
            .query_row(
                "SELECT username, password_hash, totp_secret, disabled FROM admin_users WHERE username = ?1",
                [name],
                |r| {
                    Ok(UserRecord {
                        username: r.get(0)?,
                        password_hash: r.get(1)?,
                        totp_secret: r.get(2)?,
                        disabled: r.get(3)?,
                    })
                },
            )
            .optional()
            .map_err(|e| self.db_err(e))?;
        let Some(mut rec) = rec else { return Ok(None) };
        rec.totp_secret = self
            .sealer
            .open(&rec.username, &rec.totp_secret)
            .map_err(|source| UserError::Seal { user: rec.username.clone(), source })?;
        Ok(Some(rec))
    }

    /// True if the user exists and is not disabled (checked on every admin request, so `disable-user` ends
    /// a live session at once).
    pub fn is_active(&self, name: &str) -> Result<bool, UserError> {
        self.conn()
            .query_row("SELECT disabled FROM admin_users WHERE username = ?1", [name], |r| r.get::<_, bool>(0))
            .optional()
            .map(|d| d == Some(false))
            .map_err(|e| self.db_err(e))
    }

    /// Records `step` as used if it is newer than the last accepted one; false means a replayed (or older)
    /// code. One conditional statement, so the check and the write cannot interleave with another login.
    pub fn accept_step(&self, name: &str, step: u64) -> Result<bool, UserError> {
        let step = i64::try_from(step).unwrap_or(i64::MAX);
        self.conn()
            .execute(
                "UPDATE admin_users SET totp_last_step = ?2 WHERE username = ?1 AND totp_last_step < ?2",
                params![name, step],
            )
            .map(|n| n == 1)
            .map_err(|e| self.db_err(e))
    }

    pub fn record_failure(&self, name: &str) -> Result<(), UserError> {
        self.conn()
            .execute(
                "UPDATE admin_users SET failed_logins = failed_logins + 1, last_failed_at = ?2 WHERE username = ?1",
                params![name, unix_now()],
            )
            .map(drop)
            .map_err(|e| self.db_err(e))
    }

    pub fn record_login(&self, name: &str) -> Result<(), UserError> {
        self.conn()
            .execute(
                "UPDATE admin_users SET failed_logins = 0, last_login_at = ?2 WHERE username = ?1",
                params![name, unix_now()],
            )
            .map(drop)
            .map_err(|e| self.db_err(e))
    }

    pub fn list(&self) -> Result<Vec<UserSummary>, UserError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT username, created_at, disabled, failed_logins, last_failed_at, last_login_at
                 FROM admin_users ORDER BY username",
            )
            .map_err(|e| self.db_err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(UserSummary {
                    username: r.get(0)?,
                    created_at: r.get(1)?,
                    disabled: r.get(2)?,
                    failed_logins: r.get(3)?,
                    last_failed_at: r.get(4)?,
                    last_login_at: r.get(5)?,
                })
            })
            .map_err(|e| self.db_err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.db_err(e))
    }

    /// Disables (`true`) or re-enables a user.
    pub fn set_disabled(&self, name: &str, disabled: bool) -> Result<(), UserError> {
        let n = self
            .conn()
            .execute("UPDATE admin_users SET disabled = ?2 WHERE username = ?1", params![name, disabled])
            .map_err(|e| self.db_err(e))?;
        if n == 0 {
            return Err(UserError::NotFound(name.to_string()));
        }
        Ok(())
    }

    /// Gives a user a new TOTP secret (the old authenticator entry stops working); returns it.
    pub fn reset_totp(&self, name: &str) -> Result<[u8; totp::SECRET_LEN], UserError> {
        let secret = totp::new_secret();
        let sealed = self.seal(name, &secret)?;
        // The last-step mark stays: codes are per secret, but keeping it cannot let an old code through.
        let n = self
            .conn()
            .execute("UPDATE admin_users SET totp_secret = ?2 WHERE username = ?1", params![name, sealed])
            .map_err(|e| self.db_err(e))?;
        if n == 0 {
            return Err(UserError::NotFound(name.to_string()));
        }
        Ok(secret)
    }
}

enum Migration {
    Db(rusqlite::Error),
    Seal(String, SealError),
}

impl From<rusqlite::Error> for Migration {
    fn from(e: rusqlite::Error) -> Self {
        Migration::Db(e)
    }
}

/// Schema 1 → 2: seals every clear TOTP secret, in one transaction (a crash leaves schema 1, retried on the
/// next open; a concurrent opener waits on the write lock and then sees schema 2 rows it can open).
fn seal_clear_rows(conn: &Connection, sealer: &TotpSealer) -> Result<(), Migration> {
    conn.execute_batch("BEGIN IMMEDIATE;")?;
    let r = (|| -> Result<(), Migration> {
        let rows: Vec<(String, Vec<u8>)> = {
            let mut stmt = conn.prepare("SELECT username, totp_secret FROM admin_users")?;
            let it = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            it.collect::<Result<_, _>>()?
        };
        for (user, stored) in rows.into_iter().filter(|(_, s)| !sealing::is_sealed(s)) {
            let sealed = sealer.seal(&user, &stored).map_err(|e| Migration::Seal(user.clone(), e))?;
            conn.execute("UPDATE admin_users SET totp_secret = ?2 WHERE username = ?1", params![user, sealed])?;
        }
        conn.execute_batch("PRAGMA user_version = 2;")?;
        Ok(())
    })();
    match r {
        Ok(()) => conn.execute_batch("COMMIT;").map_err(Migration::Db),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK;");
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, UserStore) {
        let dir = tempfile::tempdir().unwrap();
        let s = UserStore::open(&dir.path().join("users.db")).unwrap();
        (dir, s)
    }

    #[test]
    fn argon2id_hash_verifies_and_rejects() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse batterY", &h));
        assert!(!verify_password("correct horse battery", "not a phc string"));
        assert_ne!(h, hash_password("correct horse battery").unwrap(), "salted");
        assert!(!verify_password("correct horse battery", dummy_hash()));
        assert!(matches!(hash_password("short"), Err(UserError::BadPassword)));
    }

    #[test]
    fn users_lifecycle_and_file_mode() {
        let (dir, s) = store();
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("users.db")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(s.active_count().unwrap(), 0);
        let secret = s.add_user("alice", "a long enough password").unwrap();
        assert!(matches!(s.add_user("alice", "a long enough password"), Err(UserError::Exists(_))));
        assert!(matches!(s.add_user("bad name", "a long enough password"), Err(UserError::BadName(_))));
        let rec = s.get("alice").unwrap().unwrap();
        assert_eq!(rec.totp_secret, secret);
        assert!(verify_password("a long enough password", &rec.password_hash));
        assert!(s.is_active("alice").unwrap());
        assert_eq!(s.active_count().unwrap(), 1);
        s.set_disabled("alice", true).unwrap();
        assert!(!s.is_active("alice").unwrap());
        assert!(!s.is_active("nobody").unwrap());
        assert!(matches!(s.set_disabled("nobody", true), Err(UserError::NotFound(_))));
        let new = s.reset_totp("alice").unwrap();
        assert_ne!(new, secret);
        s.record_failure("alice").unwrap();
        let l = s.list().unwrap();
        assert_eq!((l[0].username.as_str(), l[0].disabled, l[0].failed_logins), ("alice", true, 1));
        // Reopening keeps everything (schema version check passes).
        drop(s);
        let s = UserStore::open(&dir.path().join("users.db")).unwrap();
        assert_eq!(s.list().unwrap().len(), 1);
    }

    fn contains(hay: &[u8], needle: &[u8]) -> bool {
        hay.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn totp_secrets_are_sealed_at_rest_and_clear_rows_are_migrated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.db");
        // A schema-1 file, as earlier versions wrote it: the secret in the clear.
        let clear = *b"CLEAR-TOTP-SECRET-20";
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch(
                "CREATE TABLE admin_users (username TEXT PRIMARY KEY NOT NULL, password_hash TEXT NOT NULL,
                 totp_secret BLOB NOT NULL, totp_last_step INTEGER NOT NULL DEFAULT -1, created_at INTEGER NOT NULL,
                 disabled INTEGER NOT NULL DEFAULT 0, failed_logins INTEGER NOT NULL DEFAULT 0,
                 last_failed_at INTEGER, last_login_at INTEGER);
                 PRAGMA user_version = 1;",
            )
            .unwrap();
            c.execute(
                "INSERT INTO admin_users (username, password_hash, totp_secret, created_at) VALUES ('old', 'x', ?1, 0)",
                [&clear[..]],
            )
            .unwrap();
        }
        assert!(contains(&std::fs::read(&path).unwrap(), &clear));
        let s = UserStore::open(&path).unwrap();
        assert_eq!(s.get("old").unwrap().unwrap().totp_secret, clear, "the migrated secret still works");
        let fresh = s.add_user("new", "a long enough password").unwrap();
        let reset = s.reset_totp("old").unwrap();
        drop(s);
        let file = std::fs::read(&path).unwrap();
        for secret in [&clear[..], &fresh[..], &reset[..]] {
            assert!(!contains(&file, secret), "a TOTP secret is in the database file");
        }
        let s = UserStore::open(&path).unwrap();
        assert_eq!(s.get("new").unwrap().unwrap().totp_secret, fresh);
        drop(s);
        // Without the right key file the rows do not open.
        std::fs::write(dir.path().join("users.db.key"), [b'k'; 40]).unwrap();
        let s = UserStore::open(&path).unwrap();
        assert!(matches!(s.get("new"), Err(UserError::Seal { .. })));
    }

    #[test]
    fn a_time_step_is_accepted_once_and_never_an_older_one() {
        let (_dir, s) = store();
        s.add_user("bob", "a long enough password").unwrap();
        assert!(s.accept_step("bob", 100).unwrap());
        assert!(!s.accept_step("bob", 100).unwrap(), "replay");
        assert!(!s.accept_step("bob", 99).unwrap(), "older step");
        assert!(s.accept_step("bob", 101).unwrap());
        assert!(!s.accept_step("nobody", 500).unwrap());
    }
}
