//! Load-time constant folding of `TX` flow rules.
//!
//! Most rules CRS evaluates on a benign request ask a question the rule set answers by itself: at paranoia
//! level 1, `SecRule TX:DETECTION_PARANOIA_LEVEL "@lt 2" "...,nolog,skipAfter:END-..."` always matches, and
//! `&TX:crs_setup_version "@eq 0"` never does. This pass finds such rules once, at load, and gives them a
//! verdict (`Rule::folded`): the evaluator then skips a "never" rule and takes an "always" rule's
//! `skip`/`skipAfter` without collecting, transforming or comparing anything.
//!
//! # Why it is exact
//!
//! - **The initialisation prefix.** The leading run of phase-1 rules made of *init* rules (they read only
//!   `TX` and constants — targets and operand/action macros — and their actions only write `TX` or are
//!   `ctl`) and *transparent* rules (anything, but they write no `TX`: no `setvar`/`expirevar` on it, no
//!   `capture`, and no `skip`/`skipAfter`). A transaction starts with an empty `TX`, and transparent rules
//!   cannot change it or the path through the prefix, so the init rules compute the same `TX` on every
//!   transaction — provided all of them run (none removed, none with a removed target) and the phase is not
//!   ended early (intervention, `allow`, engine off). The evaluator checks exactly that when phase 1 passes
//!   the prefix's end, per transaction (`Transaction::fold_ok`); otherwise no verdict is used.
//! - **Load-constant keys.** A `TX` key is constant when no rule outside the prefix can write it: not by a
//!   `setvar` or `expirevar` naming it (`=`, `=+`, `=-`, `!`), not by one whose name holds a macro and
//!   whose literal start is a prefix of the key (`tx.%{...}` writes anything), not by `capture` (`TX:0`–`9`).
//!   The gateway cannot write `TX` either (no API does).
//! - **Foldable rules** (after the prefix, any phase): every link reads only constant keys by name
//!   (`TX:key` or `&TX:key`, no exclusion), its operand is static or expands only constant keys, it runs no
//!   action (`setvar`, `ctl`, `initcol`...) and has no `capture`, and the rule does not `log` (there is
//!   nothing it would record). A matching rule also changes `MATCHED_VAR*`, so nothing is folded when some
//!   rule reads `MATCHED_VAR*` before its own match (in its first link's targets or operand); and an
//!   "always" rule must be `pass` without `severity`.
//! - **Rules decided by their first link** (after the prefix, any phase): when the first link alone reads only
//!   constant keys by name (as above, not `multiMatch`, at least one target) and never matches, the rule never
//!   matches, whatever its actions, `capture`, `log`, severity, disruptive action or chain: a link that
//!   matches no value runs no action and captures nothing, and nothing after it runs. Only the "never"
//!   verdict is kept for such a rule; the probe asks its first link without running any action
//!   (`Transaction::link_matches_quietly`). CRS's per-level score sums above the configured paranoia level
//!   (`TX:BLOCKING_PARANOIA_LEVEL "@ge 2"` with a `setvar`, 949053 and its siblings) are such rules.
//! - **Rules that always match and run `setvar`s** (after the prefix, any phase): every link reads one
//!   constant key by name (one target, as above, not `multiMatch`, no `capture`) and its only actions are
//!   `setvar`s whose name and value read no `MATCHED_VAR*`; the rule is `pass` and does not `log`. When the
//!   probe finds every link matching, each link matches exactly one value (a named key is one member at
//!   most, `&TX:key` is one count), so today's path runs each link's actions once, in link order, then sets
//!   the severity: the "always" verdict does exactly that ([`Transaction::take_always`]) without collecting
//!   or comparing. What it leaves out is `MATCHED_VAR`/`MATCHED_VAR_NAME`/`MATCHED_VARS`: every rule's match
//!   sets them before anything of that rule reads them, and folding is refused when some rule reads them
//!   before its own match (below), so the values an always rule would have left are never read. Its writes
//!   are to keys that are not constant (it stands outside the prefix), so they change no other verdict.
//!   CRS's per-level score sums at or below the paranoia level (`TX:BLOCKING_PARANOIA_LEVEL "@ge 1"` with
//!   `setvar:tx.blocking_inbound_anomaly_score=+%{tx.inbound_anomaly_score_pl1}`, 949060, 959060 and their
//!   siblings) are such rules.
//! - **The verdict** comes from the real evaluator: one probe transaction runs the prefix (in
//!   DetectionOnly; if an init rule with a disruptive action other than `pass` matches, turns the engine
//!   off or removes an init rule, nothing is folded) and then evaluates each foldable rule once.
//! - Removals stay dynamic: the evaluator checks `ctl:ruleRemove*` / per-route removals *before* the
//!   verdict, and a rule with `ctl:ruleRemoveTarget*` in force in the transaction is evaluated normally.
//!
//! This module owns the analysis and the probe; the evaluator's use of the verdicts is in
//! `transaction::eval::run_rules`. It does not change rule order, ids or any other load pass.

use crate::actions::{Action, Disruptive, EngineMode};
use crate::engine::Engine;
use crate::error::{LoadError, Location};
use crate::macros::Macro;
use crate::rule::{Link, Rule};
use crate::seclang::RuleSet;
use crate::transaction::{Transaction, TxInfo};
use crate::variables::{Selector, Var};
use std::collections::HashSet;
use std::sync::Arc;

/// What the fold pass found; kept in the rule set for the evaluator.
#[derive(Debug, Default, Clone)]
pub struct FoldPlan {
    /// Phase-1 index where the initialisation prefix ends (0: no prefix).
    pub prefix_end: usize,
    /// Phase-1 indexes of the prefix's init rules: all of them must run for the verdicts to hold.
    pub init: Vec<usize>,
    /// Rules with a "never" verdict.
    pub never: usize,
    /// Rules with an "always" verdict.
    pub always: usize,
    /// Why nothing could be folded, when the probe refused (for `Engine::describe`).
    pub refused: Option<&'static str>,
    /// The prefix's result, when a transaction may start from it instead of running the prefix.
    pub snapshot: Option<Snapshot>,
}

/// What the initialisation prefix leaves behind, replayed at the start of phase 1 instead of evaluating its
/// init rules. Taken only when that is all they leave: no init rule runs `ctl` (nothing but `TX` changes), and
/// every rule that matched in the probe is `pass`, without `log` and without `severity` (no match record, no
/// `HIGHEST_SEVERITY`). `MATCHED_VAR*` is left as a fresh transaction has it, which no rule can tell apart
/// (folding is refused when a rule reads it before its own match). The order of `TX` members is not observable
/// (selectors sort them).
///
/// The prefix's transparent rules (the gateway's body-processor rules stand before CRS's setup and the
/// built-in pack's) still run, in their order, once `TX` is in place ([`replays_after_tx`]): they read no
/// `TX`, so they see what they would have seen between the init rules, and they cannot end the phase or
/// remove a rule, so the init rules they stood between would all have run and computed the snapshot.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// `TX` after the prefix: (lowercase name, value).
    pub tx: Vec<(String, Vec<u8>)>,
    /// The phase-1 index the rule walk continues at (the prefix's end, or past it after a `skipAfter`).
    pub resume: usize,
    /// Phase-1 indexes of the transparent rules the prefix's walk reaches, in order: they are evaluated after
    /// the snapshot's `TX` is set (`Transaction::replay_transparent`).
    pub transparent: Vec<usize>,
    /// `tx` ready to be copied into a transaction (`TxVars::load`).
    pub(crate) image: crate::transaction::TxImage,
}

/// May this transparent rule of the prefix run after the init rules instead of between them? When it reads
/// no `TX` (no `TX` target, no operand macro; `msg`/`logdata` are expanded only for a logged match, and it
/// does not log), runs no action but a `ctl` that neither turns the engine off nor removes rules or targets,
/// and is `pass`: then nothing it does is seen by an init rule (they read only `TX` and constants) and
/// nothing the init rules do is seen by it.
fn replays_after_tx(rule: &Rule) -> bool {
    use crate::actions::ctl::Ctl;
    rule.disruptive == Disruptive::Pass
        && !rule.log
        && rule.skip == 0
        && rule.skip_after.is_none()
        && rule.links.iter().all(|l| {
            !l.capture
                && l.targets.iter().all(|t| t.var != Var::Tx)
                && operand(l).is_none()
                && l.actions.iter().all(|a| match a {
                    Action::Ctl(c) => !matches!(
                        c,
                        Ctl::RuleEngine(_)
                            | Ctl::RuleRemoveById(_)
                            | Ctl::RuleRemoveByTag(_)
                            | Ctl::RuleRemoveByMsg(_)
                            | Ctl::RuleRemoveTargetById(..)
                            | Ctl::RuleRemoveTargetByTag(..)
                            | Ctl::RuleRemoveTargetByMsg(..)
                    ),
                    _ => false,
                })
        })
}

/// How a rule of the leading run of phase 1 takes part in the prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Reads only `TX` and constants, writes only `TX` (or runs `ctl`): computes the same on every transaction.
    Init,
    /// Writes no `TX` and changes no flow: cannot change what the init rules compute.
    Transparent,
}

/// Does the macro read only `TX`?
fn reads_only_tx(m: &Macro) -> bool {
    m.vars().all(|(v, _)| v == Var::Tx)
}

/// The operand's macro, when the parameter holds one (`@lt %{tx.max}`); an unparsable one reads "anything".
fn operand(link: &Link) -> Option<Result<Macro, String>> {
    link.op_param.contains("%{").then(|| Macro::parse(&link.op_param))
}

fn role_of(rule: &Rule) -> Option<Role> {
    let init = rule.links.iter().all(|l| {
        l.targets.iter().all(|t| t.var == Var::Tx)
            && operand(l).is_none_or(|m| m.is_ok_and(|m| reads_only_tx(&m)))
            && l.actions.iter().all(|a| match a {
                Action::SetVar(sv) => sv.collection == Var::Tx && reads_only_tx(&sv.key) && reads_only_tx(&sv.value),
                Action::Ctl(_) => true,
                _ => false,
            })
    });
    if init {
        return Some(Role::Init);
    }
    let writes_tx = rule.links.iter().any(|l| {
        l.capture
            || l.actions.iter().any(|a| match a {
                Action::SetVar(sv) => sv.collection == Var::Tx,
                Action::ExpireVar { collection, .. } => *collection == Var::Tx,
                _ => false,
            })
    });
    (!writes_tx && rule.skip == 0 && rule.skip_after.is_none()).then_some(Role::Transparent)
}

/// The `TX` keys rules outside the prefix may write.
#[derive(Debug, Default)]
struct Writes {
    exact: HashSet<Vec<u8>>,
    /// Literal starts of macro-built names (`tx.%{...}`); an empty one means any key.
    prefixes: Vec<Vec<u8>>,
    /// Some rule has `capture` (writes `TX:0`–`TX:9`).
    digits: bool,
}

impl Writes {
    fn add_key(&mut self, key: &Macro) {
        match key.as_static() {
            Some(k) => {
                self.exact.insert(k.to_ascii_lowercase());
            }
            None => self.prefixes.push(key.literal_prefix().to_ascii_lowercase()),
        }
    }

    fn add_rule(&mut self, rule: &Rule) {
        for l in &rule.links {
            self.digits |= l.capture;
            for a in &l.actions {
                match a {
                    Action::SetVar(sv) if sv.collection == Var::Tx => self.add_key(&sv.key),
                    Action::ExpireVar { collection: Var::Tx, key, .. } => self.add_key(key),
                    _ => {}
                }
            }
        }
    }

    /// Is the (lowercase) key out of reach of every writer?
    fn is_constant(&self, key: &[u8]) -> bool {
        let captured = self.digits && !key.is_empty() && key.iter().all(u8::is_ascii_digit);
        !(captured || self.exact.contains(key) || self.prefixes.iter().any(|p| key.starts_with(p)))
    }
}

/// Does the link read only constant `TX` keys, by name and without exclusion, in its targets and its operand's
/// macros? (What every fold kind asks of the links it decides.)
fn reads_only_constants(l: &Link, w: &Writes) -> bool {
    l.targets.iter().all(|t| {
        t.var == Var::Tx && !t.exclude && matches!(&t.selector, Selector::Key(k) if w.is_constant(k.as_bytes()))
    }) && operand(l).is_none_or(|m| {
        m.is_ok_and(|m| m.vars().all(|(v, k)| v == Var::Tx && k.is_some_and(|k| w.is_constant(k.as_bytes()))))
    })
}

/// Can the rule's outcome be decided at load (before looking at what it decides)?
fn foldable(rule: &Rule, w: &Writes) -> bool {
    !rule.log && rule.links.iter().all(|l| !l.capture && l.actions.is_empty() && reads_only_constants(l, w))
}

/// Can the rule's *first link* be decided at load, whatever the rest of the rule does? Then a "never" verdict
/// for that link is one for the rule: a link that matches no value runs none of its actions, captures nothing,
/// leaves `MATCHED_VAR*` as they were, and the chain after it, the log record, the severity and the flow
/// actions are never reached. The link reads only constant keys by name (as in [`foldable`]), has at least
/// one target (an empty list is `SecAction`'s, which always matches) and is not `multiMatch` (the probe
/// evaluates it value by value, [`Transaction::link_matches_quietly`]).
fn first_link_foldable(rule: &Rule, w: &Writes) -> bool {
    rule.links.first().is_some_and(|l| !l.multi_match && !l.targets.is_empty() && reads_only_constants(l, w))
}

/// Can the rule be decided at load as a whole although it runs `setvar`s (see the module doc)? Each link has
/// one target, a constant key by name, so a matching link matches one value and runs its actions once.
fn always_with_setvars(rule: &Rule, w: &Writes) -> bool {
    let matched =
        |v: Var| matches!(v, Var::MatchedVar | Var::MatchedVars | Var::MatchedVarName | Var::MatchedVarsNames);
    rule.disruptive == Disruptive::Pass
        && !rule.log
        && rule.links.iter().any(|l| !l.actions.is_empty())
        && rule.links.iter().all(|l| {
            !l.capture
                && !l.multi_match
                && l.targets.len() == 1
                && reads_only_constants(l, w)
                && l.actions.iter().all(|a| match a {
                    Action::SetVar(sv) => sv.key.vars().chain(sv.value.vars()).all(|(v, _)| !matched(v)),
                    _ => false,
                })
        })
}

/// How much of a rule the probe decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// The whole rule ([`foldable`]): it has no action, so the probe evaluates it as the evaluator would.
    Whole,
    /// Only its first link ([`first_link_foldable`]), and then only a "never" verdict is used.
    FirstLink,
    /// The whole rule, which runs `setvar`s ([`always_with_setvars`]): the probe asks each link without
    /// running its actions, and only an "always" verdict is used (a "never" one is the first link's).
    Setvars,
}

/// A rule the probe decides: (phase, index, how much of it).
type Candidate = (usize, usize, Kind);

/// The `TX:/regex/` selectors of the rule set's targets (not the `!` exclusions), for the snapshot's index
/// (`TxImage::index_key_regexes`).
fn tx_key_regexes(rules: &RuleSet) -> impl Iterator<Item = &crate::variables::KeyRegex> {
    let targets = rules.phases.iter().flatten().flat_map(|r| &r.links).flat_map(|l| &l.targets);
    targets.filter_map(|t| match (&t.var, &t.selector, t.exclude) {
        (Var::Tx, Selector::Regex(re), false) => Some(re),
        _ => None,
    })
}

/// Does some rule read `MATCHED_VAR*` before its own match (first link's targets or operand)?
fn reads_matched_before_match(rules: &RuleSet) -> bool {
    let matched =
        |v: Var| matches!(v, Var::MatchedVar | Var::MatchedVars | Var::MatchedVarName | Var::MatchedVarsNames);
    rules.phases.iter().flatten().filter_map(|r| r.links.first()).any(|l| {
        l.targets.iter().any(|t| matched(t.var))
            || operand(l).is_some_and(|m| m.map_or(true, |m| m.vars().any(|(v, _)| matched(v))))
    })
}

/// The analysis without the probe: the prefix, and every foldable rule ([`Candidate`]).
fn analyse(rules: &RuleSet) -> (FoldPlan, Vec<Candidate>) {
    let phase1 = &rules.phases[0];
    let mut plan = FoldPlan::default();
    for (i, r) in phase1.iter().enumerate() {
        match role_of(r) {
            Some(Role::Init) => {
                plan.init.push(i);
                // the prefix ends after its last rule with an action (a write or a `ctl`): a flow-only rule
                // after it is a fold candidate, not part of the initialisation
                if r.links.iter().any(|l| l.capture || !l.actions.is_empty()) {
                    plan.prefix_end = i + 1;
                }
            }
            Some(Role::Transparent) => {}
            None => break,
        }
    }
    let end = plan.prefix_end;
    plan.init.retain(|&i| i < end);
    let mut w = Writes::default();
    let outside = |p: usize, i: usize| p > 0 || i >= plan.prefix_end;
    for (p, phase) in rules.phases.iter().enumerate() {
        for (i, r) in phase.iter().enumerate() {
            if outside(p, i) {
                w.add_rule(r);
            }
        }
    }
    let mut candidates = Vec::new();
    if reads_matched_before_match(rules) {
        plan.refused = Some("a rule reads MATCHED_VAR before its own match");
        return (plan, candidates);
    }
    for (p, phase) in rules.phases.iter().enumerate() {
        for (i, r) in phase.iter().enumerate() {
            if outside(p, i) {
                if foldable(r, &w) {
                    candidates.push((p, i, Kind::Whole));
                } else if always_with_setvars(r, &w) {
                    candidates.push((p, i, Kind::Setvars));
                } else if first_link_foldable(r, &w) {
                    candidates.push((p, i, Kind::FirstLink));
                }
            }
        }
    }
    (plan, candidates)
}

impl Transaction {
    /// Runs the prefix as phase 1 would (DetectionOnly, so a matching disruptive rule is seen, not obeyed),
    /// then evaluates each candidate once. `Err`: the prefix does not compute the same on every transaction.
    fn fold_probe(
        &mut self,
        plan: &FoldPlan,
        candidates: &[Candidate],
    ) -> Result<(Vec<Option<bool>>, Option<Snapshot>), &'static str> {
        let engine = Arc::clone(&self.engine);
        let rules = &engine.rules;
        let phase1 = &rules.phases[0];
        let mut items = Vec::new();
        self.mode = EngineMode::DetectionOnly;
        let mut i = 0;
        // can a transaction start from the prefix's result? (`Snapshot`)
        let mut replayable = phase1[..plan.prefix_end].iter().enumerate().all(|(k, r)| {
            if plan.init.contains(&k) {
                r.links.iter().all(|l| l.actions.iter().all(|a| !matches!(a, Action::Ctl(_))))
            } else {
                replays_after_tx(r)
            }
        });
        let mut transparent = Vec::new();
        while i < plan.prefix_end {
            let rule = &phase1[i];
            if self.is_removed(rule.id) || !plan.init.contains(&i) {
                if !plan.init.contains(&i) {
                    transparent.push(i);
                }
                i += 1;
                continue;
            }
            self.current_rule = Some((rule.id, 0, i));
            if !self.eval_rule(rule, &rules.chains, &mut items) {
                i += 1;
                continue;
            }
            if rule.disruptive != Disruptive::Pass {
                return Err("an initialisation rule with a disruptive action matches");
            }
            replayable &= !rule.log && rule.meta.severity.is_none();
            if self.mode == EngineMode::Off {
                return Err("an initialisation rule turns the engine off");
            }
            // where a matched rule sends the walk, as `run_rules` takes it (the steps exist from compiling on)
            i = rules.steps[0].get(i).map_or(i + 1, |s| s.next as usize);
        }
        self.current_rule = None;
        if !self.fold_prefix_intact() || self.mode == EngineMode::Off {
            return Err("an initialisation rule removes another one");
        }
        let snapshot = if replayable && self.matches.is_empty() {
            let tx: Option<Vec<(String, Vec<u8>)>> =
                self.tx_members().into_iter().map(|(k, v)| String::from_utf8(k).ok().map(|k| (k, v))).collect();
            tx.map(|tx| {
                let mut image = crate::transaction::TxImage::new(&tx);
                image.index_key_regexes(tx_key_regexes(rules));
                Snapshot { image, tx, resume: i, transparent }
            })
        } else {
            None
        };
        let mut verdicts = Vec::with_capacity(candidates.len());
        for &(p, i, kind) in candidates {
            let rule = &rules.phases[p][i];
            self.current_rule = Some((rule.id, p, i));
            // a whole foldable rule has no side effect to leave behind; the others may have actions, which must
            // not run here (they would change what the next candidates see)
            // (`None`: no verdict usable)
            verdicts.push(match kind {
                Kind::Whole => Some(self.eval_rule(rule, &rules.chains, &mut items)),
                Kind::FirstLink => (!self.link_matches_quietly(rule, &rules.chains, &mut items)).then_some(false),
                Kind::Setvars => {
                    if self.links_match_quietly(rule, &rules.chains, &mut items) {
                        Some(true)
                    } else {
                        // decided by its first link, as a [`Kind::FirstLink`] rule
                        (!self.link_matches_quietly(rule, &rules.chains, &mut items)).then_some(false)
                    }
                }
            });
        }
        self.current_rule = None;
        Ok((verdicts, snapshot))
    }

    /// Does every link of `rule` match a value, as `eval_link` would decide it, without running any action?
    /// (The probe's question for a [`Kind::Setvars`] rule: one constant `TX` target per link, not `multiMatch`,
    /// no `capture`.) Value by value: transformed by the link's chain, the operator's result against `negated`.
    fn links_match_quietly(
        &mut self,
        rule: &Rule,
        chains: &[crate::rule::TransformChain],
        items: &mut Vec<crate::transaction::Item>,
    ) -> bool {
        rule.links.iter().enumerate().all(|(k, link)| {
            items.clear();
            self.collect_link(rule, link, k == 0, items);
            let chain = &chains[link.transforms as usize];
            let list = std::mem::take(items);
            let any = list.iter().any(|item| {
                let tv = self.transform(&item.value, link.transforms, chain);
                let raw =
                    link.op.eval(self.tval(item, &tv), &mut crate::operators::OpCtx { env: &*self, captures: None });
                raw != link.negated
            });
            *items = list;
            any
        })
    }

    /// What an "always" verdict leaves to do (`run_rules`), as `eval_rule` would on the rule's match: each
    /// link's actions once, in order (a [`Kind::Setvars`] rule's links match one value each; other always
    /// rules have none), then the severity. `MATCHED_VAR*` are left alone (see the module doc).
    pub(crate) fn take_always(&mut self, rule: &Rule, at: (usize, usize)) {
        if rule.links.iter().any(|l| !l.actions.is_empty()) {
            self.current_rule = Some((rule.id, at.0, at.1));
            for l in &rule.links {
                for a in &l.actions {
                    self.exec_action(a);
                }
            }
        }
        if let Some(s) = rule.meta.severity {
            if self.highest_severity == 255 || s < self.highest_severity {
                self.highest_severity = s;
            }
        }
    }

    /// Did every init rule of the prefix run? (None removed, none with a target removed; the caller knows the
    /// phase reached the prefix's end with the engine on.)
    pub(crate) fn fold_prefix_intact(&self) -> bool {
        let plan = &self.engine.rules.fold;
        let phase1 = &self.engine.rules.phases[0];
        if self.excl.ids.is_empty() && self.excl.removed.is_empty() && self.excl.targets.is_empty() {
            return true;
        }
        plan.init.iter().all(|&k| {
            let r = &phase1[k];
            !self.is_removed(r.id) && !self.excl.targets.contains_key(&r.id)
        })
    }
}

impl Transaction {
    /// Sets `TX` to the snapshot's, as `tx_set` of each member would (`TxVars::load`; the members one by one
    /// when `TX` is not empty).
    pub(crate) fn replay_tx(&mut self, snap: &Snapshot) {
        self.settle_text();
        if !self.tx.load(&mut self.arena, &snap.image) {
            for (k, v) in &snap.tx {
                self.tx_set(k, v);
            }
        }
    }

    /// Evaluates the prefix's transparent rules that a walk from the snapshot skips (`Snapshot::transparent`),
    /// as `run_rules` would: removed and gate-closed rules are passed over, the others run; they are `pass`
    /// without flow actions (`replays_after_tx`), so the walk goes on at the snapshot's `resume` either way.
    pub(crate) fn replay_transparent(&mut self, snap: &Snapshot, items: &mut Vec<crate::transaction::Item>) {
        let engine = Arc::clone(&self.engine);
        let phase1 = &engine.rules.phases[0];
        for &k in &snap.transparent {
            let rule = &phase1[k];
            if self.is_removed(rule.id) || rule.gate.as_ref().is_some_and(|g| !self.gate_open(g)) {
                continue;
            }
            self.current_rule = Some((rule.id, 0, k));
            self.eval_rule(rule, &engine.rules.chains, items);
        }
        self.current_rule = None;
    }
}

/// Runs the fold pass over a freshly built engine and returns it with `Rule::folded` and
/// `RuleSet::fold` set.
pub(crate) fn fold(mut engine: Engine) -> Result<Engine, LoadError> {
    let (mut plan, candidates) = analyse(&engine.rules);
    // with no rule to fold the probe still pays when there is a prefix to replay (`Snapshot`)
    if candidates.is_empty() && (plan.prefix_end == 0 || plan.refused.is_some()) {
        engine.rules.fold = plan;
        return Ok(engine);
    }
    // the probe needs the plan's prefix in the engine it runs on
    engine.rules.fold = plan.clone();
    let engine = Arc::new(engine);
    let probe_info = TxInfo {
        unique_id: String::from("fold-probe"),
        client_addr: std::net::Ipv4Addr::UNSPECIFIED.into(),
        client_port: 0,
        server_addr: std::net::Ipv4Addr::UNSPECIFIED.into(),
        server_port: 0,
    };
    let verdicts = {
        let mut tx = engine.transaction(probe_info);
        tx.fold_probe(&plan, &candidates)
    };
    // the probe transaction is gone, so this is the only reference
    let mut engine = Arc::into_inner(engine).ok_or_else(|| LoadError::Syntax {
        loc: Location { file: "<fold>".into(), line: 0 },
        rule_id: None,
        msg: "internal error: the fold probe kept the engine".into(),
    })?;
    match verdicts {
        Err(why) => plan.refused = Some(why),
        Ok((v, snapshot)) => {
            plan.snapshot = snapshot;
            for (&(p, i, kind), &verdict) in candidates.iter().zip(&v) {
                let rule = &mut engine.rules.phases[p][i];
                let Some(matches) = verdict else { continue };
                // an "always" verdict takes the flow, the actions and the severity (`take_always`), nothing else:
                // a whole rule must be `pass` (a Setvars one is by construction); and, as before Setvars rules
                // were folded, one without severity
                if matches
                    && kind == Kind::Whole
                    && (rule.disruptive != Disruptive::Pass || rule.meta.severity.is_some())
                {
                    continue;
                }
                rule.folded = Some(matches);
                if matches {
                    plan.always += 1;
                } else {
                    plan.never += 1;
                }
            }
        }
    }
    engine.rules.fold = plan;
    engine.rules.index_steps();
    Ok(engine)
}

#[cfg(test)]
pub(crate) mod tests {
    use crate::engine::Engine;
    use crate::transaction::TxInfo;
    use std::sync::Arc;

    /// Connection facts for unit tests of the crate's transactions.
    pub(crate) fn info() -> TxInfo {
        TxInfo {
            unique_id: String::from("t"),
            client_addr: std::net::Ipv4Addr::LOCALHOST.into(),
            client_port: 1,
            server_addr: std::net::Ipv4Addr::LOCALHOST.into(),
            server_port: 2,
        }
    }

    /// The walk's steps (`rule::Step`) copy each rule's id, verdict and where an always-matching rule sends
    /// the walk, after the fold pass set the verdicts: a verdict missing from the steps would never be used.
    #[test]
    fn steps_carry_the_fold_verdicts_and_the_skips() {
        use crate::rule::Folded;
        let text = r#"
SecRuleEngine On
SecAction "id:1,phase:1,pass,nolog,setvar:tx.level=1"
SecRule ARGS "@rx x" "id:10,phase:1,pass,nolog,setvar:tx.seen=1"
SecRule TX:LEVEL "@lt 2" "id:2,phase:1,pass,nolog,skipAfter:END-LEVEL-2"
SecRule ARGS "@rx evil" "id:3,phase:1,pass,log"
SecMarker "END-LEVEL-2"
SecRule TX:LEVEL "@ge 1" "id:4,phase:1,pass,nolog,setvar:tx.sum=+1"
SecRule TX:LEVEL "@eq 5" "id:5,phase:1,pass,nolog,skip:1"
SecRule ARGS "@rx evil" "id:6,phase:1,pass,log,skip:1"
SecRule ARGS "@rx bad" "id:7,phase:1,pass,log"
"#;
        let e = Engine::from_str(text, "t.conf").unwrap();
        let (rules, steps) = (&e.rules.phases[0], &e.rules.steps[0]);
        assert_eq!(steps.len(), rules.len());
        let by_id = |id: u32| steps.iter().position(|s| s.id == id).map(|k| (k, steps[k])).unwrap();
        let ((k2, s2), (k4, _)) = (by_id(2), by_id(4));
        assert_eq!((s2.folded, s2.next as usize), (Folded::Always, k4), "2 always skips to its marker");
        assert_eq!(by_id(4).1.folded, Folded::AlwaysActs, "4 always matches and runs a setvar");
        let (k5, s5) = by_id(5);
        assert_eq!((s5.folded, s5.next as usize), (Folded::Never, k5 + 2));
        let (k6, s6) = by_id(6);
        assert_eq!((s6.folded, s6.gated, s6.next as usize), (Folded::No, true, k6 + 2));
        assert!(k2 < k4 && rules.iter().zip(steps).all(|(r, s)| r.id == s.id));
    }

    /// A `TX` key set before phase 1 (the gateway pins per-route paranoia levels this way) is a value the
    /// probe did not see: nothing folded is used then, and the outcome is the unfolded one.
    #[test]
    fn tx_set_before_phase_1_turns_the_verdicts_off() {
        let text = r#"
SecRuleEngine On
SecAction "id:1,phase:1,pass,nolog,setvar:tx.level=+1"
SecRule TX:LEVEL "@lt 2" "id:2,phase:1,pass,nolog,skipAfter:END-LEVEL-2"
SecRule ARGS "@rx evil" "id:3,phase:1,pass,log"
SecMarker "END-LEVEL-2"
"#;
        let on = Arc::new(Engine::from_str(text, "t.conf").unwrap());
        let off = Arc::new(Engine::from_str(text, "t.conf").unwrap().with_folding(false));
        assert!(on.folded_rules().1 >= 1, "rule 2 folds to always: {:?}", on.folded_rules());
        // level 1 after the prefix on an empty TX (rule 2 skips rule 3); 2 when the transaction starts at 1
        for (pre, want) in [(None, vec![]), (Some("1"), vec![3u32])] {
            let ids: Vec<Vec<u32>> = [&on, &off]
                .iter()
                .map(|e| {
                    let mut tx = e.transaction(info());
                    tx.request_line("GET", "/?q=evil", "HTTP/1.1");
                    if let Some(v) = pre {
                        tx.tx_set("level", v.as_bytes());
                    }
                    let _ = tx.process_request_headers();
                    tx.matches().iter().map(|m| m.id).collect()
                })
                .collect();
            assert_eq!(ids[0], want, "{pre:?}");
            assert_eq!(ids[1], want, "{pre:?}");
        }
    }

    /// A rule whose first link reads only constant `TX` and never matches is skipped whatever its actions
    /// (`setvar`, `capture`, `log`, a chain, a disruptive action); one whose first link matches (`!@ge 2` on
    /// level 1: the negation counts) keeps being evaluated, and so does one reading a key rules write. The
    /// outcome is the unfolded engine's on every request.
    #[test]
    fn a_rule_whose_first_link_never_matches_is_skipped_whatever_its_actions() {
        let text = r#"
SecRuleEngine On
SecAction "id:1,phase:1,pass,nolog,setvar:tx.level=1,setvar:tx.max=5,setvar:tx.score=0"
SecRule TX:LEVEL "@ge 2" "id:10,phase:2,pass,log,setvar:tx.score=+5"
SecRule TX:LEVEL "!@lt 2" "id:11,phase:2,block,capture,log,severity:2,setvar:tx.hits=+1,chain"
    SecRule ARGS "@rx x" "setvar:tx.score=+1"
SecRule TX:LEVEL "@ge 1" "id:12,phase:2,pass,log,setvar:tx.score=+1"
SecRule TX:MAX "@lt %{tx.level}" "id:13,phase:2,deny,log"
SecRule &TX:MAX "@eq 0" "id:14,phase:2,pass,nolog,setvar:tx.missing=1,skipAfter:END"
SecRule TX:LEVEL "!@ge 2" "id:15,phase:2,pass,log,setvar:tx.neg=1"
SecRule TX:SCORE "@ge 1" "id:16,phase:2,pass,log,setvar:tx.seen=1"
SecRule ARGS "@rx x" "id:17,phase:2,pass,log,setvar:tx.score=+3"
SecAction "id:19,phase:2,pass,nolog,setvar:tx.after=1"
SecMarker END
SecRule TX:SCORE "@ge 5" "id:18,phase:5,pass,log"
"#;
        let on = Arc::new(Engine::from_str(text, "t.conf").unwrap());
        let off = Arc::new(Engine::from_str(text, "t.conf").unwrap().with_folding(false));
        let folded: Vec<(u32, bool)> = on.folded_ids();
        for id in [10, 11, 13, 14] {
            assert!(folded.contains(&(id, false)), "{id} never matches: {folded:?}");
        }
        for id in [12, 15, 16, 17, 18, 19] {
            assert!(folded.iter().all(|(f, _)| *f != id), "{id} must be evaluated: {folded:?}");
        }
        for uri in ["/?q=x", "/?q=y", "/"] {
            let run = |e: &Arc<Engine>| {
                let mut tx = e.transaction(info());
                tx.request_line("GET", uri, "HTTP/1.1");
                let _ = tx.process_request_headers();
                let _ = tx.process_request_body();
                tx.process_logging();
                let m: Vec<(u32, u8)> = tx.matches().iter().map(|m| (m.id, m.phase)).collect();
                (m, tx.tx_members())
            };
            let (a, b) = (run(&on), run(&off));
            assert_eq!(a, b, "{uri}");
            assert!(a.0.contains(&(15, 2)) && a.0.contains(&(12, 2)), "{uri}: {a:?}");
        }
    }

    /// The rules that matched (id, phase) and `TX` after phase 5.
    type Outcome = (Vec<(u32, u8)>, Vec<(Vec<u8>, Vec<u8>)>);

    /// Runs one request through `engine`: its [`Outcome`].
    fn outcome(engine: &Arc<Engine>, json: bool) -> Outcome {
        let mut tx = engine.transaction(info());
        tx.request_line("POST", "/login?next=evil", "HTTP/1.1");
        tx.request_header(b"Host", b"example.com");
        if json {
            tx.request_header(b"Content-Type", b"application/json");
        }
        let _ = tx.process_request_headers();
        let _ = tx.append_request_body(br#"{"user":"evil"}"#);
        let _ = tx.process_request_body();
        tx.process_logging();
        (tx.matches().iter().map(|m| (m.id, m.phase)).collect(), tx.tx_members())
    }

    /// The gateway's body-processor rules stand before the rule files' setup (as `build_engine` writes them):
    /// they are transparent, so the setup's `TX` is still replayed, and they still run. A transparent rule
    /// that reads `TX` or removes rules must keep the prefix unreplayed.
    #[test]
    fn a_prefix_with_transparent_rules_is_replayed_and_they_still_run() {
        let base = r#"
SecRuleEngine On
SecRequestBodyAccess On
SecRule REQUEST_HEADERS:Content-Type "^application/json" "id:1,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON"
SecAction "id:2,phase:1,pass,nolog,setvar:tx.level=2,setvar:tx.score=0"
TRANSPARENT
SecAction "id:4,phase:1,pass,nolog,setvar:tx.limit=5"
SecRule TX:LEVEL "@lt 2" "id:5,phase:1,pass,nolog,skipAfter:END"
SecRule ARGS "@rx evil" "id:6,phase:2,pass,log,setvar:tx.score=+%{tx.level}"
SecRule ARGS_POST:json.user "@rx evil" "id:7,phase:2,pass,log,setvar:tx.score=+%{tx.limit}"
SecRule TX:SCORE "@ge %{tx.limit}" "id:8,phase:2,deny,log"
SecMarker END
SecRule TX:SCORE "@gt 0" "id:9,phase:5,pass,log"
"#;
        let cases = [
            // transparent and replayable: the snapshot is taken, the rules before and between still run
            ("SecRule REQUEST_METHOD \"@streq POST\" \"id:3,phase:1,pass,nolog,ctl:forceRequestBodyVariable=On\"", true),
            // reads TX: where it runs matters
            ("SecRule REQUEST_METHOD \"@streq %{tx.level}\" \"id:3,phase:1,pass,nolog,ctl:forceRequestBodyVariable=On\"", false),
            // removes a rule: could remove an init rule
            ("SecRule REQUEST_METHOD \"@streq POST\" \"id:3,phase:1,pass,nolog,ctl:ruleRemoveById=9\"", false),
            // turns the engine off: the init rules after it would not run
            ("SecRule REQUEST_METHOD \"@streq GET\" \"id:3,phase:1,pass,nolog,ctl:ruleEngine=Off\"", false),
        ];
        for (rule, replayed) in cases {
            let text = base.replace("TRANSPARENT", rule);
            let on = Arc::new(Engine::from_str(&text, "t.conf").unwrap());
            let off = Arc::new(Engine::from_str(&text, "t.conf").unwrap().with_folding(false));
            assert_eq!(on.describe().contains("replayed"), replayed, "{rule}: {}", on.describe());
            for json in [false, true] {
                let (a, b) = (outcome(&on, json), outcome(&off, json));
                assert_eq!(a, b, "{rule}, json {json}");
                if json && replayed {
                    // rule 1 ran after the replay: the JSON processor filled ARGS_POST, rule 7 saw it
                    assert!(a.0.contains(&(7, 2)) && a.0.contains(&(8, 2)), "{a:?}");
                }
            }
        }
    }
}
