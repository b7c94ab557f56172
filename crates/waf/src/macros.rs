//! `%{VAR.key}` macro expansion in action arguments (`msg`, `logdata`, `setvar`, `initcol`) and operator
//! parameters (`@lt %{tx.max}`). Parsed once at load time into literal and variable parts.

use crate::variables::{self, Var};

#[derive(Debug, Clone, PartialEq)]
pub enum MacroPart {
    Lit(Vec<u8>),
    /// A variable reference; `key` is lowercase. `hash` is the key's `TX` hash (`transaction::tx_hash`),
    /// computed at load for a `TX` reference with a key (0 otherwise): reading it needs no hashing.
    Var {
        var: Var,
        key: Option<String>,
        hash: u64,
    },
}

/// A string with `%{...}` references.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Macro {
    parts: Vec<MacroPart>,
}

/// What a macro is expanded against: the transaction, seen from the rule being evaluated.
pub trait MacroEnv {
    /// Appends the first value of `var[:key]` to `out` (nothing when absent).
    fn expand_var(&self, var: Var, key: Option<&str>, out: &mut Vec<u8>);

    /// The first value of `var[:key]` when it can be lent as it is stored (`None`: it must be computed, use
    /// `with_var`). An absent `TX` variable lends `Some(b"")`, the value its expansion has. This is the
    /// operand fast path (`@ge %{tx.inbound_anomaly_score_threshold}`): one table lookup, no callback and no
    /// buffer per evaluation.
    fn lend_var(&self, _var: Var, _key: Option<&str>) -> Option<&[u8]> {
        None
    }

    /// [`Self::lend_var`] of `TX:key`, `hash` being the key's hash (`transaction::tx_hash`).
    fn lend_tx(&self, key: &str, _hash: u64) -> Option<&[u8]> {
        self.lend_var(Var::Tx, Some(key))
    }

    /// [`Self::expand_var`] of `TX:key`, `hash` being the key's hash (`transaction::tx_hash`).
    fn expand_tx(&self, key: &str, _hash: u64, out: &mut Vec<u8>) {
        self.expand_var(Var::Tx, Some(key), out)
    }

    /// Calls `f` with the first value of `var[:key]`; implementations override it to lend the value
    /// without copying.
    fn with_var(&self, var: Var, key: Option<&str>, f: &mut dyn FnMut(&[u8])) {
        let mut v = Vec::new();
        self.expand_var(var, key, &mut v);
        f(&v)
    }
}

impl Macro {
    /// Parses `text`; fails on an unknown variable or an unterminated `%{`.
    pub fn parse(text: &str) -> Result<Macro, String> {
        let mut parts = Vec::new();
        let mut lit = Vec::new();
        let mut rest = text;
        while let Some(pos) = rest.find("%{") {
            lit.extend_from_slice(&rest.as_bytes()[..pos]);
            let after = &rest[pos + 2..];
            let Some(end) = after.find('}') else {
                return Err(format!("unterminated macro in {text:?}"));
            };
            let inner = after[..end].trim();
            let (name, key) = match inner.find(['.', ':']) {
                Some(d) => (&inner[..d], Some(inner[d + 1..].to_ascii_lowercase())),
                None => (inner, None),
            };
            let spec = variables::lookup(name).ok_or_else(|| format!("unknown variable {name:?} in macro {text:?}"))?;
            if !lit.is_empty() {
                parts.push(MacroPart::Lit(std::mem::take(&mut lit)));
            }
            let hash = match (&key, spec.var) {
                (Some(k), Var::Tx) => crate::transaction::tx_hash(k.as_bytes()),
                _ => 0,
            };
            parts.push(MacroPart::Var { var: spec.var, key, hash });
            rest = &after[end + 1..];
        }
        lit.extend_from_slice(rest.as_bytes());
        if !lit.is_empty() {
            parts.push(MacroPart::Lit(lit));
        }
        Ok(Macro { parts })
    }

    /// The text when it has no variable parts.
    pub fn as_static(&self) -> Option<&[u8]> {
        match self.parts.as_slice() {
            [] => Some(b""),
            [MacroPart::Lit(l)] => Some(l),
            _ => None,
        }
    }

    /// The variables the macro reads, in order (`key` lowercase, `None` for `%{VAR}` without one).
    pub fn vars(&self) -> impl Iterator<Item = (Var, Option<&str>)> + '_ {
        self.parts.iter().filter_map(|p| match p {
            MacroPart::Var { var, key, .. } => Some((*var, key.as_deref())),
            MacroPart::Lit(_) => None,
        })
    }

    /// The literal text before the first variable reference: every expansion starts with it.
    pub fn literal_prefix(&self) -> &[u8] {
        match self.parts.first() {
            Some(MacroPart::Lit(l)) => l,
            _ => b"",
        }
    }

    /// Bytes of literal text in every expansion (a lower bound of its length, to size a buffer).
    pub fn literal_len(&self) -> usize {
        self.parts.iter().map(|p| if let MacroPart::Lit(l) = p { l.len() } else { 0 }).sum()
    }

    /// A buffer size that usually holds an expansion without growing: the literal text and 8 bytes per
    /// variable reference (CRS's report, 980170, expands 25 scores of one or two digits each; a buffer sized
    /// for the literal text alone was reallocated and copied on every report).
    pub fn size_hint(&self) -> usize {
        self.parts.iter().map(|p| if let MacroPart::Lit(l) = p { l.len() } else { 8 }).sum::<usize>() + 16
    }

    pub fn is_static(&self) -> bool {
        self.as_static().is_some()
    }

    /// Expands into `out` (appending).
    pub fn expand_into(&self, env: &dyn MacroEnv, out: &mut Vec<u8>) {
        for p in &self.parts {
            match p {
                MacroPart::Lit(l) => out.extend_from_slice(l),
                MacroPart::Var { var: Var::Tx, key: Some(k), hash } => env.expand_tx(k, *hash, out),
                MacroPart::Var { var, key, .. } => env.expand_var(*var, key.as_deref(), out),
            }
        }
    }

    /// Calls `f` with the expansion, borrowing instead of copying when the macro is a literal or a single
    /// variable reference (`%{tx.max}`), the common operator-parameter forms.
    pub fn with_expanded<R: Default>(&self, env: &dyn MacroEnv, f: impl FnOnce(&[u8]) -> R) -> R {
        match self.parts.as_slice() {
            [] => f(b""),
            [MacroPart::Lit(l)] => f(l),
            [MacroPart::Var { var, key, hash }] => {
                let lent = match (var, key) {
                    (Var::Tx, Some(k)) => env.lend_tx(k, *hash),
                    _ => env.lend_var(*var, key.as_deref()),
                };
                if let Some(v) = lent {
                    return f(v);
                }
                let mut f = Some(f);
                let mut r = None;
                env.with_var(*var, key.as_deref(), &mut |v| {
                    if let Some(f) = f.take() {
                        r = Some(f(v));
                    }
                });
                match (r, f) {
                    (Some(r), _) => r,
                    (None, Some(f)) => f(b""),
                    (None, None) => R::default(),
                }
            }
            _ => f(&self.expand(env)),
        }
    }

    pub fn expand(&self, env: &dyn MacroEnv) -> Vec<u8> {
        let mut v = Vec::new();
        self.expand_into(env, &mut v);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Env;
    impl MacroEnv for Env {
        fn expand_var(&self, var: Var, key: Option<&str>, out: &mut Vec<u8>) {
            out.extend_from_slice(format!("<{}:{}>", variables::name_of(var), key.unwrap_or("")).as_bytes());
        }
    }

    /// Lends `TX:five`; anything else only through `expand_var`.
    struct Lending;
    impl MacroEnv for Lending {
        fn lend_var(&self, var: Var, key: Option<&str>) -> Option<&[u8]> {
            (var == Var::Tx && key == Some("five")).then_some(&b"5"[..])
        }
        fn expand_var(&self, _: Var, key: Option<&str>, out: &mut Vec<u8>) {
            out.extend_from_slice(key.unwrap_or("-").as_bytes());
        }
    }

    #[test]
    fn a_single_variable_is_lent_and_anything_else_expanded() {
        let got = |m: &str| Macro::parse(m).unwrap().with_expanded(&Lending, |v| v.to_vec());
        assert_eq!(got("%{TX.Five}"), b"5");
        assert_eq!(got("%{tx.six}"), b"six");
        assert_eq!(got("%{tx.five}x"), b"fivex");
        assert_eq!(got("lit"), b"lit");
    }

    /// Reads `TX` only through the hashed calls, and checks each hash handed to it is its key's `tx_hash`.
    struct Hashed;
    impl MacroEnv for Hashed {
        fn expand_var(&self, var: Var, key: Option<&str>, out: &mut Vec<u8>) {
            assert_ne!((var, key.is_some()), (Var::Tx, true), "a TX key is read through expand_tx");
            out.extend_from_slice(b"?");
        }
        fn lend_tx(&self, key: &str, hash: u64) -> Option<&[u8]> {
            assert_eq!(hash, crate::transaction::tx_hash(key.as_bytes()), "{key}");
            Some(b"lent")
        }
        fn expand_tx(&self, key: &str, hash: u64, out: &mut Vec<u8>) {
            assert_eq!(hash, crate::transaction::tx_hash(key.as_bytes()), "{key}");
            out.extend_from_slice(key.as_bytes());
        }
    }

    /// A `TX` reference with a key carries the key's hash, taken at parse time from the lowercase key (the
    /// table's names are lowercase). Mutant: hashing the key as written (`%{TX.Anomaly_Score}`) fails it.
    #[test]
    fn tx_references_carry_their_keys_hash() {
        let m = Macro::parse("s=%{TX.Anomaly_Score} %{tx.0}/%{REMOTE_ADDR}").unwrap();
        assert_eq!(m.expand(&Hashed), b"s=anomaly_score 0/?");
        assert_eq!(Macro::parse("%{TX.Blocking_Inbound}").unwrap().with_expanded(&Hashed, |v| v.to_vec()), b"lent");
        assert!(m.size_hint() >= m.expand(&Hashed).len(), "the hint covers short values");
    }

    #[test]
    fn parse_and_expand() {
        let m = Macro::parse("score %{TX.Anomaly_Score} from %{remote_addr}_%{MATCHED_VAR}!").unwrap();
        assert_eq!(m.expand(&Env), b"score <TX:anomaly_score> from <REMOTE_ADDR:>_<MATCHED_VAR:>!".to_vec());
        assert!(Macro::parse("plain").unwrap().is_static());
        assert!(Macro::parse("%{nope.x}").is_err());
        assert!(Macro::parse("%{tx.x").is_err());
    }
}
