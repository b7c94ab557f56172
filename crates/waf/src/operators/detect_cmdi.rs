//! `@detectCmdi`: OS command injection in shell or cmd.exe syntax (`portcullis_detect::cmdi`); captures the signature as `TX:0`, the reason as `TX:1`.
//! The parameter is ignored.

use super::{native, BuildCtx, OpCtx, Operator};
use portcullis_detect::{prefilter::may_match, Class};

#[derive(Debug)]
pub struct DetectCmdi;

pub fn build(_: &str, _: &BuildCtx<'_>) -> Result<Box<dyn Operator>, String> {
    Ok(Box::new(DetectCmdi))
}

impl Operator for DetectCmdi {
    fn eval(&self, input: &[u8], ctx: &mut OpCtx<'_>) -> bool {
        // A cheap necessary condition first: most values cannot carry this class at all.
        if !may_match(Class::Cmdi, input) {
            return false;
        }
        native::eval(portcullis_detect::cmdi::detect, input, ctx)
    }

    fn detector_class(&self) -> Option<portcullis_detect::Class> {
        Some(portcullis_detect::Class::Cmdi)
    }
}
