//! `ctl:name=value`: per-transaction configuration changes (rule removal, engine mode, body processor).

use crate::variables::{parse_targets, Target};
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineMode {
    On,
    Off,
    DetectionOnly,
}

impl EngineMode {
    pub fn parse(s: &str) -> Option<EngineMode> {
        match s.trim().to_ascii_lowercase().as_str() {
            "on" => Some(EngineMode::On),
            "off" => Some(EngineMode::Off),
            "detectiononly" => Some(EngineMode::DetectionOnly),
            _ => None,
        }
    }
}

/// Inclusive id ranges like `1-999999` or `920100`.
pub type IdRanges = Vec<(u32, u32)>;

pub fn parse_id_ranges(s: &str) -> Result<IdRanges, String> {
    let mut out = Vec::new();
    for part in s.split([' ', ',']).map(str::trim).filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let a: u32 = a.trim().parse().map_err(|_| format!("bad rule id {part:?}"))?;
        let b: u32 = b.trim().parse().map_err(|_| format!("bad rule id {part:?}"))?;
        if a > b {
            return Err(format!("bad id range {part:?}"));
        }
        out.push((a, b));
    }
    if out.is_empty() {
        return Err("no rule ids".into());
    }
    Ok(out)
}

pub fn in_ranges(r: &[(u32, u32)], id: u32) -> bool {
    r.iter().any(|(a, b)| *a <= id && id <= *b)
}

/// `ctl:ruleRemoveTargetByTag=tag;TARGETS`. CRS's 941010 runs it on nearly every request, so what does not
/// depend on the request is done once: the rules bearing the tag are looked up when the rule set is built
/// ([`TargetsByTag::resolve`]), not by lowercasing and hashing the tag per run, and their ids are kept sorted
/// and without repeats, as `TargetRemovals` keeps a `ctl`'s ids; the targets are shared, not cloned per run.
#[derive(Debug, Clone)]
pub struct TargetsByTag {
    pub tag: String,
    pub targets: Arc<[Target]>,
    /// The ids of the rules tagged `tag` in the rule set that holds this `ctl`, sorted and without repeats;
    /// `None` until the rule set is built (the tag is then looked up when the `ctl` runs).
    pub ids: Option<Arc<[u32]>>,
}

impl TargetsByTag {
    /// Sets [`Self::ids`] from the rule set's tag index (keys lowercase, ids in load order).
    pub fn resolve(&mut self, tag_index: &std::collections::HashMap<String, Vec<u32>>) {
        let mut ids = tag_index.get(&self.tag.to_ascii_lowercase()).cloned().unwrap_or_default();
        ids.sort_unstable();
        ids.dedup();
        self.ids = Some(ids.into());
    }
}

#[derive(Debug, Clone)]
pub enum Ctl {
    RuleEngine(EngineMode),
    RuleRemoveById(IdRanges),
    RuleRemoveByTag(String),
    RuleRemoveByMsg(String),
    RuleRemoveTargetById(IdRanges, Vec<Target>),
    RuleRemoveTargetByTag(TargetsByTag),
    RuleRemoveTargetByMsg(String, Vec<Target>),
    RequestBodyProcessor(String),
    ForceRequestBodyVariable(bool),
    RequestBodyAccess(bool),
    ResponseBodyAccess(bool),
    RequestBodyLimit(usize),
    AuditEngine(String),
    AuditLogParts(String),
    DebugLogLevel(String),
}

fn on_off(v: &str) -> Result<bool, String> {
    match v.trim().to_ascii_lowercase().as_str() {
        "on" | "true" | "1" => Ok(true),
        "off" | "false" | "0" => Ok(false),
        _ => Err(format!("expected On/Off, got {v:?}")),
    }
}

impl Ctl {
    pub fn parse(s: &str) -> Result<Ctl, String> {
        let (name, val) = s.split_once('=').ok_or_else(|| format!("ctl needs name=value, got {s:?}"))?;
        let targets = |v: &str| -> Result<(String, Vec<Target>), String> {
            let (what, t) = v.split_once(';').ok_or_else(|| format!("expected selector;TARGET, got {v:?}"))?;
            Ok((what.trim().to_string(), parse_targets(t.trim()).map_err(|e| e.to_string())?))
        };
        Ok(match name.trim().to_ascii_lowercase().as_str() {
            "ruleengine" => Ctl::RuleEngine(EngineMode::parse(val).ok_or_else(|| format!("bad ruleEngine {val:?}"))?),
            "ruleremovebyid" => Ctl::RuleRemoveById(parse_id_ranges(val)?),
            "ruleremovebytag" => Ctl::RuleRemoveByTag(val.trim().to_string()),
            "ruleremovebymsg" => Ctl::RuleRemoveByMsg(val.trim().to_string()),
            "ruleremovetargetbyid" => {
                let (ids, t) = targets(val)?;
                Ctl::RuleRemoveTargetById(parse_id_ranges(&ids)?, t)
            }
            "ruleremovetargetbytag" => {
                let (tag, t) = targets(val)?;
                Ctl::RuleRemoveTargetByTag(TargetsByTag { tag, targets: t.into(), ids: None })
            }
            "ruleremovetargetbymsg" => {
                let (msg, t) = targets(val)?;
                Ctl::RuleRemoveTargetByMsg(msg, t)
            }
            "requestbodyprocessor" => Ctl::RequestBodyProcessor(val.trim().to_ascii_uppercase()),
            "forcerequestbodyvariable" => Ctl::ForceRequestBodyVariable(on_off(val)?),
            "requestbodyaccess" => Ctl::RequestBodyAccess(on_off(val)?),
            "responsebodyaccess" => Ctl::ResponseBodyAccess(on_off(val)?),
            "requestbodylimit" => Ctl::RequestBodyLimit(val.trim().parse().map_err(|_| format!("bad limit {val:?}"))?),
            "auditengine" => Ctl::AuditEngine(val.trim().to_string()),
            "auditlogparts" => Ctl::AuditLogParts(val.trim().to_string()),
            "debugloglevel" => Ctl::DebugLogLevel(val.trim().to_string()),
            o => return Err(format!("unknown ctl {o:?}")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        assert!(matches!(Ctl::parse("ruleRemoveById=1-999999"), Ok(Ctl::RuleRemoveById(r)) if r == vec![(1, 999999)]));
        assert!(
            matches!(Ctl::parse("ruleRemoveTargetByTag=xss-perf-disable;REQUEST_FILENAME"), Ok(Ctl::RuleRemoveTargetByTag(b)) if b.tag == "xss-perf-disable" && b.targets.len() == 1 && b.ids.is_none())
        );
        assert!(matches!(Ctl::parse("ruleEngine=DetectionOnly"), Ok(Ctl::RuleEngine(EngineMode::DetectionOnly))));
        assert!(Ctl::parse("nope=1").is_err());
        assert!(Ctl::parse("ruleEngine=maybe").is_err());
    }

    /// A rule set's `ctl:ruleRemoveTargetByTag` holds, once built, the ids of the rules bearing its tag in any
    /// letter case, sorted and each once (`TargetsByTag::resolve`); an unknown tag resolves to none. Mutants:
    /// the resolution not run when the rule set is built, the ids left unsorted or repeated, the tag matched as
    /// written.
    #[test]
    fn by_tag_resolved_when_the_rule_set_is_built() {
        let rules = r#"
SecAction "id:10,phase:1,pass,nolog,ctl:ruleRemoveTargetByTag=Perf-Tag;ARGS:a,ctl:ruleRemoveTargetByTag=none;ARGS"
SecRule ARGS "@contains attack" "id:300,phase:2,pass,log,tag:'perf-tag'"
SecRule ARGS "@contains attack" "id:100,phase:2,pass,log,tag:'PERF-TAG',tag:'perf-tag'"
SecRule ARGS "@contains attack" "id:200,phase:1,pass,log,tag:'Perf-Tag'"
SecRule ARGS "@contains attack" "id:150,phase:2,pass,log,tag:'other'"
"#;
        let e = crate::Engine::from_str(rules, "t.conf").unwrap();
        let resolved: Vec<Option<Vec<u32>>> = e
            .rules
            .phases
            .iter()
            .flatten()
            .flat_map(|r| &r.links)
            .flat_map(|l| &l.actions)
            .filter_map(|a| match a {
                crate::actions::Action::Ctl(Ctl::RuleRemoveTargetByTag(b)) => {
                    Some(b.ids.as_deref().map(<[u32]>::to_vec))
                }
                _ => None,
            })
            .collect();
        assert_eq!(resolved, vec![Some(vec![100, 200, 300]), Some(vec![])]);
    }
}
