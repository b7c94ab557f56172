//! `@rx`: regular expression match (PCRE semantics approximated, see `regex_util`).

use super::rx_need::NeedBytes;
use super::{BuildCtx, OpCtx, Operator, Param};
use crate::prefilter::need;
use crate::regex_util::{compile_rx, compile_rx_mode};
use regex::bytes::Regex;

#[derive(Debug)]
enum Rx {
    /// A regex and, when it has a necessary condition, the byte test run before it (`rx_need`).
    Static(Regex, Option<Box<NeedBytes>>),
    /// `^.*$`, `^.*` or `.*` compiled in ASCII mode: with DOTALL (`regex_util`) `.` matches every byte and
    /// `$` is the end of the value, so the regex matches every value, whole (the leftmost, greedy match is
    /// the entire input), and capture group 0 is the value itself. CRS uses it to copy header names
    /// into `TX:0` (920450, once per header); the fast path skips the search and the capturing engine.
    Whole,
    /// Parameter with macros: compiled per evaluation (rare; CRS has none).
    Dynamic(Param),
}

#[derive(Debug)]
pub struct RxOp(Rx, Option<u32>);

pub fn build(arg: &str, ctx: &BuildCtx<'_>) -> Result<Box<dyn Operator>, String> {
    if arg.contains("%{") {
        return Ok(Box::new(RxOp(Rx::Dynamic(Param::parse(arg)?), None)));
    }
    let (re, unicode) = compile_rx_mode(arg).map_err(|e| format!("bad regex: {e}"))?;
    if !unicode && matches!(arg, "^.*$" | "^.*" | ".*") {
        return Ok(Box::new(RxOp(Rx::Whole, None)));
    }
    // one analysis for the shared prefilter and this operator's own byte test
    let need = need::of_regex(arg, unicode);
    let test = need.as_ref().map(|n| Box::new(NeedBytes::new(n)));
    let pf = ctx.prefilter.zip(need).map(|(p, n)| p.borrow_mut().register_need(n));
    Ok(Box::new(RxOp(Rx::Static(re, test), pf)))
}

pub(crate) fn match_regex(re: &Regex, input: &[u8], ctx: &mut OpCtx<'_>) -> bool {
    match ctx.captures.as_deref_mut() {
        None => re.is_match(input),
        // capture groups cost a slower engine: find out cheaply whether there is a match at all first
        Some(_) if !re.is_match(input) => false,
        Some(caps) => match re.captures(input) {
            None => false,
            Some(c) => {
                caps.clear();
                for g in c.iter().take(10) {
                    caps.push(g.map(|m| m.as_bytes()).unwrap_or(b""));
                }
                true
            }
        },
    }
}

impl Operator for RxOp {
    fn prefilter_id(&self) -> Option<u32> {
        self.1
    }

    /// The regex's byte test (`rx_need`): the forms `multiMatch` hands the operator have not been through the
    /// shared prefilter.
    fn may_match(&self, input: &[u8]) -> bool {
        match &self.0 {
            Rx::Static(_, Some(t)) => t.may_match(input),
            _ => true,
        }
    }

    fn min_match_len(&self) -> usize {
        match &self.0 {
            Rx::Static(_, Some(t)) => t.min_len(),
            _ => 0,
        }
    }

    fn need_bytes(&self) -> Option<[u64; 4]> {
        match &self.0 {
            Rx::Static(_, Some(t)) => Some(t.bytes()),
            _ => None,
        }
    }

    fn eval(&self, input: &[u8], ctx: &mut OpCtx<'_>) -> bool {
        match &self.0 {
            Rx::Static(re, _) => match_regex(re, input, ctx),
            Rx::Whole => {
                if let Some(caps) = ctx.captures.as_deref_mut() {
                    caps.clear();
                    caps.push(input);
                }
                true
            }
            Rx::Dynamic(p) => {
                let pat = p.with(ctx.env, |b| String::from_utf8_lossy(b).into_owned());
                match compile_rx(&pat) {
                    Ok(re) => match_regex(&re, input, ctx),
                    Err(_) => false,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::macros::MacroEnv;
    use crate::operators::Captures;
    use crate::variables::Var;

    struct NoEnv;
    impl MacroEnv for NoEnv {
        fn expand_var(&self, _: Var, _: Option<&str>, _: &mut Vec<u8>) {}
    }

    /// The whole-value fast path gives what the regex gives: the match and the capture groups.
    #[test]
    fn whole_value_patterns_agree_with_the_regex() {
        let inputs: &[&[u8]] = &[b"", b"host", b"a\nb\n", b"\n", b"\xff\xfe\x00x", "K\u{212a}".as_bytes(), b"x\r\n"];
        let ctx = BuildCtx { rule_dir: std::path::Path::new("."), prefilter: None };
        for pat in ["^.*$", "^.*", ".*"] {
            let op = build(pat, &ctx).unwrap();
            let re = compile_rx(pat).unwrap();
            for input in inputs {
                let (mut a, mut b) = (Captures::default(), Captures::default());
                let hit = op.eval(input, &mut OpCtx { env: &NoEnv, captures: Some(&mut a) });
                let want = match_regex(&re, input, &mut OpCtx { env: &NoEnv, captures: Some(&mut b) });
                assert_eq!((hit, a.groups()), (want, b.groups()), "{pat} on {input:?}");
                assert!(op.eval(input, &mut OpCtx { env: &NoEnv, captures: None }));
            }
        }
        // anything else stays a regex
        assert!(!build("^.*x$", &ctx).unwrap().eval(b"ab", &mut OpCtx { env: &NoEnv, captures: None }));
    }
}
