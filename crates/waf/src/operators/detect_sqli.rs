//! `@detectSQLi`: libinjection SQL injection detection (pure-Rust port); captures the fingerprint.

use super::{BuildCtx, OpCtx, Operator};

#[derive(Debug)]
pub struct DetectSqli;

pub fn build(_: &str, _: &BuildCtx<'_>) -> Result<Box<dyn Operator>, String> {
    Ok(Box::new(DetectSqli))
}

impl Operator for DetectSqli {
    fn eval(&self, input: &[u8], ctx: &mut OpCtx<'_>) -> bool {
        if input.is_empty() {
            return false;
        }
        let r = libinjectionrs::detect_sqli(input);
        if r.is_injection() {
            if let Some(c) = ctx.captures.as_deref_mut() {
                c.clear();
                c.push(r.fingerprint.as_ref().map(|f| f.as_str().as_bytes()).unwrap_or(b""));
            }
            true
        } else {
            false
        }
    }
}
