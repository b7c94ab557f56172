//! SecLang operators (`@rx`, `@pm`, ...): one file per operator (numeric comparisons share one), all
//! registered in [`OPERATORS`], keyed by lowercase name. An operator is built once at load time from its
//! parameter (regexes compiled, phrase lists turned into automata) and then evaluated per value.

use crate::macros::{Macro, MacroEnv};
use std::path::Path;

mod begins_with;
mod contains;
mod contains_word;
mod detect_any;
mod detect_cmdi;
mod detect_jndi;
mod detect_nosqli;
mod detect_path_traversal;
mod detect_proto_pollution;
mod detect_sqli;
mod detect_ssrf;
mod detect_ssti;
mod detect_xss;
mod detect_xxe;
mod ends_with;
mod ip_match;
mod native;
mod numeric;
mod pm;
mod rx;
mod rx_need;
mod shellshock;
mod streq;
mod strmatch;
mod unconditional;
mod unique_arg_names;
mod validate_byte_range;
mod validate_url_encoding;
mod validate_utf8_encoding;
mod verify_cc;
mod within;

pub(crate) use numeric::atoi as numeric_atoi;

/// Capture groups (`TX:0`..`TX:9`) collected when the rule has `capture`. The groups' buffers outlive
/// [`Captures::clear`] (and the transaction: the pool keeps them), so a capturing link run once per value
/// (CRS 920450, once per request header) copies each group into a buffer it already has instead of
/// allocating one per group and freeing it at the next `clear`.
#[derive(Debug, Default, Clone)]
pub struct Captures {
    /// The groups' buffers; the first `len` hold the current groups, the rest are kept for reuse.
    bufs: Vec<Vec<u8>>,
    len: usize,
}

impl Captures {
    pub fn clear(&mut self) {
        self.len = 0;
    }
    pub fn push(&mut self, v: &[u8]) {
        if self.len >= 10 {
            return;
        }
        match self.bufs.get_mut(self.len) {
            Some(b) => {
                b.clear();
                b.extend_from_slice(v);
            }
            None => self.bufs.push(v.to_vec()),
        }
        self.len += 1;
    }
    /// The current groups (0 = the whole match).
    pub fn groups(&self) -> &[Vec<u8>] {
        &self.bufs[..self.len]
    }
    /// The bytes the kept buffers hold room for (the pool drops captures that grew large).
    pub(crate) fn capacity_bytes(&self) -> usize {
        self.bufs.iter().map(Vec::capacity).sum()
    }
}

/// Per-evaluation context: macro environment for dynamic parameters, capture sink when capturing.
pub struct OpCtx<'a> {
    pub env: &'a dyn MacroEnv,
    pub captures: Option<&'a mut Captures>,
}

/// A compiled operator.
pub trait Operator: Send + Sync + std::fmt::Debug {
    /// Does `input` match? On a match with `ctx.captures` set, fills the groups (0 = whole match).
    fn eval(&self, input: &[u8], ctx: &mut OpCtx<'_>) -> bool;

    /// Id in the shared literal prefilter (`crate::prefilter`): when the prefilter says none of this
    /// operator's literals occur in a value, the evaluator skips `eval` (it would return false).
    fn prefilter_id(&self) -> Option<u32> {
        None
    }

    /// The attack class of a native detector operator: its `eval` returns false on any value whose
    /// `portcullis_detect::prefilter::classes` lack it, so the evaluator may skip it from a per-value cache.
    fn detector_class(&self) -> Option<portcullis_detect::Class> {
        None
    }

    /// A cheap necessary condition checked before `eval` where the shared prefilter has not judged the input
    /// (`multiMatch` forms): `false` proves `eval` returns false, with no capture. Default: no condition.
    fn may_match(&self, _input: &[u8]) -> bool {
        true
    }

    /// A length below which [`Self::may_match`] is `false` whatever the input's bytes (the engine then need
    /// not even compute inputs it can prove are shorter: the `multiMatch` forms after a `base64Decode`).
    /// Default: 0, no such length.
    fn min_match_len(&self) -> usize {
        0
    }

    /// Bytes (letters in both cases) one of which every input [`Self::may_match`] accepts holds: an input
    /// holding none is refused whatever its length (the engine then need not compute the `multiMatch` forms
    /// after a `base64Decode` whose output holds none of the bytes those later steps could turn into one).
    /// Default: `None`, no such set.
    fn need_bytes(&self) -> Option<[u64; 4]> {
        None
    }
}

/// What a factory may need besides the parameter.
pub struct BuildCtx<'a> {
    /// Directory of the rule file (for `@pmFromFile`, `@ipMatchFromFile`).
    pub rule_dir: &'a Path,
    /// Where `@rx` registers its literals, when prefiltering is on.
    pub prefilter: Option<&'a std::cell::RefCell<crate::prefilter::PrefilterBuilder>>,
}

impl BuildCtx<'_> {
    /// Registers with the prefilter (when it is on) the condition of a phrase operator: any of `phrases`
    /// occurring in the value. `None` when there is no prefilter or no useful condition (an empty phrase).
    pub(crate) fn register_phrases<'p>(&self, phrases: impl IntoIterator<Item = &'p [u8]>) -> Option<u32> {
        let pf = self.prefilter?;
        let need = crate::prefilter::need::Need::phrases(phrases)?;
        Some(pf.borrow_mut().register_need(need))
    }

    /// [`Self::register_phrases`] for a one-phrase operand that may hold macros (only a static one has a
    /// condition known at load).
    pub(crate) fn register_param(&self, p: &Param) -> Option<u32> {
        self.register_phrases(p.as_static())
    }
}

type Factory = fn(&str, &BuildCtx<'_>) -> Result<Box<dyn Operator>, String>;

/// The operator registry: lowercase name → factory.
pub static OPERATORS: &[(&str, Factory)] = &[
    ("rx", rx::build),
    ("pm", pm::build),
    ("pmf", pm::build_from_file),
    ("pmfromfile", pm::build_from_file),
    ("detectsqli", detect_sqli::build),
    ("detectxss", detect_xss::build),
    ("detectcmdi", detect_cmdi::build),
    ("detectpathtraversal", detect_path_traversal::build),
    ("detectssrf", detect_ssrf::build),
    ("detectssti", detect_ssti::build),
    ("detectjndi", detect_jndi::build),
    ("detectnosqli", detect_nosqli::build),
    ("detectxxe", detect_xxe::build),
    ("detectprotopollution", detect_proto_pollution::build),
    ("within", within::build),
    ("streq", streq::build),
    ("eq", numeric::build_eq),
    ("ge", numeric::build_ge),
    ("gt", numeric::build_gt),
    ("lt", numeric::build_lt),
    ("le", numeric::build_le),
    ("contains", contains::build),
    ("containsword", contains_word::build),
    ("beginswith", begins_with::build),
    ("endswith", ends_with::build),
    ("strmatch", strmatch::build),
    ("ipmatch", ip_match::build),
    ("ipmatchf", ip_match::build_from_file),
    ("ipmatchfromfile", ip_match::build_from_file),
    ("validatebyterange", validate_byte_range::build),
    ("validateurlencoding", validate_url_encoding::build),
    ("validateutf8encoding", validate_utf8_encoding::build),
    ("unconditionalmatch", unconditional::build_match),
    ("nomatch", unconditional::build_no_match),
    ("verifycc", verify_cc::build),
    ("uniqueargnames", unique_arg_names::build),
    ("detectany", detect_any::build),
    ("shellshock", shellshock::build),
];

/// The 256-bit set of `bytes`, letters in both cases: the form [`Operator::need_bytes`] returns.
pub(crate) fn folded_set(bytes: impl IntoIterator<Item = u8>) -> [u64; 4] {
    let mut s = crate::prefilter::need::ByteSet::default();
    for b in bytes {
        s.insert(b);
    }
    crate::prefilter::preimage::folded(s.0)
}

/// Builds operator `name` (without `@`, any case) with parameter `arg`.
pub fn build(name: &str, arg: &str, ctx: &BuildCtx<'_>) -> Result<Box<dyn Operator>, String> {
    let lname = name.to_ascii_lowercase();
    let (_, f) = OPERATORS.iter().find(|(n, _)| *n == lname).ok_or_else(|| format!("unknown operator @{name}"))?;
    f(arg, ctx).map_err(|e| format!("@{name}: {e}"))
}

/// An operator parameter that may contain `%{...}` macros.
#[derive(Debug, Clone)]
pub(crate) struct Param(Macro);

impl Param {
    pub(crate) fn parse(arg: &str) -> Result<Param, String> {
        Macro::parse(arg).map(Param)
    }
    /// The parameter's bytes when it has no macro.
    pub(crate) fn as_static(&self) -> Option<&[u8]> {
        self.0.as_static()
    }
    /// Calls `f` with the parameter's (expanded) bytes.
    pub(crate) fn with<R: Default>(&self, env: &dyn MacroEnv, f: impl FnOnce(&[u8]) -> R) -> R {
        self.0.with_expanded(env, f)
    }
}

/// Reads a data file: one entry per line, `#` comments and blank lines skipped.
pub(crate) fn read_list_files(arg: &str, ctx: &BuildCtx<'_>) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for name in arg.split_whitespace() {
        let path = ctx.rule_dir.join(name);
        let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        for line in text.lines() {
            let l = line.trim();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            out.push(l.to_string());
        }
    }
    if out.is_empty() {
        return Err(format!("no entries in {arg:?}"));
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod test_util {
    use super::*;
    use crate::variables::Var;

    pub struct NoEnv;
    impl MacroEnv for NoEnv {
        fn expand_var(&self, _var: Var, key: Option<&str>, out: &mut Vec<u8>) {
            if key == Some("five") {
                out.extend_from_slice(b"5");
            }
        }
    }

    pub fn op(name: &str, arg: &str) -> Box<dyn Operator> {
        build(name, arg, &BuildCtx { rule_dir: Path::new(env!("CARGO_MANIFEST_DIR")), prefilter: None }).unwrap()
    }

    pub fn m(o: &dyn Operator, input: &[u8]) -> bool {
        o.eval(input, &mut OpCtx { env: &NoEnv, captures: None })
    }

    /// A xorshift64 generator from `seed` (non-zero): the same sequence on every run, for generated inputs.
    pub fn xorshift(mut seed: u64) -> impl FnMut() -> u64 {
        move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_util::*;
    use super::*;

    /// Operator cases as data: `operator<TAB>param<TAB>input<TAB>expected` (escapes: \t \n \xHH \\).
    #[test]
    fn data_driven_cases() {
        let text = include_str!("../../tests/data/operators.tsv");
        let mut n = 0;
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let cols: Vec<&str> = line.split('\t').collect();
            assert_eq!(cols.len(), 4, "operators.tsv line {}: {line:?}", i + 1);
            let o = op(cols[0], &String::from_utf8_lossy(&unescape(cols[1])));
            let want = cols[3] == "1";
            assert_eq!(m(o.as_ref(), &unescape(cols[2])), want, "operators.tsv line {}: {line}", i + 1);
            n += 1;
        }
        assert!(n > 30);
    }

    fn unescape(s: &str) -> Vec<u8> {
        let b = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'\\' && i + 1 < b.len() {
                match b[i + 1] {
                    b't' => out.push(b'\t'),
                    b'n' => out.push(b'\n'),
                    b'\\' => out.push(b'\\'),
                    b'x' if i + 3 < b.len() => {
                        out.push(u8::from_str_radix(&s[i + 2..i + 4], 16).unwrap());
                        i += 4;
                        continue;
                    }
                    o => {
                        out.push(b'\\');
                        out.push(o);
                    }
                }
                i += 2;
            } else {
                out.push(b[i]);
                i += 1;
            }
        }
        out
    }

    #[test]
    fn unknown_operator() {
        let e = build("nope", "", &BuildCtx { rule_dir: Path::new("."), prefilter: None }).unwrap_err();
        assert!(e.contains("unknown operator"));
    }

    #[test]
    fn macro_param() {
        let o = op("lt", "%{tx.five}");
        assert!(m(o.as_ref(), b"4"));
        assert!(!m(o.as_ref(), b"5"));
    }
}
