//! `@detectXXE`: XML external entities, external DTDs, XInclude and entity expansion (`portcullis_detect::xxe`); captures the signature as `TX:0`, the reason as `TX:1`.
//! The parameter is ignored.

use super::{native, BuildCtx, OpCtx, Operator};
use portcullis_detect::{prefilter::may_match, Class};

#[derive(Debug)]
pub struct DetectXxe;

pub fn build(_: &str, _: &BuildCtx<'_>) -> Result<Box<dyn Operator>, String> {
    Ok(Box::new(DetectXxe))
}

impl Operator for DetectXxe {
    fn eval(&self, input: &[u8], ctx: &mut OpCtx<'_>) -> bool {
        // A cheap necessary condition first: the pack hands every parameter to this detector (192020).
        if !may_match(Class::Xxe, input) {
            return false;
        }
        native::eval(portcullis_detect::xxe::detect, input, ctx)
    }

    fn detector_class(&self) -> Option<portcullis_detect::Class> {
        Some(portcullis_detect::Class::Xxe)
    }
}
