//! The WAF's own time per gateway phase, exported as `portcullis_waf_phase_seconds_total{phase}`: what the
//! engine adds to each request, measured where it runs (between the request's network, proxy and upstream
//! work), which the engine's benches cannot show. Rate it against `portcullis_requests_total` for seconds per
//! request.
//!
//! Owns: the counters and their labels. Must not touch: what is timed (the protection decides that).

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

/// The metric's name as registered (the exposition adds `_total`).
pub const WAF_PHASE_SECONDS: &str = "portcullis_waf_phase_seconds";

/// Seconds as a counter (an `f64` kept in an atomic).
type Seconds = Counter<f64, AtomicU64>;

/// The gateway phases the WAF works in, in request order (the SecLang phases 1–5), indexes into [`LABELS`].
#[derive(Clone, Copy)]
pub(crate) enum WafPhase {
    RequestHeaders = 0,
    RequestBody = 1,
    ResponseHeaders = 2,
    ResponseBody = 3,
    Logging = 4,
}

const LABELS: [&str; 5] = ["request_headers", "request_body", "response_headers", "response_body", "logging"];

/// The per-phase counters. `Default` gives counters no registry exports (a protection built without the
/// gateway's metrics, as in this crate's tests); [`PhaseTimes::register`] exports them. Clones share the counters, so a
/// config reload's new protection keeps counting into the series the registry already serves.
#[derive(Clone, Default)]
pub struct PhaseTimes {
    family: Family<Vec<(&'static str, &'static str)>, Seconds>,
}

impl PhaseTimes {
    /// Exports the counters in `registry` (once, by the gateway's metrics).
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            WAF_PHASE_SECONDS,
            "Time the WAF engine spent on requests, by gateway phase (request_headers = SecLang phase 1 ... logging = 5)",
            self.family.clone(),
        );
    }

    /// One counter per phase, resolved once so the request path only adds to atomics.
    pub(crate) fn counters(&self) -> PhaseCounters {
        PhaseCounters(LABELS.map(|l| self.family.get_or_create(&vec![("phase", l)]).clone()))
    }
}

/// The counters of [`PhaseTimes`], one per [`WafPhase`].
pub(crate) struct PhaseCounters([Seconds; 5]);

impl PhaseCounters {
    /// Runs `f`, adding its wall-clock time to `phase`'s counter.
    #[inline]
    pub(crate) fn time<T>(&self, phase: WafPhase, f: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        let out = f();
        self.0[phase as usize].inc_by(start.elapsed().as_secs_f64());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::encoding::text::encode;

    /// Each phase counts into its own labelled series, clones count into the same ones, and the registry's text
    /// names every phase.
    #[test]
    fn each_phase_counts_into_its_own_series() {
        let times = PhaseTimes::default();
        let mut registry = Registry::default();
        times.register(&mut registry);
        let (a, b) = (times.counters(), times.clone().counters());
        a.time(WafPhase::RequestHeaders, || std::thread::sleep(std::time::Duration::from_millis(20)));
        b.time(WafPhase::RequestHeaders, || std::thread::sleep(std::time::Duration::from_millis(20)));
        assert_eq!(a.time(WafPhase::Logging, || 7), 7);
        let mut text = String::new();
        encode(&mut text, &registry).unwrap();
        let value = |phase: &str| -> f64 {
            let prefix = format!("{WAF_PHASE_SECONDS}_total{{phase=\"{phase}\"}} ");
            let line = text.lines().find(|l| l.starts_with(&prefix)).unwrap_or_else(|| panic!("{phase}: {text}"));
            line[prefix.len()..].parse().unwrap()
        };
        assert!(value("request_headers") >= 0.040, "{text}");
        assert!(value("logging") < 0.020, "{text}");
        for phase in LABELS {
            value(phase);
        }
    }
}
