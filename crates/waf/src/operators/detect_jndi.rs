//! `@detectJndi`: Log4Shell JNDI lookups after resolving the lookup grammar (`portcullis_detect::jndi`); captures the signature as `TX:0`, the reason as `TX:1`.
//! The parameter is ignored.

use super::{native, BuildCtx, OpCtx, Operator};
use portcullis_detect::{prefilter::may_match, Class};

#[derive(Debug)]
pub struct DetectJndi;

pub fn build(_: &str, _: &BuildCtx<'_>) -> Result<Box<dyn Operator>, String> {
    Ok(Box::new(DetectJndi))
}

impl Operator for DetectJndi {
    fn eval(&self, input: &[u8], ctx: &mut OpCtx<'_>) -> bool {
        // A cheap necessary condition first: most values cannot carry this class at all.
        if !may_match(Class::Jndi, input) {
            return false;
        }
        native::eval(portcullis_detect::jndi::detect, input, ctx)
    }

    fn detector_class(&self) -> Option<portcullis_detect::Class> {
        Some(portcullis_detect::Class::Jndi)
    }
}
