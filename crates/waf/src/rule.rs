//! The compiled rule model: what the evaluator walks. Built once by `seclang::compile`, never mutated or
//! cloned per request.

use crate::actions::{Action, Disruptive};
use crate::error::Location;
use crate::macros::Macro;
use crate::operators::Operator;
use crate::transforms;
use crate::variables::Target;
use std::fmt;

/// One `t:` chain, interned: rules with the same chain share its id, so the per-transaction
/// transformation cache is shared between them.
pub struct TransformChain {
    pub names: Vec<String>,
    pub steps: Vec<transforms::Transform>,
    /// The longest proper prefix of `steps` that is itself an interned chain, and its length: a value whose
    /// prefix result another rule already cached is finished from there (CRS's chains share long prefixes
    /// such as `t:utf8toUnicode,t:urlDecodeUni,t:htmlEntityDecode`). Set by [`link_prefixes`].
    pub prefix: Option<(ChainId, usize)>,
    /// Bytes without which the chain changes a value at most in letter case (`transforms::triggers`);
    /// `None` when a step rewrites every value.
    pub triggers: Option<[u64; 4]>,
    /// The first `base64Decode` step after which every step never lengthens its input
    /// (`Transform::never_lengthens`): every form from it on is at most as long as that step's output
    /// (`transforms::base64_decoded_len` of its input), so an operator that needs a longer input need not
    /// see them (`Transaction::multi_forms_for`).
    pub base64_cut: Option<usize>,
}

impl TransformChain {
    pub fn new(names: Vec<String>, steps: Vec<transforms::Transform>) -> TransformChain {
        let triggers = if steps.is_empty() { None } else { transforms::triggers::chain_triggers(&steps) };
        let base64_cut = steps
            .iter()
            .position(|s| s.name == "base64Decode")
            .filter(|b| steps.iter().skip(b + 1).all(transforms::Transform::never_lengthens));
        TransformChain { names, steps, prefix: None, triggers, base64_cut }
    }

    /// Does the chain leave a value holding the bytes `present` as it is, up to ASCII letter case?
    /// (`false`: it may not; compute it.)
    pub fn keeps_up_to_case(&self, present: &[u64; 4]) -> bool {
        match &self.triggers {
            Some(t) => transforms::triggers::none_of(t, present),
            None => self.steps.is_empty(),
        }
    }

    /// Does every step hand back, borrowed and whole, a value whose bytes other than letters are `present`
    /// (`transforms::Transform::is_identity_on`)? Then the value is the chain's output and its only
    /// `multiMatch` form.
    pub fn is_identity_on(&self, present: &[u64; 4]) -> bool {
        self.steps.iter().all(|s| s.is_identity_on(present))
    }
}

/// Sets every chain's [`TransformChain::prefix`] (called once at load, after all chains are interned).
/// The first `rule_chains` chains are the rules' own and link only among themselves; the ones after them,
/// interned for the gates of `multiMatch` links (`Gate::chains`), link to any. A rule's chain then keeps the
/// prefix it shares with other rules' chains: a gate-only prefix would be longer but mostly not cached, and a
/// chain whose prefix is not cached starts from its first step.
pub fn link_prefixes(chains: &mut [TransformChain], rule_chains: usize) {
    let key = |c: &TransformChain, k: usize| c.steps[..k].iter().map(|s| s.name).collect::<Vec<_>>();
    let mut ids: std::collections::HashMap<Vec<&'static str>, ChainId> = std::collections::HashMap::new();
    let mut own: std::collections::HashMap<Vec<&'static str>, ChainId> = std::collections::HashMap::new();
    for (i, c) in chains.iter().enumerate() {
        ids.entry(key(c, c.steps.len())).or_insert(i as ChainId);
        if i < rule_chains {
            own.entry(key(c, c.steps.len())).or_insert(i as ChainId);
        }
    }
    for (i, c) in chains.iter_mut().enumerate() {
        let ids = if i < rule_chains { &own } else { &ids };
        c.prefix = (1..c.steps.len()).rev().find_map(|k| ids.get(&key(c, k)).map(|id| (*id, k)));
    }
}

impl fmt::Debug for TransformChain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t:{}", self.names.join(",t:"))
    }
}

/// Index into `RuleSet::chains`. Chain 0 is always the empty chain.
pub type ChainId = u32;

/// One `SecRule`/`SecAction` of a chain: targets, operator, transformations, per-match actions.
#[derive(Debug)]
pub struct Link {
    pub targets: Vec<Target>,
    pub op_name: String,
    /// The operator's parameter as written (after `@name `): the fold pass reads which variables an
    /// operand macro (`@lt %{tx.max}`) expands.
    pub op_param: String,
    pub op: Box<dyn Operator>,
    pub negated: bool,
    pub transforms: ChainId,
    pub multi_match: bool,
    pub capture: bool,
    /// Non-disruptive actions run for every matching value (setvar, ctl, initcol...).
    pub actions: Vec<Action>,
    pub loc: Location,
    /// Per target: the gate cache number of the untransformed union of the gate source whose members are
    /// exactly the target's (the whole variable, or its one key), or `u32::MAX` when no gate reads that
    /// source (or the target excludes, counts, or picks keys by pattern). While the phase's cache holds
    /// that union, the target's members are the source's member list (`gate::SourceLists`). Set at load
    /// (`number_gate_slots`).
    pub sources: Vec<u32>,
    /// Bit `k` set: target `k` (of the first 64) is not an exclusion and no `!VAR:key` of the link names its
    /// variable, so collecting it needs no test of the link's exclusions. A clear bit says nothing (0 until
    /// set at load by `number_gate_slots`): the collector then looks at the link's targets.
    pub unexcluded: u64,
    /// For a non-negated `multiMatch` link whose chain has a `base64_cut` and whose operator has need bytes
    /// (`Operator::need_bytes`): the raw bytes from which the steps after the cut could make one of them
    /// (`transaction::post_cut_bytes`). A decoded text holding none has no later form the operator could
    /// match (`Transaction::multi_forms_for`). Set at load (`transaction::set_post_cut_bytes`).
    pub post_cut: Option<[u64; 4]>,
    /// For a non-negated, non-`multiMatch` link whose operator has need bytes but no prefilter id (the
    /// `@validate*` operators), every one of whose targets reads a gate source (`sources`): the raw bytes
    /// without which no value comes out of the link's chain holding a need byte
    /// (`prefilter::preimage::byte_preimage`). When the bytes the sources' members hold (their untransformed
    /// unions) include none, the link cannot match and is not evaluated (`Transaction::sources_rule_out`).
    /// Set at load (`transaction::set_byte_outs`).
    pub byte_out: Option<[u64; 4]>,
    /// For a link whose one target is `TX:<key>`: the key's hash in every transaction's `TX` table
    /// (`transaction::tx_hash`), so the `TX` link shortcut looks the key up without hashing it per request.
    /// Set at load, after target updates (`transaction::set_tx_key_hashes`).
    pub tx_key_hash: Option<u64>,
}

/// Logging metadata of a rule (from the chain starter).
#[derive(Debug, Default)]
pub struct Meta {
    pub msg: Option<Macro>,
    pub logdata: Option<Macro>,
    pub severity: Option<u8>,
    pub tags: Vec<String>,
    pub ver: Option<String>,
    pub rev: Option<String>,
    pub maturity: Option<u8>,
    pub accuracy: Option<u8>,
    /// The parts of this rule's match records that never change (tags, `ver`, the rule file's text), built at
    /// its first match and shared by every [`crate::RuleMatch`] of it (`transaction::log`).
    pub shared_log: std::sync::OnceLock<crate::transaction::SharedLog>,
}

/// What the rule walk (`Transaction::run_rules`) reads of a rule at every visit, kept apart from the rule:
/// one per rule of a phase, in the phase's order (`RuleSet::steps`). A rule is about 500 bytes; its step is 12,
/// so the walk passes a rule it does not evaluate (a fold verdict, most CRS rules at paranoia level 1 on a
/// benign request) without loading the rule's cache lines. That matters in the gateway, where a request's
/// network and proxy work evict much of what the previous transaction touched (the engine bench's `_cold`
/// cases). Built by [`Step::table`] after every load pass that sets what it copies (gates, fold verdicts).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Step {
    /// The rule's id (removals and target exclusions are looked up by it).
    pub id: u32,
    /// Where the walk goes on after the rule matched with no disruptive action: its `skipAfter` marker's
    /// index, or the index after the rules its `skip` passes over.
    pub next: u32,
    /// The rule's fold verdict (`Rule::folded`).
    pub folded: Folded,
    /// The rule has a gate (`Rule::gate`).
    pub gated: bool,
}

/// A rule's load-time verdict as the walk takes it (`Rule::folded`, `crate::fold`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Folded {
    /// No verdict: the rule is evaluated.
    #[default]
    No,
    /// The rule never matches.
    Never,
    /// The rule always matches and has nothing to run: no action on any link, no severity.
    Always,
    /// The rule always matches and runs its links' actions or sets its severity (`Transaction::take_always`).
    AlwaysActs,
}

impl Step {
    /// The steps of a phase's rules, in order.
    pub fn table(rules: &[Rule]) -> Vec<Step> {
        rules
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let acts = r.meta.severity.is_some() || r.links.iter().any(|l| !l.actions.is_empty());
                Step {
                    id: r.id,
                    next: r.skip_after.unwrap_or(i + 1 + r.skip as usize) as u32,
                    folded: match r.folded {
                        None => Folded::No,
                        Some(false) => Folded::Never,
                        Some(true) if acts => Folded::AlwaysActs,
                        Some(true) => Folded::Always,
                    },
                    gated: r.gate.is_some(),
                }
            })
            .collect()
    }
}

/// A rule (a chain starter with its chained links).
#[derive(Debug)]
pub struct Rule {
    pub id: u32,
    pub phase: u8,
    pub links: Vec<Link>,
    pub meta: Meta,
    /// Resolved disruptive action (`block` and "none" already replaced by SecDefaultAction's).
    pub disruptive: Disruptive,
    /// The rule wrote `block` (for logs).
    pub is_block: bool,
    pub status: Option<u16>,
    pub skip: u32,
    /// Index in the phase's rule array to continue at after a match (`skipAfter`), resolved at load.
    pub skip_after: Option<usize>,
    pub log: bool,
    pub auditlog: bool,
    pub loc: Location,
    /// Set at load when the rule can be skipped without building its targets (`transaction::gate`).
    pub gate: Option<Gate>,
    /// Set at load when the first link's targets read only request/response data fixed within a phase:
    /// the id of that target list, interned (rules with the same list share it), so the values are
    /// collected once per phase and reused (`Transaction::list_cache`).
    pub target_list: Option<u32>,
    /// Set at load when the rule's outcome is fixed by the rule set (`crate::fold`): `Some(false)` it can
    /// never match, `Some(true)` it always matches (its `setvar`s and severity run, `Transaction::take_always`,
    /// then its `skip`/`skipAfter`). Used only while the transaction's initialisation prefix ran intact
    /// (`Transaction::fold_ok`).
    pub folded: Option<bool>,
    /// A later `SecRuleUpdateTargetBy*` added or replaced targets of this rule, or a `SecRuleUpdateActionById`
    /// changed its transformations: it reads more, or other forms, than its own text says. A rule that stands
    /// in for others (the built-in pack's gates) is only exact while none of those is rewritten
    /// (`Engine::rewritten_rules`).
    pub rewritten: bool,
}

/// A rule whose first link is a prefiltered `@rx` over request data that does not change within a
/// phase: if no value of its variables (all keys, or the one key a target selects; transformed by its chain,
/// or for a `multiMatch` link by every prefix of it) contains one of the regex's required literals, the rule
/// cannot match, and the evaluator skips it before collecting any value.
#[derive(Debug, Clone)]
pub struct Gate {
    pub prefilter_id: u32,
    /// The chains whose results the link's operator reads: its own chain for a plain link; for a `multiMatch`
    /// link the empty chain and every non-empty prefix of its chain (each interned), as the operator runs on
    /// the value as extracted and after every step that changed it.
    pub chains: Vec<ChainId>,
    /// The variables of the first link's (non-excluding) targets, deduplicated.
    pub sources: Vec<GateSource>,
    /// Per source, the target whose members the union is taken over (all keys, or the selected key).
    pub targets: Vec<Target>,
    /// One entry per (source, chain): the unions whose OR decides the gate. Set by `number_gate_slots`.
    pub unions: Vec<GateUnion>,
    /// The dense number of the union over all of `sources` under `chains` (after every per-source number):
    /// rules with the same variables and chains share it, so a closed gate costs one lookup, not one per
    /// source. Set by `number_gate_slots`.
    pub group: u32,
    /// Another rule has the same group and the gate has more than one union: a closed gate records the
    /// group's OR for it. Set by `number_gate_slots`.
    pub shared: bool,
    /// The gate cache number of the sources' summary: the OR of their untransformed unions followed by the
    /// bytes all their members hold (shared by every gate over the same sources; the source's own
    /// untransformed number when there is one source). Set by `number_gate_slots`.
    pub summary: u32,
    /// A summary over a strict subset of `sources` (its gate cache number) and the mask of the sources
    /// (indexes into `sources`) outside that subset: when the phase computed that summary first, this one is
    /// it ORed with the other sources' untransformed unions, not every source's union ORed again (CRS's source
    /// sets nest: the same five variables, with a header or two more). The largest such subset; `None` when
    /// there is none, or one source. Set by `number_gate_slots`.
    pub summary_parent: Option<(u32, u32)>,
    /// Per chain of `chains`, how the summary alone can close it: `None` when some chain's union must be
    /// computed (a chain without a preimage), or the gate has one union (its own test is as cheap). Set at
    /// load, after the prefilter is built (`set_gate_preimages`).
    pub summary_tests: Option<Vec<SummaryTest>>,
    /// The summary batch this gate's summary tests belong to, and its index in it: the gates of one phase
    /// that share a summary are tested against it together, once, when the first of them is visited, so
    /// each later one costs one bit test (`Transaction::gate_open`). Set at load (`set_gate_preimages`).
    pub batch: Option<(std::sync::Arc<GateBatch>, u32)>,
    /// The highest gate cache number the gate reads or writes (its group's, or its batch's last word): one
    /// length test per call, none per number.
    pub top: u32,
    /// For a `multiMatch` link whose chain decodes base64 (`TransformChain::base64_cut`): the test of the forms
    /// from that step on, value by value; `chains` then holds only the prefixes before the step. `None` for
    /// every other gate.
    pub b64: Option<B64Test>,
}

/// How a gate rules out, value by value, the forms a `multiMatch` link reads from its chain's `base64Decode`
/// step on (`Transaction::b64_rules_out`). A union over those forms would decode and scan every member under
/// every later prefix (measured on the harness requests with CRS: 30 % more instructions per GET, 56 % more
/// per POST than evaluating 934100/934160);
/// this test decodes only the values long enough to decode to a match and scans each decoded text once, the
/// later steps' forms being ruled out from its bytes by their preimages.
#[derive(Debug, Clone)]
pub struct B64Test {
    /// The chain of the steps before the `base64Decode` step (its output is that step's input).
    pub pre: ChainId,
    /// The link's whole chain and the index of its `base64Decode` step (`TransformChain::base64_cut`).
    pub chain: ChainId,
    pub cut: usize,
    /// The operator refuses every input shorter than this (`Operator::min_match_len`).
    pub min_len: usize,
    /// Per non-empty prefix of the steps after the cut, the preimage of the gate's need through it; `None`
    /// when the need is unknown (nothing is ruled out). Set at load (`set_gate_preimages`).
    pub post: Option<Vec<crate::prefilter::preimage::Preimage>>,
}

/// The gates of one phase whose summary tests read the same summary (`Gate::batch`): their prefilter ids
/// and tests, in order. In the transaction's gate cache, number `number` says whether the batch was tested
/// in this phase (1) or not (0), and the words after it hold one bit per member: its summary rules it out.
#[derive(Debug)]
pub struct GateBatch {
    pub number: u32,
    /// The shared summary's gate cache number (`Gate::summary`).
    pub summary: u32,
    pub members: Vec<(u32, Vec<SummaryTest>)>,
    /// Per member, its rule's index in the phase: a member the test rules out is marked in the transaction's
    /// `gate_closed`, so the rule walk passes over it (and its closed neighbours) without visiting it.
    pub rules: Vec<u32>,
}

/// The gated rules of one phase that close when their sources are empty (no member, or, for a scalar
/// variable, one empty value), grouped by sources: when the phase's walk starts, each source is tested once
/// and every group whose sources are all empty is marked closed at once (`Transaction::gate_closed`), instead
/// of each gate testing its unions (`RuleSet::empty_closes`).
#[derive(Debug, Clone, Default)]
pub struct EmptyCloses {
    /// The phase's distinct sources of the groups (at most 64: bit `k` of a group's mask is source `k`).
    pub sources: Vec<GateSource>,
    /// Per group: the mask of its sources, and its rules' indexes in the phase as (word, bits) of
    /// `Transaction::gate_closed`.
    pub groups: Vec<(u64, Vec<(u32, u64)>)>,
}

/// How a gate's summary closes the unions of one chain over every source at once (`Gate::summary_tests`).
#[derive(Debug, Clone, Copy)]
pub enum SummaryTest {
    /// The untransformed chain: its unions are the untransformed ones, closed when the OR lacks the bit.
    Raw,
    /// A chain with a preimage: closed when the preimage rules the bit out from the bytes all the sources'
    /// members hold and whether any untransformed scan set the bit.
    Pre(crate::prefilter::preimage::Preimage),
}

/// One (source, chain) union of a gate.
#[derive(Debug, Clone, Copy)]
pub struct GateUnion {
    /// Index into `Gate::sources` / `Gate::targets`.
    pub source: u32,
    pub chain: ChainId,
    /// The dense number of this (source, chain) union in the transaction's gate cache (one vector index
    /// instead of a hash lookup per source and gated rule).
    pub slot: u32,
    /// The number of the source's untransformed union (source, chain 0), which every chain that leaves all
    /// of the source's values as they are (up to case) shares.
    pub base: u32,
    /// The raw bytes without which no member's transformed form can meet the gate's prefilter condition
    /// (`crate::prefilter::preimage`): tested against the bytes the untransformed union's members hold before
    /// this union is computed. `None` when the chain rewrites every value or the prefilter is not exact. Set
    /// at load, after the prefilter is built (`set_gate_preimages`).
    pub pre: Option<crate::prefilter::preimage::Preimage>,
}

/// One variable a gate takes the union over. `xml_attrs` tells `XML://@*` from `XML:/*`; `key` is the
/// selected key (lowercase, as `Selector::Key` holds it) when the target reads one key of a collection.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GateSource {
    pub var: crate::variables::Var,
    pub xml_attrs: bool,
    pub key: Option<String>,
}

impl Rule {
    pub fn has_tag(&self, tag: &str) -> bool {
        self.meta.tags.iter().any(|t| t.eq_ignore_ascii_case(tag))
    }
}

/// ModSecurity severity names, index = numeric severity.
pub const SEVERITIES: [&str; 8] = ["EMERGENCY", "ALERT", "CRITICAL", "ERROR", "WARNING", "NOTICE", "INFO", "DEBUG"];

/// Parses `severity:` given as a name or a number.
pub fn parse_severity(s: &str) -> Option<u8> {
    if let Ok(n) = s.trim().parse::<u8>() {
        return (n < 8).then_some(n);
    }
    SEVERITIES.iter().position(|n| n.eq_ignore_ascii_case(s.trim())).map(|p| p as u8)
}
