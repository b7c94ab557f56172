//! `@endsWith`: the value ends with the parameter.

use super::{BuildCtx, OpCtx, Operator, Param};

#[derive(Debug)]
pub struct EndsWith(Param, Option<u32>);

pub fn build(arg: &str, ctx: &BuildCtx<'_>) -> Result<Box<dyn Operator>, String> {
    let p = Param::parse(arg)?;
    // a match contains the (static) parameter
    let pf = ctx.register_param(&p);
    Ok(Box::new(EndsWith(p, pf)))
}

impl Operator for EndsWith {
    fn prefilter_id(&self) -> Option<u32> {
        self.1
    }

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
