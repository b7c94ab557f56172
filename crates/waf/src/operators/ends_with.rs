//! `@endsWith`: the value ends with the parameter.

use super::{BuildCtx, OpCtx, Operator, Param};

#[derive(Debug)]
pub struct EndsWith(Param);

pub fn build(arg: &str, _: &BuildCtx<'_>) -> Result<Box<dyn Operator>, String> {
    Ok(Box::new(EndsWith(Param::parse(arg)?)))
}

impl Operator for EndsWith {
    fn eval(&self, i: &[u8], ctx: &mut OpCtx<'_>) -> bool {
        let hit = self.0.with(ctx.env, |p| i.ends_with(p));
        if hit {
            if let Some(c) = ctx.captures.as_deref_mut() {
                c.clear();
                c.push(i);
            }
        }
        hit
    }
}
