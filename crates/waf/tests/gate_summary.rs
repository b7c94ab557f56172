//! The gate's summary (`transaction::gate`, `Gate::summary`): a gate over several sources first tests the OR
//! of their untransformed unions and of the bytes their members hold, and closes every union at once when
//! that rules its bit out. The reference is the same rule set with the prefilter off: matches, logged data
//! and TX must be identical, each rule must match when the bytes it needs are in any one of its sources
//! (never only the first), and a benign request must be decided by the gates alone.

mod common;

use common::*;

/// Every rule reads several sources, so it has a summary; each source can supply the bytes the chain needs
/// alone: `%` (urlDecodeUni), `&` (htmlEntityDecode), the literal raw, or one form of a `multiMatch` chain.
const RULES: &str = r#"SecRuleEngine On
SecRule ARGS|REQUEST_HEADERS:X-A|REQUEST_HEADERS:X-B|REQUEST_COOKIES "@rx <scr" "id:1,phase:1,pass,log,t:urlDecodeUni,t:htmlEntityDecode,logdata:'%{MATCHED_VAR_NAME}',setvar:tx.one=+1"
SecRule ARGS_NAMES|ARGS|REQUEST_HEADERS:X-B "@rx sel ect" "id:2,phase:1,pass,log,t:urlDecodeUni,t:compressWhitespace,multiMatch,logdata:'%{MATCHED_VAR}'"
SecRule REQUEST_HEADERS:X-A|REQUEST_HEADERS:X-B|ARGS "@rx union" "id:3,phase:1,pass,log,t:none,logdata:'%{MATCHED_VAR}'"
SecRule ARGS|REQUEST_HEADERS:X-B "@rx drop" "id:4,phase:1,pass,log,t:urlDecodeUni,t:htmlEntityDecode,t:lowercase"
SecRule ARGS|REQUEST_HEADERS:X-A|REQUEST_HEADERS:X-B|REQUEST_COOKIES "@rx <ifr" "id:5,phase:2,pass,log,t:urlDecodeUni,t:htmlEntityDecode,setvar:tx.five=%{MATCHED_VAR}"
"#;

#[test]
fn summary_agrees_with_no_prefilter_on_every_source() {
    let (on, off) = prefilter_pair(RULES);
    let cases: [Case; 16] = [
        ("/a?q=hello", &[("X-A", "fine"), ("X-B", "also fine")], &[]),
        // the needed bytes in the last source only (a summary built from fewer sources misses these)
        ("/a?q=hello", &[("X-A", "fine"), ("Cookie", "c=%3Cscr")], &[1]),
        ("/a?q=hello", &[("X-B", "&lt;scr")], &[1]),
        ("/a?q=hello", &[("X-A", "ok"), ("X-B", "a union b")], &[3]),
        ("/a?q=hello", &[("X-B", "%64rop")], &[4]),
        ("/a?q=hello", &[("Cookie", "c=%26lt%3Bifr")], &[5]),
        // in the first or a middle source
        ("/a?q=%3cscr", &[], &[1]),
        ("/a?q=hi", &[("X-A", "&#60;scr")], &[1]),
        ("/a?q=a&sel%20ect=1", &[], &[2]),
        ("/a?q=sel%2520ect", &[], &[2]),
        ("/a?q=1", &[("X-B", "sel   ect")], &[2]),
        ("/a?q=union", &[], &[3]),
        // the bytes of a chain present, but not the literal: the summary must not close, the unions decide
        ("/a?q=100%25", &[("X-A", "a&b"), ("X-B", "x y  z")], &[]),
        ("/a?q=%3c", &[("X-B", "&amp;scr")], &[]),
        // several rules, several sources
        ("/a?q=%3Cscr&r=drop", &[("X-A", "union"), ("Cookie", "k=%3cifr")], &[1, 3, 4, 5]),
        ("/a?q=1", &[("X-A", "&lt;ifr"), ("X-B", "DROP sel ect")], &[2, 4, 5]),
    ];
    assert_cases(&on, &off, &cases);
    // the benign request is decided by the gates (the summaries) alone
    let a = get_exact(&on, "/a?q=hello", &[("X-A", "fine"), ("X-B", "also fine"), ("Cookie", "c=1")]);
    assert_eq!(a.stats().rules, 0, "every rule is gated on a benign request");
}
