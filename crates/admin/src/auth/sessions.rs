//! Admin sessions: a random 256-bit bearer token, handed out once at login; only its SHA-256 is kept, in
//! memory, with the user, the login time and the last use. A session ends after `idle` unused or `max` after
//! login, at logout, when the user is disabled, or when the process restarts (log in again).
//!
//! Looking a session up by the token's SHA-256 makes the lookup constant-time with respect to the secret in
//! the sense that matters: a timing difference can only reveal bits of a hash whose preimage is 256 random
//! bits. Owns: tokens and their expiry. Must not touch: passwords, TOTP, the users store.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

/// Sessions kept at most; beyond, the least recently used one is dropped (a bound on memory, far above what
/// a team of operators needs).
pub const MAX_SESSIONS: usize = 1024;

struct Session {
    user: String,
    created: Instant,
    last_used: Instant,
}

/// The live sessions.
pub struct Sessions {
    by_hash: Mutex<HashMap<[u8; 32], Session>>,
    idle: Duration,
    max: Duration,
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl Sessions {
    pub fn new(idle: Duration, max: Duration) -> Sessions {
        Sessions { by_hash: Mutex::new(HashMap::new()), idle, max }
    }

    pub fn idle(&self) -> Duration {
        self.idle
    }

    pub fn max(&self) -> Duration {
        self.max
    }

    fn live(&self, s: &Session, now: Instant) -> bool {
        now.saturating_duration_since(s.last_used) < self.idle && now.saturating_duration_since(s.created) < self.max
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Session>> {
        self.by_hash.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts a session for `user`; returns the token (the only time it exists outside the client).
    pub fn create(&self, user: &str, now: Instant) -> String {
        let mut raw = [0u8; 32];
        rand::Rng::fill(&mut rand::rng(), &mut raw[..]);
        let token = URL_SAFE_NO_PAD.encode(raw);
        let mut map = self.map();
        map.retain(|_, s| self.live(s, now));
        if map.len() >= MAX_SESSIONS {
            if let Some(oldest) = map.iter().min_by_key(|(_, s)| s.last_used).map(|(k, _)| *k) {
                map.remove(&oldest);
            }
        }
        map.insert(digest(&token), Session { user: user.to_string(), created: now, last_used: now });
        token
    }

    /// The user of a live session (and marks it used), or `None`; an expired session is removed.
    pub fn validate(&self, token: &str, now: Instant) -> Option<String> {
        let key = digest(token);
        let mut map = self.map();
        let live = self.live(map.get(&key)?, now);
        if !live {
            map.remove(&key);
            return None;
        }
        let s = map.get_mut(&key)?;
        s.last_used = now;
        Some(s.user.clone())
    }

    /// Ends one session; true if it existed.
    pub fn revoke(&self, token: &str) -> bool {
        self.map().remove(&digest(token)).is_some()
    }

    /// Ends every session of `user`.
    pub fn revoke_user(&self, user: &str) {
        self.map().retain(|_, s| s.user != user);
    }

    pub fn count(&self) -> usize {
        self.map().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_256_bit_and_validate() {
        let s = Sessions::new(Duration::from_secs(60), Duration::from_secs(600));
        let now = Instant::now();
        let a = s.create("alice", now);
        let b = s.create("alice", now);
        assert_ne!(a, b);
        assert_eq!(URL_SAFE_NO_PAD.decode(&a).unwrap().len(), 32);
        assert_eq!(s.validate(&a, now).as_deref(), Some("alice"));
        assert_eq!(s.validate("not-a-token", now), None);
        assert!(s.revoke(&a));
        assert_eq!(s.validate(&a, now), None);
        assert!(!s.revoke(&a));
        assert_eq!(s.validate(&b, now).as_deref(), Some("alice"));
        s.revoke_user("alice");
        assert_eq!(s.validate(&b, now), None);
    }

    #[test]
    fn idle_expiry_is_pushed_back_by_use_but_absolute_expiry_is_not() {
        let s = Sessions::new(Duration::from_secs(60), Duration::from_secs(150));
        let t0 = Instant::now();
        let tok = s.create("alice", t0);
        // Used every 50 s: idle never hits 60 s ...
        for k in 1..=2 {
            assert!(s.validate(&tok, t0 + Duration::from_secs(50 * k)).is_some(), "use {k}");
        }
        // ... but 150 s after login it ends all the same.
        assert_eq!(s.validate(&tok, t0 + Duration::from_secs(150)), None);
        assert_eq!(s.count(), 0, "expired sessions are removed");

        let tok = s.create("bob", t0);
        assert_eq!(s.validate(&tok, t0 + Duration::from_secs(60)), None, "idle for the whole idle timeout");
    }

    #[test]
    fn the_session_count_is_bounded() {
        let s = Sessions::new(Duration::from_secs(60), Duration::from_secs(600));
        let now = Instant::now();
        let first = s.create("u", now);
        for i in 0..MAX_SESSIONS {
            s.create("u", now + Duration::from_millis(i as u64 + 1));
        }
        assert_eq!(s.count(), MAX_SESSIONS);
        assert_eq!(s.validate(&first, now + Duration::from_secs(2)), None, "least recently used dropped");
    }
}
