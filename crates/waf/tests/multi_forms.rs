//! Transformation chains (`Transaction::compute_chain`, and the `multiMatch` forms of `multi_forms`) skip a
//! step when the current form holds none of its triggers and the step would hand it back whole
//! (`Transform::is_identity_on`), reading the value's bytes from the gate's untransformed entry, and keep
//! them known across steps that change only letter case. The reference is the same rule set with the
//! prefilter off, where no such entry exists and every step runs: the matches, their data (the transformed
//! value) and TX must be identical.

mod common;

use common::*;

/// Each rule matches only a form some step makes: after a later step acts on what an earlier one decoded
/// (1: `%5cx41` → `\x41` → `A`, not followed by `x`), after NULs or whitespace go (2), after `utf8toUnicode` (3), or on an
/// intermediate form (4: `x41` before `lowercase`); 5 and 6 log the whole transformed value, after a
/// `lowercase` first (the bytes stay known) and decodes that may reveal a later step's trigger.
const RULES: &str = r#"SecRuleEngine On
SecRule ARGS|REQUEST_HEADERS:X-Data "@rx ^A(?:[^x]|$)" "id:1,phase:1,pass,log,t:urlDecodeUni,t:jsDecode,multiMatch,logdata:'%{MATCHED_VAR}',setvar:tx.one=+1"
SecRule ARGS|REQUEST_HEADERS:X-Data "@rx ab" "id:2,phase:1,pass,log,t:utf8toUnicode,t:urlDecodeUni,t:removeNulls,t:removeWhitespace,multiMatch,logdata:'%{MATCHED_VAR}',setvar:tx.two=+1"
SecRule ARGS|REQUEST_HEADERS:X-Data "@rx %u00e9" "id:3,phase:1,pass,log,t:utf8toUnicode,t:removeWhitespace,multiMatch,capture,setvar:tx.three=%{TX.0}"
SecRule ARGS|REQUEST_HEADERS:X-Data "@rx Ax41" "id:4,phase:1,pass,log,t:jsDecode,t:urlDecodeUni,t:lowercase,multiMatch,logdata:'%{MATCHED_VAR}'"
SecRule ARGS|REQUEST_HEADERS:X-Data "@rx a" "id:5,phase:1,pass,log,t:lowercase,t:urlDecodeUni,t:jsDecode,t:removeNulls,t:removeWhitespace,logdata:'%{MATCHED_VAR}'"
SecRule ARGS|REQUEST_HEADERS:X-Data "@rx a" "id:6,phase:1,pass,log,t:lowercase,t:urlDecodeUni,t:jsDecode,t:removeNulls,t:removeWhitespace,multiMatch,logdata:'%{MATCHED_VAR}'"
"#;

#[test]
fn skipped_steps_agree_with_every_step_run() {
    let (on, off) = prefilter_pair(RULES);
    let alphabet = ["a", "b", "A", "%5c", "%255c", "x41", "%20", "%2520", "%00", "%2500", "+", "%C3%A9", "u0041"];
    let mut matched = [0usize; 7];
    for i in &alphabet {
        for j in &alphabet {
            for k in &alphabet {
                let v = format!("{i}{j}{k}");
                let uri = format!("/a?{v}={v}");
                let mut a = get_exact(&on, &uri, &[("X-Data", &v)]);
                let mut b = get_exact(&off, &uri, &[("X-Data", &v)]);
                assert_eq!(outcome(&mut a), outcome(&mut b), "{uri}");
                for m in a.matches() {
                    matched[m.id as usize] += 1;
                }
            }
        }
    }
    // MATCHED_VAR is the form that matched, whatever the rule before it left there (5: the transformed value;
    // 6: `ab`, the `lowercase` form, after the value `Ab` itself did not match)
    let mut t = get_exact(&on, "/a?q=Ab", &[]);
    assert_eq!(outcome(&mut t).0, ["1 Ab", "5 ab", "6 ab"]);
    // every rule matches somewhere, so the comparison covers each chain's decoded forms
    assert!(matched[1..].iter().all(|n| *n > 0), "{matched:?}");
}
