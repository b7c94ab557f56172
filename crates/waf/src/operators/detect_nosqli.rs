//! `@detectNoSQLi`: MongoDB operator injection in JSON, parameter names and `$where` strings (`portcullis_detect::nosql`);
//! captures the signature as `TX:0`, the reason as `TX:1`.
//! The parameter is ignored.

use super::{native, BuildCtx, OpCtx, Operator};

#[derive(Debug)]
pub struct DetectNoSqli;

pub fn build(_: &str, _: &BuildCtx<'_>) -> Result<Box<dyn Operator>, String> {
    Ok(Box::new(DetectNoSqli))
}

impl Operator for DetectNoSqli {
    fn eval(&self, input: &[u8], ctx: &mut OpCtx<'_>) -> bool {
        native::eval(portcullis_detect::nosql::detect, input, ctx)
    }
}
