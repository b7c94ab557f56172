//! A rule link that reads one `TX` variable by name (`SecRule TX:BLOCKING_PARANOIA_LEVEL "@ge 1"`, CRS's
//! score sums and reporting tests, 949xxx, 959xxx, 980xxx), evaluated straight from the `TX` table: one
//! look-up, the operator on the value as stored, and the match state only when it matches. About 25 such
//! rules run on every benign CRS request; the general path collected the one value into the link's item
//! list, asked the gate, the prefilter and the transformation cache about it, and took the `MATCHED_VAR`
//! buffer in and out for it.
//!
//! # Why it is exact
//!
//! It takes only links where the general path (`eval::eval_link`) does exactly this and nothing else:
//! - one target, `TX:<key>` (not `&TX`, no `!` exclusion), and no `ctl:ruleRemoveTarget*` in force for the
//!   rule when the link is its first (the only link those apply to): the values are the key's member, or none;
//! - an empty transformation chain: the value is inspected as stored;
//! - not `multiMatch`, no `capture`, and an operator with no prefilter literal and no detector class: the
//!   gate, the prefilter and the detector families ask nothing of it (they only count skips of operators that
//!   have them), so the operator runs on the value.
//!
//! Then, as there: an absent key is no value, so the link does not match (negated or not) and nothing is
//! counted; a present one counts one value, and on a match (`raw != negated`) `MATCHED_VAR` becomes the
//! value, `MATCHED_VAR_NAME` `TX:<name>`, one `MATCHED_VARS` entry is added and the link's actions run.
//! The test `tests/tx_link.rs` compares both paths on rules of every operator form.
//!
//! # Links without targets
//!
//! A `SecAction` (a link with no targets) is evaluated here too (`eval_action_link`): the general path hands
//! its operator one empty value. CRS runs about half a dozen on every request (the score sums 949059,
//! 959059, …, the reporting 980099), and the general path paid for an item list, the detector, gate and
//! transformation checks and the `MATCHED_VAR` buffer's round trip for each. Taken when the general path
//! does exactly this: no transformation (a step such as `length` could turn the empty value into
//! something), not `multiMatch`, no `capture`: the operator on the empty value against `negated`, one value
//! counted, and on a match an empty `MATCHED_VAR`, a `MATCHED_VARS` entry without a name and the link's
//! actions. (The general path's detector and byte rule-out checks never apply to such a link: its operator
//! is `SecAction`'s `@unconditionalMatch`, which has no detector class, and `set_byte_outs` gives no link
//! without targets a `Link::byte_out`.)

use super::collect::{Item, Key, Val, NO_PF};
use super::Transaction;
use crate::operators::OpCtx;
use crate::rule::{Link, Rule, TransformChain};
use crate::variables::{Selector, Var};

impl Transaction {
    /// The result of `link` when it is a plain `TX:<key>` read (see the module doc), `None` otherwise (the
    /// caller evaluates it the general way).
    #[inline]
    pub(crate) fn eval_tx_link(
        &mut self,
        rule: &Rule,
        link: &Link,
        is_head: bool,
        chains: &[TransformChain],
    ) -> Option<bool> {
        if !self.engine.tx_link_fast {
            return None;
        }
        let [t] = link.targets.as_slice() else { return None };
        let (Var::Tx, Selector::Key(key), false, false) = (t.var, &t.selector, t.count, t.exclude) else {
            return None;
        };
        // the operator's literal first: a `TX` link that falls back (`@streq`, `@rx`) pays one call, not all
        if link.op.prefilter_id().is_some()
            || link.multi_match
            || link.capture
            || !chains.get(link.transforms as usize).is_some_and(|c| c.steps.is_empty())
            || (is_head && !self.excl.targets.is_empty() && self.excl.targets.contains_key(&rule.id))
            || link.op.detector_class().is_some()
        {
            return None;
        }
        // (set at load for every link of this shape: `set_tx_key_hashes`)
        let h = link.tx_key_hash?;
        let Some((ks, vs)) = self.tx.get_hashed(&self.arena, h, key.as_bytes()) else {
            return Some(false);
        };
        self.stats.values += 1;
        let raw = link.op.eval(self.get(vs), &mut OpCtx { env: &*self, captures: None });
        if raw == link.negated {
            return Some(false);
        }
        let mut mv = std::mem::take(&mut self.matched_var);
        mv.clear();
        mv.extend_from_slice(self.get(vs));
        self.matched_var = mv;
        self.note_matched_var(Some(&Item { var: Var::Tx, key: Key::Arena(ks), value: Val::Arena(vs), pf: NO_PF }));
        for a in &link.actions {
            self.exec_action(a);
        }
        Some(true)
    }

    /// The result of `link` when it has no targets and the general path would only run its operator on the
    /// one empty value it makes up (see the module doc); `None` otherwise.
    #[inline]
    pub(crate) fn eval_action_link(&mut self, link: &Link, chains: &[TransformChain]) -> Option<bool> {
        if !self.engine.tx_link_fast
            || !link.targets.is_empty()
            || link.multi_match
            || link.capture
            || !chains.get(link.transforms as usize).is_some_and(|c| c.steps.is_empty())
        {
            return None;
        }
        self.stats.values += 1;
        let raw = link.op.eval(b"", &mut OpCtx { env: &*self, captures: None });
        if raw == link.negated {
            return Some(false);
        }
        self.matched_var.clear();
        self.note_matched_var(None);
        for a in &link.actions {
            self.exec_action(a);
        }
        Some(true)
    }
}

/// Sets `Link::tx_key_hash` on every link whose one target is `TX:<key>` (called once at load, after target
/// updates): the hash `eval_tx_link` would compute of the same key bytes.
pub(crate) fn set_tx_key_hashes(phases: &mut [Vec<Rule>]) {
    for link in phases.iter_mut().flatten().flat_map(|r| r.links.iter_mut()) {
        link.tx_key_hash = match link.targets.as_slice() {
            [t] if t.var == Var::Tx && !t.count && !t.exclude => match &t.selector {
                Selector::Key(key) => Some(super::tx_hash(key.as_bytes())),
                _ => None,
            },
            _ => None,
        };
    }
}
