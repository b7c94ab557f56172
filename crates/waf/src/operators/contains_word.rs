//! `@containsWord`: the parameter occurs in the value delimited by non-word characters or the ends.

use super::{BuildCtx, OpCtx, Operator, Param};

#[derive(Debug)]
pub struct ContainsWord(Param);

pub fn build(arg: &str, _: &BuildCtx<'_>) -> Result<Box<dyn Operator>, String> {
    Ok(Box::new(ContainsWord(Param::parse(arg)?)))
}

impl Operator for ContainsWord {
    fn eval(&self, i: &[u8], ctx: &mut OpCtx<'_>) -> bool {
        let hit = self.0.with(ctx.env, |p| contains_word(i, p));
        if hit {
            if let Some(c) = ctx.captures.as_deref_mut() {
                c.clear();
                c.push(i);
            }
        }
        hit
    }
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn contains_word(hay: &[u8], word: &[u8]) -> bool {
    if word.is_empty() {
        return true;
    }
    let mut start = 0;
    while let Some(pos) = super::strmatch::find(&hay[start..], word) {
        let s = start + pos;
        let e = s + word.len();
        let left_ok = s == 0 || !is_word(hay[s - 1]);
        let right_ok = e == hay.len() || !is_word(hay[e]);
        if left_ok && right_ok {
            return true;
        }
        start = s + 1;
    }
    false
}
