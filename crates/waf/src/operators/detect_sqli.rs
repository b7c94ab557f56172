//! `@detectSQLi`: SQL injection detection by `portcullis_detect::sqli`; captures the token fingerprint as
//! `TX:0` (CRS logs it as "Matched Data").
//!
//! Why our own detector and not libinjection (the issue asked to evaluate the `libinjectionrs` port): libinjection
//! matches 5-token fingerprints against a fixed list, so it cannot say why a value is an attack and misfires on
//! prose whose fingerprint happens to be listed. `portcullis_detect` tokenizes the value and analyses it in
//! every context it can land in (bare value, single- and double-quoted string), flags only streams that break
//! out and form SQL with an effect, and returns that reason. It passes the CRS regression tests of 942100/942101
//! that libinjection passes.

use super::{BuildCtx, OpCtx, Operator};
use portcullis_detect::{prefilter::may_match, Class};

#[derive(Debug)]
pub struct DetectSqli;

pub fn build(_: &str, _: &BuildCtx<'_>) -> Result<Box<dyn Operator>, String> {
    Ok(Box::new(DetectSqli))
}

impl Operator for DetectSqli {
    fn eval(&self, input: &[u8], ctx: &mut OpCtx<'_>) -> bool {
        // A cheap necessary condition first: most values (ids, words, tokens) cannot be SQL.
        if !may_match(Class::Sqli, input) {
            return false;
        }
        let Some(finding) = portcullis_detect::sqli::detect(input) else { return false };
        if let Some(c) = ctx.captures.as_deref_mut() {
            c.clear();
            c.push(finding.signature.as_bytes());
        }
        true
    }

    fn detector_class(&self) -> Option<portcullis_detect::Class> {
        Some(portcullis_detect::Class::Sqli)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::super::{Captures, OpCtx};

    #[test]
    fn captures_the_fingerprint_as_tx0() {
        let o = op("detectsqli", "");
        let mut caps = Captures::default();
        assert!(o.eval(b"-1' OR '1'='1", &mut OpCtx { env: &NoEnv, captures: Some(&mut caps) }));
        assert_eq!(caps.groups(), [b"s&sos".to_vec()]);
        assert!(!m(o.as_ref(), b"O'Reilly books"));
        assert!(!m(o.as_ref(), b""));
    }
}
