//! `@verifyCC regex`: a regex finds candidate card numbers; a candidate matches when it passes Luhn.

use super::{BuildCtx, OpCtx, Operator};
use crate::regex_util::compile_rx;
use regex::bytes::Regex;

#[derive(Debug)]
pub struct VerifyCc(Regex);

pub fn build(arg: &str, _: &BuildCtx<'_>) -> Result<Box<dyn Operator>, String> {
    compile_rx(arg).map(|r| Box::new(VerifyCc(r)) as Box<dyn Operator>).map_err(|e| format!("bad regex: {e}"))
}

pub(crate) fn luhn(candidate: &[u8]) -> bool {
    let digits: Vec<u32> = candidate.iter().filter(|b| b.is_ascii_digit()).map(|b| (b - b'0') as u32).collect();
    if digits.len() < 12 {
        return false;
    }
    let mut sum = 0;
    for (k, d) in digits.iter().rev().enumerate() {
        let mut v = *d;
        if k % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum % 10 == 0
}

impl Operator for VerifyCc {
    fn eval(&self, i: &[u8], ctx: &mut OpCtx<'_>) -> bool {
        for m in self.0.find_iter(i) {
            if luhn(m.as_bytes()) {
                if let Some(c) = ctx.captures.as_deref_mut() {
                    c.clear();
                    c.push(m.as_bytes());
                }
                return true;
            }
        }
        false
    }
}
