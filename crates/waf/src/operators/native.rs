//! Shared evaluation for the native detector operators (`@detectCmdi`, `@detectSSRF`, ...): run the
//! detector from `portcullis-detect` on the value and, when the rule has `capture`, put the detector's
//! signature in `TX:0` and its reason in `TX:1`.

use super::OpCtx;
use portcullis_detect::Finding;

pub(crate) type Detector = fn(&[u8]) -> Option<Finding>;

pub(crate) fn eval(detect: Detector, input: &[u8], ctx: &mut OpCtx<'_>) -> bool {
    if input.is_empty() {
        return false;
    }
    let Some(f) = detect(input) else { return false };
    if let Some(c) = ctx.captures.as_deref_mut() {
        c.clear();
        c.push(if f.signature.is_empty() { f.reason.as_bytes() } else { f.signature.as_bytes() });
        c.push(f.reason.as_bytes());
    }
    true
}
