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
        let Some((ks, vs)) = self.tx.get(&self.arena, key.as_bytes()) else {
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
}
