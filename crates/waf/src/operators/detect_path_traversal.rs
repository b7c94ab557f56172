//! `@detectPathTraversal`: path traversal and local file inclusion after path normalisation (`portcullis_detect::traversal`); captures the signature as `TX:0`, the reason as `TX:1`.
//! The parameter is ignored.

use super::{native, BuildCtx, OpCtx, Operator};
use portcullis_detect::{prefilter::may_match, Class};

#[derive(Debug)]
pub struct DetectPathTraversal;

pub fn build(_: &str, _: &BuildCtx<'_>) -> Result<Box<dyn Operator>, String> {
    Ok(Box::new(DetectPathTraversal))
}

impl Operator for DetectPathTraversal {
    fn eval(&self, input: &[u8], ctx: &mut OpCtx<'_>) -> bool {
        // A cheap necessary condition first: most values cannot carry this class at all.
        if !may_match(Class::PathTraversal, input) {
            return false;
        }
        native::eval(portcullis_detect::traversal::detect, input, ctx)
    }

    fn detector_class(&self) -> Option<portcullis_detect::Class> {
        Some(portcullis_detect::Class::PathTraversal)
    }
}
