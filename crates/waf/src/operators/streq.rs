//! `@streq`: the value equals the parameter exactly.

use super::{BuildCtx, OpCtx, Operator, Param};

#[derive(Debug)]
pub struct StrEq(Param);

pub fn build(arg: &str, _: &BuildCtx<'_>) -> Result<Box<dyn Operator>, String> {
    Ok(Box::new(StrEq(Param::parse(arg)?)))
}

impl Operator for StrEq {
    fn eval(&self, i: &[u8], ctx: &mut OpCtx<'_>) -> bool {
        let hit = self.0.with(ctx.env, |p| p == i);
        if hit {
            if let Some(c) = ctx.captures.as_deref_mut() {
                c.clear();
                c.push(i);
            }
        }
        hit
    }
}
