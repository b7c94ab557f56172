//! Where a transaction's time goes, rule by rule: a wall-clock profile of the rule walk, built only with the
//! crate feature `rule-profile` (never in a shipped build: two clock reads per rule visited). Each rule visit
//! is timed from the moment the walk reaches it to the moment it reaches the next one, so the time of a
//! gated rule is its gate (including the first computation of a union that later rules reuse), and the time
//! of an evaluated rule is its gate, targets, transformations, operator and actions.
//!
//! Used by the engine bench: `PORTCULLIS_RULE_PROFILE=get cargo bench -p portcullis-waf --bench engine
//! --features rule-profile` prints the table (see `docs/benchmarks.md`, "Session 11"). Wall-clock on a noisy
//! VM: read the ranking, and confirm a change in instructions with callgrind.

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Instant;

/// One rule's totals over the transactions profiled.
#[derive(Debug, Clone, Copy, Default)]
pub struct RuleTime {
    pub phase: u8,
    pub id: u32,
    /// Nanoseconds spent from reaching this rule to reaching the next.
    pub nanos: u64,
    pub visits: u64,
    /// Visits where the rule was evaluated (not skipped by its gate, a removal or a load-time verdict).
    pub evaluated: u64,
}

thread_local! {
    static TIMES: RefCell<HashMap<(u8, u32), RuleTime>> = RefCell::new(HashMap::new());
}

/// The profile gathered on this thread so far, most expensive first; clears it.
pub fn take() -> Vec<RuleTime> {
    let mut v: Vec<RuleTime> = TIMES.with(|t| t.borrow_mut().drain().map(|(_, r)| r).collect());
    v.sort_by(|a, b| b.nanos.cmp(&a.nanos).then(a.id.cmp(&b.id)));
    v
}

/// The timer of one phase's walk: `visit` at each rule reached, `end` when the walk stops.
pub(crate) struct Walk {
    phase: u8,
    open: Option<(u32, Instant, u32)>,
}

impl Walk {
    pub(crate) fn new(phase: u8) -> Walk {
        Walk { phase, open: None }
    }

    /// The walk reached rule `id`; `rules_evaluated` is the transaction's count so far.
    pub(crate) fn visit(&mut self, id: u32, rules_evaluated: u32) {
        self.end(rules_evaluated);
        self.open = Some((id, Instant::now(), rules_evaluated));
    }

    /// Closes the open visit (evaluated when the transaction's count moved since it opened).
    pub(crate) fn end(&mut self, rules_evaluated: u32) {
        if let Some((id, t0, before)) = self.open.take() {
            let nanos = t0.elapsed().as_nanos() as u64;
            let phase = self.phase;
            TIMES.with(|t| {
                let mut t = t.borrow_mut();
                let e = t.entry((phase, id)).or_insert(RuleTime { phase, id, ..RuleTime::default() });
                e.nanos += nanos;
                e.visits += 1;
                e.evaluated += u64::from(rules_evaluated != before);
            });
        }
    }
}

impl Drop for Walk {
    /// A walk left early (an intervention) closes its last visit as evaluated: only an evaluated rule
    /// intervenes.
    fn drop(&mut self) {
        if let Some((_, _, before)) = self.open {
            self.end(before.wrapping_add(1));
        }
    }
}
