//! The gate's summary batches (`transaction::gate`, `Gate::batch`): the gates of one straight run of a
//! phase's rules that read the same summary are tested against it together when the first of them is
//! visited, and each later one reads its bit. The reference is the same rule set with the prefilter off:
//! matches, logged data and TX must be identical, and each rule must match exactly when its bytes are there,
//! whichever member of the batch it is (first, middle, last), across a `skipAfter` that splits a phase into
//! runs, and in a later phase that tests its own batches.

mod common;

use common::*;

/// Rules 1–4 read the same sources (one summary, one batch of four); 5 jumps over 6–7 when `X-Skip` is
/// present, so 6–7 are another run (and another batch); 11–13 are phase 2's batch over the same sources.
const RULES: &str = r#"SecRuleEngine On
SecRule ARGS|REQUEST_HEADERS:X-A|REQUEST_COOKIES "@rx <scr" "id:1,phase:1,pass,log,t:urlDecodeUni,t:htmlEntityDecode,logdata:'%{MATCHED_VAR_NAME}',setvar:tx.one=+1"
SecRule ARGS|REQUEST_HEADERS:X-A|REQUEST_COOKIES "@rx union" "id:2,phase:1,pass,log,t:none,logdata:'%{MATCHED_VAR}'"
SecRule ARGS|REQUEST_HEADERS:X-A|REQUEST_COOKIES "@rx drop" "id:3,phase:1,pass,log,t:urlDecodeUni,t:lowercase"
SecRule ARGS|REQUEST_HEADERS:X-A|REQUEST_COOKIES "@rx sel ect" "id:4,phase:1,pass,log,t:urlDecodeUni,t:compressWhitespace,multiMatch,logdata:'%{MATCHED_VAR}'"
SecRule REQUEST_HEADERS:X-Skip "@rx ." "id:5,phase:1,pass,nolog,skipAfter:END-RUN"
SecRule ARGS|REQUEST_HEADERS:X-A|REQUEST_COOKIES "@rx <ifr" "id:6,phase:1,pass,log,t:urlDecodeUni,t:htmlEntityDecode,setvar:tx.six=%{MATCHED_VAR}"
SecRule ARGS|REQUEST_HEADERS:X-A|REQUEST_COOKIES "@rx alert" "id:7,phase:1,pass,log,t:none"
SecMarker END-RUN
SecRule ARGS|REQUEST_HEADERS:X-A|REQUEST_COOKIES "@rx <scr" "id:11,phase:2,pass,log,t:urlDecodeUni,t:htmlEntityDecode"
SecRule ARGS|REQUEST_HEADERS:X-A|REQUEST_COOKIES "@rx union" "id:12,phase:2,pass,log,t:none,setvar:tx.twelve=%{MATCHED_VAR}"
SecRule ARGS|REQUEST_HEADERS:X-A|REQUEST_COOKIES "@rx alert" "id:13,phase:2,pass,log,t:none"
"#;

#[test]
fn batched_summary_tests_agree_with_no_prefilter() {
    let (on, off) = prefilter_pair(RULES);
    let cases: [Case; 14] = [
        ("/a?q=hello", &[("X-A", "fine")], &[]),
        // one member of the first batch at a time: first, middle, last
        ("/a?q=%3Cscr", &[], &[1, 11]),
        ("/a?q=hello", &[("X-A", "a union b")], &[2, 12]),
        ("/a?q=%64rop", &[], &[3]),
        ("/a?q=1", &[("Cookie", "c=sel%20%20ect")], &[4]),
        // the bytes of a chain present without the literal: the summary must not close, the unions decide
        ("/a?q=100%25", &[("X-A", "a&b")], &[]),
        // the second run's batch, reached and jumped over
        ("/a?q=%26lt%3Bifr", &[], &[6]),
        ("/a?q=%26lt%3Bifr", &[("X-Skip", "1")], &[]),
        ("/a?q=alert", &[], &[7, 13]),
        ("/a?q=alert", &[("X-Skip", "1")], &[13]),
        // several members of several batches
        ("/a?q=%3Cscr&r=DROP", &[("X-A", "union"), ("Cookie", "k=%3cifr")], &[1, 2, 3, 6, 11, 12]),
        ("/a?q=union&r=alert", &[("X-Skip", "y"), ("X-A", "&lt;scr")], &[1, 2, 11, 12, 13]),
        ("/a?q=sel+ect", &[("X-A", "drop alert")], &[3, 4, 7, 13]),
        ("/a?q=x", &[("X-Skip", "y"), ("X-A", "sel ect <ifr")], &[4]),
    ];
    assert_cases(&on, &off, &cases);
    // the benign request is decided by the gates alone (rule 5, the jump, has no literal to gate on)
    let a = get_exact(&on, "/a?q=hello", &[("X-A", "fine"), ("Cookie", "c=1")]);
    assert_eq!(a.stats().rules, 1, "every gated rule is skipped on a benign request");
}
