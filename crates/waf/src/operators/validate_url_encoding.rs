//! `@validateUrlEncoding`: matches when a `%` is not followed by two hex digits.

use super::{BuildCtx, OpCtx, Operator};

#[derive(Debug)]
pub struct ValidateUrlEncoding;

pub fn build(_: &str, _: &BuildCtx<'_>) -> Result<Box<dyn Operator>, String> {
    Ok(Box::new(ValidateUrlEncoding))
}

impl Operator for ValidateUrlEncoding {
    /// Only a `%` can start a bad encoding.
    fn may_match(&self, input: &[u8]) -> bool {
        memchr::memchr(b'%', input).is_some()
    }

    fn min_match_len(&self) -> usize {
        1
    }

    fn need_bytes(&self) -> Option<[u64; 4]> {
        Some(super::folded_set([b'%']))
    }

    fn eval(&self, i: &[u8], _: &mut OpCtx<'_>) -> bool {
        let mut k = 0;
        while k < i.len() {
            if i[k] == b'%' {
                if k + 2 >= i.len() {
                    return true;
                }
                if !(i[k + 1].is_ascii_hexdigit() && i[k + 2].is_ascii_hexdigit()) {
                    return true;
                }
                k += 3;
            } else {
                k += 1;
            }
        }
        false
    }
}
