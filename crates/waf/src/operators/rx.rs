//! `@rx`: regular expression match (PCRE semantics approximated, see `regex_util`).

use super::{BuildCtx, OpCtx, Operator, Param};
use crate::regex_util::{compile_rx, compile_rx_mode};
use regex::bytes::Regex;

#[derive(Debug)]
enum Rx {
    Static(Regex),
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
    let pf = ctx.prefilter.and_then(|p| p.borrow_mut().register(arg, unicode));
    Ok(Box::new(RxOp(Rx::Static(re), pf)))
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

    fn eval(&self, input: &[u8], ctx: &mut OpCtx<'_>) -> bool {
        match &self.0 {
            Rx::Static(re) => match_regex(re, input, ctx),
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
