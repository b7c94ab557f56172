//! A `multiMatch` link skips a value whose untransformed prefilter bitset rules its operator out when the value
//! holds none of the chain's trigger bytes: every form the chain makes of it then equals the value up to letter
//! case, and the prefilter is case-insensitive, so no form can match and none is computed (`eval_link`). The
//! reference is the same rule set with the prefilter off, where every form is computed and tried: the matches,
//! their data (the form that matched) and TX must be identical.

mod common;

use common::*;

/// CRS 930110's chain: each rule matches only a form that a step makes (`%2e` decoded, `^` or a quote deleted
/// by `cmdLine`, a NUL removed), or the value itself in another letter case (2).
const POSITIVE: &str = r#"SecRuleEngine On
SecRule ARGS|REQUEST_HEADERS:X-Data "@rx \.\./" "id:1,phase:1,pass,log,t:none,t:utf8toUnicode,t:urlDecodeUni,t:removeNulls,t:cmdLine,multiMatch,capture,logdata:'%{MATCHED_VAR}',setvar:tx.one=%{TX.0}"
SecRule ARGS|REQUEST_HEADERS:X-Data "@rx etc/passwd" "id:2,phase:1,pass,log,t:none,t:urlDecodeUni,t:cmdLine,multiMatch,logdata:'%{MATCHED_VAR}',setvar:tx.two=+1"
"#;

/// A negated link is never skipped (it matches where its operator does not).
const NEGATED: &str = r#"SecRule ARGS|REQUEST_HEADERS:X-Data "!@rx ^[a-z]+$" "id:3,phase:1,pass,log,t:none,t:urlDecodeUni,t:cmdLine,multiMatch,logdata:'%{MATCHED_VAR}',setvar:tx.three=+1"
"#;

#[test]
fn skipped_values_agree_with_every_form_tried() {
    let (on, off) = prefilter_pair(&format!("{POSITIVE}{NEGATED}"));
    let alphabet = [".", "./", "%2e", "^", "'", "%00", "/", "ETC", "etc", "/passwd", "PassWd", " ", "%20", "x", "\\"];
    let matched = agree_on_triples((&on, &off), &alphabet, "X-Data", |[i, j, k]| {
        let v = format!("{i}{j}{k}");
        (format!("/a?q={v}&r=hello"), v.replace("%00", ""))
    });
    // every rule matches somewhere, on values with and without trigger bytes
    assert!(matched.len() == 4 && matched[1..].iter().all(|n| *n > 0), "{matched:?}");
    let mut t = get_exact(&on, "/a?q=.%5e./&r=ETC/PASSWD", &[]);
    assert_eq!(outcome(&mut t).0, ["1 ../", "2 etc/passwd", "3 ETC/PASSWD"]);
}

/// The shortcut runs: values holding no trigger byte and no literal of the operators add no transformation.
#[test]
fn trigger_free_values_compute_no_form() {
    // (without the memo of earlier transactions' scans, which would serve the second request's first value)
    let on =
        std::sync::Arc::new(portcullis_waf::Engine::from_str(POSITIVE, "multi.conf").unwrap().with_scan_memo(false));
    // the first value opens the rules' gates (it holds `../` after `cmdLine`) and has its forms computed
    let base = get_exact(&on, "/a?q=.^./", &[]).stats().transforms_computed;
    let more = get_exact(&on, "/a?q=.^./&r=hello&s=World&t=123", &[]).stats().transforms_computed;
    assert!(base > 0);
    assert_eq!(base, more);
}
