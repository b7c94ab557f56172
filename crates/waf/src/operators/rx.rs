//! `@rx`: regular expression match (PCRE semantics approximated, see `regex_util`).

use super::{BuildCtx, OpCtx, Operator, Param};
use crate::regex_util::compile_rx;
use regex::bytes::Regex;

#[derive(Debug)]
enum Rx {
    Static(Regex),
    /// Parameter with macros: compiled per evaluation (rare; CRS has none).
    Dynamic(Param),
}

#[derive(Debug)]
pub struct RxOp(Rx);

pub fn build(arg: &str, _: &BuildCtx<'_>) -> Result<Box<dyn Operator>, String> {
    if arg.contains("%{") {
        return Ok(Box::new(RxOp(Rx::Dynamic(Param::parse(arg)?))));
    }
    compile_rx(arg).map(|r| Box::new(RxOp(Rx::Static(r))) as Box<dyn Operator>).map_err(|e| format!("bad regex: {e}"))
}

pub(crate) fn match_regex(re: &Regex, input: &[u8], ctx: &mut OpCtx<'_>) -> bool {
    match ctx.captures.as_deref_mut() {
        None => re.is_match(input),
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
