//! TOTP secrets at rest: sealed with AES-256-GCM under a key derived (HKDF-SHA-256) from a server secret file,
//! with the user name as associated data, so the users database alone — a backup, a copied file — does not
//! let anyone mint codes, and a sealed secret moved to another user's row does not open.
//!
//! The secret file is `<users_db>.key` by default: created with 32 random bytes (hex) and mode 0600 when
//! missing, and kept out of the database on purpose (back them up separately). Losing it means re-enrolling
//! every admin user (`portcullis admin reset-totp`), like losing a keys server secret means reissuing keys.
//!
//! Stored form: `"pcs1"` ‖ 96-bit random nonce ‖ ciphertext ‖ 128-bit tag. A random nonce is safe here: a
//! secret is sealed a handful of times over its life, far from GCM's 2^32 random-nonce bound.
//!
//! Owns: the AEAD, the key derivation and the secret file. Must not touch: the schema (users.rs).

use std::io::Write;
use std::path::{Path, PathBuf};

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::hkdf;
use ring::rand::{SecureRandom, SystemRandom};

/// Marks a sealed value (and its format version).
pub const SEALED_MAGIC: &[u8; 4] = b"pcs1";
/// Shortest server secret accepted, in bytes.
pub const MIN_KEY_FILE_BYTES: usize = 32;
const HKDF_SALT: &[u8] = b"portcullis admin users v1";
const HKDF_INFO: &[u8] = b"totp secret aes-256-gcm";

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("TOTP key file {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("TOTP key file {path} holds {len} bytes; at least {MIN_KEY_FILE_BYTES} are required")]
    TooShort { path: String, len: usize },
    #[error("the stored TOTP secret does not open with this key file (another server secret, or a tampered row)")]
    Open,
    #[error("the system random generator failed")]
    Random,
}

/// Seals and opens TOTP secrets. `Debug` never shows the key.
pub struct TotpSealer {
    key: LessSafeKey,
    rng: SystemRandom,
}

impl std::fmt::Debug for TotpSealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSealer(<key>)")
    }
}

/// The default secret file for a users database: the same path with `.key` appended.
pub fn default_key_file(users_db: &Path) -> PathBuf {
    let mut s = users_db.as_os_str().to_owned();
    s.push(".key");
    PathBuf::from(s)
}

struct Len32;
impl hkdf::KeyType for Len32 {
    fn len(&self) -> usize {
        32
    }
}

impl TotpSealer {
    /// From the server secret bytes (surrounding whitespace ignored).
    pub fn from_secret(secret: &[u8]) -> Option<TotpSealer> {
        let s = secret.trim_ascii();
        if s.len() < MIN_KEY_FILE_BYTES {
            return None;
        }
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, HKDF_SALT).extract(s);
        let mut bytes = [0u8; 32];
        prk.expand(&[HKDF_INFO], Len32).ok()?.fill(&mut bytes).ok()?;
        let key = UnboundKey::new(&AES_256_GCM, &bytes).ok()?;
        Some(TotpSealer { key: LessSafeKey::new(key), rng: SystemRandom::new() })
    }

    /// Reads the secret file, creating it (mode 0600, 32 random bytes as hex) when it does not exist.
    pub fn load_or_create(path: &Path) -> Result<TotpSealer, SealError> {
        let shown = path.display().to_string();
        let io = |source| SealError::Io { path: shown.clone(), source };
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_key_file(path).map_err(io)?,
            Err(e) => return Err(io(e)),
        };
        Self::from_secret(&bytes).ok_or(SealError::TooShort { path: shown.clone(), len: bytes.trim_ascii().len() })
    }

    /// Seals `secret` for `user`.
    pub fn seal(&self, user: &str, secret: &[u8]) -> Result<Vec<u8>, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).map_err(|_| SealError::Random)?;
        let mut buf = secret.to_vec();
        self.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(user.as_bytes()), &mut buf)
            .map_err(|_| SealError::Random)?;
        let mut out = Vec::with_capacity(SEALED_MAGIC.len() + NONCE_LEN + buf.len());
        out.extend_from_slice(SEALED_MAGIC);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&buf);
        Ok(out)
    }

    /// Opens what [`seal`](Self::seal) stored for `user`.
    pub fn open(&self, user: &str, sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        let rest = sealed.strip_prefix(SEALED_MAGIC).ok_or(SealError::Open)?;
        if rest.len() < NONCE_LEN + AES_256_GCM.tag_len() {
            return Err(SealError::Open);
        }
        let (nonce, ct) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::Open)?;
        let mut buf = ct.to_vec();
        let plain = self.key.open_in_place(nonce, Aad::from(user.as_bytes()), &mut buf).map_err(|_| SealError::Open)?;
        Ok(plain.to_vec())
    }
}

/// Whether a stored value is sealed (rows written before sealing existed hold the bare secret).
pub fn is_sealed(stored: &[u8]) -> bool {
    stored.starts_with(SEALED_MAGIC)
}

fn create_key_file(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut raw = [0u8; 32];
    SystemRandom::new().fill(&mut raw).map_err(|_| std::io::Error::other("system random generator failed"))?;
    let mut text = data_encoding::HEXLOWER.encode(&raw);
    text.push('\n');
    // create_new: two processes opening the database for the first time at once must agree on one key.
    match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
        Ok(mut f) => {
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            Ok(text.into_bytes())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => std::fs::read(path),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_per_user_and_refuses_another_key_or_user() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("u.db.key");
        let s = TotpSealer::load_or_create(&path).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let secret = [9u8; 20];
        let sealed = s.seal("alice", &secret).unwrap();
        assert!(is_sealed(&sealed) && !sealed.windows(20).any(|w| w == secret));
        assert_ne!(sealed, s.seal("alice", &secret).unwrap(), "fresh nonce each time");
        assert_eq!(s.open("alice", &sealed).unwrap(), secret);
        assert!(matches!(s.open("mallory", &sealed), Err(SealError::Open)), "the user name is bound in");
        // Reloading the same file gives the same key; another secret does not open it.
        assert_eq!(TotpSealer::load_or_create(&path).unwrap().open("alice", &sealed).unwrap(), secret);
        let other = TotpSealer::from_secret(&[1u8; 32]).unwrap();
        assert!(other.open("alice", &sealed).is_err());
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(s.open("alice", &tampered).is_err());
        assert!(s.open("alice", b"pcs1").is_err());
        std::fs::write(&path, "short").unwrap();
        assert!(matches!(TotpSealer::load_or_create(&path), Err(SealError::TooShort { len: 5, .. })));
        assert_eq!(default_key_file(Path::new("/x/u.db")), Path::new("/x/u.db.key"));
    }
}
