//! Summaries built on a smaller summary (`Gate::summary_parent`): a gate's summary over a set of sources
//! that holds a smaller summary's set, computed earlier in the phase, is that summary ORed with the other
//! sources' untransformed unions. The reference is the same rule set with the prefilter off: matches, logged
//! data and TX must be identical, and each rule must match when its literal is in any one of its sources,
//! in particular in one only the larger set holds (a summary that took the smaller one's entry alone would
//! close that gate) or only the smaller one (a summary that left the smaller one's entry out would too).

mod common;

use common::*;

/// Rules 1–2 make the summary of {ARGS, ARGS_NAMES}; rule 3's set adds `X-A` (parent: 1–2's), rule 4's (in
/// another order) adds `REQUEST_COOKIES` to 3's (parent: 3's, the largest); rule 5 shares no superset;
/// rule 6 reads 3's set under a decoding chain (its summary test is a preimage, not the raw OR). Phase 2
/// repeats them, after a body may have added `ARGS` members.
const RULES: &str = r#"SecRuleEngine On
SecRequestBodyAccess On
SecRule ARGS|ARGS_NAMES "@rx aaone" "id:1,phase:1,pass,log,t:none,logdata:'%{MATCHED_VAR_NAME}'"
SecRule ARGS|ARGS_NAMES "@rx aatwo" "id:2,phase:1,pass,log,t:none"
SecRule ARGS|ARGS_NAMES|REQUEST_HEADERS:X-A "@rx bbthree" "id:3,phase:1,pass,log,t:none,setvar:tx.three=%{MATCHED_VAR}"
SecRule REQUEST_HEADERS:X-A|ARGS|REQUEST_COOKIES|ARGS_NAMES "@rx ccfour" "id:4,phase:1,pass,log,t:none,logdata:'%{MATCHED_VAR}'"
SecRule ARGS|REQUEST_COOKIES "@rx ddfive" "id:5,phase:1,pass,log,t:none"
SecRule ARGS|ARGS_NAMES|REQUEST_HEADERS:X-A "@rx <scr" "id:6,phase:1,pass,log,t:urlDecodeUni,logdata:'%{MATCHED_VAR_NAME}'"
SecRule ARGS|ARGS_NAMES "@rx aaone" "id:11,phase:2,pass,log,t:none"
SecRule ARGS|ARGS_NAMES "@rx aatwo" "id:12,phase:2,pass,log,t:none"
SecRule ARGS|ARGS_NAMES|REQUEST_HEADERS:X-A "@rx bbthree" "id:13,phase:2,pass,log,t:none"
SecRule REQUEST_HEADERS:X-A|ARGS|REQUEST_COOKIES|ARGS_NAMES "@rx ccfour" "id:14,phase:2,pass,log,t:none,setvar:tx.fourteen=%{MATCHED_VAR}"
SecRule ARGS|ARGS_NAMES|REQUEST_HEADERS:X-A "@rx <scr" "id:16,phase:2,pass,log,t:urlDecodeUni"
"#;

#[test]
fn summaries_on_a_smaller_summary_agree_with_no_prefilter() {
    let (on, off) = prefilter_pair(RULES);
    let cases: [Case; 14] = [
        ("/a?q=hello", &[("X-A", "fine"), ("Cookie", "c=1")], &[]),
        // only in the source the larger set adds (a summary of the smaller set's entry alone misses it)
        ("/a?q=hello", &[("X-A", "bbthree")], &[3, 13]),
        ("/a?q=hello", &[("X-A", "ccfour")], &[4, 14]),
        ("/a?q=hello", &[("Cookie", "c=ccfour")], &[4, 14]),
        ("/a?q=hello", &[("Cookie", "ccfour=1")], &[]),
        ("/a?q=hello", &[("X-A", "%3Cscr")], &[6, 16]),
        // only in the smaller set's sources (a summary without the smaller set's entry misses it)
        ("/a?q=bbthree", &[], &[3, 13]),
        ("/a?bbthree=1", &[], &[3, 13]),
        ("/a?q=ccfour", &[], &[4, 14]),
        ("/a?ccfour=1", &[("X-A", "x")], &[4, 14]),
        ("/a?q=%3cscr", &[], &[6, 16]),
        ("/a?%3cscr=1", &[], &[6, 16]),
        // the smaller set's own rules, and a set with no superset
        ("/a?q=aaone&r=aatwo", &[("X-A", "aaone")], &[1, 2, 11, 12]),
        ("/a?q=ddfive", &[("Cookie", "c=ccfour")], &[4, 5, 14]),
    ];
    assert_cases(&on, &off, &cases);
    // the benign request is decided by the gates alone
    let a = get_exact(&on, "/a?q=hello", &[("X-A", "fine"), ("Cookie", "c=1")]);
    assert_eq!(a.stats().rules, 0, "every rule is gated on a benign request");
}

/// A body adds `ARGS` members between phases: phase 2's summaries (the smaller one and those built on it)
/// are taken over the new members.
#[test]
fn summaries_on_a_smaller_summary_follow_a_body() {
    let (on, off) = prefilter_pair(RULES);
    let bodies: [(&str, &[u32]); 5] =
        [("b=bbthree", &[13]), ("ccfour=1", &[14]), ("b=%3Cscr&c=aaone", &[11, 16]), ("b=plain", &[]), ("", &[])];
    for (body, want) in bodies {
        let (mut a, mut b) = (form_post(&on, "/a?p=1", "plain", body), form_post(&off, "/a?p=1", "plain", body));
        assert_eq!(outcome(&mut a), outcome(&mut b), "{body}");
        let mut ids: Vec<u32> = a.matches().iter().map(|m| m.id).collect();
        ids.dedup();
        assert_eq!(&ids, want, "{body}");
    }
}
