//! `@detectProtoPollution`: prototype-pollution keys in JSON, parameter names and key paths (`portcullis_detect::proto`); captures the signature as `TX:0`, the reason as `TX:1`.
//! The parameter is ignored.

use super::{native, BuildCtx, OpCtx, Operator};

#[derive(Debug)]
pub struct DetectProtoPollution;

pub fn build(_: &str, _: &BuildCtx<'_>) -> Result<Box<dyn Operator>, String> {
    Ok(Box::new(DetectProtoPollution))
}

impl Operator for DetectProtoPollution {
    fn eval(&self, input: &[u8], ctx: &mut OpCtx<'_>) -> bool {
        // A cheap necessary condition first: most names and documents hold no `proto` at all.
        if !portcullis_detect::prefilter::may_match(portcullis_detect::Class::ProtoPollution, input) {
            return false;
        }
        native::eval(portcullis_detect::proto::detect, input, ctx)
    }

    fn detector_class(&self) -> Option<portcullis_detect::Class> {
        Some(portcullis_detect::Class::ProtoPollution)
    }
}
