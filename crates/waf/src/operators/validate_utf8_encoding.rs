//! `@validateUtf8Encoding`: matches when the value is not valid UTF-8 (overlong forms, surrogates and
//! truncated sequences included).

use super::{BuildCtx, OpCtx, Operator};

#[derive(Debug)]
pub struct ValidateUtf8;

pub fn build(_: &str, _: &BuildCtx<'_>) -> Result<Box<dyn Operator>, String> {
    Ok(Box::new(ValidateUtf8))
}

impl Operator for ValidateUtf8 {
    /// ASCII is valid UTF-8: only a value with a byte of 0x80 or above can be invalid.
    fn may_match(&self, input: &[u8]) -> bool {
        !input.is_ascii()
    }

    fn min_match_len(&self) -> usize {
        1
    }

    fn need_bytes(&self) -> Option<[u64; 4]> {
        Some([0, 0, u64::MAX, u64::MAX])
    }

    fn eval(&self, i: &[u8], _: &mut OpCtx<'_>) -> bool {
        std::str::from_utf8(i).is_err()
    }
}
