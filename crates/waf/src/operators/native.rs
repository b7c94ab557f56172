//! Shared evaluation for the native detector operators (`@detectCmdi`, `@detectSSRF`, ...): run the
//! detector from `portcullis-detect` on the value and, when the rule has `capture`, put the detector's
//! signature in `TX:0` and its reason in `TX:1`. The detectors with their own decoding layers (path
//! traversal, SSRF, SSTI, JNDI, prototype keys, XXE) also come without them, for values the evaluator has
//! found plain ([`layered`]).

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

/// A detector that decodes inside (`detect`: the value, its deep decoding, base64 of either) and the same
/// detector without its base64 layer (`detect_plain`), which answers alike on a plain value
/// (`portcullis_detect::prefilter::Classes::is_plain`: nothing to decode). Each value would otherwise be
/// tested for base64 and escapes once per detector rule that reads it; the evaluator tests it once.
pub(crate) fn layered(
    detect: Detector,
    detect_plain: Detector,
    plain: bool,
    input: &[u8],
    ctx: &mut OpCtx<'_>,
) -> bool {
    eval(if plain { detect_plain } else { detect }, input, ctx)
}
