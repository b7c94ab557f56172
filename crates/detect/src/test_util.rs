//! Helpers shared by the detectors' unit tests.

/// A xorshift64 generator: deterministic pseudo-random values for the property tests (no crate needed for this).
pub(crate) fn xorshift(seed: u64) -> impl FnMut() -> u64 {
    let mut x = seed;
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }
}

/// Calls `check` on `rounds` values, each the concatenation of up to eight atoms picked at random.
pub(crate) fn random_concatenations<A: AsRef<[u8]>>(
    atoms: &[A],
    seed: u64,
    rounds: usize,
    mut check: impl FnMut(&[u8]),
) {
    let mut next = xorshift(seed);
    for _ in 0..rounds {
        let mut v = Vec::new();
        for _ in 0..next() % 9 {
            v.extend_from_slice(atoms[(next() % atoms.len() as u64) as usize].as_ref());
        }
        check(&v);
    }
}
