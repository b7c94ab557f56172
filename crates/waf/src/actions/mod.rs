//! SecLang actions: parsing the action list of a rule and the action registry (one table keyed by
//! lowercase name). Metadata and flow actions fill a [`Draft`] at load time; runtime actions
//! (`setvar`, `ctl`, `initcol`, `expirevar`, `setenv`) become [`Action`] values executed per match.

use crate::macros::Macro;
use crate::rule::{parse_severity, Meta};
use crate::variables::Var;

pub mod ctl;
pub mod setvar;

pub use ctl::{Ctl, EngineMode, TargetsByTag};
pub use setvar::{SetOp, SetVar};

/// How `allow` ends processing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllowScope {
    /// Rest of the transaction (phases 1–4).
    All,
    /// Rest of the current phase.
    Phase,
    /// Rest of the request phases (1–2).
    Request,
}

/// A disruptive action, as resolved for a rule.
#[derive(Debug, Clone, PartialEq)]
pub enum Disruptive {
    Pass,
    Deny,
    Drop,
    Allow(AllowScope),
    Redirect(Macro),
}

/// A runtime (non-disruptive, per-match) action.
#[derive(Debug, Clone)]
pub enum Action {
    SetVar(SetVar),
    Ctl(Ctl),
    InitCol { collection: Var, key: Macro },
    ExpireVar { collection: Var, key: Macro, seconds: Macro },
    SetEnv { name: Macro, value: Macro },
}

/// Everything an action list says, before defaults are merged and markers resolved.
#[derive(Debug, Default)]
pub struct Draft {
    pub id: Option<u32>,
    pub phase: Option<u8>,
    pub meta: Meta,
    pub disruptive: Option<Disruptive>,
    pub is_block: bool,
    pub status: Option<u16>,
    pub chain: bool,
    pub skip: u32,
    pub skip_after: Option<String>,
    pub log: Option<bool>,
    pub auditlog: Option<bool>,
    pub transforms: Vec<String>,
    /// `t:none` seen: default transformations are not prepended.
    pub transforms_reset: bool,
    pub multi_match: bool,
    pub capture: bool,
    pub actions: Vec<Action>,
}

type Apply = fn(&mut Draft, Option<&str>) -> Result<(), String>;

fn need(v: Option<&str>, what: &str) -> Result<String, String> {
    v.map(str::to_string).ok_or_else(|| format!("{what} needs a value"))
}

fn macro_of(v: Option<&str>, what: &str) -> Result<Macro, String> {
    Macro::parse(&need(v, what)?)
}

fn set_disruptive(d: &mut Draft, x: Disruptive) -> Result<(), String> {
    d.disruptive = Some(x);
    d.is_block = false;
    Ok(())
}

fn accept(_: &mut Draft, _: Option<&str>) -> Result<(), String> {
    Ok(())
}

/// The action registry.
pub static ACTIONS: &[(&str, Apply)] = &[
    ("id", |d, v| {
        let s = need(v, "id")?;
        let id: u32 = s.trim().parse().map_err(|_| format!("bad id {s:?}"))?;
        if id == 0 {
            return Err("id must be > 0".into());
        }
        d.id = Some(id);
        Ok(())
    }),
    ("phase", |d, v| {
        let s = need(v, "phase")?;
        d.phase = Some(match s.trim().to_ascii_lowercase().as_str() {
            "1" => 1,
            "2" | "request" => 2,
            "3" => 3,
            "4" | "response" => 4,
            "5" | "logging" => 5,
            _ => return Err(format!("bad phase {s:?}")),
        });
        Ok(())
    }),
    ("msg", |d, v| {
        d.meta.msg = Some(macro_of(v, "msg")?);
        Ok(())
    }),
    ("logdata", |d, v| {
        d.meta.logdata = Some(macro_of(v, "logdata")?);
        Ok(())
    }),
    ("severity", |d, v| {
        let s = need(v, "severity")?;
        d.meta.severity = Some(parse_severity(&s).ok_or_else(|| format!("bad severity {s:?}"))?);
        Ok(())
    }),
    ("tag", |d, v| {
        d.meta.tags.push(need(v, "tag")?);
        Ok(())
    }),
    ("ver", |d, v| {
        d.meta.ver = Some(need(v, "ver")?);
        Ok(())
    }),
    ("rev", |d, v| {
        d.meta.rev = Some(need(v, "rev")?);
        Ok(())
    }),
    ("maturity", |d, v| {
        d.meta.maturity = need(v, "maturity")?.trim().parse().ok();
        Ok(())
    }),
    ("accuracy", |d, v| {
        d.meta.accuracy = need(v, "accuracy")?.trim().parse().ok();
        Ok(())
    }),
    ("t", |d, v| {
        let s = need(v, "t")?;
        if s.eq_ignore_ascii_case("none") {
            d.transforms.clear();
            d.transforms_reset = true;
        } else {
            if crate::transforms::lookup(&s).is_none() {
                return Err(format!("unknown transformation {s:?}"));
            }
            d.transforms.push(s.to_ascii_lowercase());
        }
        Ok(())
    }),
    ("chain", |d, _| {
        d.chain = true;
        Ok(())
    }),
    ("skip", |d, v| {
        let s = need(v, "skip")?;
        d.skip = s.trim().parse().map_err(|_| format!("bad skip {s:?}"))?;
        Ok(())
    }),
    ("skipafter", |d, v| {
        d.skip_after = Some(need(v, "skipAfter")?.trim().to_string());
        Ok(())
    }),
    ("block", |d, _| {
        d.disruptive = None;
        d.is_block = true;
        Ok(())
    }),
    ("deny", |d, _| set_disruptive(d, Disruptive::Deny)),
    ("drop", |d, _| set_disruptive(d, Disruptive::Drop)),
    ("pass", |d, _| set_disruptive(d, Disruptive::Pass)),
    ("allow", |d, v| {
        let scope = match v.map(|s| s.trim().to_ascii_lowercase()).as_deref() {
            None | Some("") => AllowScope::All,
            Some("phase") => AllowScope::Phase,
            Some("request") => AllowScope::Request,
            Some(o) => return Err(format!("bad allow scope {o:?}")),
        };
        set_disruptive(d, Disruptive::Allow(scope))
    }),
    ("redirect", |d, v| {
        let m = macro_of(v, "redirect")?;
        set_disruptive(d, Disruptive::Redirect(m))
    }),
    ("status", |d, v| {
        let s = need(v, "status")?;
        let st: u16 =
            s.trim().parse().ok().filter(|c| (100..=999).contains(c)).ok_or_else(|| format!("bad status {s:?}"))?;
        d.status = Some(st);
        Ok(())
    }),
    ("log", |d, _| {
        d.log = Some(true);
        Ok(())
    }),
    ("nolog", |d, _| {
        d.log = Some(false);
        Ok(())
    }),
    ("auditlog", |d, _| {
        d.auditlog = Some(true);
        Ok(())
    }),
    ("noauditlog", |d, _| {
        d.auditlog = Some(false);
        Ok(())
    }),
    ("capture", |d, _| {
        d.capture = true;
        Ok(())
    }),
    ("multimatch", |d, _| {
        d.multi_match = true;
        Ok(())
    }),
    ("setvar", |d, v| {
        d.actions.push(Action::SetVar(SetVar::parse(&need(v, "setvar")?)?));
        Ok(())
    }),
    ("ctl", |d, v| {
        d.actions.push(Action::Ctl(Ctl::parse(&need(v, "ctl")?)?));
        Ok(())
    }),
    ("initcol", |d, v| {
        let s = need(v, "initcol")?;
        let (c, k) = s.split_once('=').ok_or_else(|| format!("initcol needs collection=key, got {s:?}"))?;
        let collection = persistent_collection(c)?;
        d.actions.push(Action::InitCol { collection, key: Macro::parse(k)? });
        Ok(())
    }),
    ("expirevar", |d, v| {
        let s = need(v, "expirevar")?;
        let (lhs, secs) = s.split_once('=').ok_or_else(|| format!("expirevar needs col.key=seconds, got {s:?}"))?;
        let (c, k) = lhs.split_once('.').ok_or_else(|| format!("expirevar needs col.key, got {lhs:?}"))?;
        let collection =
            crate::variables::lookup(c).map(|s| s.var).ok_or_else(|| format!("unknown collection {c:?}"))?;
        d.actions.push(Action::ExpireVar { collection, key: Macro::parse(k)?, seconds: Macro::parse(secs)? });
        Ok(())
    }),
    ("setenv", |d, v| {
        let s = need(v, "setenv")?;
        let (n, val) = s.split_once('=').unwrap_or((&s, "1"));
        d.actions.push(Action::SetEnv { name: Macro::parse(n)?, value: Macro::parse(val)? });
        Ok(())
    }),
    // Accepted and ignored: logging/audit detail that this engine does not model.
    ("sanitisematched", accept),
    ("sanitisearg", accept),
    ("sanitiserequestheader", accept),
    ("sanitiseresponseheader", accept),
    ("sanitisematchedbytes", accept),
    ("auditlogparts", accept),
    ("append", accept),
    ("prepend", accept),
    ("exec", accept),
    ("pause", accept),
    ("proxy", accept),
    ("deprecatevar", accept),
    ("xmlns", accept),
];

fn persistent_collection(c: &str) -> Result<Var, String> {
    match c.trim().to_ascii_lowercase().as_str() {
        "ip" => Ok(Var::Ip),
        "global" => Ok(Var::Global),
        "session" => Ok(Var::Session),
        "user" => Ok(Var::User),
        "resource" => Ok(Var::Resource),
        o => Err(format!("unknown persistent collection {o:?}")),
    }
}

/// Splits `id:1,msg:'a, b',t:none` into `(name, value)` pairs; single-quoted values may contain commas
/// and `\'`.
pub fn split_actions(s: &str) -> Result<Vec<(String, Option<String>)>, String> {
    let mut out = Vec::new();
    let b: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && (b[i].is_whitespace() || b[i] == ',') {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let ns = i;
        while i < b.len() && b[i] != ':' && b[i] != ',' {
            i += 1;
        }
        let name: String = b[ns..i].iter().collect::<String>().trim().to_string();
        if name.is_empty() {
            return Err(format!("empty action name in {s:?}"));
        }
        if i < b.len() && b[i] == ':' {
            i += 1;
            while i < b.len() && b[i] == ' ' {
                i += 1;
            }
            let mut val = String::new();
            if i < b.len() && b[i] == '\'' {
                i += 1;
                let mut closed = false;
                while i < b.len() {
                    if b[i] == '\\' && i + 1 < b.len() && b[i + 1] == '\'' {
                        val.push('\'');
                        i += 2;
                        continue;
                    }
                    if b[i] == '\'' {
                        closed = true;
                        i += 1;
                        break;
                    }
                    val.push(b[i]);
                    i += 1;
                }
                if !closed {
                    return Err(format!("unterminated quote in action {name}"));
                }
                while i < b.len() && b[i] != ',' {
                    i += 1;
                }
            } else {
                while i < b.len() && b[i] != ',' {
                    val.push(b[i]);
                    i += 1;
                }
                val = val.trim_end().to_string();
            }
            out.push((name, Some(val)));
        } else {
            out.push((name, None));
        }
    }
    Ok(out)
}

/// Parses an action list into a draft. `Err` names the offending action.
pub fn parse_actions(s: &str) -> Result<Draft, String> {
    let mut d = Draft::default();
    apply_actions(&mut d, s)?;
    Ok(d)
}

/// Applies an action list onto an existing draft (used by `SecRuleUpdateActionById`).
pub fn apply_actions(d: &mut Draft, s: &str) -> Result<(), String> {
    for (name, val) in split_actions(s)? {
        let lname = name.to_ascii_lowercase();
        let (_, f) = ACTIONS.iter().find(|(n, _)| *n == lname).ok_or_else(|| format!("unknown action {name:?}"))?;
        f(d, val.as_deref()).map_err(|e| format!("action {name}: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_quoted_values() {
        let a = split_actions("id:1, msg:'a, b\\'c',t:none,\n   setvar:'tx.x=+%{tx.y}',nolog").unwrap();
        assert_eq!(a[1], ("msg".into(), Some("a, b'c".into())));
        assert_eq!(a[3], ("setvar".into(), Some("tx.x=+%{tx.y}".into())));
        assert_eq!(a[4], ("nolog".into(), None));
    }

    #[test]
    fn drafts() {
        let d = parse_actions(
            "id:5,phase:request,block,t:none,t:lowercase,capture,severity:'CRITICAL',tag:a,tag:b,skipAfter:END",
        )
        .unwrap();
        assert_eq!(d.id, Some(5));
        assert_eq!(d.phase, Some(2));
        assert!(d.is_block && d.disruptive.is_none());
        assert_eq!(d.transforms, vec!["lowercase"]);
        assert!(d.transforms_reset && d.capture);
        assert_eq!(d.meta.severity, Some(2));
        assert_eq!(d.meta.tags, vec!["a", "b"]);
        assert_eq!(d.skip_after.as_deref(), Some("END"));
        assert!(parse_actions("id:1,bogus").unwrap_err().contains("unknown action"));
        assert!(parse_actions("t:nonexistent").unwrap_err().contains("unknown transformation"));
        assert!(parse_actions("phase:9").is_err());
    }
}
