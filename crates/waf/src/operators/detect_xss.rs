//! `@detectXSS`: libinjection XSS detection (pure-Rust port).

use super::{BuildCtx, OpCtx, Operator};

#[derive(Debug)]
pub struct DetectXss;

pub fn build(_: &str, _: &BuildCtx<'_>) -> Result<Box<dyn Operator>, String> {
    Ok(Box::new(DetectXss))
}

impl Operator for DetectXss {
    fn eval(&self, input: &[u8], ctx: &mut OpCtx<'_>) -> bool {
        if input.is_empty() {
            return false;
        }
        let hit = libinjectionrs::detect_xss(input).is_injection();
        if hit {
            if let Some(c) = ctx.captures.as_deref_mut() {
                c.clear();
                c.push(input);
            }
        }
        hit
    }
}
