//! Bans: who is refused until when, and why; how repeat bans escalate.
//!
//! Ban times are Unix milliseconds from the gateway's wall clock (bans last minutes to hours, so gateway clock
//! skew of milliseconds does not matter, and an operator reads them as dates). Rate limits, where it does
//! matter, use Redis's clock instead (see [`crate::gcra`]).

use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// One active ban.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ban {
    pub ip: IpAddr,
    /// Unix milliseconds when the ban ends.
    pub until_ms: u64,
    /// 1 for a first automatic ban, 2 for the next within `forget_after`, ...; 0 for a manual ban.
    pub level: u32,
    /// Policy name or the operator's reason (no secrets; shown in the admin API and logs).
    pub reason: String,
}

impl Ban {
    pub fn active(&self, now_ms: u64) -> bool {
        self.until_ms > now_ms
    }

    /// Seconds left, rounded up (for `Retry-After`).
    pub fn remaining_secs(&self, now_ms: u64) -> u64 {
        self.until_ms.saturating_sub(now_ms).div_ceil(1000)
    }

    /// The stored form: `"<until_ms> <level> <reason>"` (Redis hash value).
    pub(crate) fn encode(&self) -> String {
        format!("{} {} {}", self.until_ms, self.level, self.reason)
    }

    pub(crate) fn decode(ip: IpAddr, s: &str) -> Option<Ban> {
        let mut it = s.splitn(3, ' ');
        let until_ms = it.next()?.parse().ok()?;
        let level = it.next()?.parse().ok()?;
        let reason = it.next().unwrap_or("").to_string();
        Some(Ban { ip, until_ms, level, reason })
    }
}

/// How automatic bans grow on repeat: `base × factor^(level-1)`, at most `max`; a level is forgotten once the
/// IP has not been banned for `forget_after` after its last ban ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Escalation {
    pub base: Duration,
    pub factor: f64,
    pub max: Duration,
    pub forget_after: Duration,
}

impl Escalation {
    /// The ban length at `level` (≥ 1).
    pub fn duration(&self, level: u32) -> Duration {
        let exp = i32::try_from(level.saturating_sub(1)).unwrap_or(i32::MAX);
        let secs = self.base.as_secs_f64() * self.factor.powi(exp);
        if !secs.is_finite() || secs >= self.max.as_secs_f64() {
            self.max
        } else {
            Duration::from_secs_f64(secs)
        }
    }
}

/// Now, in Unix milliseconds.
pub fn unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

pub(crate) fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escalation_doubles_and_caps() {
        let e = Escalation {
            base: Duration::from_secs(60),
            factor: 2.0,
            max: Duration::from_secs(300),
            forget_after: Duration::from_secs(3600),
        };
        assert_eq!(e.duration(1), Duration::from_secs(60));
        assert_eq!(e.duration(2), Duration::from_secs(120));
        assert_eq!(e.duration(3), Duration::from_secs(240));
        assert_eq!(e.duration(4), Duration::from_secs(300));
        assert_eq!(e.duration(u32::MAX), Duration::from_secs(300));
    }

    #[test]
    fn encoding_round_trips_reasons_with_spaces() {
        let b = Ban { ip: "10.1.2.3".parse().unwrap(), until_ms: 123, level: 2, reason: "waf abuse x".into() };
        assert_eq!(Ban::decode(b.ip, &b.encode()), Some(b));
    }
}
