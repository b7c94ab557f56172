//! `@detectXXE`: XML external entities, external DTDs, XInclude and entity expansion (`portcullis_detect::xxe`); captures the signature as `TX:0`, the reason as `TX:1`.
//! The parameter is ignored.

use super::{native, BuildCtx, OpCtx, Operator};

#[derive(Debug)]
pub struct DetectXxe;

pub fn build(_: &str, _: &BuildCtx<'_>) -> Result<Box<dyn Operator>, String> {
    Ok(Box::new(DetectXxe))
}

impl Operator for DetectXxe {
    fn eval(&self, input: &[u8], ctx: &mut OpCtx<'_>) -> bool {
        native::eval(portcullis_detect::xxe::detect, input, ctx)
    }
}
