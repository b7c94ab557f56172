//! `@detectSSRF`: URLs or hosts reaching loopback, metadata, private ranges or non-HTTP schemes (`portcullis_detect::ssrf`); captures the signature as `TX:0`, the reason as `TX:1`.
//! The parameter is ignored.

use super::{native, BuildCtx, OpCtx, Operator};
use portcullis_detect::{prefilter::may_match, Class};

#[derive(Debug)]
pub struct DetectSsrf;

pub fn build(_: &str, _: &BuildCtx<'_>) -> Result<Box<dyn Operator>, String> {
    Ok(Box::new(DetectSsrf))
}

impl Operator for DetectSsrf {
    fn eval(&self, input: &[u8], ctx: &mut OpCtx<'_>) -> bool {
        // A cheap necessary condition first: most values cannot carry this class at all.
        if !may_match(Class::Ssrf, input) {
            return false;
        }
        native::eval(portcullis_detect::ssrf::detect, input, ctx)
    }

    fn detector_class(&self) -> Option<portcullis_detect::Class> {
        Some(portcullis_detect::Class::Ssrf)
    }
}
