//! The API key format: what a key looks like, how one is generated and how a presented one is parsed.
//!
//! ```text
//! pcl_live_4f9KxQ2mZr7w_Xq3...(28 chars)..._0aB3zK
//! └┬┘ └┬─┘ └────┬─────┘ └──────┬───────┘ └──┬──┘
//! prefix env    key id        secret        checksum
//! ```
//!
//! * `pcl_` — a fixed product prefix, so secret scanners (GitHub push protection, trufflehog, gitleaks) can
//!   recognise a leaked Portcullis key with one anchored pattern, like GitHub's `ghp_` tokens.
//! * `live` / `test` — the environment, so a test key pasted into production is refused by name and a scanner
//!   can rank a leaked `live` key higher.
//! * key id — 12 base62 characters (≈71 bits, random). Public: it is listed, logged, sent upstream and used as
//!   the rate-limit subject. The store is looked up **by id**, so the lookup's timing depends only on the id,
//!   never on the secret.
//! * secret — 28 base62 characters ≈ 166.7 bits from the OS-seeded CSPRNG (≥ 160 bits, beyond any guessing).
//! * checksum — CRC-32 of everything before it, as 6 base62 characters. Not a security feature: it lets a
//!   scanner tell a real key from a random string without a false-positive storm, and lets the gateway refuse
//!   a typo or a truncated paste before any lookup.
//!
//! Only base62 and `_` appear, so a key survives copy-paste, shells, URLs and HTTP headers unquoted, and a
//! double-click selects all of it.

use std::fmt;

/// The fixed product prefix of every key.
pub const PREFIX: &str = "pcl_";
const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// Length of the key id.
pub const ID_LEN: usize = 12;
/// Length of the secret: 28 × log2(62) ≈ 166.7 bits.
pub const SECRET_LEN: usize = 28;
const CHECK_LEN: usize = 6;

/// Which environment a key belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyEnv {
    Live,
    Test,
}

impl KeyEnv {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyEnv::Live => "live",
            KeyEnv::Test => "test",
        }
    }

    pub fn parse(s: &str) -> Option<KeyEnv> {
        match s {
            "live" => Some(KeyEnv::Live),
            "test" => Some(KeyEnv::Test),
            _ => None,
        }
    }
}

impl fmt::Display for KeyEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a presented string is not a well-formed key. Each is a distinct log reason; none carries the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("no pcl_ prefix")]
    Prefix,
    #[error("unknown environment tag")]
    Env,
    #[error("wrong shape (parts or lengths)")]
    Shape,
    #[error("bad checksum")]
    Checksum,
}

/// A well-formed key, borrowed from the request. Its `Debug` never shows the secret.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ParsedKey<'a> {
    pub env: KeyEnv,
    pub id: &'a str,
    /// The whole key text, the input of the keyed hash.
    pub full: &'a str,
}

impl fmt::Debug for ParsedKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ParsedKey {{ env: {}, id: {}, secret: <redacted> }}", self.env, self.id)
    }
}

fn is_base62(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn base62_fixed(mut n: u64, len: usize) -> String {
    let mut out = vec![b'0'; len];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8(out).unwrap_or_default()
}

fn decode_base62(s: &str) -> Option<u64> {
    s.bytes().try_fold(0u64, |acc, b| {
        let d = ALPHABET.iter().position(|&a| a == b)? as u64;
        acc.checked_mul(62)?.checked_add(d)
    })
}

fn checksum(body: &str) -> String {
    base62_fixed(u64::from(crc32fast::hash(body.as_bytes())), CHECK_LEN)
}

fn random_base62(len: usize) -> String {
    use rand::Rng;
    // `rand::rng()` is a CSPRNG (ChaCha12) seeded and periodically reseeded from the OS; `random_range` is
    // unbiased, so every character carries the full log2(62) bits.
    let mut rng = rand::rng();
    (0..len).map(|_| ALPHABET[rng.random_range(0..62)] as char).collect()
}

/// A fresh random key id.
pub fn new_id() -> String {
    random_base62(ID_LEN)
}

/// A new key for `id`: fresh secret, checksum appended.
pub fn generate(env: KeyEnv, id: &str) -> String {
    let body = format!("{PREFIX}{}_{id}_{}", env.as_str(), random_base62(SECRET_LEN));
    let check = checksum(&body);
    format!("{body}_{check}")
}

/// Parses a presented key. Cheap and allocation-free: run on every request before any lookup.
pub fn parse(key: &str) -> Result<ParsedKey<'_>, FormatError> {
    let rest = key.strip_prefix(PREFIX).ok_or(FormatError::Prefix)?;
    let mut parts = rest.split('_');
    let (Some(env), Some(id), Some(secret), Some(check), None) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(FormatError::Shape);
    };
    let env = KeyEnv::parse(env).ok_or(FormatError::Env)?;
    if id.len() != ID_LEN
        || secret.len() != SECRET_LEN
        || check.len() != CHECK_LEN
        || !is_base62(id)
        || !is_base62(secret)
        || !is_base62(check)
    {
        return Err(FormatError::Shape);
    }
    let body = &key[..key.len() - CHECK_LEN - 1];
    // Decoded rather than re-encoded: no allocation on the request path.
    if decode_base62(check) != Some(u64::from(crc32fast::hash(body.as_bytes()))) {
        return Err(FormatError::Checksum);
    }
    Ok(ParsedKey { env, id, full: key })
}

/// Whether `id` has the shape of a key id (for CLI/admin arguments).
pub fn valid_id(id: &str) -> bool {
    id.len() == ID_LEN && is_base62(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_parse_and_carry_their_id_and_env() {
        let id = new_id();
        let k = generate(KeyEnv::Live, &id);
        assert!(k.starts_with("pcl_live_"));
        assert_eq!(k.len(), 4 + 5 + ID_LEN + 1 + SECRET_LEN + 1 + CHECK_LEN);
        let p = parse(&k).unwrap();
        assert_eq!((p.env, p.id), (KeyEnv::Live, id.as_str()));
        assert!(!format!("{p:?}").contains(&k[4 + 5 + ID_LEN + 1..]));
        let t = generate(KeyEnv::Test, &id);
        assert_eq!(parse(&t).unwrap().env, KeyEnv::Test);
        assert_ne!(generate(KeyEnv::Live, &id), k, "secrets are random");
    }

    #[test]
    fn typos_and_junk_are_refused_before_lookup() {
        let k = generate(KeyEnv::Live, &new_id());
        // One changed character in the secret: the checksum catches it.
        let mut b = k.clone().into_bytes();
        let i = 4 + 5 + ID_LEN + 3;
        b[i] = if b[i] == b'a' { b'b' } else { b'a' };
        assert_eq!(parse(std::str::from_utf8(&b).unwrap()), Err(FormatError::Checksum));
        assert_eq!(parse(&k[..k.len() - 1]), Err(FormatError::Shape));
        assert_eq!(parse("ghp_abc"), Err(FormatError::Prefix));
        assert_eq!(parse(&k.replace("_live_", "_prod_")), Err(FormatError::Env));
        assert_eq!(parse(&format!("{k}_x")), Err(FormatError::Shape));
        assert_eq!(parse("pcl_live_ä"), Err(FormatError::Shape));
        assert_eq!(parse(""), Err(FormatError::Prefix));
    }

    #[test]
    fn base62_is_fixed_width() {
        assert_eq!(base62_fixed(0, 6), "000000");
        assert_eq!(base62_fixed(61, 2), "0z");
        assert_eq!(base62_fixed(u64::from(u32::MAX), 6).len(), 6);
        assert_eq!(decode_base62(&base62_fixed(u64::from(u32::MAX), 6)), Some(u64::from(u32::MAX)));
        assert_eq!(decode_base62("0z"), Some(61));
    }
}
