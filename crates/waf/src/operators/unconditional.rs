//! `@unconditionalMatch` (always true) and `@noMatch` (always false).

use super::{BuildCtx, OpCtx, Operator};

#[derive(Debug)]
pub struct Always(bool);

pub fn build_match(_: &str, _: &BuildCtx<'_>) -> Result<Box<dyn Operator>, String> {
    Ok(Box::new(Always(true)))
}
pub fn build_no_match(_: &str, _: &BuildCtx<'_>) -> Result<Box<dyn Operator>, String> {
    Ok(Box::new(Always(false)))
}

impl Operator for Always {
    fn eval(&self, i: &[u8], ctx: &mut OpCtx<'_>) -> bool {
        if self.0 {
            if let Some(c) = ctx.captures.as_deref_mut() {
                c.clear();
                c.push(i);
            }
        }
        self.0
    }
}
