//! The keyed hash that is stored instead of a key: HMAC-SHA-256 under a server secret.
//!
//! Why keyed: a copy of the database alone (a backup, a leaked file) does not let anyone check guesses
//! offline; the secret lives in a separate file or environment variable. Comparison is constant-time
//! (`subtle`), so response timing tells nothing about how much of a guess was right.

use std::fmt;
use std::path::Path;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The stored form of a key.
pub type KeyHash = [u8; 32];

/// Minimum length of the server secret, in bytes.
pub const MIN_SECRET_BYTES: usize = 32;

/// Environment variable the CLI reads the server secret from when no `--secret-file` is given.
pub const DEFAULT_SECRET_ENV: &str = "PORTCULLIS_KEYS_SECRET";

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("cannot read the keys secret file {path}: {err}")]
    Read { path: String, err: std::io::Error },
    #[error("environment variable {0} is not set")]
    EnvMissing(String),
    #[error("the keys secret is {0} bytes; at least {MIN_SECRET_BYTES} are required")]
    TooShort(usize),
}

/// HMAC-SHA-256 with the server secret. `Debug` never shows the secret.
#[derive(Clone)]
pub struct KeyHasher {
    mac: Hmac<Sha256>,
}

impl fmt::Debug for KeyHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyHasher(<secret>)")
    }
}

impl KeyHasher {
    /// From the secret bytes (surrounding whitespace, e.g. a trailing newline in a file, is ignored).
    pub fn new(secret: &[u8]) -> Result<KeyHasher, SecretError> {
        let s = secret.trim_ascii();
        if s.len() < MIN_SECRET_BYTES {
            return Err(SecretError::TooShort(s.len()));
        }
        let mac = <Hmac<Sha256> as Mac>::new_from_slice(s).map_err(|_| SecretError::TooShort(s.len()))?;
        Ok(KeyHasher { mac })
    }

    pub fn from_file(path: &Path) -> Result<KeyHasher, SecretError> {
        let bytes = std::fs::read(path).map_err(|err| SecretError::Read { path: path.display().to_string(), err })?;
        Self::new(&bytes)
    }

    pub fn from_env(var: &str) -> Result<KeyHasher, SecretError> {
        let v = std::env::var_os(var).ok_or_else(|| SecretError::EnvMissing(var.to_string()))?;
        Self::new(v.as_encoded_bytes())
    }

    /// The stored hash of a key.
    pub fn hash(&self, key: &str) -> KeyHash {
        let mut mac = self.mac.clone();
        mac.update(key.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// Whether `key` hashes to `stored`, in constant time with respect to both.
    pub fn verify(&self, key: &str, stored: &KeyHash) -> bool {
        self.hash(key).ct_eq(stored).into()
    }

    /// A fingerprint of the secret itself, kept in the database so a gateway started with a different secret
    /// is told so at load instead of refusing every key.
    pub fn fingerprint(&self) -> String {
        let h = self.hash("portcullis-keys secret fingerprint v1");
        h[..8].iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// A fresh random server secret (64 base62-like hex characters), for `keys init-secret` and the demo.
pub fn generate_secret() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..32).map(|_| format!("{:02x}", rng.random::<u8>())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifies_only_the_right_key_under_the_right_secret() {
        let h = KeyHasher::new(&[7u8; 32]).unwrap();
        let stored = h.hash("pcl_live_a");
        assert!(h.verify("pcl_live_a", &stored));
        assert!(!h.verify("pcl_live_b", &stored));
        let other = KeyHasher::new(&[8u8; 32]).unwrap();
        assert!(!other.verify("pcl_live_a", &stored));
        assert_ne!(h.fingerprint(), other.fingerprint());
        assert!(!format!("{h:?}").contains('7'));
    }

    #[test]
    fn short_secrets_are_refused() {
        assert!(matches!(KeyHasher::new(b"short\n"), Err(SecretError::TooShort(5))));
        assert!(KeyHasher::new(generate_secret().as_bytes()).is_ok());
    }
}
