//! Rule evaluation: walking a phase's flat rule array, evaluating chains, transformation caching,
//! flow control (`skip`, `skipAfter`, `allow`) and disruptive verdicts.

use super::collect::{Item, Key, Val, NO_PF};
use super::gate::PfBits;
use super::{Allowed, Cached, Intervention, InterventionAction, Span, Transaction};
use crate::actions::{AllowScope, Disruptive, EngineMode};
use crate::operators::OpCtx;
use crate::rule::{Folded, Link, Rule, TransformChain};
use std::borrow::Cow;
use std::sync::Arc;

/// A transformed value: unchanged, in the cache buffer, or owned (uncacheable source).
pub(crate) enum TVal {
    Same,
    Cache(Span),
    Owned(Vec<u8>),
}

/// Runs transformation `steps` over `input`, borrowing it for as long as no step changes it.
fn apply_steps<'a>(
    steps: &[crate::transforms::Transform],
    input: &'a [u8],
    mut known: Option<[u64; 4]>,
) -> Cow<'a, [u8]> {
    // `known`: the bytes other than letters of the current value, while they are known (`raw_bytes_present`)
    let mut cur: Cow<'a, [u8]> = Cow::Borrowed(input);
    for step in steps {
        if known.is_some_and(|p| step.is_identity_on(&p)) {
            // it would hand the value back borrowed and whole (`Transform::is_identity_on`)
            continue;
        }
        let changed;
        cur = match cur {
            Cow::Borrowed(b) => {
                let out = (step.apply)(b);
                changed = !matches!(&out, Cow::Borrowed(o) if o.len() == b.len());
                out
            }
            Cow::Owned(o) => {
                let next = match (step.apply)(&o) {
                    Cow::Borrowed(b) if b.len() == o.len() => None,
                    other => Some(other.into_owned()),
                };
                changed = next.is_some();
                Cow::Owned(next.unwrap_or(o))
            }
        };
        // a step that changed at most letter case leaves the other bytes as they were
        if changed && !known.is_some_and(|p| step.keeps_up_to_case(&p)) {
            known = None;
        }
    }
    cur
}

impl Transaction {
    pub(crate) fn run_phase(&mut self, phase: u8) -> Option<Intervention> {
        let p = (phase - 1) as usize;
        self.phases_done[p] = true;
        if self.mode == EngineMode::Off {
            return None;
        }
        if phase < 5
            && (self.intervention.is_some()
                || self.allowed == Allowed::All
                || (self.allowed == Allowed::Request && phase <= 2))
        {
            return None;
        }
        self.unpark();
        // the gate's unions hold while the request/response data they were taken over stays as it is: it only
        // changes between phases, through the calls that set `gate_stale`
        if self.gate_stale {
            self.gate_cache.clear();
            self.gate_stale = false;
        }
        super::collect::forget_lists(&mut self.list_cache);
        self.families.clear();
        // the values list is the transaction's (pooled), not allocated per phase
        let mut items = std::mem::take(&mut self.phase_items);
        let iv = self.run_rules(phase, &mut items);
        items.clear();
        self.phase_items = items;
        // After phase 2 the gateway waits for the upstream, after phase 3 for the response body: the evaluation
        // buffers go back to the pool meanwhile (`pool`), for the other requests in flight. Phase 1 hands its
        // caches to phase 2, which follows at once for most requests (a GET's phase 2 reads what phase 1 read);
        // phase 5 follows phase 4 at once, and the transaction's end hands them back after it.
        if phase == 2 || phase == 3 {
            self.park();
        }
        iv
    }

    /// Walks the rules of `phase` (1–5) until one intervenes or flow control ends the phase.
    fn run_rules(&mut self, phase: u8, items: &mut Vec<Item>) -> Option<Intervention> {
        let p = (phase - 1) as usize;
        let engine = Arc::clone(&self.engine);
        let rules = &engine.rules.phases[p];
        let steps = &engine.rules.steps[p];
        debug_assert_eq!(steps.len(), rules.len());
        // load-time verdicts (`crate::fold`) hold once phase 1 has run the initialisation prefix intact, from an
        // empty TX as the probe ran (a key set before the rules, e.g. a route's pinned paranoia level, is a value
        // the verdicts were not taken with)
        let mut fold_pending = phase == 1 && engine.fold && self.tx.len() == 0;
        if phase == 1 {
            self.fold_ok = false;
        }
        // no rule of this phase is known closed yet (the summary batches mark them as they are tested)
        self.gate_closed.clear();
        self.gate_closed.resize(rules.len().div_ceil(64), 0);
        // the gates whose sources are all empty in this phase are closed at once (a response without a body)
        if engine.rx_prefilter {
            self.close_empty_sources(&engine.rules.empty_closes[p]);
        }
        let mut i = 0;
        if fold_pending && self.mode != EngineMode::Off {
            // start from the initialisation prefix's result when nothing can make this run differ (`fold`)
            if let Some(snap) = &engine.rules.fold.snapshot {
                if self.fold_prefix_intact() {
                    self.replay_tx(snap);
                    self.replay_transparent(snap, items);
                    i = snap.resume;
                }
            }
        }
        #[cfg(feature = "rule-profile")]
        let mut walk = crate::profile::Walk::new(phase);
        // the rules removed (`ctl:ruleRemove*`) are marked like closed ones, so the walk passes over them
        // without asking of each rule visited; only a rule's actions add removals while the phase runs, so
        // they are counted again after each evaluated rule and marked again when there are more
        let mut removals = self.removal_count();
        if removals != 0 {
            self.mark_removed(p);
        }
        while i < rules.len() {
            #[cfg(feature = "rule-profile")]
            walk.visit(rules[i].id, self.stats.rules);
            if self.mode == EngineMode::Off {
                break;
            }
            if fold_pending && i >= engine.rules.fold.prefix_end {
                fold_pending = false;
                self.fold_ok = self.fold_prefix_intact();
            }
            // a rule a summary batch ruled out is skipped by its gate; so are the closed rules after it: the walk
            // goes on at the next rule not marked (`Transaction::gate_closed`), but not past the end of the
            // initialisation prefix while its verdict is pending (it is taken at the first rule after it)
            if self.gate_closed.get(i / 64).is_some_and(|w| w >> (i % 64) & 1 != 0) {
                let next = super::gate::next_unmarked(&self.gate_closed, i);
                i = if fold_pending { next.min(engine.rules.fold.prefix_end) } else { next };
                continue;
            }
            // the rule itself is read only when it is gated, evaluated or has actions to take (`Step`)
            let step = steps[i];
            if step.gated && rules[i].gate.as_ref().is_some_and(|g| !self.gate_open(g)) {
                i += 1;
                continue;
            }
            if step.folded != Folded::No
                && self.fold_ok
                && (self.excl.targets.is_empty() || !self.excl.targets.contains_key(&step.id))
            {
                if step.folded == Folded::AlwaysActs {
                    // its actions and severity (`fold`: rules that always match and run `setvar`s)
                    self.take_always(&rules[i], (p, i));
                }
                i = if step.folded == Folded::Never { i + 1 } else { step.next as usize };
                continue;
            }
            let rule = &rules[i];
            self.current_rule = Some((rule.id, p, i));
            let hit = self.eval_rule(rule, &engine.rules.chains, items);
            if self.removal_count() != removals {
                removals = self.removal_count();
                self.mark_removed(p);
            }
            if !hit {
                i += 1;
                continue;
            }
            match &rule.disruptive {
                Disruptive::Pass => {}
                Disruptive::Allow(scope) => {
                    match scope {
                        AllowScope::Phase => {}
                        AllowScope::Request => self.allowed = Allowed::Request,
                        AllowScope::All => self.allowed = Allowed::All,
                    }
                    break;
                }
                d => {
                    if self.mode == EngineMode::On && phase < 5 {
                        let action = match d {
                            Disruptive::Drop => InterventionAction::Drop,
                            Disruptive::Redirect(m) => InterventionAction::Redirect {
                                url: String::from_utf8_lossy(&m.expand(&*self)).into_owned(),
                            },
                            _ => InterventionAction::Deny,
                        };
                        let status = rule.status.unwrap_or(match action {
                            InterventionAction::Redirect { .. } => 302,
                            _ => 403,
                        });
                        let iv = Intervention { status, action, rule_id: rule.id };
                        if let Some(m) = self.matches.last_mut().filter(|m| m.id == rule.id) {
                            m.blocked = true;
                            m.status = Some(status);
                        }
                        self.intervention = Some(iv.clone());
                        self.current_rule = None;
                        return Some(iv);
                    }
                }
            }
            i = step.next as usize;
        }
        #[cfg(feature = "rule-profile")]
        walk.end(self.stats.rules);
        self.current_rule = None;
        None
    }

    /// How many removals (`ctl:ruleRemoveById` ranges, rules removed `…ByTag` or `…ByMsg`) this transaction
    /// holds: they are only ever added, so a count that changed means new ones. Zero: [`Self::is_removed`] is
    /// false for every rule.
    #[inline]
    fn removal_count(&self) -> usize {
        self.excl.ids.len() + self.excl.removed.len()
    }

    /// Marks the rules of phase index `p` that are removed ([`Self::is_removed`]) in `gate_closed`, where the
    /// walk passes over them, found through the phase's id index (`RuleSet::by_id`).
    fn mark_removed(&mut self, p: usize) {
        let engine = Arc::clone(&self.engine);
        let by_id = &engine.rules.by_id[p];
        let mut mark = |from: u32, to: u32| {
            let start = by_id.partition_point(|&(id, _)| id < from);
            for &(_, i) in by_id[start..].iter().take_while(|&&(id, _)| id <= to) {
                if let Some(w) = self.gate_closed.get_mut(i as usize / 64) {
                    *w |= 1 << (i % 64);
                }
            }
        };
        for &(from, to) in &self.excl.ids {
            mark(from, to);
        }
        for &id in &self.excl.removed {
            mark(id, id);
        }
    }

    pub(crate) fn is_removed(&self, id: u32) -> bool {
        (!self.excl.ids.is_empty() && crate::actions::ctl::in_ranges(&self.excl.ids, id))
            || (!self.excl.removed.is_empty() && self.excl.removed.contains(&id))
    }

    /// Evaluates a rule and its chain; on a full match, logs it. Returns whether it matched.
    pub(crate) fn eval_rule(&mut self, rule: &Rule, chains: &[TransformChain], items: &mut Vec<Item>) -> bool {
        self.matched_count = 0;
        self.stats.rules += 1;
        for (k, link) in rule.links.iter().enumerate() {
            if !self.eval_link(rule, link, k == 0, chains, items) {
                return false;
            }
        }
        if let Some(s) = rule.meta.severity {
            if self.highest_severity == 255 || s < self.highest_severity {
                self.highest_severity = s;
            }
        }
        if rule.log {
            self.record_match(rule);
        }
        true
    }

    pub(crate) fn transform(&mut self, v: &Val, chain_id: u32, chain: &TransformChain) -> TVal {
        let known = match v {
            Val::Arena(span) if !chain.steps.is_empty() => self.raw_bytes_present(*span),
            _ => None,
        };
        self.transform_known(v, chain_id, chain, known)
    }

    /// [`Self::transform`] with the bytes the value holds already looked up (`raw_bytes_present`; `None` when
    /// not known).
    pub(crate) fn transform_known(
        &mut self,
        v: &Val,
        chain_id: u32,
        chain: &TransformChain,
        known: Option<[u64; 4]>,
    ) -> TVal {
        if chain.steps.is_empty() {
            return TVal::Same;
        }
        match v {
            Val::Arena(span) => {
                if let Some(c) = self.cache.get(&(*span, chain_id)) {
                    self.stats.transform_cache_hits += 1;
                    return match c {
                        Cached::Unchanged => TVal::Same,
                        Cached::At(s) => TVal::Cache(*s),
                    };
                }
                self.stats.transforms_computed += 1;
                let cached = self.compute_chain(*span, chain, known);
                self.cache.insert((*span, chain_id), cached);
                match cached {
                    Cached::Unchanged => TVal::Same,
                    Cached::At(s) => TVal::Cache(s),
                }
            }
            Val::Owned(_) | Val::Static(_) => {
                let o = self.val(v);
                match apply_steps(&chain.steps, o, None) {
                    Cow::Borrowed(b) if b.len() == o.len() => TVal::Same,
                    other => TVal::Owned(other.into_owned()),
                }
            }
        }
    }

    /// Transforms the arena value `span` by `chain`, starting from the cached result of the chain's longest
    /// interned prefix when another rule left one (the steps are pure, so finishing from the prefix's output
    /// gives the same bytes as running the whole chain).
    ///
    /// Each step writes its output into one of two scratch buffers kept across calls (`Transform::apply_into`),
    /// reading the other one's form: no vector per changed step, and one copy of the result into the cache
    /// buffer. The same bytes as [`apply_steps`]: `apply_into` appends exactly what `apply` returns, and
    /// reports "changed" exactly when `apply` does not hand its input back whole.
    fn compute_chain(&mut self, span: Span, chain: &TransformChain, raw: Option<[u64; 4]>) -> Cached {
        // (where the remaining steps start: the prefix's output in the cache buffer, or the value itself; steps)
        let (base, steps) = match chain.prefix.and_then(|(id, k)| self.cache.get(&(span, id)).map(|c| (*c, k))) {
            Some((base, k)) => (base, &chain.steps[k..]),
            None => (Cached::Unchanged, &chain.steps[..]),
        };
        let mut known = match base {
            Cached::Unchanged => raw,
            Cached::At(_) => None,
        };
        let (mut cur, mut next) = std::mem::take(&mut self.families.forms.chain_bufs);
        // has a step changed the value? (then the current form is `cur`)
        let mut changed = false;
        {
            let input = match base {
                Cached::At(ps) => self.cache_buf.get(ps.start as usize..(ps.start + ps.len) as usize).unwrap_or(b""),
                Cached::Unchanged => self.get(span),
            };
            for step in steps {
                if known.is_some_and(|p| step.is_identity_on(&p)) {
                    // it would hand the value back borrowed and whole (`Transform::is_identity_on`)
                    continue;
                }
                next.clear();
                if step.apply_into(if changed { &cur } else { input }, &mut next) {
                    std::mem::swap(&mut cur, &mut next);
                    changed = true;
                    // a step that changed at most letter case leaves the other bytes as they were
                    if !known.is_some_and(|p| step.keeps_up_to_case(&p)) {
                        known = None;
                    }
                }
            }
        }
        let result = if changed {
            let start = self.cache_buf.len();
            self.cache_buf.extend_from_slice(&cur);
            Cached::At(Span { start: start as u32, len: cur.len() as u32 })
        } else {
            // the remaining steps left their input as it was: the result is the base itself
            base
        };
        for b in [&mut cur, &mut next] {
            if b.capacity() > super::detectors::CHAIN_BUF_MAX {
                *b = Vec::new();
            }
        }
        self.families.forms.chain_bufs = (cur, next);
        result
    }

    /// The bytes the arena value `span` holds, when the gate's untransformed entry for it exists (`pf_bits_of`
    /// follows that entry's bitset with them). The entry may have been scanned from a form equal to the value
    /// up to letter case, so only its bits of bytes other than letters answer for the value: the steps'
    /// trigger sets hold no letter (`Transform::triggers`).
    pub(crate) fn raw_bytes_present(&self, span: Span) -> Option<[u64; 4]> {
        // chain 0 is the empty chain (`RuleSet::chains[0]`), the key of the untransformed entry
        let off = *self.pf_cache.get(&(span, 0))? as usize;
        let words = self.engine.rules.prefilter.words();
        let p = self.pf_bits.get(off + words..off + words + 4)?;
        Some([p[0], p[1], p[2], p[3]])
    }

    /// The offset of the arena value's untransformed prefilter entry (`gate::pf_bits_of`, chain 0), as the
    /// per-value path of `eval_link` reads it: scanned now when `rule_out` (the link has an
    /// [`Self::untransformed_rule_out_id`]: [`Self::entry_rules_out`] will read it), else only looked up
    /// (as `raw_bytes_present` did).
    #[inline]
    fn untransformed_entry(&mut self, rule_out: bool, item: &Item) -> Option<usize> {
        match item.value {
            // copied from a source's member list, with the entry's offset (`Item::pf`): most values of an
            // evaluated rule, inlined into the per-value loop
            Val::Arena(_) if item.pf != NO_PF => Some(item.pf as usize),
            Val::Arena(span) => self.untransformed_lookup(rule_out, item, span),
            _ => None,
        }
    }

    /// [`Self::untransformed_entry`] of an arena value `span` with no recorded offset.
    #[inline(never)]
    fn untransformed_lookup(&mut self, rule_out: bool, item: &Item, span: Span) -> Option<usize> {
        if rule_out {
            match self.pf_bits_of(item, &TVal::Same, 0) {
                PfBits::At(off) => Some(off),
                PfBits::Scratch => None,
            }
        } else {
            self.pf_cache.get(&(span, 0)).map(|off| *off as usize)
        }
    }

    /// The prefilter id `entry_rules_out` tests for `link`: its operator's, unless the link is negated or
    /// the prefilter is off.
    #[inline]
    fn untransformed_rule_out_id(&self, link: &Link) -> Option<u32> {
        link.op.prefilter_id().filter(|_| !link.negated && self.engine.rx_prefilter)
    }

    /// Is the operator with prefilter bit `id` ruled out on a value without transforming it, from its
    /// untransformed entry at `off` (whose value holds the bytes `present`)? When the chain can change the value
    /// only in letter case (none of its trigger bytes occur), the transformed value's bitset is the
    /// untransformed one's, so an unset bit there means no match. Only for links with an
    /// [`Self::untransformed_rule_out_id`]: negated links need the transformed value for `MATCHED_VAR`.
    fn entry_rules_out(&self, off: usize, present: &[u64; 4], chain: &TransformChain, id: u32) -> bool {
        chain.keeps_up_to_case(present) && !self.pf_has(PfBits::At(off), id)
    }

    /// The bytes an untransformed entry's value holds (they follow its bitset: `raw_bytes_present`).
    fn entry_bytes(&self, off: usize) -> Option<[u64; 4]> {
        let words = self.engine.rules.prefilter.words();
        let p = self.pf_bits.get(off + words..off + words + 4)?;
        Some([p[0], p[1], p[2], p[3]])
    }

    pub(crate) fn tval<'a>(&'a self, item: &'a Item, t: &'a TVal) -> &'a [u8] {
        match t {
            TVal::Same => self.val(&item.value),
            TVal::Cache(s) => {
                let a = s.start as usize;
                self.cache_buf.get(a..a + s.len as usize).unwrap_or(b"")
            }
            TVal::Owned(o) => o,
        }
    }

    /// Runs the operator on `input` (borrowed from the transaction, so captures live outside `self`
    /// during the call) and stores captures into `TX:0..9` on a positive match.
    fn run_op_on(&mut self, link: &Link, item: &Item, tv: &TVal) -> bool {
        // A detector cannot fire on a value its class's prefilter rejects (the operator checks the same
        // condition itself); the classes of an arena value are computed once for all detector rules.
        // (the operator's class, a dynamic call, asked only for a value as extracted)
        if let (Val::Arena(span), TVal::Same) = (&item.value, tv) {
            if let Some(class) = link.op.detector_class() {
                if !self.detector_may_fire(*span, class) {
                    return link.negated;
                }
            }
        }
        self.run_op(link, item, tv)
    }

    /// [`Self::run_op_on`] without the class-cache check (the caller knows the class may fire).
    #[inline]
    fn run_op(&mut self, link: &Link, item: &Item, tv: &TVal) -> bool {
        if link.capture {
            return self.run_op_capturing(link, item, tv);
        }
        // no capture (most links): the operator's answer against `negated`, nothing to store
        let raw = link.op.eval(self.tval(item, tv), &mut OpCtx { env: &*self, captures: None });
        raw != link.negated
    }

    /// [`Self::run_op`] for a link with `capture`: the groups go to `TX:0..9` on a positive match (kept out
    /// of line: few links capture, and the capture path's state would weigh on every operator call).
    #[inline(never)]
    fn run_op_capturing(&mut self, link: &Link, item: &Item, tv: &TVal) -> bool {
        let mut c = std::mem::take(&mut self.captures);
        let raw = {
            let input = self.tval(item, tv);
            let mut ctx = OpCtx { env: &*self, captures: Some(&mut c) };
            link.op.eval(input, &mut ctx)
        };
        if raw && !link.negated {
            const KEYS: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
            for (i, g) in c.groups().iter().enumerate() {
                match KEYS.get(i) {
                    Some(k) => self.tx_set(k, g),
                    None => self.tx_set(&i.to_string(), g),
                }
            }
        }
        self.captures = c;
        raw != link.negated
    }

    fn eval_link(
        &mut self,
        rule: &Rule,
        link: &Link,
        is_head: bool,
        chains: &[TransformChain],
        items: &mut Vec<Item>,
    ) -> bool {
        // a plain `TX:<key>` read, straight from the table (`tx_link`)
        if let Some(hit) = self.eval_tx_link(rule, link, is_head, chains) {
            return hit;
        }
        // a `SecAction`: the operator on one empty value (`tx_link`)
        if let Some(hit) = self.eval_action_link(link, chains) {
            return hit;
        }
        items.clear();
        // a detector link a family built earlier in the phase rules out: no need to collect its values
        let class = self.family_class(link);
        if let Some(n) = class.and_then(|c| self.family_rules_out(rule, link, is_head, c)) {
            self.stats.values += n as u32;
            self.stats.detector_list_skips += 1;
            return false;
        }
        // a `@validate*` link none of whose sources' members holds a byte it could fire on (`Link::byte_out`)
        if let Some(out) = link.byte_out.as_ref().filter(|_| self.engine.rx_prefilter) {
            if self.sources_rule_out(link, out) {
                self.stats.prefilter_skips += 1;
                return false;
            }
        }
        let lent = if link.targets.is_empty() {
            items.push(Item {
                var: crate::variables::Var::Rule,
                key: Key::None,
                value: Val::Owned(Vec::new()),
                pf: NO_PF,
            });
            None
        } else {
            self.collect_link_cached(rule, link, is_head, items)
        };
        let chain = &chains[link.transforms as usize];
        // Detector links: one class decision per value for every rule reading the same list (`detectors`).
        let family = class.and_then(|c| self.detector_family(rule, link, is_head, chain, items, c));
        if family.is_some_and(|f| f.union & f.bit == 0) {
            self.stats.values += items.len() as u32;
            self.stats.detector_list_skips += 1;
            self.return_list(lent, items);
            return false;
        }
        if items.is_empty() {
            // nothing to inspect: no operator runs, so the link does not match (negated ones neither)
            return false;
        }
        let mut any = false;
        // per link, not per value: the operator's prefilter id (a dynamic call) and whether the untransformed
        // rule-out applies
        let (pf_id, rule_out_id) = (link.op.prefilter_id(), self.untransformed_rule_out_id(link));
        let list = std::mem::take(items);
        for (idx, item) in list.iter().enumerate() {
            self.stats.values += 1;
            // the value's mask: no input this link would hand the detector may fire, or only the value itself
            let mask = family.map(|f| (self.families.mask(&f, idx), f.bit));
            if mask.is_some_and(|(m, bit)| m & bit == 0) {
                continue;
            }
            let only_value = mask.is_some_and(|(m, _)| m & super::detectors::NO_FORMS != 0);
            // The value's untransformed entry (`raw`, followed by the bytes the value holds: `present`), looked up
            // once for the rule-out, the transformation and the prefilter; a value it rules the operator out on is
            // passed over here, before anything is set up for it. Under `multiMatch` it is asked for only for the
            // rule-out: a value holding none of the chain's trigger bytes has every form equal to itself up to
            // case, so its untransformed bitset answers for all of them, and no form is computed. Without, it is
            // not asked for when nothing would read it: no chain to run and no prefilter to test, as for the
            // built-in pack's detector links (`transform` hands such a value back as it is).
            let raw = if only_value {
                None
            } else if link.multi_match {
                rule_out_id.filter(|_| chain.triggers.is_some()).and_then(|_| self.untransformed_entry(true, item))
            } else if chain.steps.is_empty() && rule_out_id.is_none() {
                None
            } else {
                self.untransformed_entry(rule_out_id.is_some(), item)
            };
            let present = raw.and_then(|off| self.entry_bytes(off));
            if let (Some(id), Some(off), Some(p)) = (rule_out_id, raw, present) {
                if self.entry_rules_out(off, &p, chain, id) {
                    self.stats.prefilter_skips += 1;
                    continue;
                }
            }
            // MATCHED_VAR is filled in place (buffers reused across matches: no allocation per hit)
            let mut mv = std::mem::take(&mut self.matched_var);
            let hit = if only_value {
                // the mask holds the class and the value is the only input: the operator on it, as is
                let hit = self.run_op(link, item, &TVal::Same);
                if hit {
                    mv.clear();
                    mv.extend_from_slice(self.val(&item.value));
                }
                hit
            } else if link.multi_match {
                self.eval_multi(link, chain, item, &mut mv)
            } else {
                let tv = match present {
                    // every step would hand the value back whole (`apply_steps` would skip each one): no
                    // transformation and no cache entry
                    Some(p) if chain.is_identity_on(&p) => TVal::Same,
                    _ => {
                        // the transformed form's bitset, when this or an earlier transaction scanned it
                        // (`gate::memo_entry`): a bit unset rules the operator out with no transformation
                        if let (Some(id), false, true, &Val::Arena(span)) =
                            (pf_id, link.negated, self.engine.rx_prefilter, &item.value)
                        {
                            if let Some(off) = self.memo_entry(span, link.transforms) {
                                if !self.pf_has(PfBits::At(off), id) {
                                    self.stats.prefilter_skips += 1;
                                    self.matched_var = mv;
                                    continue;
                                }
                            }
                        }
                        self.transform_known(&item.value, link.transforms, chain, present)
                    }
                };
                let hit = match pf_id {
                    Some(id) if self.engine.rx_prefilter => {
                        let at = match (&tv, raw) {
                            // the untransformed entry is the value's bitset (`pf_bits_of` finds the same one)
                            (TVal::Same, Some(off)) => PfBits::At(off),
                            _ => self.pf_bits_of(item, &tv, link.transforms),
                        };
                        // after a memo miss above: the chain's entry for the next transaction, also when the
                        // chain handed the value back as it is (its entry is then the untransformed one)
                        self.memo_missed(item, link.transforms, at);
                        if self.pf_has(at, id) {
                            self.run_op_on(link, item, &tv)
                        } else {
                            self.stats.prefilter_skips += 1;
                            link.negated
                        }
                    }
                    _ => self.run_op_on(link, item, &tv),
                };
                if hit {
                    mv.clear();
                    mv.extend_from_slice(self.tval(item, &tv));
                }
                hit
            };
            self.matched_var = mv;
            if hit {
                any = true;
                self.note_matched_var((!link.targets.is_empty()).then_some(item));
                for a in &link.actions {
                    self.exec_action(a);
                }
            }
        }
        *items = list;
        self.return_list(lent, items);
        any
    }

    /// Makes `item` (none for a link without targets) the `MATCHED_VAR_NAME` and adds it, with the
    /// `MATCHED_VAR` already set, as the next `MATCHED_VARS` entry (the pooled slots reused).
    #[inline]
    pub(crate) fn note_matched_var(&mut self, item: Option<&Item>) {
        let mut name = std::mem::take(&mut self.matched_var_name);
        name.clear();
        if let Some(item) = item {
            self.write_item_name(item, &mut name);
        }
        self.matched_var_name = name;
        if self.matched_count < self.matched_vars.len() {
            let slot = &mut self.matched_vars[self.matched_count];
            slot.0.clear();
            slot.0.push_str(&self.matched_var_name);
            slot.1.clear();
            slot.1.extend_from_slice(&self.matched_var);
        } else {
            self.matched_vars.push((self.matched_var_name.clone(), self.matched_var.clone()));
        }
        self.matched_count += 1;
    }

    /// Does the first link of `rule` match some value, as [`Self::eval_link`] would decide it, without running
    /// its actions, capturing, or touching `MATCHED_VAR*`? (The fold probe's question for a rule with actions,
    /// `crate::fold`.) Value by value: transformed by the link's chain, the operator's result against
    /// `negated`; a link with no value does not match. Only for links that are not `multiMatch` and have
    /// targets (the probe asks nothing else); `eval_link`'s shortcuts — the gate, the prefilter, detector
    /// classes — only skip operators that would return false, so the answer is the same.
    pub(crate) fn link_matches_quietly(
        &mut self,
        rule: &Rule,
        chains: &[TransformChain],
        items: &mut Vec<Item>,
    ) -> bool {
        let Some(link) = rule.links.first() else { return true };
        debug_assert!(!link.multi_match && !link.targets.is_empty());
        items.clear();
        self.collect_link(rule, link, true, items);
        let chain = &chains[link.transforms as usize];
        let list = std::mem::take(items);
        let mut any = false;
        for item in &list {
            let tv = self.transform(&item.value, link.transforms, chain);
            let raw = link.op.eval(self.tval(item, &tv), &mut OpCtx { env: &*self, captures: None });
            if raw != link.negated {
                any = true;
                break;
            }
        }
        *items = list;
        any
    }

    /// `multiMatch`: the operator runs on the value as extracted and again after every transformation that
    /// changed it. Nothing is copied until a transformation changes the value (the built-in pack runs every
    /// detector this way over every parameter). The forms of an arena value are computed once per (value,
    /// chain) and phase (`Transaction::multi_forms`), so the rules sharing a chain (`t:deepDecode,
    /// t:base64IfEncoded` on the pack's SQLi, XSS, command and NoSQL rules) or a prefix of one (CRS 934100,
    /// 934130, 934160) decode each value once, and each rule pays one lookup per value, not one per step.
    /// On a match, `mv` (MATCHED_VAR's buffer, reused across matches) receives the form that matched.
    fn eval_multi(&mut self, link: &Link, chain: &TransformChain, item: &Item, mv: &mut Vec<u8>) -> bool {
        if self.run_multi_op(link, item, &TVal::Same) {
            mv.clear();
            mv.extend_from_slice(self.val(&item.value));
            return true;
        }
        match item.value {
            Val::Arena(span) => {
                // a value none of whose bytes other than letters triggers a step, under steps that keep letter
                // case, comes out of every step whole: it is its only form (`multi_forms_for` would list none,
                // `Transform::is_identity_on` being the test its steps skip on), and the operator refused it. (A
                // shortcut of the prefilter's: off with it, so the suites compare both ways.)
                let present = match self.engine.rx_prefilter {
                    true => self.untransformed_entry(false, item).and_then(|off| self.entry_bytes(off)),
                    false => None,
                };
                if present.is_some_and(|p| chain.is_identity_on(&p)) {
                    return false;
                }
                // the forms the operator may match: none it provably refuses for their length or bytes after a
                // `base64Decode` (`multi_forms_for`; a negated link matches where the operator refuses)
                let (min_len, post_cut) = match link.negated || !self.engine.rx_prefilter {
                    true => (0, None),
                    false => (link.op.min_match_len(), link.post_cut),
                };
                let forms = self.multi_forms_for(span, chain, link.transforms, min_len, post_cut);
                for i in 0..forms.len as usize {
                    let Some(s) = self.multi_form_at(forms, i) else { break };
                    let tv = TVal::Cache(s);
                    if self.run_multi_op(link, item, &tv) {
                        mv.clear();
                        mv.extend_from_slice(self.tval(item, &tv));
                        return true;
                    }
                }
                false
            }
            _ => {
                let (hit, value) = self.eval_multi_uncached(link, chain, item);
                if let Some(v) = value {
                    *mv = v;
                }
                hit
            }
        }
    }

    /// [`Self::run_op_on`] for a `multiMatch` input, which the rule-level gate has not judged: the operator's
    /// own cheap condition first (`Operator::may_match`), then, for the value as extracted, its prefilter bit
    /// (`gate::pf_bits_of`, the untransformed bitset). When either rules the operator out it cannot match,
    /// so the link matches only if negated, and nothing is captured.
    fn run_multi_op(&mut self, link: &Link, item: &Item, tv: &TVal) -> bool {
        if !link.op.may_match(self.tval(item, tv)) {
            return link.negated;
        }
        // the value as extracted has (almost always) been scanned already, for the gates of the rules reading
        // the same variables: its bitset is a cache look-up, cheaper than a regex whose literals are absent
        if let (Some(id), TVal::Same, Val::Arena(_), true) =
            (link.op.prefilter_id(), tv, &item.value, self.engine.rx_prefilter)
        {
            let at = self.pf_bits_of(item, tv, link.transforms);
            if !self.pf_has(at, id) {
                self.stats.prefilter_skips += 1;
                return link.negated;
            }
        }
        self.run_op_on(link, item, tv)
    }

    /// [`Self::eval_multi`] for values outside the arena (built per evaluation, so nothing to cache under).
    fn eval_multi_uncached(&mut self, link: &Link, chain: &TransformChain, item: &Item) -> (bool, Option<Vec<u8>>) {
        let mut cur: Option<Vec<u8>> = None;
        for step in &chain.steps {
            let next = {
                let input: &[u8] = match &cur {
                    Some(c) => c,
                    None => self.val(&item.value),
                };
                match (step.apply)(input) {
                    Cow::Borrowed(b) if b.len() == input.len() => None,
                    other => Some(other.into_owned()),
                }
            };
            if let Some(n) = next {
                let tv = TVal::Owned(n);
                let hit = self.run_multi_op(link, item, &tv);
                if let TVal::Owned(n) = tv {
                    if hit {
                        return (true, Some(n));
                    }
                    cur = Some(n);
                }
            }
        }
        (false, None)
    }
}
