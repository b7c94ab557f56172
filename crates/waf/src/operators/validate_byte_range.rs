//! `@validateByteRange 1-255,9`: matches when the value holds a byte outside the allowed ranges.

use super::{BuildCtx, OpCtx, Operator};

#[derive(Debug)]
pub struct ValidateByteRange(Box<[bool; 256]>);

pub fn build(arg: &str, _: &BuildCtx<'_>) -> Result<Box<dyn Operator>, String> {
    let mut allowed = Box::new([false; 256]);
    for part in arg.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (a.trim(), b.trim()),
            None => (part, part),
        };
        let lo: u8 = lo.parse().map_err(|_| format!("bad byte {lo:?}"))?;
        let hi: u8 = hi.parse().map_err(|_| format!("bad byte {hi:?}"))?;
        if lo > hi {
            return Err(format!("bad range {part:?}"));
        }
        for b in lo..=hi {
            allowed[b as usize] = true;
        }
    }
    Ok(Box::new(ValidateByteRange(allowed)))
}

impl Operator for ValidateByteRange {
    /// A value matches only if it holds a byte outside the ranges.
    fn may_match(&self, input: &[u8]) -> bool {
        input.iter().any(|b| !self.0[*b as usize])
    }

    fn min_match_len(&self) -> usize {
        1
    }

    /// The bytes outside the ranges, letters in both cases (a superset when a range holds one case of a
    /// letter only: still a set every matching input holds a byte of).
    fn need_bytes(&self) -> Option<[u64; 4]> {
        Some(super::folded_set((0..=255u8).filter(|b| !self.0[*b as usize])))
    }

    fn eval(&self, i: &[u8], ctx: &mut OpCtx<'_>) -> bool {
        match i.iter().find(|b| !self.0[**b as usize]) {
            None => false,
            Some(b) => {
                if let Some(c) = ctx.captures.as_deref_mut() {
                    c.clear();
                    c.push(&[*b]);
                }
                true
            }
        }
    }
}
