//! Turns directives into a [`RuleSet`]: rules merged with `SecDefaultAction`, chains assembled, removals
//! and target/action updates applied, then split into flat per-phase arrays with `SecMarker`/`skipAfter`
//! resolved to indices. Any error aborts the whole load.

use super::lexer::RawDirective;
use crate::actions::{self, ctl::in_ranges, ctl::parse_id_ranges, Disruptive, Draft, EngineMode};
use crate::error::{LoadError, Location};
use crate::operators::{self, BuildCtx};
use crate::regex_util::compile_rx;
use crate::rule::{ChainId, Link, Rule, TransformChain};
use crate::settings::{LimitAction, Settings};
use crate::transforms;
use crate::variables::{parse_targets, Target};
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// All rules, per phase (index 0 = phase 1), in evaluation order.
#[derive(Debug, Default)]
pub struct RuleSet {
    pub phases: [Vec<Rule>; 5],
    pub chains: Vec<TransformChain>,
    pub prefilter: crate::prefilter::Prefilter,
    /// Every rule id, sorted (resolves `ctl:ruleRemoveTargetById` ranges).
    pub ids: Vec<u32>,
    /// Lowercase tag → ids of rules carrying it (resolves `ctl:*ByTag` once, not per rule).
    pub tag_index: HashMap<String, Vec<u32>>,
    /// Static `msg` → rule ids (`ctl:*ByMsg`).
    pub msg_index: HashMap<String, Vec<u32>>,
    /// Some rule inspects `FILES_TMP_CONTENT`: only then are uploaded files' contents copied into a
    /// transaction (most rule sets, CRS included, never read them).
    pub reads_file_content: bool,
    /// What the load-time fold pass found (`crate::fold`); set by `Engine::build`.
    pub fold: crate::fold::FoldPlan,
    /// Per phase, the gated rules that close when their sources are empty, grouped by sources
    /// (`crate::transaction::empty_closes`).
    pub empty_closes: [crate::rule::EmptyCloses; 5],
    /// Per phase, what the rule walk reads of each rule (`crate::rule::Step`), parallel to `phases`. Rebuilt
    /// whenever a load pass changes what it copies (`RuleSet::index_steps`).
    pub steps: [Vec<crate::rule::Step>; 5],
    /// Per phase, (rule id, index in `phases`) sorted by id, built with `steps`: the rules a
    /// `ctl:ruleRemove*` names are found in it, so the walk need not ask of every rule whether it was removed.
    pub by_id: [Vec<(u32, u32)>; 5],
}

impl RuleSet {
    /// Ids of loaded rules within the inclusive ranges.
    pub fn ids_in(&self, ranges: &[(u32, u32)]) -> impl Iterator<Item = u32> + '_ {
        let ranges = ranges.to_vec();
        ranges.into_iter().flat_map(move |(a, b)| {
            let start = self.ids.partition_point(|x| *x < a);
            self.ids[start..].iter().copied().take_while(move |x| *x <= b)
        })
    }
}

impl RuleSet {
    /// Builds `steps` from `phases` (after compiling, and again after the fold pass set its verdicts).
    pub(crate) fn index_steps(&mut self) {
        self.steps = std::array::from_fn(|p| crate::rule::Step::table(&self.phases[p]));
        self.by_id = std::array::from_fn(|p| {
            let mut v: Vec<(u32, u32)> = self.phases[p].iter().enumerate().map(|(i, r)| (r.id, i as u32)).collect();
            v.sort_unstable();
            v
        });
    }

    /// Number of rules (chain starters).
    pub fn rule_count(&self) -> usize {
        self.phases.iter().map(Vec::len).sum()
    }
}

#[derive(Debug, Clone)]
struct DefaultAction {
    disruptive: Disruptive,
    status: Option<u16>,
    log: bool,
    auditlog: bool,
    transforms: Vec<String>,
}

impl Default for DefaultAction {
    fn default() -> Self {
        DefaultAction { disruptive: Disruptive::Pass, status: None, log: true, auditlog: true, transforms: Vec::new() }
    }
}

enum Entry {
    Rule { rule: Box<Rule>, skip_after: Option<String>, open_chain: bool },
    Marker(String),
}

struct Compiler {
    settings: Settings,
    defaults: [DefaultAction; 5],
    entries: Vec<Entry>,
    ids: HashSet<u32>,
    chains: Vec<TransformChain>,
    chain_ids: HashMap<Vec<String>, ChainId>,
    prefilter: std::cell::RefCell<crate::prefilter::PrefilterBuilder>,
    /// A `SecResponseBodyMimeType` was seen: later ones add to the list instead of replacing the default.
    mime_types_set: bool,
}

fn err(loc: &Location, id: Option<u32>, msg: impl Into<String>) -> LoadError {
    LoadError::syntax(loc, id, msg)
}

fn on_off(d: &RawDirective) -> Result<bool, LoadError> {
    match d.args.first().map(|s| s.to_ascii_lowercase()).as_deref() {
        Some("on") => Ok(true),
        Some("off") => Ok(false),
        _ => Err(err(&d.loc, None, format!("{} expects On or Off", d.name))),
    }
}

fn one_number(d: &RawDirective) -> Result<usize, LoadError> {
    d.args
        .first()
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| err(&d.loc, None, format!("{} expects a number", d.name)))
}

fn limit_action(d: &RawDirective) -> Result<LimitAction, LoadError> {
    match d.args.first().map(|s| s.to_ascii_lowercase()).as_deref() {
        Some("reject") => Ok(LimitAction::Reject),
        Some("processpartial") => Ok(LimitAction::ProcessPartial),
        _ => Err(err(&d.loc, None, format!("{} expects Reject or ProcessPartial", d.name))),
    }
}

/// Compiles directives (already include-expanded) into settings and a rule set.
pub fn compile(directives: Vec<RawDirective>) -> Result<(Settings, RuleSet), LoadError> {
    let mut c = Compiler {
        settings: Settings::default(),
        defaults: Default::default(),
        entries: Vec::new(),
        ids: HashSet::new(),
        chains: vec![TransformChain::new(Vec::new(), Vec::new())],
        chain_ids: HashMap::from([(Vec::new(), 0)]),
        prefilter: Default::default(),
        mime_types_set: false,
    };
    for d in &directives {
        c.directive(d)?;
    }
    if let Some(Entry::Rule { rule, open_chain: true, .. }) = c.entries.last() {
        return Err(err(&rule.loc, Some(rule.id), "rule ends with `chain` but no chained rule follows"));
    }
    c.finish()
}

impl Compiler {
    fn directive(&mut self, d: &RawDirective) -> Result<(), LoadError> {
        let name = d.name.to_ascii_lowercase();
        let s = &mut self.settings;
        match name.as_str() {
            "secrule" => self.sec_rule(d)?,
            "secaction" => self.sec_action(d)?,
            "secmarker" => {
                let m = d.args.first().ok_or_else(|| err(&d.loc, None, "SecMarker needs a name"))?;
                self.check_no_open_chain(d)?;
                self.entries.push(Entry::Marker(m.clone()));
            }
            "secdefaultaction" => self.default_action(d)?,
            "secruleengine" => {
                s.rule_engine = d
                    .args
                    .first()
                    .and_then(|a| EngineMode::parse(a))
                    .ok_or_else(|| err(&d.loc, None, "SecRuleEngine expects On, Off or DetectionOnly"))?
            }
            "secrequestbodyaccess" => s.request_body_access = on_off(d)?,
            "secresponsebodyaccess" => s.response_body_access = on_off(d)?,
            "secresponsebodymimetype" => {
                // ModSecurity semantics (and what Coraza documents): the first directive replaces the built-in
                // default, every further one adds, so a site's `text/plain` after the recommended config's
                // `text/plain text/html text/xml` does not stop HTML responses from being inspected.
                if !std::mem::replace(&mut self.mime_types_set, true) {
                    s.response_body_mime_types.clear();
                }
                for m in d.args.iter().flat_map(|a| a.split_whitespace()).map(|m| m.to_ascii_lowercase()) {
                    if !s.response_body_mime_types.contains(&m) {
                        s.response_body_mime_types.push(m);
                    }
                }
            }
            "secresponsebodymimetypesclear" => {
                s.response_body_mime_types.clear();
                self.mime_types_set = true;
            }
            "secrequestbodylimit" => s.request_body_limit = one_number(d)?,
            "secrequestbodylimitaction" => s.request_body_limit_action = limit_action(d)?,
            "secrequestbodynofileslimit" => s.request_body_no_files_limit = one_number(d)?,
            "secrequestbodyinmemorylimit" => s.request_body_in_memory_limit = one_number(d)?,
            "secresponsebodylimit" => s.response_body_limit = one_number(d)?,
            "secresponsebodylimitaction" => s.response_body_limit_action = limit_action(d)?,
            "secargumentslimit" => s.arguments_limit = one_number(d)?,
            "seccollectiontimeout" => s.collection_timeout_secs = one_number(d)? as u64,
            "seccomponentsignature" => s.component_signatures.extend(d.args.iter().cloned()),
            "secruleremovebyid" => {
                self.check_no_open_chain(d)?;
                let ranges = parse_id_ranges(&d.args.join(" ")).map_err(|e| err(&d.loc, None, e))?;
                self.entries.retain(|e| !matches!(e, Entry::Rule { rule, .. } if in_ranges(&ranges, rule.id)));
            }
            "secruleremovebytag" | "secruleremovebymsg" => {
                self.check_no_open_chain(d)?;
                let pat = d.args.first().ok_or_else(|| err(&d.loc, None, format!("{} needs a pattern", d.name)))?;
                let re = compile_rx(pat).map_err(|e| err(&d.loc, None, format!("bad pattern: {e}")))?;
                let by_tag = name == "secruleremovebytag";
                self.entries.retain(|e| match e {
                    Entry::Rule { rule, .. } if by_tag => !rule.meta.tags.iter().any(|t| re.is_match(t.as_bytes())),
                    Entry::Rule { rule, .. } => {
                        !rule.meta.msg.as_ref().and_then(|m| m.as_static()).is_some_and(|m| re.is_match(m))
                    }
                    Entry::Marker(_) => true,
                });
            }
            "secruleupdatetargetbyid" | "secruleupdatetargetbytag" | "secruleupdatetargetbymsg" => {
                self.update_target(d, &name)?
            }
            "secruleupdateactionbyid" => self.update_action(d)?,
            // accepted and stored: logging, audit, limits of other engines, paths
            "secauditengine"
            | "secauditlog"
            | "secauditlog2"
            | "secauditlogparts"
            | "secauditlogtype"
            | "secauditlogformat"
            | "secauditlogrelevantstatus"
            | "secauditlogstoragedir"
            | "secauditlogdirmode"
            | "secauditlogfilemode"
            | "secdebuglog"
            | "secdebugloglevel"
            | "secpcrematchlimit"
            | "secpcrematchlimitrecursion"
            | "secunicodemapfile"
            | "secunicodecodepage"
            | "sectmpdir"
            | "secdatadir"
            | "secuploaddir"
            | "secuploadkeepfiles"
            | "secuploadfilemode"
            | "secuploadfilelimit"
            | "secstatusengine"
            | "sectmpsaveuploadedfiles"
            | "seccookieformat"
            | "secargumentseparator"
            | "secserversignature"
            | "secwebappid"
            | "secsensorid"
            | "sechttpblkey"
            | "secgeolookupdb"
            | "secrequestbodyjsondepthlimit"
            | "secxmlexternalentity"
            | "secconnengine"
            | "secremoterules"
            | "secremoterulesfailaction"
            | "secruleperftime"
            | "secstreaminbodyinspection"
            | "secstreamoutbodyinspection"
            | "secinterceptonerror"
            | "sechashengine"
            | "sechashkey"
            | "sechashparam"
            | "sechashmethodrx"
            | "sechashmethodpm"
            | "secrequestbodyjsondepth"
            | "secrxprefilter" => {
                s.passthrough.push((d.name.clone(), d.args.clone()));
            }
            _ => return Err(err(&d.loc, None, format!("unknown directive {}", d.name))),
        }
        Ok(())
    }

    fn check_no_open_chain(&self, d: &RawDirective) -> Result<(), LoadError> {
        if let Some(Entry::Rule { rule, open_chain: true, .. }) = self.entries.last() {
            return Err(err(&d.loc, Some(rule.id), format!("{} inside a chain started by rule {}", d.name, rule.id)));
        }
        Ok(())
    }

    fn default_action(&mut self, d: &RawDirective) -> Result<(), LoadError> {
        let text = d.args.first().ok_or_else(|| err(&d.loc, None, "SecDefaultAction needs an action list"))?;
        let draft = actions::parse_actions(text).map_err(|e| err(&d.loc, None, e))?;
        let phase = draft.phase.ok_or_else(|| err(&d.loc, None, "SecDefaultAction must set a phase"))?;
        if draft.id.is_some() || draft.chain || draft.skip_after.is_some() || draft.meta.msg.is_some() {
            return Err(err(&d.loc, None, "SecDefaultAction may not contain id, chain, skipAfter or msg"));
        }
        let disruptive = draft
            .disruptive
            .clone()
            .ok_or_else(|| err(&d.loc, None, "SecDefaultAction must contain a disruptive action"))?;
        self.defaults[(phase - 1) as usize] = DefaultAction {
            disruptive,
            status: draft.status,
            log: draft.log.unwrap_or(true),
            auditlog: draft.auditlog.unwrap_or(true),
            transforms: draft.transforms.clone(),
        };
        Ok(())
    }

    fn intern_chain(&mut self, names: Vec<String>) -> ChainId {
        if let Some(id) = self.chain_ids.get(&names) {
            return *id;
        }
        let steps = names.iter().filter_map(|n| transforms::lookup(n)).collect();
        let id = self.chains.len() as ChainId;
        self.chains.push(TransformChain::new(names.clone(), steps));
        self.chain_ids.insert(names, id);
        id
    }

    /// The chains of the forms a `multiMatch` link with chain `id` reads: the empty chain, then the chain of
    /// every prefix of its steps up to the whole chain. A prefix is the chain already interned with those steps
    /// (whatever spelling it was written in, so its transformations are shared with the rules using it) or a
    /// new one named by the steps' canonical names.
    fn form_chains(&mut self, id: ChainId) -> Vec<ChainId> {
        let names: Vec<&'static str> = self.chains[id as usize].steps.iter().map(|s| s.name).collect();
        let mut out = vec![0];
        for k in 1..names.len() {
            let found = self.chains.iter().position(|c| c.steps.iter().map(|s| s.name).eq(names[..k].iter().copied()));
            out.push(match found {
                Some(i) => i as ChainId,
                None => self.intern_chain(names[..k].iter().map(|n| n.to_string()).collect()),
            });
        }
        if id != 0 {
            out.push(id);
        }
        out
    }

    /// Is a `multiMatch` link with chain `id` worth a gate? Only when no step rewrites every value.
    fn gate_reads_forms(&self, id: ChainId) -> bool {
        let c = &self.chains[id as usize];
        c.steps.is_empty() || c.triggers.is_some()
    }

    /// Do the steps of chain `id` before index `cut` leave a value without their trigger bytes as it is up to
    /// case (each has `triggers`), so that the gate's unions can cover the forms they make?
    fn gate_reads_forms_before(&self, id: ChainId, cut: usize) -> bool {
        self.chains[id as usize].steps.iter().take(cut).all(|s| s.triggers.is_some())
    }

    fn sec_action(&mut self, d: &RawDirective) -> Result<(), LoadError> {
        let [acts] = d.args.as_slice() else {
            return Err(err(&d.loc, None, "SecAction takes exactly one action list"));
        };
        self.add_rule(d, Vec::new(), "unconditionalMatch", "", false, acts)
    }

    fn sec_rule(&mut self, d: &RawDirective) -> Result<(), LoadError> {
        let (vars, op, acts) = match d.args.as_slice() {
            [v, o] => (v, o, ""),
            [v, o, a] => (v, o, a.as_str()),
            _ => return Err(err(&d.loc, None, format!("SecRule takes 2 or 3 arguments, got {}", d.args.len()))),
        };
        let draft_id = actions::parse_actions(acts).ok().and_then(|x| x.id);
        let targets = parse_targets(vars).map_err(|e| err(&d.loc, draft_id, e.to_string()))?;
        let op = op.trim_start();
        let (negated, op) = match op.strip_prefix('!') {
            Some(r) => (true, r.trim_start()),
            None => (false, op),
        };
        let (op_name, op_arg) = match op.strip_prefix('@') {
            Some(r) => match r.find(char::is_whitespace) {
                Some(p) => (&r[..p], r[p..].trim_start()),
                None => (r, ""),
            },
            None => ("rx", op),
        };
        self.add_rule(d, targets, op_name, op_arg, negated, acts)
    }

    fn add_rule(
        &mut self,
        d: &RawDirective,
        targets: Vec<Target>,
        op_name: &str,
        op_arg: &str,
        negated: bool,
        acts: &str,
    ) -> Result<(), LoadError> {
        let draft = actions::parse_actions(acts).map_err(|e| err(&d.loc, None, e))?;
        let id_hint = draft.id;
        let rule_dir = d.loc.file.parent().unwrap_or(Path::new("."));
        let op = operators::build(op_name, op_arg, &BuildCtx { rule_dir, prefilter: Some(&self.prefilter) })
            .map_err(|e| err(&d.loc, id_hint, e))?;
        let continuing = matches!(self.entries.last(), Some(Entry::Rule { open_chain: true, .. }));
        if continuing {
            return self.add_link(d, targets, (op_name, op_arg), op, negated, draft);
        }
        let id = draft.id.ok_or_else(|| err(&d.loc, None, "rule has no id"))?;
        if !self.ids.insert(id) {
            return Err(err(&d.loc, Some(id), format!("duplicate rule id {id}")));
        }
        let phase = draft.phase.unwrap_or(2);
        let def = self.defaults[(phase - 1) as usize].clone();
        let mut tnames = if draft.transforms_reset { Vec::new() } else { def.transforms.clone() };
        tnames.extend(draft.transforms.iter().cloned());
        let chain = self.intern_chain(tnames);
        let disruptive = draft.disruptive.clone().unwrap_or(def.disruptive.clone());
        let Draft {
            meta,
            status,
            chain: opens,
            skip,
            skip_after,
            log,
            auditlog,
            multi_match,
            capture,
            actions,
            is_block,
            ..
        } = draft;
        let link = Link {
            targets,
            op_name: op_name.to_string(),
            op_param: op_arg.to_string(),
            op,
            negated,
            transforms: chain,
            multi_match,
            capture,
            actions,
            loc: d.loc.clone(),
            sources: Vec::new(),
            unexcluded: 0,
            post_cut: None,
            byte_out: None,
            tx_key_hash: None,
        };
        let rule = Rule {
            id,
            phase,
            links: vec![link],
            meta,
            disruptive,
            is_block,
            status: status.or(def.status),
            skip,
            skip_after: None,
            log: log.unwrap_or(def.log),
            auditlog: auditlog.unwrap_or(def.auditlog),
            loc: d.loc.clone(),
            gate: None,
            target_list: None,
            folded: None,
            rewritten: false,
        };
        self.entries.push(Entry::Rule { rule: Box::new(rule), skip_after, open_chain: opens });
        Ok(())
    }

    fn add_link(
        &mut self,
        d: &RawDirective,
        targets: Vec<Target>,
        (op_name, op_arg): (&str, &str),
        op: Box<dyn operators::Operator>,
        negated: bool,
        draft: Draft,
    ) -> Result<(), LoadError> {
        let Some(Entry::Rule { rule, open_chain, .. }) = self.entries.last() else {
            return Err(err(&d.loc, None, "internal: no chain to continue"));
        };
        let head_id = rule.id;
        let phase = rule.phase;
        let _ = open_chain;
        if draft.id.is_some()
            || draft.phase.is_some_and(|p| p != phase)
            || draft.disruptive.is_some()
            || draft.is_block
            || draft.skip_after.is_some()
            || draft.skip > 0
        {
            return Err(err(
                &d.loc,
                Some(head_id),
                "chained rules may not set id, phase, disruptive actions, skip or skipAfter",
            ));
        }
        let def = self.defaults[(phase - 1) as usize].clone();
        let mut tnames = if draft.transforms_reset { Vec::new() } else { def.transforms.clone() };
        tnames.extend(draft.transforms.iter().cloned());
        let chain = self.intern_chain(tnames);
        let link = Link {
            targets,
            op_name: op_name.to_string(),
            op_param: op_arg.to_string(),
            op,
            negated,
            transforms: chain,
            multi_match: draft.multi_match,
            capture: draft.capture,
            actions: draft.actions,
            loc: d.loc.clone(),
            sources: Vec::new(),
            unexcluded: 0,
            post_cut: None,
            byte_out: None,
            tx_key_hash: None,
        };
        if let Some(Entry::Rule { rule, open_chain, .. }) = self.entries.last_mut() {
            // metadata written on a link (rare) still belongs to the rule
            if rule.meta.msg.is_none() {
                rule.meta.msg = draft.meta.msg;
            }
            if rule.meta.logdata.is_none() {
                rule.meta.logdata = draft.meta.logdata;
            }
            rule.meta.tags.extend(draft.meta.tags);
            rule.links.push(link);
            *open_chain = draft.chain;
        }
        Ok(())
    }

    fn matching_rules(&mut self, d: &RawDirective, kind: &str) -> Result<Vec<usize>, LoadError> {
        let sel = d.args.first().ok_or_else(|| err(&d.loc, None, format!("{} needs a selector", d.name)))?;
        let mut out = Vec::new();
        match kind {
            "id" => {
                let r = parse_id_ranges(sel).map_err(|e| err(&d.loc, None, e))?;
                for (i, e) in self.entries.iter().enumerate() {
                    if let Entry::Rule { rule, .. } = e {
                        if in_ranges(&r, rule.id) {
                            out.push(i);
                        }
                    }
                }
            }
            _ => {
                let re = compile_rx(sel).map_err(|e| err(&d.loc, None, format!("bad pattern: {e}")))?;
                for (i, e) in self.entries.iter().enumerate() {
                    if let Entry::Rule { rule, .. } = e {
                        let hit = if kind == "tag" {
                            rule.meta.tags.iter().any(|t| re.is_match(t.as_bytes()))
                        } else {
                            rule.meta.msg.as_ref().and_then(|m| m.as_static()).is_some_and(|m| re.is_match(m))
                        };
                        if hit {
                            out.push(i);
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    fn update_target(&mut self, d: &RawDirective, name: &str) -> Result<(), LoadError> {
        let kind = name.trim_start_matches("secruleupdatetargetby");
        let tlist = d.args.get(1).ok_or_else(|| err(&d.loc, None, format!("{} needs a target list", d.name)))?;
        let targets = parse_targets(tlist).map_err(|e| err(&d.loc, None, e.to_string()))?;
        let replace = match d.args.get(2) {
            Some(r) => Some(parse_targets(r).map_err(|e| err(&d.loc, None, e.to_string()))?),
            None => None,
        };
        for i in self.matching_rules(d, kind)? {
            if let Entry::Rule { rule, .. } = &mut self.entries[i] {
                let head = &mut rule.links[0];
                match &replace {
                    Some(old) => {
                        // SecRuleUpdateTargetById id "NEW" "OLD": replace OLD with NEW
                        let pos = head.targets.iter().position(|t| old.iter().any(|o| o.same_as(t)));
                        if let Some(p) = pos {
                            head.targets.remove(p);
                            for (k, t) in targets.iter().enumerate() {
                                head.targets.insert(p + k, t.clone());
                            }
                            rule.rewritten = true;
                        }
                    }
                    None => {
                        for t in &targets {
                            if !head.targets.iter().any(|x| x.exclude == t.exclude && x.same_as(t)) {
                                head.targets.push(t.clone());
                                // an exclusion only narrows what the rule reads
                                rule.rewritten |= !t.exclude;
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn update_action(&mut self, d: &RawDirective) -> Result<(), LoadError> {
        let acts = d.args.get(1).ok_or_else(|| err(&d.loc, None, "SecRuleUpdateActionById needs an action list"))?;
        let draft = actions::parse_actions(acts).map_err(|e| err(&d.loc, None, e))?;
        if draft.id.is_some() || draft.phase.is_some() || draft.chain {
            return Err(err(&d.loc, None, "SecRuleUpdateActionById may not change id, phase or chain"));
        }
        let idx = self.matching_rules(d, "id")?;
        let new_chain = if draft.transforms_reset || !draft.transforms.is_empty() {
            Some(self.intern_chain(draft.transforms.clone()))
        } else {
            None
        };
        let mut draft = draft;
        for i in idx {
            if let Entry::Rule { rule, skip_after, .. } = &mut self.entries[i] {
                let def = &self.defaults[(rule.phase - 1) as usize];
                if let Some(dis) = &draft.disruptive {
                    rule.disruptive = dis.clone();
                    rule.is_block = false;
                } else if draft.is_block {
                    rule.disruptive = def.disruptive.clone();
                    rule.is_block = true;
                }
                if let Some(s) = draft.status {
                    rule.status = Some(s);
                }
                if let Some(m) = draft.meta.msg.take() {
                    rule.meta.msg = Some(m);
                }
                if let Some(m) = draft.meta.logdata.clone() {
                    rule.meta.logdata = Some(m);
                }
                if let Some(s) = draft.meta.severity {
                    rule.meta.severity = Some(s);
                }
                rule.meta.tags.extend(draft.meta.tags.iter().cloned());
                if let Some(l) = draft.log {
                    rule.log = l;
                }
                if let Some(l) = draft.auditlog {
                    rule.auditlog = l;
                }
                if let Some(c) = new_chain {
                    rule.rewritten |= rule.links[0].transforms != c;
                    rule.links[0].transforms = c;
                }
                if draft.skip_after.is_some() {
                    *skip_after = draft.skip_after.clone();
                }
                rule.links[0].actions.extend(draft.actions.iter().cloned());
            }
        }
        Ok(())
    }

    fn finish(mut self) -> Result<(Settings, RuleSet), LoadError> {
        let mut phases: [Vec<Rule>; 5] = Default::default();
        let mut pending: [Vec<(usize, String, Location, u32)>; 5] = Default::default();
        let mut markers: [HashMap<String, usize>; 5] = Default::default();
        for e in std::mem::take(&mut self.entries) {
            match e {
                Entry::Marker(m) => {
                    for p in 0..5 {
                        markers[p].entry(m.clone()).or_insert(phases[p].len());
                    }
                }
                Entry::Rule { rule, skip_after, .. } => {
                    let p = (rule.phase - 1) as usize;
                    if let Some(name) = skip_after {
                        pending[p].push((phases[p].len(), name, rule.loc.clone(), rule.id));
                    }
                    phases[p].push(*rule);
                }
            }
        }
        for p in 0..5 {
            for (idx, name, loc, id) in std::mem::take(&mut pending[p]) {
                let target = match markers[p].get(&name) {
                    Some(t) => *t,
                    None => match name.parse::<u32>().ok().and_then(|tid| phases[p].iter().position(|r| r.id == tid)) {
                        Some(pos) => pos + 1,
                        None => return Err(err(&loc, Some(id), format!("skipAfter target {name:?} not found"))),
                    },
                };
                if target <= idx {
                    return Err(err(&loc, Some(id), format!("skipAfter target {name:?} is not after the rule")));
                }
                phases[p][idx].skip_after = Some(target);
            }
        }
        let rule_chains = self.chains.len();
        for r in phases.iter_mut().flatten() {
            let (forms, cut) = match r.links.first() {
                Some(h) if h.multi_match && self.gate_reads_forms(h.transforms) => {
                    (self.form_chains(h.transforms), None)
                }
                // a chain with a step that rewrites every value (`t:base64Decode`: no `triggers`) gives every
                // value new forms that unions would scan one by one under every later prefix, dearer than the
                // link's own evaluation (measured: CRS 934100/934160 cost 25-35 µs per benign GET gated so,
                // less evaluated): the unions stop before a `base64Decode` step and the gate tests the later
                // forms value by value (`Gate::b64`); a chain with such a step before that one has no gate
                Some(h) if h.multi_match => match self.chains[h.transforms as usize].base64_cut {
                    Some(b) if self.gate_reads_forms_before(h.transforms, b) => {
                        let mut f = self.form_chains(h.transforms);
                        f.truncate(b + 1);
                        (f, Some(b))
                    }
                    _ => (Vec::new(), None),
                },
                _ => (Vec::new(), None),
            };
            r.gate = crate::transaction::gate_of(r, &forms, cut);
        }
        crate::transaction::number_gate_slots(&mut phases);
        crate::transaction::intern_target_lists(&mut phases);
        let prefilter = self.prefilter.into_inner().build();
        crate::transaction::set_gate_preimages(&mut phases, &self.chains, &prefilter);
        crate::transaction::set_post_cut_bytes(&mut phases, &self.chains);
        crate::transaction::set_byte_outs(&mut phases, &self.chains);
        crate::transaction::set_tx_key_hashes(&mut phases);
        let empty_closes = crate::transaction::empty_closes(&phases, &self.chains, &prefilter);
        let mut ids = Vec::new();
        let mut tag_index: HashMap<String, Vec<u32>> = HashMap::new();
        let mut msg_index: HashMap<String, Vec<u32>> = HashMap::new();
        for r in phases.iter().flatten() {
            ids.push(r.id);
            for t in &r.meta.tags {
                tag_index.entry(t.to_ascii_lowercase()).or_default().push(r.id);
            }
            if let Some(m) = r.meta.msg.as_ref().and_then(|m| m.as_static()) {
                msg_index.entry(String::from_utf8_lossy(m).into_owned()).or_default().push(r.id);
            }
        }
        ids.sort_unstable();
        // what a `ctl` selecting rules by tag selects does not depend on the request (`TargetsByTag`)
        for a in phases.iter_mut().flatten().flat_map(|r| r.links.iter_mut()).flat_map(|l| l.actions.iter_mut()) {
            if let actions::Action::Ctl(actions::Ctl::RuleRemoveTargetByTag(b)) = a {
                b.resolve(&tag_index);
            }
        }
        let reads_file_content = phases
            .iter()
            .flatten()
            .flat_map(|r| &r.links)
            .flat_map(|l| &l.targets)
            .any(|t| t.var == crate::variables::Var::FilesTmpContent && !t.exclude);
        let (mut chains, settings) = (self.chains, self.settings);
        crate::rule::link_prefixes(&mut chains, rule_chains);
        let mut rules = RuleSet {
            phases,
            chains,
            prefilter,
            ids,
            tag_index,
            msg_index,
            reads_file_content,
            fold: Default::default(),
            empty_closes,
            steps: Default::default(),
            by_id: Default::default(),
        };
        rules.index_steps();
        Ok((settings, rules))
    }
}
