//! `@contains`: the parameter occurs in the value.

use super::{BuildCtx, OpCtx, Operator, Param};

#[derive(Debug)]
pub struct Contains(Param);

pub fn build(arg: &str, _: &BuildCtx<'_>) -> Result<Box<dyn Operator>, String> {
    Ok(Box::new(Contains(Param::parse(arg)?)))
}

impl Operator for Contains {
    fn eval(&self, i: &[u8], ctx: &mut OpCtx<'_>) -> bool {
        let hit = self.0.with(ctx.env, |p| super::strmatch::find(i, p).is_some());
        if hit {
            if let Some(c) = ctx.captures.as_deref_mut() {
                c.clear();
                c.push(i);
            }
        }
        hit
    }
}
