//! `@detectXSS`: cross-site scripting detection by `portcullis_detect::xss`; captures the input as `TX:0`
//! (as ModSecurity does for this operator).
//!
//! Why our own detector and not libinjection (the issue asked to evaluate the `libinjectionrs` port): ours reads
//! tags and attributes the way a browser's tokenizer does, decodes character references in attribute values,
//! and checks each context a value can be pasted into (markup, attribute value, URL, JavaScript string, CSS,
//! client-side template), so it can report which element, handler or URI made the value executable.

use super::{BuildCtx, OpCtx, Operator};
use portcullis_detect::{prefilter::may_match, Class};

#[derive(Debug)]
pub struct DetectXss;

pub fn build(_: &str, _: &BuildCtx<'_>) -> Result<Box<dyn Operator>, String> {
    Ok(Box::new(DetectXss))
}

impl Operator for DetectXss {
    fn eval(&self, input: &[u8], ctx: &mut OpCtx<'_>) -> bool {
        // A cheap necessary condition first: no markup, quote, scheme or template byte means no XSS.
        if !may_match(Class::Xss, input) || portcullis_detect::xss::detect(input).is_none() {
            return false;
        }
        if let Some(c) = ctx.captures.as_deref_mut() {
            c.clear();
            c.push(input);
        }
        true
    }

    fn detector_class(&self) -> Option<portcullis_detect::Class> {
        Some(portcullis_detect::Class::Xss)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::super::{Captures, OpCtx};

    #[test]
    fn captures_the_input_as_tx0() {
        let o = op("detectxss", "");
        let mut caps = Captures::default();
        let attack = b"<img src=x onerror=alert(1)>";
        assert!(o.eval(attack, &mut OpCtx { env: &NoEnv, captures: Some(&mut caps) }));
        assert_eq!(caps.groups(), [attack.to_vec()]);
        assert!(!m(o.as_ref(), b"a < b and <b>bold</b>"));
    }
}
