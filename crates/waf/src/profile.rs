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

/// How many transactions a bench profiles: `PORTCULLIS_RULE_PROFILE_N`, default 2,000.
pub fn transactions() -> u64 {
    std::env::var("PORTCULLIS_RULE_PROFILE_N").ok().and_then(|v| v.parse().ok()).unwrap_or(2000)
}

/// The table the benches print for `rows` (from [`take`]) gathered over `n` transactions of `case`: the walk's
/// time per transaction, then one line per rule (phase, id, µs per transaction, share, evaluated/visits).
pub fn report(case: &str, rows: &[RuleTime], n: u64) -> String {
    use std::fmt::Write as _;
    let total: u64 = rows.iter().map(|r| r.nanos).sum();
    let evaluated = rows.iter().filter(|r| r.evaluated > 0).count();
    let per_tx = |nanos: u64| nanos as f64 / n.max(1) as f64 / 1000.0;
    let mut out = format!(
        "{case}: {:.1} µs per transaction in the rule walk; {} rules visited, {evaluated} evaluated\n",
        per_tx(total),
        rows.len()
    );
    out.push_str("phase  rule     µs/tx   share  evaluated/visits\n");
    for r in rows {
        let share = 100.0 * r.nanos as f64 / total.max(1) as f64;
        let _ = writeln!(
            out,
            "{:>5} {:>7} {:>7.2} {:>6.1}%  {}/{}",
            r.phase,
            r.id,
            per_tx(r.nanos),
            share,
            r.evaluated,
            r.visits
        );
    }
    out
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
