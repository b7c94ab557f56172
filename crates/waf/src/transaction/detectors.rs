//! Detector families: one decision per value for every native detector rule (`@detectSQLi`, `@detectXSS`,
//! ...) of a phase that reads the same target list under the same transformation chain. The built-in pack runs
//! a dozen detector rules over the same parameters, cookies, path and headers; without this, every
//! (rule, value) pair paid a collection copy, a class-cache lookup and, under `multiMatch`, three
//! transformation-cache lookups, although almost every value rules out almost every class.
//!
//! Per (target list, chain, `multiMatch`) and phase this module keeps one mask per value: the classes whose
//! detector may fire on some input the link would hand the operator — the value as extracted and, under
//! `multiMatch`, every form a step changed; without `multiMatch`, the value after the whole chain — and the
//! union of those masks. A detector link whose class is not in the union cannot match: it is skipped in O(1);
//! otherwise the per-value loop skips each value whose mask lacks the class, without transforming it or
//! calling the operator.
//!
//! Why this is exact: every detector operator answers "no match", with no capture and no other effect, when
//! its class's prefilter (`portcullis_detect::prefilter::may_match`) rejects its input (the operators check it
//! first; `Operator::detector_class` names the class), and a mask is `Classes::mask_of` the rule set's classes
//! (`Engine::detector_classes`) — exactly `may_match` for every class a link can ask about, passing for the
//! others — ORed over those inputs. Only links that are not negated are skipped (a negated detector
//! matches where its detector does not). A value that is not arena data gets every class: nothing is
//! concluded. The masks of a list are cached only for a rule's first link over an interned list without
//! `ctl` target removals (the same condition as the list cache, `collect_link_cached`), whose values cannot
//! change while a phase runs; the cache is emptied when a phase starts.
//!
//! `Engine::with_rx_prefilter(false)` turns families off with the other prefilter shortcuts:
//! `crates/waf-protection/tests/detector_families.rs` runs every corpus request through the built-in pack both
//! ways and compares the outcome, every match and its log data.
//!
//! Forms are not computed when they provably equal the value: a mask short of every class proves that
//! `t:deepDecode` and `t:base64IfEncoded` return the value unchanged (`Classes::mask_of`), so for chains of
//! those steps (all the pack uses) the value is its only form ([`NO_FORMS`]). So it is under any chain whose
//! steps all keep letter case and are triggered by no byte of the value other than its letters
//! (`Transform::is_identity_on` on the bytes the value's untransformed prefilter entry records, the test the
//! forms' own computation skips each step on): CRS 942100's chain on most parameters.
//!
//! Owns: the masks and their cache. Must not touch: detection itself (`portcullis_detect`), collection, the
//! rule walk.

use super::collect::{Item, Val};
use super::{Span, Transaction};
use crate::rule::{ChainId, Link, Rule, TransformChain};
use portcullis_detect::prefilter::{class_bit, Classes, ALL_CLASSES};
use portcullis_detect::Class;

/// Mask bit: the link's chain provably leaves this value as it is at every step, so the value as extracted is
/// the only input its operator sees (no intermediate form, no transformed copy).
pub(crate) const NO_FORMS: u16 = 1 << 15;

/// Transformations that provably return a value unchanged when its class mask is short of
/// [`ALL_CLASSES`] (see `portcullis_detect::prefilter::Classes::mask`).
fn identity_below_all(step: &str) -> bool {
    matches!(step, "deepDecode" | "base64IfEncoded")
}

/// The most room `MultiForms::chain_bufs` keep each after a chain (a larger one is freed, not pooled).
pub(crate) const CHAIN_BUF_MAX: usize = 64 * 1024;

/// Where a link's per-value masks are: in the phase cache at an offset, or in the scratch of this evaluation.
#[derive(Clone, Copy)]
pub(crate) enum MasksAt {
    Cached(usize),
    Scratch,
}

/// The per-value masks of one detector link evaluation and their union.
#[derive(Clone, Copy)]
pub(crate) struct Family {
    pub at: MasksAt,
    pub union: u16,
    /// The link's class bit.
    pub bit: u16,
}

/// A family's key: (interned list, chain, `multiMatch`).
type FamilyKey = (u32, ChainId, bool);

/// The per-phase cache: family key → union, offset and number of its masks in `masks`; and the `multiMatch`
/// forms of the values (which the masks read too).
#[derive(Default)]
pub(crate) struct Families {
    entries: Vec<(FamilyKey, u16, usize, usize)>,
    masks: Vec<u16>,
    scratch: Vec<u16>,
    pub(crate) forms: MultiForms,
}

/// Where the `multiMatch` forms of one (value, chain) are in [`MultiForms::spans`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct FormList {
    at: u32,
    pub(crate) len: u32,
    /// Every step's forms are listed; `false`: only those made before the chain's `base64_cut`
    /// ([`Transaction::multi_forms_for`]).
    complete: bool,
    /// How many of the forms were made before the chain's `base64_cut` (`u32::MAX`: not known).
    head: u32,
    /// The length of the cut's `base64Decode` output, which bounds every later form (`u32::MAX`: not known).
    decoded: u32,
}

impl Default for FormList {
    fn default() -> Self {
        FormList { at: 0, len: 0, complete: true, head: u32::MAX, decoded: u32::MAX }
    }
}

impl FormList {
    fn range(&self) -> std::ops::Range<usize> {
        self.at as usize..(self.at + self.len) as usize
    }

    /// The list, or when `cut` its forms made before the chain's `base64_cut`.
    fn before_cut_if(self, cut: bool) -> FormList {
        match cut {
            true => FormList { len: self.len.min(self.head), ..self },
            false => self,
        }
    }
}

/// The slots of [`MultiForms::index`] (a power of two).
const INDEX_SLOTS: usize = 2048;

/// One slot of [`MultiForms::index`]: the forms of (value, chain), valid in the phase `epoch` names.
#[derive(Clone, Copy, Default)]
struct IndexSlot {
    epoch: u32,
    chain: ChainId,
    span: Span,
    forms: FormList,
}

/// Per phase: the `multiMatch` forms of arena values per (value, chain) ([`Transaction::multi_forms`]). One
/// lookup per (rule, value) instead of one per (rule, value, step); the forms' bytes live in the transaction's
/// transformation buffer (`cache_buf`), which outlives the phase.
#[derive(Default)]
pub(crate) struct MultiForms {
    /// (value, chain) → its forms: a direct-mapped table, one slot per key hash, a new entry replacing the
    /// slot's old one. A key not found (never computed, or replaced) has its forms computed again: the steps
    /// are pure, so they are the same forms, and a look-up and an insert cost a few instructions instead of
    /// a hash map's probe (about as much as a step on a short value). Slots of an earlier phase are told
    /// apart by `epoch` (a phase starts by moving it on, without touching the table). A form computed again
    /// is appended again to `spans` and `cache_buf`: with more live keys than slots (a large body) the
    /// transaction's buffers grow by one computation per miss, bounded by the rules' look-ups, where a hash
    /// map kept one per (value, chain).
    index: Vec<IndexSlot>,
    /// The phase the index's valid slots belong to (never 0, the empty slots' epoch, once the table exists).
    epoch: u32,
    spans: Vec<Span>,
    scratch: Vec<Span>,
    /// A form being computed from the form before it (which is in `cache_buf`, so it cannot be written there
    /// while read): its room is kept from form to form.
    bytes: Vec<u8>,
    /// The two buffers `Transaction::compute_chain`'s steps write into in turn (the current form, the next);
    /// kept from call to call while their room stays within [`CHAIN_BUF_MAX`] (not counted in
    /// `Families::capacity`, the pool's bound in entries).
    pub(crate) chain_bufs: (Vec<u8>, Vec<u8>),
}

impl MultiForms {
    /// The slot of (value, chain) in [`Self::index`].
    #[inline]
    fn slot(span: Span, chain: ChainId) -> usize {
        let k =
            (u64::from(span.start) | u64::from(span.len) << 32) ^ u64::from(chain).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        (k.wrapping_mul(0x51_7c_c1_b7_27_22_0a_95) >> (64 - INDEX_SLOTS.trailing_zeros())) as usize
    }

    /// The forms of (value, chain) recorded this phase, if their slot still holds them.
    #[inline]
    fn get(&self, span: Span, chain: ChainId) -> Option<FormList> {
        let e = self.index.get(Self::slot(span, chain))?;
        (e.epoch == self.epoch && e.span == span && e.chain == chain).then_some(e.forms)
    }

    /// Records the forms of (value, chain) for this phase (replacing the slot's entry).
    #[inline]
    fn insert(&mut self, span: Span, chain: ChainId, forms: FormList) {
        if self.index.is_empty() {
            self.index = vec![IndexSlot::default(); INDEX_SLOTS];
            self.epoch = 1;
        }
        let epoch = self.epoch;
        if let Some(e) = self.index.get_mut(Self::slot(span, chain)) {
            *e = IndexSlot { epoch, chain, span, forms };
        }
    }

    /// Forgets every entry of the index (a phase starts).
    fn forget(&mut self) {
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            // the epochs went round: no slot may still claim to be valid
            self.index.iter_mut().for_each(|e| *e = IndexSlot::default());
            self.epoch = 1;
        }
    }

    fn push(&mut self, forms: &[Span]) -> FormList {
        let at = self.spans.len() as u32;
        self.spans.extend_from_slice(forms);
        FormList { at, len: forms.len() as u32, ..FormList::default() }
    }
}

impl Families {
    /// Forgets every list and form (a phase starts: request data may have changed).
    pub(crate) fn clear(&mut self) {
        self.entries.clear();
        self.masks.clear();
        self.forms.forget();
        self.forms.spans.clear();
    }

    /// The largest of its buffers' room (pool bound).
    pub(crate) fn capacity(&self) -> usize {
        // (the index is a table of fixed size, not counted)
        let forms = self.forms.spans.capacity().max(self.forms.scratch.capacity());
        self.entries.capacity().max(self.masks.capacity()).max(self.scratch.capacity()).max(forms)
    }

    /// The mask of value `idx` of a family.
    pub(crate) fn mask(&self, f: &Family, idx: usize) -> u16 {
        let m = match f.at {
            MasksAt::Cached(o) => self.masks.get(o + idx),
            MasksAt::Scratch => self.scratch.get(idx),
        };
        m.copied().unwrap_or(ALL_CLASSES)
    }
}

impl Transaction {
    /// Is a detector link ruled out by a family already built this phase? Then its values need not even be
    /// collected: `Some(n)`, the number of values the list holds (for the counters). The same decision as
    /// [`Self::detector_family`] on the cached list, taken before `eval_link` copies the list out.
    pub(crate) fn family_rules_out(&self, rule: &Rule, link: &Link, is_head: bool, class: Class) -> Option<usize> {
        let id = rule.target_list.filter(|_| is_head && !self.excl.targets.contains_key(&rule.id))?;
        let key = (id, link.transforms, link.multi_match);
        let (_, union, _, len) = self.families.entries.iter().find(|e| e.0 == key)?;
        (union & class_bit(class) == 0).then_some(*len)
    }

    /// The class of a link that may belong to a family: a detector link, not negated, with the shortcuts on
    /// (`Engine::with_rx_prefilter(false)` turns them off: the equivalence tests' reference path).
    pub(crate) fn family_class(&self, link: &Link) -> Option<Class> {
        if link.negated || !self.engine.rx_prefilter {
            return None;
        }
        link.op.detector_class()
    }

    /// The family of a detector link of class `class` (`family_class`) over `items` (its collected values),
    /// or `None` when nothing is shared or concluded (then every value is evaluated as before).
    pub(crate) fn detector_family(
        &mut self,
        rule: &Rule,
        link: &Link,
        is_head: bool,
        chain: &TransformChain,
        items: &[Item],
        class: Class,
    ) -> Option<Family> {
        let bit = class_bit(class);
        let list = rule.target_list.filter(|_| is_head && !self.excl.targets.contains_key(&rule.id));
        let key = list.map(|id| (id, link.transforms, link.multi_match));
        if key.is_none() && !chain.steps.iter().all(|s| identity_below_all(s.name)) {
            // a list only this rule reads, under a chain whose forms would have to be computed here and again
            // in the loop: nothing to share (CRS 941100/942100), the per-value path decides alone
            return None;
        }
        if let Some(k) = key {
            if let Some((_, union, at, _)) = self.families.entries.iter().find(|e| e.0 == k) {
                return Some(Family { at: MasksAt::Cached(*at), union: *union, bit });
            }
        }
        let mut masks = std::mem::take(&mut self.families.scratch);
        masks.clear();
        let mut union = 0;
        for item in items {
            let m = self.item_mask(item, link, chain);
            union |= m;
            masks.push(m);
        }
        let union = union & ALL_CLASSES;
        let at = match key {
            Some(k) => {
                let at = self.families.masks.len();
                self.families.masks.extend_from_slice(&masks);
                self.families.entries.push((k, union, at, masks.len()));
                MasksAt::Cached(at)
            }
            None => MasksAt::Scratch,
        };
        self.families.scratch = masks;
        Some(Family { at, union, bit })
    }

    /// The classes whose detector may fire on some input `link` hands its operator for `item`, plus
    /// [`NO_FORMS`] when that input is the value as extracted only.
    fn item_mask(&mut self, item: &Item, link: &Link, chain: &TransformChain) -> u16 {
        let Val::Arena(span) = item.value else { return ALL_CLASSES };
        let m0 = self.value_mask(span);
        if chain.steps.is_empty() {
            return m0 | NO_FORMS;
        }
        if m0 == ALL_CLASSES {
            // every class may fire on the value itself: its forms cannot add one
            return ALL_CLASSES;
        }
        if chain.steps.iter().all(|s| identity_below_all(s.name)) {
            return m0 | NO_FORMS;
        }
        let chain_id = link.transforms;
        if link.multi_match {
            // a value none of whose bytes other than letters triggers a step, under steps that keep letter case,
            // comes out of every step whole: no form besides itself (`multi_forms_for` would list none)
            if self.raw_bytes_present(span).is_some_and(|p| chain.is_identity_on(&p)) {
                return m0 | NO_FORMS;
            }
            let forms = self.multi_forms(span, chain, chain_id);
            let mut m = m0;
            for i in 0..forms.len as usize {
                if m == ALL_CLASSES {
                    break;
                }
                if let Some(s) = self.multi_form_at(forms, i) {
                    m |= self.buf_mask(s);
                }
            }
            m
        } else {
            match self.transform(&item.value, chain_id, chain) {
                super::eval::TVal::Same => m0 | NO_FORMS,
                super::eval::TVal::Cache(s) => self.buf_mask(s),
                super::eval::TVal::Owned(_) => ALL_CLASSES,
            }
        }
    }

    /// `Classes::mask_of` the rule set's detector classes (`Engine::detector_classes`; a class no rule asks
    /// for reads as passing) of the arena value `span`, through the per-transaction class cache.
    pub(crate) fn value_mask(&mut self, span: Span) -> u16 {
        let v = self.arena.get(span.start as usize..(span.start + span.len) as usize).unwrap_or(b"");
        let wanted = self.engine.detector_classes;
        self.class_cache.entry(span).or_insert_with(|| Classes::of(v)).mask_of(v, wanted)
    }

    /// [`Self::value_mask`] of a transformed form in the cache buffer (computed, not cached: a list's masks
    /// are).
    fn buf_mask(&self, s: Span) -> u16 {
        let v = self.cache_buf.get(s.start as usize..(s.start + s.len) as usize).unwrap_or(b"");
        Classes::of(v).mask_of(v, self.engine.detector_classes)
    }

    /// May the detector of `class` fire on the arena value `span`? (`Transaction::class_cache`.)
    pub(crate) fn detector_may_fire(&mut self, span: Span, class: Class) -> bool {
        let v = self.arena.get(span.start as usize..(span.start + span.len) as usize).unwrap_or(b"");
        self.class_cache.entry(span).or_insert_with(|| Classes::of(v)).may_match(class, v)
    }

    /// The `multiMatch` forms of the arena value `span` under chain `chain_id`: the output of every step that
    /// changed its input (the latest changed form, or the value), in step order — the inputs the operator
    /// sees after the value itself. Computed once per (value, chain) and phase; served from
    /// [`MultiForms`] after that.
    ///
    /// A chain whose longest interned prefix (`TransformChain::prefix`, e.g. CRS 934130's
    /// `t:urlDecodeUni,t:jsDecode` inside 934100's chain) already has this value's forms starts from them: the
    /// steps are pure, so the prefix's forms are the first forms of the longer chain. Computing a chain from
    /// scratch records its prefix's forms on the way, for the shorter chain's rules.
    pub(crate) fn multi_forms(&mut self, span: Span, chain: &TransformChain, chain_id: ChainId) -> FormList {
        self.multi_forms_for(span, chain, chain_id, 0, None)
    }

    /// [`Self::multi_forms`] for an operator whose `may_match` is `false` on every input shorter than
    /// `min_len` (`Operator::min_match_len`; 0: every form): the same list, or its first forms only, those
    /// made before the chain's `base64_cut`, when every later form is provably shorter than `min_len`. Those
    /// later forms are then not computed (CRS 934100/934160 decode every parameter: most values are short
    /// names and words whose base64 "decoding" is two or three bytes of binary, and the regexes need at least
    /// four).
    ///
    /// Why this is exact: let `x` be the input of the `base64Decode` step at the cut (the last form before
    /// it, or the value). Its output is `transforms::base64_decoded_len(x)` bytes long, computed without
    /// decoding (⌊6n/8⌋ for the `n` alphabet characters before the decoder stops; it equals `x` only when
    /// `x` is empty, so the current form after the step is that output either way). Every later step never
    /// lengthens its input (`Transform::never_lengthens`, the cut's condition), so no later form is longer.
    /// When that length is below `min_len`, `may_match` refuses each of those forms: the operator cannot
    /// match them, and since they come after the forms made before the cut, the first matching form (the
    /// operator runs on the forms in order and stops at a match) and so `MATCHED_VAR` are the same. The
    /// caller passes 0 for a negated link (a refused form would be a negated match).
    ///
    /// With `post_cut` (the link's `Link::post_cut`: [`post_cut_bytes`] of the steps after the cut and the
    /// operator's `need` bytes, `Operator::need_bytes`, which `may_match` refuses an input holding none of), a
    /// decoded text long enough is tested for its bytes: the cut's step is run, and when its output holds none
    /// of `post_cut`, the forms made before the cut are returned as above, without the later steps.
    ///
    /// Why this is exact: the forms from the cut on are the cut's output `d`, then each later step's output
    /// that changed, so each is `d` after a prefix of the later steps. `prefilter::preimage::byte_preimage`
    /// gives, per prefix, raw bytes without which the prefix's output holds no byte of `need` (letters in both
    /// cases, as `need` has them); `post_cut_bytes` is their union over every prefix, the empty one included
    /// (`need` itself). When `d` holds none of it, no form from the cut on holds a byte of `need`, so
    /// `may_match` refuses each of them and, as for the length, leaving them out changes no result.
    ///
    /// The index keeps one entry per (value, chain): complete, or the forms before the cut when a caller
    /// stopped there; a later caller that needs the rest continues from them at the cut.
    pub(crate) fn multi_forms_for(
        &mut self,
        span: Span,
        chain: &TransformChain,
        chain_id: ChainId,
        min_len: usize,
        post_cut: Option<[u64; 4]>,
    ) -> FormList {
        let forms = &mut self.families.forms;
        let mut list = std::mem::take(&mut forms.scratch);
        list.clear();
        // (the first step to run, and whether the prefix's forms must be recorded when it is reached)
        let mut from = 0;
        let mut record_prefix = None;
        // the base64Decode step's output length, when the cut is reached
        let mut decoded = u32::MAX;
        match forms.get(span, chain_id) {
            Some(l) if l.complete => {
                forms.scratch = list;
                self.stats.transform_cache_hits += chain.steps.len() as u32;
                return l.before_cut_if((l.decoded as usize) < min_len);
            }
            Some(l) => {
                // the forms before the cut, recorded by a caller that stopped there
                let cut = chain.base64_cut.unwrap_or(0);
                self.stats.transform_cache_hits += cut as u32;
                if (l.decoded as usize) < min_len {
                    forms.scratch = list;
                    return l;
                }
                list.extend_from_slice(forms.spans.get(l.range()).unwrap_or(&[]));
                from = cut;
                decoded = l.decoded;
            }
            None => {
                if let Some((pid, k)) = chain.prefix {
                    match forms.get(span, pid).filter(|pl| pl.complete) {
                        Some(pl) => {
                            list.extend_from_slice(forms.spans.get(pl.range()).unwrap_or(&[]));
                            from = k;
                            self.stats.transform_cache_hits += k as u32;
                        }
                        None => record_prefix = Some((pid, k)),
                    }
                }
            }
        }
        // the bytes other than letters of the current form while they are known: the value's own until a step
        // changes more than letter case
        let mut known = if list.is_empty() { self.raw_bytes_present(span) } else { None };
        let cut = chain.base64_cut.filter(|b| *b >= from && decoded == u32::MAX);
        // the number of forms made before the cut, when this call reaches it
        let mut cut_head = None;
        if let Some(b) = cut {
            self.run_form_steps(span, chain, &mut list, from..b, &mut known, &mut record_prefix);
            if let Some((pid, _)) = record_prefix.filter(|(_, pk)| *pk == b) {
                // (the next call's first step would record it; it may not come)
                let l = self.families.forms.push(&list);
                self.families.forms.insert(span, pid, l);
                record_prefix = None;
            }
            let x = match list.last() {
                Some(s) => self.cache_buf.get(s.start as usize..(s.start + s.len) as usize),
                None => self.arena.get(span.start as usize..(span.start + span.len) as usize),
            };
            decoded = crate::transforms::base64_decoded_len(x.unwrap_or(b"")).min(u32::MAX as usize - 1) as u32;
            let head = list.len() as u32;
            cut_head = Some(head);
            let mut stop = (decoded as usize) < min_len;
            from = b;
            if let (false, Some(p)) = (stop, post_cut) {
                // the cut's output, then its bytes against those the later steps could turn into need bytes
                self.run_form_steps(span, chain, &mut list, b..b + 1, &mut known, &mut record_prefix);
                from = b + 1;
                let d = match list.last() {
                    Some(s) => self.cache_buf.get(s.start as usize..(s.start + s.len) as usize),
                    None => self.arena.get(span.start as usize..(span.start + span.len) as usize),
                };
                // a form that cannot be read is not ruled out: the later steps then run as without the test
                stop = d.is_some_and(|d| {
                    crate::transforms::triggers::none_of(&p, &crate::transforms::triggers::bytes_present(d))
                });
                if stop {
                    list.truncate(head as usize);
                }
            }
            if stop {
                let mut l = self.families.forms.push(&list);
                (l.complete, l.decoded, l.head) = (false, decoded, head);
                self.families.forms.insert(span, chain_id, l);
                self.families.forms.scratch = list;
                return l;
            }
        }
        let head = match (cut_head, chain.base64_cut) {
            (Some(h), _) => h,
            (None, Some(b)) if from == b => list.len() as u32,
            _ => u32::MAX,
        };
        self.run_form_steps(span, chain, &mut list, from..chain.steps.len(), &mut known, &mut record_prefix);
        let mut l = self.families.forms.push(&list);
        (l.complete, l.decoded, l.head) = (true, decoded, head);
        self.families.forms.insert(span, chain_id, l);
        self.families.forms.scratch = list;
        l.before_cut_if((decoded as usize) < min_len)
    }

    /// Runs `chain`'s steps `steps` for the arena value `span`, appending each form a step changes to `list`
    /// (its last form, or the value, is the current one), and records the prefix's forms when its length is
    /// reached ([`Self::multi_forms_for`]).
    fn run_form_steps(
        &mut self,
        span: Span,
        chain: &TransformChain,
        list: &mut Vec<Span>,
        steps: std::ops::Range<usize>,
        known: &mut Option<[u64; 4]>,
        record_prefix: &mut Option<(ChainId, usize)>,
    ) {
        for (k, step) in chain.steps.iter().enumerate().take(steps.end).skip(steps.start) {
            if let Some((pid, _)) = record_prefix.filter(|(_, pk)| *pk == k) {
                let l = self.families.forms.push(list);
                self.families.forms.insert(span, pid, l);
                *record_prefix = None;
            }
            if known.is_some_and(|p| step.is_identity_on(&p)) {
                // it would hand the value back borrowed and whole, adding no form (`Transform::is_identity_on`)
                continue;
            }
            self.stats.transforms_computed += 1;
            // the form is written straight after the transformation buffer's end (`Transform::apply_into`):
            // from the value itself, into the buffer; from the last form (in the buffer), into the forms'
            // byte scratch first, then copied on
            let start = self.cache_buf.len();
            let changed = match list.last() {
                None => {
                    let input = self.arena.get(span.start as usize..(span.start + span.len) as usize).unwrap_or(b"");
                    step.apply_into(input, &mut self.cache_buf)
                }
                Some(s) => {
                    let input = self.cache_buf.get(s.start as usize..(s.start + s.len) as usize).unwrap_or(b"");
                    let bytes = &mut self.families.forms.bytes;
                    bytes.clear();
                    let changed = step.apply_into(input, bytes);
                    if changed {
                        self.cache_buf.extend_from_slice(bytes);
                    }
                    changed
                }
            };
            if changed {
                if !known.is_some_and(|p| step.keeps_up_to_case(&p)) {
                    *known = None;
                }
                list.push(Span { start: start as u32, len: (self.cache_buf.len() - start) as u32 });
            }
        }
    }

    /// Form `i` of a list from [`Self::multi_forms`] (`None` past its end).
    pub(crate) fn multi_form_at(&self, l: FormList, i: usize) -> Option<Span> {
        (i < l.len as usize).then(|| self.families.forms.spans.get(l.at as usize + i).copied()).flatten()
    }
}

/// Sets `Link::post_cut` of every non-negated `multiMatch` link whose chain has a `base64_cut` and whose
/// operator has need bytes: [`post_cut_bytes`] of the chain's steps after the cut. At load, after the links'
/// chains and operators are final.
pub(crate) fn set_post_cut_bytes(phases: &mut [Vec<crate::rule::Rule>], chains: &[TransformChain]) {
    for link in phases.iter_mut().flatten().flat_map(|r| r.links.iter_mut()) {
        let Some(chain) = chains.get(link.transforms as usize) else { continue };
        link.post_cut = match (link.multi_match && !link.negated, chain.base64_cut, link.op.need_bytes()) {
            (true, Some(b), Some(need)) => Some(post_cut_bytes(&chain.steps[(b + 1).min(chain.steps.len())..], &need)),
            _ => None,
        };
    }
}

/// Raw bytes without which a value comes out of every prefix of `steps` (the empty one included) holding no
/// byte of `need` (letters in both cases): the union of `prefilter::preimage::byte_preimage` over the
/// prefixes ([`Transaction::multi_forms_for`]'s test of a decoded text).
pub(crate) fn post_cut_bytes(steps: &[crate::transforms::Transform], need: &[u64; 4]) -> [u64; 4] {
    let mut set = *need;
    for k in 1..=steps.len() {
        let p = crate::prefilter::preimage::byte_preimage(&steps[..k], need);
        for (a, b) in set.iter_mut().zip(p) {
            *a |= b;
        }
    }
    set
}
