//! `@detectNoSQLi`: MongoDB operator injection in JSON, parameter names and `$where` strings (`portcullis_detect::nosql`);
//! captures the signature as `TX:0`, the reason as `TX:1`.
//! The parameter is ignored.

use super::{native, BuildCtx, OpCtx, Operator};
use portcullis_detect::{prefilter::may_match, Class};

#[derive(Debug)]
pub struct DetectNoSqli;

pub fn build(_: &str, _: &BuildCtx<'_>) -> Result<Box<dyn Operator>, String> {
    Ok(Box::new(DetectNoSqli))
}

impl Operator for DetectNoSqli {
    fn eval(&self, input: &[u8], ctx: &mut OpCtx<'_>) -> bool {
        // A cheap necessary condition first: most values cannot carry this class at all.
        if !may_match(Class::NoSqli, input) {
            return false;
        }
        native::eval(portcullis_detect::nosql::detect, input, ctx)
    }

    fn detector_class(&self) -> Option<portcullis_detect::Class> {
        Some(portcullis_detect::Class::NoSqli)
    }
}
