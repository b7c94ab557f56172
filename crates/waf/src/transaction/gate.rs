//! The `@rx` literal prefilter at rule level. Per value, the shared Aho-Corasick pass (`crate::prefilter`)
//! gives a bitset of the regexes that can match it; this module caches those bitsets per (value span,
//! transformation chain) and, per phase, their union over every member of a variable. A gated rule
//! (`crate::rule::Gate`) whose regex bit is unset in the union of all its variables cannot match any value,
//! so it is skipped before its targets are collected, transformed or counted — at PL1 most CRS rules on a
//! benign request end here.
//!
//! Why this is exact: the gate's variables hold arena data that only changes between phases (the union
//! cache is cleared when a phase starts after data was added: `Transaction::gate_stale`, set by every call
//! that adds request or response data), the union runs over all keys, or over the members of the one key a
//! target selects (a superset of what exclusions leave), with the same transformation chain and cache as the
//! evaluator, and only rules whose first link is a non-negated prefiltered `@rx` are gated: such a link
//! fails, without side effects, exactly when the prefilter rules out every value it runs on. For a plain
//! link that is each value under its chain; for a `multiMatch` link, each value as extracted and after every
//! step that changed it, i.e. each value under some prefix of its chain: the gate ORs the unions over every
//! prefix (`Gate::chains`), so it closes only when no form of any value can match.
//!
//! Per phase, each source's members are listed once, with their untransformed bitsets (`SourceLists`),
//! when its untransformed union is computed; the source's other unions, and the rules' targets that read
//! exactly that source (`Link::sources`), read the list instead of walking the variable again. Exact for the
//! same reason as the unions: a list is only read while the gate cache holds the union it was made with, so
//! the data it was taken from has not changed. A gate's summary (the OR of its sources' untransformed unions
//! and of the bytes their members hold) is built on the summary of a smaller set of its sources when the
//! phase computed that one first (`Gate::summary_parent`): OR is associative and commutative, so that summary
//! ORed with the other sources' unions is the OR over every source, and it is inconclusive exactly when one of
//! its sources' unions is, which makes this one inconclusive too.
//!
//! A summary batch (`Gate::batch`) that rules a member out also marks the member's rule in
//! `Transaction::gate_closed`, and the rule walk (`run_rules`) jumps from a marked rule to the next unmarked
//! one. Exact: a marked rule's `gate_open` returns `false` (its batch bit is set, read before anything else,
//! and the gate cache holding it is not cleared while the phase runs), so the walk would skip it and change
//! nothing; the marks are zeroed when a phase's walk starts, so only this phase's batches set them, for this
//! phase's rules. The jump stops at the end of the initialisation prefix while its verdict is pending
//! (`fold`), which the walk takes at the first rule past it. This module owns the caches and the gate; it
//! does not evaluate operators.

use super::collect::{Item, Val};
use super::Transaction;
use crate::prefilter;
use crate::rule::{ChainId, Gate, GateSource, GateUnion, Rule, SummaryTest, TransformChain};
use crate::variables::{Selector, Target, Var};
use std::collections::hash_map::Entry;
use std::sync::Arc;

/// Where a value's prefilter bitset is: cached in `pf_bits` at an offset, or (for values that are not
/// arena spans, so not cacheable) in `pf_scratch`.
#[derive(Clone, Copy)]
pub(crate) enum PfBits {
    At(usize),
    Scratch,
}

/// A phase's member lists, one per gate source (the variable, or one key of it): the members as `members`
/// collects them, each with the offset of its untransformed entry in `pf_bits` (its bitset, then the bytes it
/// holds) in `Item::pf`, which the rules that copy the list carry on. A source's list is built with its untransformed union, the first union of the source any gate
/// computes in the phase, and read by every other chain's union of that source: no `members` walk and no
/// `pf_cache` look-up per member per union. Exact: the members and their untransformed entries are what that
/// walk and look-up would give, since the source's data does not change while the list is valid (it is valid
/// while the gate cache holds the source's untransformed union: both are dropped when the phase's data
/// changed, `Transaction::gate_stale`) and an untransformed entry, once in `pf_cache`, is never replaced.
#[derive(Debug, Default)]
pub(crate) struct SourceLists {
    /// Every list's members, list after list, each with its untransformed entry's offset (`Item::pf`).
    items: Vec<Item>,
    /// Per gate cache number of a source's untransformed union: its list's range in `items` (meaningful only
    /// while the gate cache holds that union, ≥ 2: the entry was written with it). Never cleared, only grown:
    /// zeroing it per phase or transaction cost more than the lists saved.
    at: Vec<(u32, u32)>,
}

impl SourceLists {
    /// The room held by the longest of the vectors (for the pool's size check).
    pub(crate) fn capacity(&self) -> usize {
        self.items.capacity().max(self.at.capacity())
    }

    /// Drops every list (`at` keeps its stale ranges: no reader trusts one without its union, see `at`).
    pub(crate) fn clear(&mut self) {
        self.items.clear();
    }
}

/// Variables whose members are arena spans that stay fixed while a phase runs (request data after the
/// body processor, response data after headers/body were added). TX, MATCHED_VAR*, persistent
/// collections and computed scalars change under the rules and are never gated.
pub(crate) fn phase_static(var: Var) -> bool {
    source_is_collection(var)
        || matches!(
            var,
            Var::RequestUri
                | Var::RequestUriRaw
                | Var::RequestFilename
                | Var::RequestBasename
                | Var::RequestLine
                | Var::RequestMethod
                | Var::RequestProtocol
                | Var::QueryString
                | Var::RequestBody
                | Var::ResponseProtocol
                | Var::ResponseBody
        )
}

/// The gate of a compiled rule, if it can have one (called once at load, after target updates).
/// `forms`: for a `multiMatch` head, the chains of the forms its operator reads (the empty chain, then every
/// prefix of its chain up to the whole, each interned); ignored otherwise. With `cut` (the index of the head
/// chain's `base64Decode` step, `TransformChain::base64_cut`), `forms` ends at the prefix before that step,
/// and the gate tests the later forms value by value (`Gate::b64`).
pub(crate) fn gate_of(rule: &Rule, forms: &[ChainId], cut: Option<usize>) -> Option<Gate> {
    let head = rule.links.first()?;
    let prefilter_id = head.op.prefilter_id()?;
    if head.negated || head.targets.is_empty() {
        return None;
    }
    let b64 = match (head.multi_match, cut) {
        (true, Some(cut)) => Some(crate::rule::B64Test {
            pre: *forms.last()?,
            chain: head.transforms,
            cut,
            min_len: head.op.min_match_len(),
            post: None,
        }),
        _ => None,
    };
    let chains = if head.multi_match {
        // a multiMatch link fails without side effects when no form of any value can match: the gate is the
        // OR of the unions over every form's chain (before the cut, with a `base64Decode` step; the test of
        // `b64` covers the rest)
        let last = b64.as_ref().map_or(head.transforms, |b| b.pre);
        if forms.last() != Some(&last) || forms.first() != Some(&UNTRANSFORMED) {
            return None;
        }
        let mut c = forms.to_vec();
        c.dedup();
        c
    } else {
        vec![head.transforms]
    };
    let mut sources = Vec::new();
    let mut targets = Vec::new();
    for t in head.targets.iter().filter(|t| !t.exclude) {
        if t.count || !phase_static(t.var) {
            return None;
        }
        let xml_attrs = t.var == Var::Xml && matches!(&t.selector, Selector::XPath(x) if x.contains('@'));
        // one key of a collection: the union over that key's members (`members` selects them as the
        // evaluator does, case-insensitively), a subset of every member's
        let key = match &t.selector {
            Selector::Key(k) if t.var != Var::Xml => Some(k.clone()),
            _ => None,
        };
        let selector = match (&key, xml_attrs) {
            (Some(k), _) => Selector::Key(k.clone()),
            (None, true) => Selector::XPath("//@*".into()),
            (None, false) => Selector::All,
        };
        let s = GateSource { var: t.var, xml_attrs, key };
        if !sources.contains(&s) {
            sources.push(s);
            targets.push(Target { var: t.var, selector, count: false, exclude: false });
        }
    }
    Some(Gate {
        prefilter_id,
        chains,
        sources,
        targets,
        unions: Vec::new(),
        group: 0,
        shared: false,
        summary: 0,
        summary_parent: None,
        summary_tests: None,
        batch: None,
        top: 0,
        b64,
    })
}

/// Sets `Link::byte_out` of every link it applies to (see there). At load, after `number_gate_slots` (the
/// links' `sources`) and with the chains final.
pub(crate) fn set_byte_outs(phases: &mut [Vec<Rule>], chains: &[TransformChain]) {
    for link in phases.iter_mut().flatten().flat_map(|r| r.links.iter_mut()) {
        link.byte_out = None;
        let Some(chain) = chains.get(link.transforms as usize) else { continue };
        if link.negated || link.multi_match || link.op.prefilter_id().is_some() {
            continue;
        }
        let Some(need) = link.op.need_bytes() else { continue };
        // every target is an exclusion or reads a gate source (whose untransformed union holds the bytes its
        // members hold), and there is one of the latter
        if link.sources.len() != link.targets.len() || link.targets.iter().all(|t| t.exclude) {
            continue;
        }
        if !link.targets.iter().zip(&link.sources).all(|(t, s)| t.exclude || *s != u32::MAX) {
            continue;
        }
        let pre = prefilter::preimage::byte_preimage(&chain.steps, &need);
        // a chain that can make a need byte out of any byte rules nothing out
        if pre != prefilter::preimage::ALL {
            link.byte_out = Some(pre);
        }
    }
}

/// Numbers every distinct (source, chain) union of the rules' gates densely (called once at load, after
/// `gate_of`): a transaction caches a phase's unions in a vector indexed by these numbers.
pub(crate) fn number_gate_slots(phases: &mut [Vec<Rule>]) {
    let mut ids: std::collections::HashMap<(GateSource, ChainId), u32> = std::collections::HashMap::new();
    for r in phases.iter_mut().flatten() {
        if let Some(g) = &mut r.gate {
            let mut slot = |s: &GateSource, chain: ChainId| {
                let next = ids.len() as u32;
                *ids.entry((s.clone(), chain)).or_insert(next)
            };
            let mut unions = Vec::new();
            for (k, s) in g.sources.iter().enumerate() {
                for c in &g.chains {
                    let (slot, base) = (slot(s, *c), slot(s, UNTRANSFORMED));
                    unions.push(GateUnion { source: k as u32, chain: *c, slot, base, pre: None });
                }
            }
            g.unions = unions;
        }
    }
    // every link's targets that read exactly a gate source's members get that source's untransformed number
    for r in phases.iter_mut().flatten() {
        for link in &mut r.links {
            link.unexcluded = link.targets.iter().take(64).enumerate().fold(0, |m, (k, t)| {
                let excluded = t.exclude || link.targets.iter().any(|x| x.exclude && x.var == t.var);
                if excluded {
                    m
                } else {
                    m | 1 << k
                }
            });
            link.sources = link
                .targets
                .iter()
                .map(|t| {
                    let key = match &t.selector {
                        Selector::All => None,
                        Selector::Key(k) => Some(k.clone()),
                        _ => return u32::MAX,
                    };
                    if t.exclude || t.count || t.var == Var::Xml || !phase_static(t.var) {
                        return u32::MAX;
                    }
                    let s = GateSource { var: t.var, xml_attrs: false, key };
                    ids.get(&(s, UNTRANSFORMED)).copied().unwrap_or(u32::MAX)
                })
                .collect();
        }
    }
    // summaries over two or more sources follow the per-source numbers; one source's summary is its own
    // untransformed union, laid out the same way
    let mut summaries: std::collections::HashMap<Vec<GateSource>, u32> = std::collections::HashMap::new();
    let after_unions = ids.len() as u32;
    for r in phases.iter_mut().flatten() {
        if let Some(g) = &mut r.gate {
            g.summary = match g.sources.as_slice() {
                // every union of one source has that source's untransformed number as its base
                [_] => g.unions.first().map_or(0, |u| u.base),
                many => {
                    let next = after_unions + summaries.len() as u32;
                    *summaries.entry(many.to_vec()).or_insert(next)
                }
            };
        }
    }
    // per summary, the largest other summary over a strict subset of its sources (as sets; ties to the lower
    // number, so the choice does not depend on the map's order): it is ORed in whole, the rest source by source
    let mut sets: Vec<(&Vec<GateSource>, u32)> = summaries.iter().map(|(k, v)| (k, *v)).collect();
    sets.sort_by_key(|(k, v)| (std::cmp::Reverse(k.len()), *v));
    let mut parents: std::collections::HashMap<u32, Option<(u32, u32)>> = std::collections::HashMap::new();
    for (set, number) in &sets {
        if set.len() > 16 {
            parents.insert(*number, None);
            continue;
        }
        let parent = sets.iter().find(|(sub, _)| sub.len() < set.len() && sub.iter().all(|s| set.contains(s))).map(
            |(sub, n)| {
                let rest = set.iter().enumerate().filter(|(_, s)| !sub.contains(s)).fold(0u32, |m, (k, _)| m | 1 << k);
                (*n, rest)
            },
        );
        parents.insert(*number, parent);
    }
    for r in phases.iter_mut().flatten() {
        if let Some(g) = &mut r.gate {
            g.summary_parent = if g.sources.len() >= 2 { parents.get(&g.summary).copied().flatten() } else { None };
        }
    }
    // group numbers follow every per-source and summary number: one gate cache vector holds all three
    let first = after_unions + summaries.len() as u32;
    let mut groups: std::collections::HashMap<(Vec<GateSource>, Vec<ChainId>), (u32, u32)> =
        std::collections::HashMap::new();
    for r in phases.iter_mut().flatten() {
        if let Some(g) = &mut r.gate {
            let next = first + groups.len() as u32;
            let e = groups.entry((g.sources.clone(), g.chains.clone())).or_insert((next, 0));
            e.1 += 1;
            g.group = e.0;
        }
    }
    // a group's OR pays only when another rule reads it and it is more than one union (one union is its slot)
    for r in phases.iter_mut().flatten() {
        if let Some(g) = &mut r.gate {
            let rules = groups.get(&(g.sources.clone(), g.chains.clone())).map_or(0, |e| e.1);
            // (a gate with a `b64` test is closed by more than its unions: it neither reads nor writes the OR)
            g.shared = rules >= 2 && g.unions.len() >= 2 && g.b64.is_none();
            g.top = g.group;
        }
    }
}

/// Sets every gate union's preimage (called once at load, after the prefilter is built): the raw bytes that
/// the members of the union's source must hold for the gate's condition to possibly hold on one of them after
/// the union's chain. Left `None` when the chain has a step that rewrites every value (an empty value may come
/// out non-empty: `t:length`), or when the prefilter's bits do not follow its conditions.
pub(crate) fn set_gate_preimages(phases: &mut [Vec<Rule>], chains: &[TransformChain], pf: &prefilter::Prefilter) {
    for g in phases.iter_mut().flatten().filter_map(|r| r.gate.as_mut()) {
        let need = pf.need(g.prefilter_id);
        // the summary can close a chain's unions when each is the untransformed one or has a preimage
        let tests: Option<Vec<SummaryTest>> = g
            .chains
            .iter()
            .map(|c| {
                let chain = chains.get(*c as usize)?;
                let rewrites = !chain.steps.is_empty() && chain.triggers.is_none();
                match (*c == UNTRANSFORMED, need) {
                    (true, _) => Some(SummaryTest::Raw),
                    (false, Some(n)) if !rewrites => Some(SummaryTest::Pre(prefilter::preimage::of(n, &chain.steps))),
                    _ => None,
                }
            })
            .collect();
        // (a summary speaks for the unions only, not for the forms a `b64` test covers)
        g.summary_tests = tests.filter(|_| g.unions.len() >= 2 && g.b64.is_none());
        if let (Some(b), Some(n)) = (g.b64.as_mut(), need) {
            let steps = chains.get(b.chain as usize).map_or(&[][..], |c| &c.steps[..]);
            let after = steps.get(b.cut + 1..).unwrap_or(&[]);
            b.post = Some((1..=after.len()).map(|k| prefilter::preimage::of(n, &after[..k])).collect());
        }
        let Some(need) = need else { continue };
        for u in &mut g.unions {
            let Some(chain) = chains.get(u.chain as usize) else { continue };
            let rewrites = !chain.steps.is_empty() && chain.triggers.is_none();
            if u.chain != UNTRANSFORMED && !rewrites {
                u.pre = Some(prefilter::preimage::of(need, &chain.steps));
            }
        }
    }
    batch_summary_tests(phases);
}

/// Groups the gates with summary tests by (phase, straight run, summary they read) (`Gate::batch`),
/// numbering each batch's gate cache words after every other number. A straight run is a stretch of a
/// phase's rules that no `skip`/`skipAfter` leaves or enters except at its start, so a run whose first gate
/// is visited has its other gates visited too (unless the phase ends early): a batch tests only gates the
/// phase reaches (CRS's paranoia-level markers jump over whole blocks). A batch of one is left out: its own
/// test is as cheap. Exact: a member's bit is the result of its own summary tests on the same summary entry
/// (the summary of a source set is the same whichever gate computes it), so reading the bit answers what the
/// tests would; which gates share a batch decides only how much is tested in advance.
fn batch_summary_tests(phases: &mut [Vec<Rule>]) {
    let mut next = phases.iter().flatten().filter_map(|r| r.gate.as_ref()).map(|g| g.top + 1).max().unwrap_or(0);
    for rules in phases.iter_mut() {
        let mut starts = vec![false; rules.len() + 1];
        for (i, r) in rules.iter().enumerate() {
            if r.skip > 0 || r.skip_after.is_some() {
                starts[i + 1] = true;
            }
            if let Some(t) = r.skip_after {
                starts[t.min(rules.len())] = true;
            }
            if r.skip > 0 {
                starts[(i + 1 + r.skip as usize).min(rules.len())] = true;
            }
        }
        let mut run = 0usize;
        let mut by_summary: std::collections::BTreeMap<(usize, u32), Vec<usize>> = std::collections::BTreeMap::new();
        for (i, r) in rules.iter().enumerate() {
            run += starts[i] as usize;
            if let Some(g) = r.gate.as_ref().filter(|g| g.summary_tests.is_some()) {
                by_summary.entry((run, g.summary)).or_default().push(i);
            }
        }
        for ((_, summary), members) in by_summary.into_iter().filter(|(_, m)| m.len() >= 2) {
            let number = next;
            let words = members.len().div_ceil(32) as u32;
            next += 1 + words;
            let list = members
                .iter()
                .filter_map(|i| rules[*i].gate.as_ref())
                .map(|g| (g.prefilter_id, g.summary_tests.clone().unwrap_or_default()))
                .collect();
            let positions = members.iter().map(|i| *i as u32).collect();
            let batch = Arc::new(crate::rule::GateBatch { number, summary, members: list, rules: positions });
            for (k, i) in members.iter().enumerate() {
                if let Some(g) = rules[*i].gate.as_mut() {
                    g.batch = Some((Arc::clone(&batch), k as u32));
                    g.top = g.top.max(number + words);
                }
            }
        }
    }
}

/// Is the gate source variable `var` a collection (its members listed from one of the transaction's lists, so
/// none when the list is empty), not a scalar (always one member, its value)? The `phase_static` variables are
/// these collections and the scalars it lists.
fn source_is_collection(var: Var) -> bool {
    matches!(
        var,
        Var::Args
            | Var::ArgsGet
            | Var::ArgsPost
            | Var::ArgsNames
            | Var::ArgsGetNames
            | Var::ArgsPostNames
            | Var::RequestHeaders
            | Var::RequestHeadersNames
            | Var::RequestCookies
            | Var::RequestCookiesNames
            | Var::Files
            | Var::FilesNames
            | Var::MultipartPartHeaders
            | Var::Xml
            | Var::ResponseHeaders
            | Var::ResponseHeadersNames
    )
}

/// Scalar sources that a request or response always fills (a request line has a method, a path and a
/// protocol; a status line a protocol): a group that reads one is never all empty, and is not tested.
fn never_empty(var: Var) -> bool {
    matches!(
        var,
        Var::RequestMethod
            | Var::RequestProtocol
            | Var::RequestLine
            | Var::RequestUri
            | Var::RequestUriRaw
            | Var::RequestFilename
            | Var::ResponseProtocol
    )
}

/// Per phase, the gated rules whose gate is closed whenever all of its sources are empty, grouped by their
/// sources (called once at load, after `set_gate_preimages`). A gate closes when each of its unions lacks its
/// bit; over an empty source a union is known at load: over a collection with no member it is the empty set,
/// over a scalar it is the bitset of its one value, the empty one, under the union's chain (computed here by
/// running the chain on it and scanning the result, as `union_walk` would; a chain may turn nothing into
/// something: `t:length` gives `0`). A response without a body (phase 4's `RESPONSE_BODY` rules, most of
/// CRS's 95x files) then closes them all with one test when the phase starts. Which groups are kept decides
/// only what is tested in advance: a group with a source that is never empty, or past the 64th distinct
/// source, is left to the gates.
pub(crate) fn empty_closes(
    phases: &[Vec<Rule>],
    chains: &[TransformChain],
    pf: &prefilter::Prefilter,
) -> [crate::rule::EmptyCloses; 5] {
    let mut out: [crate::rule::EmptyCloses; 5] = Default::default();
    // the bitset of the empty value under each chain, computed once per chain
    let mut empty_bits: std::collections::HashMap<ChainId, Vec<u64>> = std::collections::HashMap::new();
    for (p, rules) in phases.iter().enumerate().take(5) {
        let c = &mut out[p];
        for (i, r) in rules.iter().enumerate() {
            let Some(g) = &r.gate else { continue };
            if g.unions.is_empty() || g.sources.iter().any(|s| never_empty(s.var)) {
                continue;
            }
            // a `b64` test has nothing to test when every source is a collection without members
            if g.b64.is_some() && !g.sources.iter().all(|s| source_is_collection(s.var)) {
                continue;
            }
            let closes = g.unions.iter().all(|u| {
                let Some(s) = g.sources.get(u.source as usize) else { return false };
                if source_is_collection(s.var) {
                    return true;
                }
                let Some(chain) = chains.get(u.chain as usize) else { return false };
                let bits = empty_bits.entry(u.chain).or_insert_with(|| {
                    let mut v: Vec<u8> = Vec::new();
                    for step in &chain.steps {
                        v = (step.apply)(&v).into_owned();
                    }
                    let mut bits = vec![0; pf.words()];
                    pf.scan(&v, &mut bits);
                    bits
                });
                !prefilter::has(bits, g.prefilter_id)
            });
            if !closes {
                continue;
            }
            // the group's mask; none when one of its sources is past the 64th
            let mut need = Some(0u64);
            for s in &g.sources {
                let k = match c.sources.iter().position(|x| x == s) {
                    Some(k) => k,
                    None => {
                        c.sources.push(s.clone());
                        c.sources.len() - 1
                    }
                };
                need = need.and_then(|m| Some(m | 1u64.checked_shl(k as u32)?));
            }
            let Some(need) = need else { continue };
            let k = match c.groups.iter().position(|(m, _)| *m == need) {
                Some(k) => k,
                None => {
                    c.groups.push((need, Vec::new()));
                    c.groups.len() - 1
                }
            };
            let marks = &mut c.groups[k].1;
            let (word, bit) = ((i / 64) as u32, 1u64 << (i % 64));
            match marks.last_mut() {
                Some((w, m)) if *w == word => *m |= bit,
                _ => marks.push((word, bit)),
            }
        }
        c.sources.truncate(64);
    }
    out
}

/// The first index from `i` whose bit is clear in `marked` (past its last word: that index).
pub(crate) fn next_unmarked(marked: &[u64], mut i: usize) -> usize {
    while let Some(w) = marked.get(i / 64) {
        let rest = !w >> (i % 64);
        if rest != 0 {
            return i + rest.trailing_zeros() as usize;
        }
        i = (i / 64 + 1) * 64;
    }
    i
}

/// The empty transformation chain (`RuleSet::chains[0]`). A value's bitset depends only on the bytes scanned,
/// and the automaton is ASCII case-insensitive, so every chain that leaves a value unchanged — or changes only
/// its letters' case (`t:lowercase` on `Jane`) — shares the untransformed value's bitset: it is scanned once,
/// not once per chain (a benign JSON leaf is read under a dozen CRS chains, most of which leave it as it is).
const UNTRANSFORMED: ChainId = 0;

/// The `pf_cache` key of an arena value's `base64Decode` output (no chain has this number): its bitset, then
/// the bytes it holds, as for an untransformed entry. Written and read by `b64_rules_out` only.
const B64_OF_VALUE: ChainId = ChainId::MAX;

/// What `Transaction::b64_member_rules_out` tests each member against: the gate's prefilter id, the chain
/// before the cut (its number and steps), the steps after it with their preimages, the operator's shortest
/// input, and the value length below which nothing is read.
struct B64Member<'a> {
    id: u32,
    pre_id: ChainId,
    pre: &'a TransformChain,
    after: &'a [crate::transforms::Transform],
    post: &'a [prefilter::preimage::Preimage],
    min_len: usize,
    short: usize,
    /// The test's key in the memo of earlier transactions' results (`memo::b64_tag`).
    memo_tag: Option<u64>,
}

/// Does no output of `steps` run one after another on `d` have prefilter bit `id`? Each output is scanned (a
/// superset of the `multiMatch` forms they make: an unchanged output is the form before it).
fn forms_after_rule_out(pf: &prefilter::Prefilter, d: &[u8], steps: &[crate::transforms::Transform], id: u32) -> bool {
    let mut bits = vec![0u64; pf.words()];
    let mut form = d.to_vec();
    for step in steps {
        form = (step.apply)(&form).into_owned();
        pf.scan(&form, &mut bits);
        if prefilter::has(&bits, id) {
            return false;
        }
    }
    true
}

impl Transaction {
    /// The members of a target whose gate source is numbered `base` (`Link::sources`), when the phase's
    /// gate cache holds that source's untransformed union (and so its member list): the list is what
    /// `members` would collect for the target, in the same order.
    #[inline]
    pub(crate) fn source_list(&self, base: u32) -> Option<&[Item]> {
        let base = base as usize;
        if self.gate_cache.get(base).is_none_or(|b| *b < 2) {
            return None;
        }
        let (start, end) = *self.src_lists.at.get(base)?;
        self.src_lists.items.get(start as usize..end as usize)
    }

    /// The prefilter bitset of `item` transformed to `tv` by chain `chain_id`: scanned once per distinct
    /// (arena value, chain) per transaction, then served from `pf_cache`.
    #[inline]
    pub(crate) fn pf_bits_of(&mut self, item: &Item, tv: &super::eval::TVal, chain_id: ChainId) -> PfBits {
        // most calls ask for an arena value's untransformed entry, scanned already (by the unions of an earlier
        // gate): one look-up, inlined into the callers; everything else goes through the call below
        if let (Val::Arena(s), super::eval::TVal::Same) = (&item.value, tv) {
            if let Some(off) = self.pf_cache.get(&(*s, UNTRANSFORMED)) {
                return PfBits::At(*off as usize);
            }
        }
        self.pf_bits_scan(item, tv, chain_id)
    }

    /// [`Self::pf_bits_of`] past its first look-up: the key of a transformed form, the forms equal up to case,
    /// and the scan of a value not seen yet.
    #[inline(never)]
    fn pf_bits_scan(&mut self, item: &Item, tv: &super::eval::TVal, chain_id: ChainId) -> PfBits {
        let words = self.engine.rules.prefilter.words();
        let key = match (&item.value, tv) {
            (Val::Arena(s), super::eval::TVal::Same) => Some((*s, UNTRANSFORMED)),
            (Val::Arena(s), t @ super::eval::TVal::Cache(_))
                if self.tval(item, t).eq_ignore_ascii_case(self.get(*s)) =>
            {
                Some((*s, UNTRANSFORMED))
            }
            (Val::Arena(s), super::eval::TVal::Cache(_)) => Some((*s, chain_id)),
            _ => None,
        };
        // another chain may have turned the value into the same form (up to case): then it has that form's bitset
        let form = match (key, tv) {
            (Some((s, c)), super::eval::TVal::Cache(f)) if c != UNTRANSFORMED => Some((s, *f)),
            _ => None,
        };
        if let Some((s, c)) = key {
            // this transaction's entry; else an earlier transaction may have scanned the same bytes under the
            // same chain (`memo`), unless the look-up just missed (before the caller transformed the value)
            let found = if self.memo_miss.is_none_or(|m| (m.0, m.1) != (s, c)) {
                self.cached_or_memo(s, c)
            } else {
                self.pf_cache.get(&(s, c)).map(|off| (*off as usize, false))
            };
            match found {
                Some((off, false)) => return PfBits::At(off),
                Some((off, true)) => {
                    if let Some((s, f)) = form {
                        self.add_form(s, f, off as u32);
                    }
                    return PfBits::At(off);
                }
                None => {}
            }
        }
        if let Some((s, f)) = form {
            if let Some(off) = self.same_form(s, f) {
                self.pf_cache.insert((s, chain_id), off);
                self.memo_store(s, chain_id, off as usize);
                return PfBits::At(off as usize);
            }
        }
        let mut bits = std::mem::take(&mut self.pf_scratch);
        bits.resize(words, 0);
        let engine = Arc::clone(&self.engine);
        let present = engine.rules.prefilter.scan(self.tval(item, tv), &mut bits);
        let at = match key {
            Some(k) => {
                let off = self.pf_bits.len();
                self.pf_bits.extend_from_slice(&bits);
                if k.1 == UNTRANSFORMED {
                    // an untransformed entry is followed by the bytes its value holds (`untransformed_at`);
                    // the value scanned may differ from the stored one in letter case only, and no trigger
                    // byte is a letter
                    self.pf_bits.extend_from_slice(&present);
                }
                self.pf_cache.insert(k, off as u32);
                if let Some((s, f)) = form {
                    self.add_form(s, f, off as u32);
                }
                self.memo_store(k.0, k.1, off);
                PfBits::At(off)
            }
            None => PfBits::Scratch,
        };
        self.pf_scratch = bits;
        at
    }

    /// The `pf_bits` offset of the arena value `span`'s entry under `chain_id` when this transaction has it
    /// (`pf_cache`) or an earlier transaction on this thread left it in the memo (`memo`: then it is appended
    /// to `pf_bits` and cached here), so the caller need not transform or scan the value; `None` otherwise,
    /// the miss remembered (`memo_miss`) for the [`Self::memo_store`] of the scan that follows.
    pub(crate) fn memo_entry(&mut self, span: super::Span, chain_id: ChainId) -> Option<usize> {
        self.cached_or_memo(span, chain_id).map(|(off, _)| off)
    }

    /// [`Self::memo_entry`], and whether the entry came from the memo. One probe of `pf_cache` (its entry),
    /// where a look-up then an insert took two.
    fn cached_or_memo(&mut self, span: super::Span, chain_id: ChainId) -> Option<(usize, bool)> {
        let (stride, len) = (self.memo_stride(), self.entry_len(chain_id));
        let slot = match self.pf_cache.entry((span, chain_id)) {
            Entry::Occupied(o) => return Some((*o.get() as usize, false)),
            Entry::Vacant(v) => v,
        };
        if !self.engine.scan_memo {
            return None;
        }
        let off = self.pf_bits.len();
        // (a span outside the arena has no bytes to look up: not the empty value's entry)
        let key = super::arena_bytes(&self.arena, span)?;
        match super::memo::get(self.engine.memo_id, stride, chain_id as u64, key, len, &mut self.pf_bits) {
            Ok(()) => {
                slot.insert(off as u32);
                self.stats.memo_hits += 1;
                Some((off, true))
            }
            Err(super::memo::Miss::Absent(hash)) => {
                self.memo_miss = Some((span, chain_id, hash));
                self.stats.memo_misses += 1;
                None
            }
            Err(super::memo::Miss::TooLong) => None,
        }
    }

    /// Words per entry in this engine's memo (`memo`): the prefilter's words, and 4 for the bytes an
    /// untransformed entry records.
    fn memo_stride(&self) -> usize {
        self.engine.rules.prefilter.words() + 4
    }

    /// Words of a value's entry under `chain_id` in `pf_bits`: its bitset, followed for the untransformed
    /// chain by the bytes the value holds.
    fn entry_len(&self, chain_id: ChainId) -> usize {
        let words = self.engine.rules.prefilter.words();
        if chain_id == UNTRANSFORMED {
            words + 4
        } else {
            words
        }
    }

    /// Memoises for later transactions the entry at `pf_bits` offset `off`: the arena value `span`'s under
    /// `chain_id` (followed by the bytes it holds for the untransformed chain).
    fn memo_store(&mut self, span: super::Span, chain_id: ChainId, off: usize) {
        if !self.engine.scan_memo {
            return;
        }
        let len = self.entry_len(chain_id);
        let hash = match self.memo_miss.take() {
            Some((s, c, hash)) if (s, c) == (span, chain_id) => Some(hash),
            _ => None,
        };
        let (Some(key), Some(entry)) = (super::arena_bytes(&self.arena, span), self.pf_bits.get(off..off + len)) else {
            return;
        };
        super::memo::put(self.engine.memo_id, self.memo_stride(), chain_id as u64, key, hash, entry);
    }

    /// The `pf_bits` offset of a transformed form of the arena value `value` that equals `form` (a span of
    /// `cache_buf`) up to ASCII case, if one was scanned. Exact: a bitset depends only on the bytes scanned,
    /// and the automaton and byte rows fold letters (as the untransformed entry already relies on).
    fn same_form(&self, value: super::Span, form: super::Span) -> Option<u32> {
        let want = self.cache_form(form);
        let mut at = *self.pf_forms.get(&value)?;
        while let Some((f, off, next)) = self.pf_form_list.get(at as usize) {
            if f.len == form.len && self.cache_form(*f).eq_ignore_ascii_case(want) {
                return Some(*off);
            }
            at = *next;
        }
        None
    }

    /// Records that `form` (a transformed form of `value`, in `cache_buf`) has its bitset at `off`.
    fn add_form(&mut self, value: super::Span, form: super::Span, off: u32) {
        let next = self.pf_forms.get(&value).copied().unwrap_or(u32::MAX);
        let at = self.pf_form_list.len() as u32;
        self.pf_form_list.push((form, off, next));
        self.pf_forms.insert(value, at);
    }

    fn cache_form(&self, f: super::Span) -> &[u8] {
        self.cache_buf.get(f.start as usize..f.start as usize + f.len as usize).unwrap_or(b"")
    }

    /// The untransformed entry of an arena value in `pf_bits`: the offset of its bitset, which `pf_bits_of`
    /// follows with the 256-bit set of the bytes the value holds.
    fn untransformed_at(&mut self, item: &Item) -> Option<(usize, [u64; 4])> {
        let PfBits::At(off) = self.pf_bits_of(item, &super::eval::TVal::Same, UNTRANSFORMED) else {
            return None;
        };
        let words = self.engine.rules.prefilter.words();
        let p = self.pf_bits.get(off + words..off + words + 4)?;
        Some((off, [p[0], p[1], p[2], p[3]]))
    }

    /// Is bit `id` set in the bitset `at`?
    pub(crate) fn pf_has(&self, at: PfBits, id: u32) -> bool {
        let words = self.engine.rules.prefilter.words();
        match at {
            PfBits::At(o) => self.pf_bits.get(o..o + words).is_some_and(|b| prefilter::has(b, id)),
            PfBits::Scratch => prefilter::has(&self.pf_scratch, id),
        }
    }

    /// Marks closed (`gate_closed`) the rules of each group of `closes` (the phase's `RuleSet::empty_closes`)
    /// whose sources are all empty now. Exact: such a rule's `gate_open` would find every union closed (see
    /// `empty_closes`) and return `false`, as the walk's marks require; the sources do not change while the
    /// phase runs.
    pub(crate) fn close_empty_sources(&mut self, closes: &crate::rule::EmptyCloses) {
        let mut empty = 0u64;
        for (k, s) in closes.sources.iter().enumerate() {
            if self.source_empty(s) {
                empty |= 1 << k;
            }
        }
        if empty == 0 {
            return;
        }
        for (need, marks) in &closes.groups {
            if need & !empty == 0 {
                for (w, m) in marks {
                    if let Some(word) = self.gate_closed.get_mut(*w as usize) {
                        *word |= *m;
                    }
                }
            }
        }
    }

    /// Does `s` have no member now (a collection), or one empty value (a scalar)? `members` lists a
    /// collection from these lists only (a key selected or not, none when the list is empty), and a scalar
    /// from `scalar`.
    fn source_empty(&self, s: &GateSource) -> bool {
        let r = &self.req;
        match s.var {
            Var::Args | Var::ArgsNames => r.args_get.is_empty() && r.args_post.is_empty(),
            Var::ArgsGet | Var::ArgsGetNames => r.args_get.is_empty(),
            Var::ArgsPost | Var::ArgsPostNames => r.args_post.is_empty(),
            Var::RequestHeaders | Var::RequestHeadersNames => r.headers.is_empty(),
            Var::RequestCookies | Var::RequestCookiesNames => r.cookies.is_empty(),
            Var::Files | Var::FilesNames => r.files.is_empty(),
            Var::MultipartPartHeaders => r.multipart_part_headers.is_empty(),
            Var::Xml if s.xml_attrs => r.xml_attrs.is_empty(),
            Var::Xml => r.xml_text.is_empty(),
            Var::ResponseHeaders | Var::ResponseHeadersNames => self.resp.headers.is_empty(),
            v if source_is_collection(v) => false,
            v => matches!(self.scalar(v), Some(Val::Arena(span)) if span.len == 0),
        }
    }

    /// Does the link's `byte_out` rule it out, from the bytes the members of its targets' sources hold
    /// (their untransformed unions, computed here if the phase has not yet)? Exact: a link's values are
    /// members of those sources (a target's members are its source's, less what exclusions remove), a value
    /// holding none of `byte_out` comes out of the chain holding no need byte (`byte_preimage`), and on such
    /// an input the operator refuses (`Operator::need_bytes`), with no capture; the link is not negated.
    pub(crate) fn sources_rule_out(&mut self, link: &crate::rule::Link, byte_out: &[u64; 4]) -> bool {
        let Some(top) = link.sources.iter().filter(|s| **s != u32::MAX).max().map(|s| *s as usize) else {
            return false;
        };
        self.size_gate_cache(top);
        let words = self.engine.rules.prefilter.words();
        let mut present = [0u64; 4];
        for (t, s) in link.targets.iter().zip(&link.sources) {
            if t.exclude {
                continue;
            }
            let b = self.union_in_slot(t, UNTRANSFORMED, *s as usize, *s as usize);
            let Some(p) = (b >= 2).then(|| self.pf_bits.get(b as usize - 2 + words..b as usize + 2 + words)).flatten()
            else {
                return false;
            };
            for (a, w) in present.iter_mut().zip(p) {
                *a |= w;
            }
        }
        prefilter::preimage::disjoint(&present, byte_out)
    }

    /// Makes room in the gate cache for numbers up to `top` (one length test when there is).
    #[inline]
    fn size_gate_cache(&mut self, top: usize) {
        if self.gate_cache.len() <= top {
            if self.gate_cache.is_empty() {
                // the phase's first gate since the cache was cleared (a new transaction, or data added): the
                // member lists of the unions it held go with it
                self.src_lists.clear();
            }
            self.gate_cache.resize(top + 1, 0);
        }
    }

    /// Can the gated rule match anything in the current phase? `false` means: skip it.
    pub(crate) fn gate_open(&mut self, gate: &Gate) -> bool {
        if !self.engine.rx_prefilter {
            return true;
        }
        // every number of the gate is at most `top`: one length test here, none per union
        self.size_gate_cache(gate.top as usize);
        // the summary tests of the phase's gates over the same sources run together, once (`Gate::batch`)
        let mut summary_known = false;
        if let Some((batch, k)) = &gate.batch {
            if self.gate_cache[batch.number as usize] == 0 {
                self.test_batch(gate, batch);
            }
            let w = self.gate_cache[(batch.number + 1 + k / 32) as usize];
            if w & (1 << (k % 32)) != 0 {
                return false;
            }
            summary_known = true;
        }
        // rules with the same variables and chains share the OR of their unions (`Gate::group`): once one of
        // them found every union closed, the others test one bitset
        if gate.shared {
            if let Some(u) = self.gate_cache.get(gate.group as usize).filter(|u| **u >= 2) {
                return self.pf_has(PfBits::At((*u - 2) as usize), gate.prefilter_id);
            }
        }
        if let Some(tests) = gate.summary_tests.as_ref().filter(|_| !summary_known) {
            if self.summary_rules_out(gate, tests) {
                return false;
            }
        }
        let words = self.engine.rules.prefilter.words();
        // every union was computed (not ruled out by its preimage): only then is their OR the group's
        let mut computed = true;
        for u in &gate.unions {
            let Some(t) = gate.targets.get(u.source as usize) else {
                return true;
            };
            // most unions are computed by an earlier rule of the phase: read them without the call
            let union = match self.gate_cache.get(u.slot as usize) {
                Some(c) if *c != 0 => *c,
                _ => {
                    // before transforming any member: can the bytes the members hold rule this rule out?
                    if let Some(p) = &u.pre {
                        if self.preimage_rules_out(p, t, u.base as usize, gate.prefilter_id) {
                            computed = false;
                            continue;
                        }
                    }
                    self.union_in_slot(t, u.chain, u.slot as usize, u.base as usize)
                }
            };
            let at = (union as usize).wrapping_sub(2);
            let closed =
                union >= 2 && self.pf_bits.get(at..at + words).is_some_and(|b| !prefilter::has(b, gate.prefilter_id));
            if !closed {
                return true;
            }
        }
        if let Some(b) = &gate.b64 {
            if !self.b64_rules_out(gate, b) {
                return true;
            }
        }
        if gate.shared && computed {
            // every union is closed (so conclusive): record their OR for the group's other rules. Exact: a rule's
            // bit is set in the OR exactly when it is set in one of the unions, which is what the loop above asks
            let off = self.pf_bits.len();
            self.pf_bits.resize(off + words, 0);
            let (done, or) = self.pf_bits.split_at_mut(off);
            for u in &gate.unions {
                let at = self.gate_cache.get(u.slot as usize).map_or(0, |c| *c as usize).wrapping_sub(2);
                if let Some(b) = done.get(at..at + words) {
                    prefilter::or_into(or, b);
                }
            }
            let g = gate.group as usize;
            if self.gate_cache.len() <= g {
                self.gate_cache.resize(g + 1, 0);
            }
            self.gate_cache[g] = off as u32 + 2;
        }
        false
    }

    /// Does the gate's `b64` test rule out every form its link reads from the chain's `base64Decode` step on,
    /// for every member of the gate's sources? Called once the unions have ruled out the forms before that step.
    ///
    /// Why this is exact: a `multiMatch` link runs its operator on each value and on the output of every step
    /// that changed it, so a form from the cut on is `d`, the `base64Decode` output, after a prefix of the
    /// later steps (the empty prefix included). Per member (the source's list, the members the unions were
    /// taken over: a superset of what the link's exclusions leave), let `x` be its form after the steps before
    /// the cut: the value itself when each of those steps hands back whole a value with its bytes
    /// (`Transform::is_identity_on`, the bytes its untransformed entry records), its cached transformation
    /// otherwise. `d` is `transforms::base64_decoded_len(x)` bytes long and no later step lengthens its input
    /// (`TransformChain::base64_cut`'s condition), so when that is below `b.min_len` the operator refuses every
    /// such form (`Operator::min_match_len`), as `Transaction::multi_forms_for` relies on. Otherwise `d` is
    /// decoded and scanned once: a prefilter bit unset in its bitset rules `d` out, and each later prefix's
    /// preimage (`prefilter::preimage::of`, the bytes without which that prefix's output meets the need only if
    /// its input already did) rules out its form from the bytes `d` holds; when one does not, the later steps
    /// are run on `d` and every output scanned (a superset of the forms: an unchanged output is the form
    /// before it). A gate closed by its unions and this test would see the operator refuse or fail on every
    /// form, so the link fails without side effects.
    ///
    /// When `x` is the value itself, `d`'s bitset and bytes are kept under `B64_OF_VALUE` for the next gate
    /// that decodes the value (CRS 934160 after 934100: their steps before the cut differ only in
    /// `t:removeWhitespace`, which leaves most values as they are). The scan of the same bytes gives the same
    /// bits and bytes; a gate that reads them skips the length test, which only saves work.
    #[inline(never)]
    fn b64_rules_out(&mut self, gate: &Gate, b: &crate::rule::B64Test) -> bool {
        let Some(post) = &b.post else { return false };
        let engine = Arc::clone(&self.engine);
        let chains = &engine.rules.chains;
        let (Some(pre), Some(after)) =
            (chains.get(b.pre as usize), chains.get(b.chain as usize).and_then(|c| c.steps.get(b.cut + 1..)))
        else {
            return false;
        };
        let test = B64Member {
            id: gate.prefilter_id,
            pre_id: b.pre,
            pre,
            after,
            post,
            min_len: b.min_len,
            // with steps that never lengthen before the cut, a value shorter than this decodes too short
            short: match pre.steps.iter().all(|s| s.never_lengthens()) {
                true => (b.min_len * 4).div_ceil(3),
                false => 0,
            },
            memo_tag: super::memo::b64_tag(b.chain, gate.prefilter_id, b.min_len),
        };
        let mut buf = std::mem::take(&mut self.b64_buf);
        let mut bits = std::mem::take(&mut self.pf_scratch);
        bits.resize(engine.rules.prefilter.words(), 0);
        let mut out = true;
        for u in gate.unions.iter().filter(|u| u.chain == UNTRANSFORMED) {
            // the source's member list, recorded with its untransformed union (computed: the unions are closed)
            let listed = self.gate_cache.get(u.base as usize).is_some_and(|c| *c >= 2);
            let Some(&(start, end)) = self.src_lists.at.get(u.base as usize).filter(|_| listed) else {
                out = false;
                break;
            };
            out = (start as usize..end as usize).all(|k| self.b64_member_rules_out(k, &test, &mut buf, &mut bits));
            if !out {
                break;
            }
        }
        self.b64_buf = buf;
        self.pf_scratch = bits;
        out
    }

    /// [`Self::b64_rules_out`] for member `k` of the source lists: are its forms from the cut on ruled out?
    /// `false` also when that cannot be told (a member outside the arena, an entry missing). `buf` and `bits`
    /// are scratch for the decoded text and its bitset.
    fn b64_member_rules_out(&mut self, k: usize, t: &B64Member, buf: &mut Vec<u8>, bits: &mut [u64]) -> bool {
        let span = match self.src_lists.items.get(k) {
            Some(Item { value: Val::Arena(s), pf, .. }) if *pf != super::collect::NO_PF => *s,
            _ => return false,
        };
        if (span.len as usize) < t.short {
            return true;
        }
        // an earlier transaction on this thread may have tested the same bytes (`memo`)
        let tag = t.memo_tag.filter(|_| self.engine.scan_memo);
        let mut hash = None;
        if let (Some(tag), Some(key)) = (tag, super::arena_bytes(&self.arena, span)) {
            match super::memo::get_word(self.engine.memo_id, self.memo_stride(), tag, key) {
                Ok(word) => {
                    self.stats.memo_hits += 1;
                    return word == 1;
                }
                Err(super::memo::Miss::Absent(h)) => {
                    self.stats.memo_misses += 1;
                    hash = Some(h);
                }
                Err(super::memo::Miss::TooLong) => {}
            }
        }
        let out = self.b64_member_test(k, t, buf, bits);
        if let (Some(tag), Some(key)) = (tag, super::arena_bytes(&self.arena, span)) {
            super::memo::put(self.engine.memo_id, self.memo_stride(), tag, key, hash, &[out as u64]);
        }
        out
    }

    /// [`Self::b64_member_rules_out`] past its memo: the test itself.
    fn b64_member_test(&mut self, k: usize, t: &B64Member, buf: &mut Vec<u8>, bits: &mut [u64]) -> bool {
        let words = bits.len();
        let (span, off) = match self.src_lists.items.get(k) {
            Some(Item { value: Val::Arena(s), pf, .. }) if *pf != super::collect::NO_PF => (*s, *pf as usize),
            _ => return false,
        };
        // the bytes the value holds (its untransformed entry), for the steps before the cut
        let Some(p) = self.pf_bits.get(off + words..off + words + 4) else { return false };
        let raw = [p[0], p[1], p[2], p[3]];
        let formed = match t.pre.is_identity_on(&raw) {
            true => None,
            false => match self.transform(&Val::Arena(span), t.pre_id, t.pre) {
                super::eval::TVal::Same => None,
                super::eval::TVal::Cache(c) => Some(c),
                super::eval::TVal::Owned(_) => return false,
            },
        };
        // the decoded value itself, scanned by an earlier gate (another rule's chain, same steps' input)
        let cached = match formed {
            None => self.pf_cache.get(&(span, B64_OF_VALUE)).map(|o| *o as usize),
            Some(_) => None,
        };
        let x = match formed {
            None => self.get(span),
            Some(c) => self.cache_form(c),
        };
        let pf = &self.engine.rules.prefilter;
        // whether `buf` holds `d` (else `d` is `x`: the step handed its input back); `has`: `d` meets the need;
        // `present`: the bytes `d` holds
        let mut decoded = false;
        let (has, present) = match cached {
            Some(at) => match (self.pf_bits.get(at..at + words), self.pf_bits.get(at + words..at + words + 4)) {
                (Some(w), Some(p)) => (prefilter::has(w, t.id), [p[0], p[1], p[2], p[3]]),
                _ => return false,
            },
            None => {
                if crate::transforms::base64_decoded_len(x) < t.min_len {
                    return true;
                }
                buf.clear();
                decoded = crate::transforms::base64_decode_into(x, buf);
                let present = pf.scan(if decoded { buf } else { x }, bits);
                (prefilter::has(bits, t.id), present)
            }
        };
        if has {
            return false;
        }
        if !t.post.iter().all(|p| p.rules_out(&present, false)) {
            // the bytes of `d` do not rule every later form out: make the forms and scan them
            if cached.is_some() {
                buf.clear();
                decoded = crate::transforms::base64_decode_into(x, buf);
            }
            if !forms_after_rule_out(pf, if decoded { buf } else { x }, t.after, t.id) {
                return false;
            }
        }
        if cached.is_none() && formed.is_none() {
            // for the next gate decoding this value (its bitset, then the bytes it holds)
            let o = self.pf_bits.len();
            self.pf_bits.extend_from_slice(bits);
            self.pf_bits.extend_from_slice(&present);
            self.pf_cache.insert((span, B64_OF_VALUE), o as u32);
        }
        true
    }

    /// Runs the summary tests of every member of `batch` (whose summary `gate`'s is) on the summary, and
    /// records in the batch's words which ones it rules out. Cold: once per batch and phase.
    #[inline(never)]
    fn test_batch(&mut self, gate: &Gate, batch: &crate::rule::GateBatch) {
        let s = match self.gate_cache.get(batch.summary as usize) {
            Some(c) if *c != 0 => *c,
            _ => self.summarise(gate),
        };
        let base = batch.number as usize;
        self.gate_cache[base] = 1;
        if s < 2 {
            return;
        }
        let (words, at) = (self.engine.rules.prefilter.words(), s as usize - 2);
        let Some((raw, present)) = self.pf_bits.get(at..at + words + 4).map(|s| s.split_at(words)) else {
            return;
        };
        let present = [present[0], present[1], present[2], present[3]];
        for (k, (id, tests)) in batch.members.iter().enumerate() {
            let raw_has = prefilter::has(raw, *id);
            let out = tests.iter().all(|t| match t {
                SummaryTest::Raw => !raw_has,
                SummaryTest::Pre(p) => p.rules_out(&present, raw_has),
            });
            if out {
                if let Some(w) = self.gate_cache.get_mut(base + 1 + k / 32) {
                    *w |= 1 << (k % 32);
                }
                // the walk passes over the rule (`Transaction::gate_closed`)
                if let Some(r) = batch.rules.get(k).map(|r| *r as usize) {
                    if let Some(w) = self.gate_closed.get_mut(r / 64) {
                        *w |= 1 << (r % 64);
                    }
                }
            }
        }
    }

    /// Do the gate's sources together rule its bit out under every chain, from their summary (the OR of their
    /// untransformed unions and of the bytes their members hold)? Exact: a bit unset in the OR is unset in
    /// each untransformed union, and a preimage disjoint from the bytes all members hold is disjoint from each
    /// source's, so each union, tested on its own (`preimage_rules_out`) or computed, would be closed.
    #[inline]
    fn summary_rules_out(&mut self, gate: &Gate, tests: &[SummaryTest]) -> bool {
        let s = match self.gate_cache.get(gate.summary as usize) {
            Some(c) if *c != 0 => *c,
            _ => self.summarise(gate),
        };
        if s < 2 {
            return false;
        }
        let (words, at) = (self.engine.rules.prefilter.words(), s as usize - 2);
        let Some((raw, present)) = self.pf_bits.get(at..at + words + 4).map(|s| s.split_at(words)) else {
            return false;
        };
        let raw_has = prefilter::has(raw, gate.prefilter_id);
        let present = [present[0], present[1], present[2], present[3]];
        tests.iter().all(|t| match t {
            SummaryTest::Raw => !raw_has,
            SummaryTest::Pre(p) => p.rules_out(&present, raw_has),
        })
    }

    /// Computes the gate's summary into its slot (every source's untransformed union first): the OR of those
    /// unions followed by the OR of the bytes their members hold, the layout of one untransformed union; 1
    /// (inconclusive) when one of them is. When the phase has computed the summary of a subset of the sources
    /// (`Gate::summary_parent`), that entry stands for the subset's unions (see the module doc).
    fn summarise(&mut self, gate: &Gate) -> u32 {
        let words = self.engine.rules.prefilter.words();
        let mut bases = [0u32; 16];
        let n = gate.sources.len();
        if n > bases.len() {
            return 1;
        }
        // a summary over a subset of the sources, computed earlier in the phase (`Gate::summary_parent`): it
        // stands for its sources' unions, and only the others are computed and ORed in
        let parent = gate
            .summary_parent
            .and_then(|(p, rest)| Some((self.gate_cache.get(p as usize).copied().filter(|c| *c != 0)?, rest)));
        let rest = parent.map_or(u32::MAX, |(_, rest)| rest);
        // one union per source (those of the first chain), each naming its source's untransformed number
        for u in gate.unions.iter().filter(|u| u.chain == gate.chains[0]) {
            if rest & (1 << u.source) == 0 {
                continue;
            }
            let Some(t) = gate.targets.get(u.source as usize) else { return 1 };
            let b = self.union_in_slot(t, UNTRANSFORMED, u.base as usize, u.base as usize);
            if let Some(slot) = bases.get_mut(u.source as usize) {
                *slot = b;
            }
        }
        let slot = gate.summary as usize;
        if n == 1 {
            return self.gate_cache.get(slot).copied().unwrap_or(1);
        }
        // the entries ORed: the parent's (the OR of its sources' unions, or 1 when one of them is
        // inconclusive, and so this summary too) and the other sources' unions, or every source's
        let mut entries = [0u32; 17];
        let mut m = 0;
        if let Some((p, _)) = parent {
            entries[0] = p;
            m = 1;
        }
        for (k, b) in bases[..n].iter().enumerate() {
            if rest & (1 << k) != 0 {
                entries[m] = *b;
                m += 1;
            }
        }
        let s = if m >= 1 && entries[..m].iter().all(|b| *b >= 2) {
            // the first entry copied, the others ORed into it
            let (off, len) = (self.pf_bits.len(), words + 4);
            let first = entries[0] as usize - 2;
            if first + len > off {
                return 1;
            }
            self.pf_bits.extend_from_within(first..first + len);
            let (done, or) = self.pf_bits.split_at_mut(off);
            for b in &entries[1..m] {
                let at = *b as usize - 2;
                if let Some(e) = done.get(at..at + len) {
                    prefilter::or_into(or, e);
                }
            }
            off as u32 + 2
        } else {
            1
        };
        if let Some(c) = self.gate_cache.get_mut(slot) {
            *c = s;
        }
        s
    }

    /// Does the preimage `pre` of a union rule bit `id` out, from the bytes the members of `src` hold (kept
    /// after the untransformed union, computed here if not yet) and whether their untransformed scans set
    /// `id`? Exact: `prefilter::preimage` proves that no member's transformed form then meets the condition,
    /// so the union, had it been computed, would lack the bit.
    #[inline]
    fn preimage_rules_out(&mut self, pre: &prefilter::preimage::Preimage, src: &Target, base: usize, id: u32) -> bool {
        let b = match self.gate_cache.get(base) {
            Some(c) if *c != 0 => *c,
            _ => self.union_in_slot(src, UNTRANSFORMED, base, base),
        };
        if b < 2 {
            return false;
        }
        let (words, at) = (self.engine.rules.prefilter.words(), b as usize - 2);
        let Some((raw, present)) = self.pf_bits.get(at..at + words + 4).map(|s| s.split_at(words)) else {
            return false;
        };
        let present = [present[0], present[1], present[2], present[3]];
        pre.rules_out(&present, prefilter::has(raw, id))
    }

    /// The union of `src` under `chain_id`, cached in the phase's `gate_cache[slot]`: 0 = not computed yet
    /// (the cache is cleared when a phase starts), 1 = inconclusive, 2 + offset = the union's bitset in
    /// `pf_bits`. When the chain leaves every member as it is up to case (none holds a trigger byte: the
    /// untransformed union records the bytes its members hold), it is the untransformed union (`base`).
    #[inline]
    fn union_in_slot(&mut self, src: &Target, chain_id: ChainId, slot: usize, base: usize) -> u32 {
        // `gate_open` sized the cache to the gate's highest number: a slot out of it is only inconclusive. Most
        // calls find their union computed (a summary reads every source's): answered inline
        match self.gate_cache.get(slot) {
            Some(c) if *c != 0 => *c,
            Some(_) => self.compute_union(src, chain_id, slot, base),
            None => 1,
        }
    }

    /// [`Self::union_in_slot`] for a union not computed yet in this phase.
    #[inline(never)]
    fn compute_union(&mut self, src: &Target, chain_id: ChainId, slot: usize, base: usize) -> u32 {
        let words = self.engine.rules.prefilter.words();
        let engine = Arc::clone(&self.engine);
        let chain = &engine.rules.chains[chain_id as usize];
        if chain_id != UNTRANSFORMED {
            let b = self.union_in_slot(src, UNTRANSFORMED, base, base);
            let at = b as usize;
            let present = (b >= 2).then(|| self.pf_bits.get(at - 2 + words..at - 2 + words + 4)).flatten();
            if let Some(p) = present {
                if chain.keeps_up_to_case(&[p[0], p[1], p[2], p[3]]) {
                    if let Some(c) = self.gate_cache.get_mut(slot) {
                        *c = b;
                    }
                    return b;
                }
            }
        }
        let u = self.union_of(src, chain_id, base).map_or(1, |off| off + 2);
        if let Some(c) = self.gate_cache.get_mut(slot) {
            *c = u;
        }
        u
    }

    /// ORs the bitsets of every member of `src` under chain `chain_id` into a new `pf_bits` entry (for the
    /// untransformed chain followed, like a value's entry, by the bytes the members hold); `None` when a
    /// member is not an arena value (nothing can be concluded then). The untransformed union (`base` its
    /// number) records the source's member list; the other chains' unions read it when it is there.
    fn union_of(&mut self, t: &Target, chain_id: ChainId, base: usize) -> Option<u32> {
        let engine = Arc::clone(&self.engine);
        let chain = &engine.rules.chains[chain_id as usize];
        let words = engine.rules.prefilter.words();
        let mut acc = std::mem::take(&mut self.gate_scratch);
        acc.clear();
        acc.resize(words, 0);
        let listed = (chain_id != UNTRANSFORMED)
            .then(|| self.src_lists.at.get(base).copied())
            .flatten()
            .filter(|_| self.gate_cache.get(base).is_some_and(|b| *b >= 2));
        let mut items = std::mem::take(&mut self.src_lists.items);
        let ok = match listed {
            Some((start, end)) => match items.get(start as usize..end as usize) {
                Some(i) => self.union_from_list(i, chain_id, chain, &mut acc),
                None => false,
            },
            None => {
                let start = items.len();
                self.members(t, super::collect::Excl(None), &mut items);
                let ok = self.union_walk(&mut items[start..], chain_id, chain, &mut acc);
                // only the untransformed union's walk keeps its members (as the source's list); a walk that
                // failed (a member outside the arena) keeps none
                if chain_id == UNTRANSFORMED && ok {
                    let at = &mut self.src_lists.at;
                    if at.len() <= base {
                        at.resize(base + 1, (0, 0));
                    }
                    at[base] = (start as u32, items.len() as u32);
                } else {
                    items.truncate(start);
                }
                ok
            }
        };
        self.src_lists.items = items;
        let off = self.pf_bits.len() as u32;
        if ok {
            self.pf_bits.extend_from_slice(&acc[..words]);
            if chain_id == UNTRANSFORMED {
                self.pf_bits.extend_from_slice(&acc[words..words + 4]);
            }
        }
        self.gate_scratch = acc;
        ok.then_some(off)
    }

    /// [`Self::union_of`] over members just collected (`items`): each member's untransformed entry looked up
    /// (scanned if new) and its offset written to its `Item::pf`; `acc` gets the OR of their
    /// bitsets under the chain, followed (in 4 more words) by the OR of the bytes they hold. `false` when a
    /// member is not an arena value or has no bitset.
    fn union_walk(
        &mut self,
        items: &mut [Item],
        chain_id: ChainId,
        chain: &TransformChain,
        acc: &mut Vec<u64>,
    ) -> bool {
        let words = acc.len();
        let mut present = [0u64; 4];
        let mut ok = true;
        for item in items {
            if !matches!(item.value, Val::Arena(_)) {
                ok = false;
                break;
            }
            let Some((off, p)) = self.untransformed_at(item) else {
                ok = false;
                break;
            };
            item.pf = off as u32;
            // a value the chain can change only in letter case has its untransformed bitset: no need to
            // transform it (`TransformChain::triggers`)
            let at = if chain.keeps_up_to_case(&p) {
                for (a, b) in present.iter_mut().zip(p) {
                    *a |= b;
                }
                PfBits::At(off)
            } else {
                self.transformed_entry(item, chain_id, chain)
            };
            let bits = match at {
                PfBits::At(o) => self.pf_bits.get(o..o + words),
                PfBits::Scratch => None,
            };
            let Some(bits) = bits else {
                ok = false;
                break;
            };
            prefilter::or_into(acc, bits);
        }
        acc.extend_from_slice(&present);
        ok
    }

    /// A union member's entry under a chain that may change it: this transaction's or the memo's
    /// ([`Self::memo_entry`], with no transformation), else its transformation's scan.
    fn transformed_entry(&mut self, item: &Item, chain_id: ChainId, chain: &TransformChain) -> PfBits {
        if let Val::Arena(span) = item.value {
            if let Some(off) = self.memo_entry(span, chain_id) {
                return PfBits::At(off);
            }
        }
        let tv = self.transform(&item.value, chain_id, chain);
        let at = self.pf_bits_of(item, &tv, chain_id);
        self.memo_missed(item, chain_id, at);
        at
    }

    /// After a look-up of the arena value `item` under `chain_id` missed the memo and the value was
    /// transformed and its entry found (`at`), memoises that entry under the key that missed: the scan
    /// stored it under the value's untransformed key when the form equals the value up to case, or found it
    /// in this transaction's caches, and the next look-up asks for this key again.
    pub(crate) fn memo_missed(&mut self, item: &Item, chain_id: ChainId, at: PfBits) {
        if let (Some((s, c, _)), Val::Arena(span), PfBits::At(off)) = (self.memo_miss, &item.value, at) {
            if (s, c) == (*span, chain_id) {
                self.memo_store(s, c, off);
            }
        }
    }

    /// [`Self::union_of`] over a source's recorded list (`items`): the same per-member steps as
    /// [`Self::union_walk`], each member's untransformed entry read at its recorded offset.
    fn union_from_list(&mut self, items: &[Item], chain_id: ChainId, chain: &TransformChain, acc: &mut [u64]) -> bool {
        let words = acc.len();
        for item in items {
            if item.pf == super::collect::NO_PF {
                return false;
            }
            let off = item.pf as usize;
            let Some(p) = self.pf_bits.get(off + words..off + words + 4) else {
                return false;
            };
            let at = if chain.keeps_up_to_case(&[p[0], p[1], p[2], p[3]]) {
                off
            } else {
                match self.transformed_entry(item, chain_id, chain) {
                    PfBits::At(o) => o,
                    PfBits::Scratch => return false,
                }
            };
            let Some(bits) = self.pf_bits.get(at..at + words) else {
                return false;
            };
            prefilter::or_into(acc, bits);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use crate::Engine;
    use std::sync::Arc;

    /// A GET of `uri` with an `Accept` header through phases 1 and 2: the rule that intervened, if one did,
    /// and the transaction's evaluation counters.
    fn get(engine: &Arc<Engine>, uri: &str) -> (Option<u32>, crate::transaction::EvalStats) {
        let mut tx = engine.transaction(crate::fold::tests::info());
        tx.request_line("GET", uri, "HTTP/1.1");
        tx.request_header(b"Accept", b"application/json");
        let _ = tx.process_request_headers();
        let iv = tx.process_request_body().map(|iv| iv.rule_id);
        (iv, tx.stats())
    }

    /// A `@validateByteRange` link is ruled out from the bytes its sources hold (`Link::byte_out`) only when
    /// none could decode to a byte outside the range: a `%` keeps it evaluated (and `%00` matches), a plain
    /// request skips it. Mutants: a `byte_out` without the chain's preimage (`%` not in it) misses `%00`;
    /// no `byte_out` fails the skip count.
    #[test]
    fn validate_links_are_ruled_out_from_the_bytes_their_sources_hold() {
        let rules = r#"SecRuleEngine On
SecRule ARGS|REQUEST_HEADERS "@rx attack" "id:1,phase:2,pass,nolog"
SecRule ARGS|REQUEST_HEADERS "@validateByteRange 1-255" "id:2,phase:2,deny,status:403,t:none,t:urlDecodeUni"
"#;
        let engine = Arc::new(Engine::from_str(rules, "t.conf").expect("rules load"));
        let run = |uri: &str| {
            let (iv, stats) = get(&engine, uri);
            (iv, stats.prefilter_skips)
        };
        let (plain, skips) = run("/a?q=hello");
        assert_eq!(plain, None);
        assert!(skips >= 1, "the link was ruled out before evaluation");
        assert_eq!(run("/a?q=he%00llo").0, Some(2), "a %-encoded NUL still matches");
        assert_eq!(run("/a?q=100%25").0, None, "a % that decodes to a byte in range does not");
    }

    /// `multiMatch` links whose chains decode base64 are gated (`Gate::b64`): a request whose long values
    /// decode to nothing they need evaluates neither rule, and every way an encoded payload reaches the
    /// operator still matches: decoded as it is (2), made by a step after the decoding (3: `%61` is `a`), behind
    /// a step before it (4: the space `removeWhitespace` drops), or both (5). Rule 1 goes first and leaves its
    /// scan of each value's decoding for rule 2 (3 reads it). Mutants: decoding the value instead of its form
    /// before the cut misses 4 and 5; leaving out the forms after the cut misses 3 and 5; no `b64` test (the
    /// unions alone) closes the gate on 2.
    #[test]
    fn base64_multimatch_links_are_gated_and_encoded_payloads_still_match() {
        let rules = r#"SecRuleEngine On
SecRule ARGS "@rx foo" "id:1,phase:2,deny,status:403,multiMatch,t:none,t:base64Decode"
SecRule ARGS "@rx eval\(" "id:2,phase:2,deny,status:403,multiMatch,t:none,t:urlDecodeUni,t:removeWhitespace,t:base64Decode,t:urlDecodeUni"
"#;
        let engine = Arc::new(Engine::from_str(rules, "t.conf").expect("rules load"));
        let run = |uri: &str| {
            let (iv, stats) = get(&engine, uri);
            (iv, stats.rules)
        };
        let benign = run("/a?password=CorrectHorseBatteryStaple2024&device=4f6c0d2e8b1a4c7d9e3f5a6b7c8d9e0f&n=hi");
        assert_eq!(benign, (None, 0), "both gates closed");
        assert_eq!(run("/a?q=Zm9v").0, Some(1));
        assert_eq!(run("/a?q=ZXZhbCgxKQ%3D%3D").0, Some(2), "eval(1) encoded");
        assert_eq!(run("/a?q=ZXYlNjFsKDEp").0, Some(2), "ev%61l(1) encoded");
        assert_eq!(run("/a?q=ZXZh%20bCgxKQ%3D%3D").0, Some(2), "eval(1) encoded, a space inside");
        assert_eq!(run("/a?q=ZXYl%20NjFsKDEp").0, Some(2), "ev%61l(1) encoded, a space inside");
    }
}
