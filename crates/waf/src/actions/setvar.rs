//! `setvar:col.key=value`, `=+n`, `=-n`, `!col.key`, `col.key` (sets 1). Key and value may hold macros.

use crate::macros::Macro;
use crate::variables::{self, Var};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetOp {
    Set,
    Add,
    Sub,
    Delete,
}

#[derive(Debug, Clone)]
pub struct SetVar {
    pub collection: Var,
    pub key: Macro,
    /// The lowercase key when it has no macros (almost always), so executing needs no allocation.
    pub static_key: Option<String>,
    /// `static_key`'s `TX` hash (`transaction::tx_hash`), computed here once (0 without a static key).
    pub static_hash: u64,
    pub op: SetOp,
    pub value: Macro,
}

impl SetVar {
    pub fn parse(s: &str) -> Result<SetVar, String> {
        let s = s.trim();
        let (delete, s) = match s.strip_prefix('!') {
            Some(r) => (true, r),
            None => (false, s),
        };
        let (lhs, rhs) = match s.split_once('=') {
            Some((l, r)) => (l, Some(r)),
            None => (s, None),
        };
        let (col, key) = lhs.split_once('.').ok_or_else(|| format!("setvar needs collection.key, got {s:?}"))?;
        let spec = variables::lookup(col.trim()).ok_or_else(|| format!("unknown collection {col:?}"))?;
        if !matches!(spec.var, Var::Tx | Var::Ip | Var::Global | Var::Session | Var::User | Var::Resource) {
            return Err(format!("collection {col} is read-only"));
        }
        if key.trim().is_empty() {
            return Err("setvar with an empty key".into());
        }
        let key = Macro::parse(key.trim())?;
        let (op, value) = if delete {
            (SetOp::Delete, Macro::default())
        } else {
            match rhs {
                None => (SetOp::Set, Macro::parse("1")?),
                Some(r) => {
                    if let Some(v) = r.strip_prefix('+') {
                        (SetOp::Add, Macro::parse(v)?)
                    } else if let Some(v) = r.strip_prefix('-') {
                        (SetOp::Sub, Macro::parse(v)?)
                    } else {
                        (SetOp::Set, Macro::parse(r)?)
                    }
                }
            }
        };
        let static_key = key.as_static().map(|k| String::from_utf8_lossy(k).to_ascii_lowercase());
        let static_hash = static_key.as_ref().map_or(0, |k| crate::transaction::tx_hash(k.as_bytes()));
        Ok(SetVar { collection: spec.var, key, static_key, static_hash, op, value })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let s = SetVar::parse("tx.score=+%{tx.critical_anomaly_score}").unwrap();
        assert_eq!(s.op, SetOp::Add);
        assert_eq!(SetVar::parse("!tx.a").unwrap().op, SetOp::Delete);
        assert_eq!(SetVar::parse("tx.a").unwrap().value.as_static(), Some(&b"1"[..]));
        assert_eq!(SetVar::parse("ip.a=-1").unwrap().op, SetOp::Sub);
        assert!(SetVar::parse("args.a=1").is_err());
        assert!(SetVar::parse("nodot").is_err());
    }
}
