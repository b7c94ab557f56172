//! `@beginsWith`: the value starts with the parameter.

use super::{BuildCtx, OpCtx, Operator, Param};

#[derive(Debug)]
pub struct BeginsWith(Param);

pub fn build(arg: &str, _: &BuildCtx<'_>) -> Result<Box<dyn Operator>, String> {
    Ok(Box::new(BeginsWith(Param::parse(arg)?)))
}

impl Operator for BeginsWith {
    fn eval(&self, i: &[u8], ctx: &mut OpCtx<'_>) -> bool {
        let hit = self.0.with(ctx.env, |p| i.starts_with(p));
        if hit {
            if let Some(c) = ctx.captures.as_deref_mut() {
                c.clear();
                c.push(i);
            }
        }
        hit
    }
}
