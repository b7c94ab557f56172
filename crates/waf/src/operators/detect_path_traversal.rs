//! `@detectPathTraversal`: path traversal and local file inclusion after path normalisation (`portcullis_detect::traversal`); captures the signature as `TX:0`, the reason as `TX:1`.
//! The parameter is ignored.

use super::{native, BuildCtx, OpCtx, Operator};

#[derive(Debug)]
pub struct DetectPathTraversal;

pub fn build(_: &str, _: &BuildCtx<'_>) -> Result<Box<dyn Operator>, String> {
    Ok(Box::new(DetectPathTraversal))
}

impl Operator for DetectPathTraversal {
    fn eval(&self, input: &[u8], ctx: &mut OpCtx<'_>) -> bool {
        native::eval(portcullis_detect::traversal::detect, input, ctx)
    }
}
