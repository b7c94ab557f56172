//! The gate's per-phase member lists (`transaction::gate::SourceLists`): a source's members and their
//! untransformed bitsets are recorded with its untransformed union, and every other chain's union of the source
//! reads that list. The reference is the same rule set with the prefilter (and so the gate) off: matches,
//! logged data and TX must be identical, and each rule must match exactly when its bytes are there after its
//! chain — with one member holding a chain's trigger bytes among members that hold none (the list's per-member
//! test, not the source's), over a whole collection, one key of it and a scalar, and across phases whose data
//! changed (a body adds `ARGS` members: the lists are rebuilt, never read stale).

mod common;

use common::*;

/// Each rule's literal appears only after its chain decodes it, so an untransformed bitset cannot open its
/// gate; rule 1 (the plain chain) makes the sources' untransformed unions, and so their lists, come first.
const RULES: &str = r#"SecRuleEngine On
SecRequestBodyAccess On
SecRule ARGS|ARGS_NAMES|REQUEST_HEADERS:X-A|REQUEST_FILENAME "@rx zzplain" "id:1,phase:1,pass,log,t:none"
SecRule ARGS|ARGS_NAMES|REQUEST_HEADERS:X-A|REQUEST_FILENAME "@rx <scr" "id:2,phase:1,pass,log,t:urlDecodeUni,logdata:'%{MATCHED_VAR_NAME}',setvar:tx.two=+1"
SecRule ARGS|ARGS_NAMES|REQUEST_HEADERS:X-A|REQUEST_FILENAME "@rx <ifr" "id:3,phase:1,pass,log,t:urlDecodeUni,t:htmlEntityDecode,setvar:tx.three=%{MATCHED_VAR}"
SecRule REQUEST_HEADERS:X-A "@rx a b" "id:4,phase:1,pass,log,t:urlDecodeUni,t:compressWhitespace"
SecRule ARGS "@rx sel ect" "id:5,phase:1,pass,log,t:urlDecodeUni,t:compressWhitespace,multiMatch,logdata:'%{MATCHED_VAR}'"
SecRule ARGS|ARGS_NAMES|REQUEST_HEADERS:X-A "@rx zzplain" "id:11,phase:2,pass,log,t:none"
SecRule ARGS|ARGS_NAMES|REQUEST_HEADERS:X-A "@rx <scr" "id:12,phase:2,pass,log,t:urlDecodeUni,logdata:'%{MATCHED_VAR_NAME}'"
SecRule ARGS|ARGS_NAMES|REQUEST_HEADERS:X-A "@rx <ifr" "id:13,phase:2,pass,log,t:urlDecodeUni,t:htmlEntityDecode,setvar:tx.thirteen=%{MATCHED_VAR}"
SecRule ARGS "@rx sel ect" "id:15,phase:2,pass,log,t:urlDecodeUni,t:compressWhitespace,multiMatch"
"#;

#[test]
fn unions_read_from_member_lists_agree_with_no_prefilter() {
    let (on, off) = prefilter_pair(RULES);
    let cases: [Case; 11] = [
        ("/a?q=hello&r=world", &[("X-A", "fine")], &[]),
        // one member of many holds the trigger bytes (`%`), the decoded literal only there
        ("/a?p=1&q=%3Cscr&r=2", &[("X-A", "x")], &[2, 12]),
        // trigger bytes in several members, the literal in none: every union is computed, all stay closed
        ("/a?p=%41&q=%42&r=100%25", &[("X-A", "%43")], &[]),
        // the name, not the value
        ("/a?p=1&%3Cscr=2", &[], &[2, 12]),
        // two decodings deep, in the last member
        ("/a?p=1&q=2&r=%26lt%3Bifr", &[], &[3, 13]),
        // one key of a collection and a scalar
        ("/a?p=1", &[("X-A", "a%20%20%20b")], &[4]),
        ("/%3Cscr/x?p=1", &[], &[2]),
        ("/a?p=1", &[("X-A", "%3Cscr")], &[2, 12]),
        // multiMatch: a form after the first step
        ("/a?p=1&q=sel%20%20ect", &[], &[5, 15]),
        // several rules and members at once
        ("/a?p=%3Cscr&q=%26lt%3Bifr&r=sel+ect", &[("X-A", "a+b")], &[2, 3, 4, 5, 12, 13, 15]),
        ("/a?%26lt%3Bifr=1&q=x", &[("X-A", "%3Cscr")], &[2, 3, 12, 13]),
    ];
    assert_cases(&on, &off, &cases);
}

/// A body adds `ARGS` members between phases 1 and 2: phase 2's unions come from lists rebuilt over the new
/// members (a stale phase-1 list would miss the body's value and close rules 12, 13 and 15).
#[test]
fn member_lists_are_rebuilt_when_a_body_adds_members() {
    let (on, off) = prefilter_pair(RULES);
    let bodies = ["b=%3Cscr", "b=1&c=%26lt%3Bifr", "x=sel%20%20ect&y=2", "b=plain", ""];
    for (k, body) in bodies.iter().enumerate() {
        for uri in ["/a?p=1&q=%41", "/a"] {
            let (mut a, mut b) = (form_post(&on, uri, "%42", body), form_post(&off, uri, "%42", body));
            assert_eq!(outcome(&mut a), outcome(&mut b), "{uri} {body}");
            let mut ids: Vec<u32> = a.matches().iter().map(|m| m.id).collect();
            ids.dedup();
            let want: &[u32] = match k {
                0 => &[12],
                1 => &[13],
                2 => &[15],
                _ => &[],
            };
            assert_eq!(ids, want, "{uri} {body}");
        }
    }
}

/// Rules read their targets from the lists (`Link::sources`): rules after the gated ones that built the
/// lists, logging every matched name in order (`MATCHED_VARS_NAMES`), beside
/// targets that cannot use a list (an exclusion, a key pattern, a count, a `ctl` removal), and phase 2's first
/// rule (negated, so never gated) reading `ARGS` before any gate of the phase ran, after a body added members
/// (the phase-1 list is stale then). Prefilter off (no gate,
/// no lists: every target collected by `members`) is the reference.
const COLLECT_RULES: &str = r#"SecRuleEngine On
SecRequestBodyAccess On
SecRule ARGS|ARGS_NAMES|REQUEST_HEADERS:X-A|REQUEST_HEADERS|REQUEST_FILENAME "@rx zzplain" "id:1,phase:1,pass,log,t:none"
SecRule ARGS|ARGS_NAMES|REQUEST_HEADERS:X-A|REQUEST_FILENAME "@rx <scr" "id:2,phase:1,pass,log,t:urlDecodeUni"
SecRule ARGS|REQUEST_HEADERS:X-A|ARGS_NAMES|REQUEST_FILENAME "@contains a" "id:3,phase:1,pass,log,setvar:'tx.l3=%{tx.l3} %{MATCHED_VAR_NAME}',setvar:tx.three=+1"
SecRule REQUEST_HEADERS|ARGS_NAMES "@contains a" "id:4,phase:1,pass,log,setvar:'tx.l4=%{tx.l4} %{MATCHED_VAR_NAME}'"
SecRule ARGS|!ARGS:q|ARGS:/^r/|&ARGS "@contains 1" "id:5,phase:1,pass,log,setvar:'tx.l5=%{tx.l5} %{MATCHED_VAR_NAME}'"
SecRule REQUEST_HEADERS:X-A "@streq ctl" "id:6,phase:1,pass,nolog,ctl:ruleRemoveTargetById=7;ARGS:p"
SecRule ARGS|REQUEST_HEADERS:X-A "@contains a" "id:7,phase:1,pass,log,setvar:'tx.l7=%{tx.l7} %{MATCHED_VAR_NAME}'"
SecRule ARGS|ARGS_NAMES|REQUEST_HEADERS:X-A "!@rx ^zzz" "id:11,phase:2,pass,log,setvar:'tx.l11=%{tx.l11} %{MATCHED_VAR_NAME}',setvar:tx.eleven=+1"
SecRule ARGS|ARGS_NAMES|REQUEST_HEADERS:X-A "@rx zzplain" "id:12,phase:2,pass,log,t:none"
SecRule ARGS|ARGS_NAMES|REQUEST_HEADERS:X-A "@contains a" "id:13,phase:2,pass,log,setvar:'tx.l13=%{tx.l13} %{MATCHED_VAR_NAME}'"
"#;

#[test]
fn target_lists_read_from_member_lists_agree_with_no_prefilter() {
    let (on, off) = prefilter_pair(COLLECT_RULES);
    let none: &[(&str, &str)] = &[];
    let reqs: [Req; 7] = [
        ("GET", "/a?p=a1&q=b1&r=a2", &[("X-A", "a3")], ""),
        ("GET", "/b/x?ap=1&aq=x&r1=1", &[("X-A", "ctl")], ""),
        ("GET", "/a?p=a&p=ab&q=1", &[("X-A", "ctl"), ("X-B", "a")], ""),
        ("GET", "/b", none, ""),
        ("POST", "/a?p=a1", &[("X-A", "a"), ("Content-Type", "application/x-www-form-urlencoded")], "b=a2&ab=1&q=1"),
        ("POST", "/a", &[("Content-Type", "application/x-www-form-urlencoded")], "b=a2&c=%3Cscr"),
        ("POST", "/a?a=a", &[("X-A", "ctl"), ("Content-Type", "application/x-www-form-urlencoded")], "p=a&r=1"),
    ];
    let client = Client { headers: &[("Host", "h"), ("User-Agent", "ua a")], body_type: None, stats: false };
    check_same_outcomes(&on, &off, &reqs, &|_| {}, &client, "reading the member lists");
    // rule 3 records every member of its four targets that matched, in order
    let text = outcome_text(&on, &reqs[0], &|_| {}, &client);
    assert!(text.contains("l3= ARGS:p ARGS:r REQUEST_HEADERS:X-A REQUEST_FILENAME"), "{text}");
}
