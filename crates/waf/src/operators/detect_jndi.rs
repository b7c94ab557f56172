//! `@detectJndi`: Log4Shell JNDI lookups after resolving the lookup grammar (`portcullis_detect::jndi`); captures the signature as `TX:0`, the reason as `TX:1`.
//! The parameter is ignored.

use super::{native, BuildCtx, OpCtx, Operator};

#[derive(Debug)]
pub struct DetectJndi;

pub fn build(_: &str, _: &BuildCtx<'_>) -> Result<Box<dyn Operator>, String> {
    Ok(Box::new(DetectJndi))
}

impl Operator for DetectJndi {
    fn eval(&self, input: &[u8], ctx: &mut OpCtx<'_>) -> bool {
        native::eval(portcullis_detect::jndi::detect, input, ctx)
    }
}
