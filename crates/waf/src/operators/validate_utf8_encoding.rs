//! `@validateUtf8Encoding`: matches when the value is not valid UTF-8 (overlong forms, surrogates and
//! truncated sequences included).

use super::{BuildCtx, OpCtx, Operator};

#[derive(Debug)]
pub struct ValidateUtf8;

pub fn build(_: &str, _: &BuildCtx<'_>) -> Result<Box<dyn Operator>, String> {
    Ok(Box::new(ValidateUtf8))
}

impl Operator for ValidateUtf8 {
    fn eval(&self, i: &[u8], _: &mut OpCtx<'_>) -> bool {
        std::str::from_utf8(i).is_err()
    }
}
