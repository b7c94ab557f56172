//! A hasher for maps whose keys are already keyed hashes (or carry one): it passes the 64-bit value through.
//!
//! Why: the bounded tables here hash a key once with a per-process random SipHash seed (so an attacker cannot
//! aim collisions) and then pick a shard and a map slot from that one value. Hashing the hash again with
//! SipHash, as `HashMap`'s default does, cost as much as the first hash on every request and protects nothing.
//! Shards must take their index from bits the map does not use: hashbrown reads the low bits for the bucket and
//! the top 7 for its tag, so [`shard_of`] reads bits 32 and up.

use std::hash::{BuildHasherDefault, Hasher};

/// Passes a `u64` written with `write_u64` through as the hash; other writes are hashed with FNV-1a, which is
/// fine for keys an attacker does not choose (route names from the config).
#[derive(Clone, Copy)]
pub struct PassThrough(u64);

impl Default for PassThrough {
    fn default() -> Self {
        // The FNV-1a offset basis.
        PassThrough(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// The `BuildHasher` of maps keyed by a prehashed `u64`.
pub type BuildPassThrough = BuildHasherDefault<PassThrough>;

/// The shard of a prehashed key among `shards`, from bits the map itself does not read.
pub fn shard_of(hash: u64, shards: usize) -> usize {
    ((hash >> 32) as usize) % shards
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    #[test]
    fn passes_u64_through() {
        assert_eq!(BuildPassThrough::default().hash_one(0xdead_beef_u64), 0xdead_beef);
        assert_eq!(shard_of(0x0000_0041_0000_0000, 64), 1);
    }
}
