//! The rate-limit math: GCRA (generic cell rate algorithm), in integer microseconds.
//!
//! Why GCRA rather than a token bucket or windows: it keeps **one number per key** (the theoretical arrival
//! time, TAT), its burst semantics are exact (a rested key passes exactly `burst` requests at once, then one
//! per emission interval), and the whole decision is a compare and one write — small enough to run atomically
//! in one Redis Lua script ([`crate::redis`] carries the same arithmetic in Lua). A token bucket needs two
//! numbers (tokens, last refill) and float refills; fixed windows let twice the limit through at a window edge.
//!
//! Units: microseconds, because Redis's `TIME` gives microseconds and a double (Lua's number) holds every
//! microsecond timestamp of this era exactly (< 2^53).

use std::time::Duration;

/// One limit's parameters: emission interval `T` (period / count) and tolerance `burst × T`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gcra {
    /// Microseconds between requests at the sustained rate.
    pub interval_us: u64,
    /// `burst × interval_us`: how far ahead of now the TAT may run.
    pub tolerance_us: u64,
    pub burst: u32,
}

impl Gcra {
    /// `count` requests per `period`, `burst` at once. `count`, `burst` ≥ 1 and `period / count` ≥ 1 µs
    /// (config validation guarantees it; smaller values are clamped, never a panic).
    pub fn new(count: u64, period: Duration, burst: u32) -> Gcra {
        let interval_us = (period.as_micros() / u128::from(count.max(1))).clamp(1, u128::from(u64::MAX / 4)) as u64;
        let burst = burst.max(1);
        Gcra { interval_us, tolerance_us: interval_us.saturating_mul(u64::from(burst)), burst }
    }
}

/// What one check decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateDecision {
    pub allowed: bool,
    /// Requests that would still pass right now after this one.
    pub remaining: u64,
    /// Until the key is fully rested again (all `burst` available).
    pub reset_after: Duration,
    /// When refused: until one more request would pass. Zero when allowed.
    pub retry_after: Duration,
}

/// One GCRA step: `tat` is the stored TAT (None: never seen or expired), `now` the current time. Returns the
/// decision and the TAT to store (None when refused: a refusal changes nothing).
pub fn step(tat: Option<u64>, now: u64, g: &Gcra) -> (RateDecision, Option<u64>) {
    let tat = tat.unwrap_or(now).max(now);
    let new_tat = tat.saturating_add(g.interval_us);
    let allow_at = new_tat.saturating_sub(g.tolerance_us);
    if now < allow_at {
        let remaining = g.tolerance_us.saturating_sub(tat - now) / g.interval_us;
        let d = RateDecision {
            allowed: false,
            remaining,
            reset_after: Duration::from_micros(tat - now),
            retry_after: Duration::from_micros(allow_at - now),
        };
        return (d, None);
    }
    let remaining = g.tolerance_us.saturating_sub(new_tat - now) / g.interval_us;
    let d = RateDecision {
        allowed: true,
        remaining,
        reset_after: Duration::from_micros(new_tat - now),
        retry_after: Duration::ZERO,
    };
    (d, Some(new_tat))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn run(g: &Gcra, times: &[u64]) -> Vec<bool> {
        let mut tat = None;
        times
            .iter()
            .map(|&t| {
                let (d, new) = step(tat, t, g);
                if let Some(n) = new {
                    tat = Some(n);
                }
                d.allowed
            })
            .collect()
    }

    #[test]
    fn ten_per_minute_burst_ten() {
        let g = Gcra::new(10, Duration::from_secs(60), 10);
        assert_eq!(g.interval_us, 6_000_000);
        let now = 1_000_000_000;
        let mut tat = None;
        for i in 0..10 {
            let (d, new) = step(tat, now, &g);
            assert!(d.allowed, "request {i}");
            assert_eq!(d.remaining, 9 - i);
            tat = new;
        }
        let (d, new) = step(tat, now, &g);
        assert!(!d.allowed);
        assert_eq!(new, None);
        assert_eq!(d.retry_after, Duration::from_secs(6));
        assert_eq!(d.reset_after, Duration::from_secs(60));
        // One interval later exactly one more passes.
        let (d, _) = step(tat, now + 6_000_000, &g);
        assert!(d.allowed);
        let (d, _) = step(tat, now + 5_999_999, &g);
        assert!(!d.allowed);
    }

    proptest! {
        /// A rested key passes exactly `burst` requests at one instant.
        #[test]
        fn exactly_burst_at_once(count in 1u64..1000, period_ms in 1u64..100_000, burst in 1u32..200) {
            let g = Gcra::new(count, Duration::from_millis(period_ms), burst);
            prop_assume!(g.interval_us >= 1);
            let times = vec![5_000_000_000u64; burst as usize + 5];
            let allowed = run(&g, &times).iter().filter(|a| **a).count();
            prop_assert_eq!(allowed, burst as usize);
        }

        /// In any window [a, a + t], allowed requests ≤ t / T + burst (rate × t + burst), for any arrival pattern.
        #[test]
        fn never_more_than_rate_times_t_plus_burst(
            interval in 1u64..10_000,
            burst in 1u32..20,
            gaps in proptest::collection::vec(0u64..20_000, 1..400),
        ) {
            let g = Gcra { interval_us: interval, tolerance_us: interval * u64::from(burst), burst };
            let mut t = 1_000_000u64;
            let times: Vec<u64> = gaps.iter().map(|d| { t += d; t }).collect();
            let allowed = run(&g, &times);
            let passed: Vec<u64> = times.iter().zip(&allowed).filter(|(_, a)| **a).map(|(t, _)| *t).collect();
            for (i, &start) in passed.iter().enumerate() {
                for (j, &end) in passed.iter().enumerate().skip(i) {
                    let n = (j - i + 1) as u64;
                    let bound = (end - start) / interval + u64::from(burst);
                    prop_assert!(n <= bound, "{} passed in {}us, bound {}", n, end - start, bound);
                }
            }
        }

        /// A client sending at exactly the sustained rate is never refused.
        #[test]
        fn steady_rate_always_passes(interval in 1u64..1_000_000, burst in 1u32..10, n in 1usize..300) {
            let g = Gcra { interval_us: interval, tolerance_us: interval * u64::from(burst), burst };
            let times: Vec<u64> = (0..n as u64).map(|i| 7 + i * interval).collect();
            prop_assert!(run(&g, &times).iter().all(|a| *a));
        }
    }
}
