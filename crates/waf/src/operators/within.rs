//! `@within`: the value occurs in the parameter (e.g. a method in `%{tx.allowed_methods}`). An empty value is found everywhere, as in Coraza.

use super::{BuildCtx, OpCtx, Operator, Param};

#[derive(Debug)]
pub struct Within(Param);

pub fn build(arg: &str, _: &BuildCtx<'_>) -> Result<Box<dyn Operator>, String> {
    Ok(Box::new(Within(Param::parse(arg)?)))
}

impl Operator for Within {
    fn eval(&self, i: &[u8], ctx: &mut OpCtx<'_>) -> bool {
        let hit = self.0.with(ctx.env, |p| super::strmatch::occurs(p, i));
        if hit {
            if let Some(c) = ctx.captures.as_deref_mut() {
                c.clear();
                c.push(i);
            }
        }
        hit
    }
}
