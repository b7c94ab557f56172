//! The rule-level prefilter gate (`transaction::gate`) on the rules it learned to gate in session 11:
//! `multiMatch` `@rx` heads (the gate ORs the unions over every prefix of the chain) and targets that
//! select one key of a collection (the union over that key's members). The reference is the same rule set
//! with the prefilter off: the matches, their data, `MATCHED_VAR`, captures and TX must be identical, and
//! the gate must actually skip rules on values that cannot match.

mod common;

use common::*;

/// Each rule can match only one form of a value: the value as extracted (1), an intermediate form (2: `a b`
/// exists only between the decode and the whitespace removal; 3: before the last of three steps), or the
/// last (4). A gate that ORs fewer forms than every prefix of the chain skips one of them.
const MULTI: &str = r#"SecRuleEngine On
SecRule ARGS "@rx %41" "id:1,phase:1,pass,log,t:none,t:urlDecodeUni,multiMatch,capture,setvar:tx.one=%{TX.0}"
SecRule ARGS "@rx a b" "id:2,phase:1,pass,log,t:urlDecodeUni,t:removeWhitespace,multiMatch,logdata:'%{MATCHED_VAR}'"
SecRule ARGS|REQUEST_HEADERS:X-Data "@rx <x y>" "id:3,phase:1,pass,log,t:htmlEntityDecode,t:lowercase,t:removeWhitespace,multiMatch"
SecRule ARGS "@rx ab/c" "id:4,phase:1,pass,log,t:urlDecodeUni,t:removeWhitespace,t:normalizePath,multiMatch"
SecRule ARGS_NAMES "@rx k e y" "id:5,phase:1,pass,log,t:urlDecodeUni,t:removeWhitespace,multiMatch,capture,setvar:tx.five=%{TX.0}"
"#;

#[test]
fn multi_match_gate_reads_every_form_of_the_chain() {
    let (on, off) = prefilter_pair(MULTI);
    let cases: [Case; 8] = [
        ("/a?q=hello", &[], &[]),
        ("/a?q=%2541", &[], &[1]),
        ("/a?q=a%2520b", &[], &[2]),
        ("/a?q=ab%2F.%2Fc", &[], &[4]),
        ("/a?q=a+b%2520", &[], &[2]),
        ("/a?q=1", &[("X-Data", "&lt;X Y&gt;")], &[3]),
        ("/a?k%2520e%2520y=1", &[], &[5]),
        ("/a?q=%2541&r=a%2520b&s=ab%252Fc", &[], &[1, 2, 4]),
    ];
    for (uri, headers, want) in cases {
        let mut a = get_exact(&on, uri, headers);
        let mut b = get_exact(&off, uri, headers);
        assert_eq!(outcome(&mut a), outcome(&mut b), "{uri}");
        assert_eq!(a.matches().iter().map(|m| m.id).collect::<Vec<_>>(), want, "{uri}");
    }
    // the benign request is decided by the gates alone: no rule is evaluated
    let a = get_exact(&on, "/a?q=hello", &[]);
    let b = get_exact(&off, "/a?q=hello", &[]);
    assert_eq!(a.stats().rules, 0, "every multiMatch rule is gated on a benign value");
    assert_eq!(b.stats().rules, 5);
}

/// Values over an alphabet of the bytes the chains react to, every combination up to a length: the gate
/// may skip rules, never a match.
#[test]
fn multi_match_gate_agrees_with_no_prefilter_on_generated_values() {
    let (on, off) = prefilter_pair(MULTI);
    let alphabet = ["a", "b", "c", "k", "y", "e", "%2520", "%2541", "+", "%252F", ".", "%26lt;", "x", "%25"];
    let mut gated = 0;
    let mut n = 0;
    for i in 0..alphabet.len() {
        for j in 0..alphabet.len() {
            for k in 0..alphabet.len() {
                let v = format!("{}{}{}", alphabet[i], alphabet[j], alphabet[k]);
                let uri = format!("/a?{v}={v}");
                let mut a = get_exact(&on, &uri, &[("X-Data", &v)]);
                let mut b = get_exact(&off, &uri, &[("X-Data", &v)]);
                assert_eq!(outcome(&mut a), outcome(&mut b), "{uri}");
                gated += b.stats().rules - a.stats().rules;
                n += 1;
            }
        }
    }
    assert!(gated > n, "the gate skips rules on most generated values: {gated} over {n} requests");
}

/// A target that selects one header is gated on that header's values alone (found case-insensitively, as
/// the collection is read); a trigger word in another header must not open it, and must not hide a match.
#[test]
fn one_key_targets_union_over_that_key_only() {
    let rules = r#"SecRuleEngine On
SecRule REQUEST_HEADERS:User-Agent "@rx sqlmap" "id:1,phase:1,pass,log"
SecRule REQUEST_HEADERS:Content-Type|REQUEST_HEADERS:Referer "@rx evil" "id:2,phase:1,pass,log,t:lowercase"
SecRule ARGS:q "@rx union select" "id:3,phase:1,pass,log,t:urlDecodeUni"
SecRule ARGS:q|!ARGS:q "@rx union select" "id:4,phase:1,pass,log,t:urlDecodeUni"
SecRule REQUEST_HEADERS:X-A|REQUEST_HEADERS "@rx evil" "id:5,phase:1,pass,log"
"#;
    let (on, off) = prefilter_pair(rules);
    let cases: [Case; 7] = [
        ("/a?r=union%2520select", &[("User-Agent", "curl"), ("X-Other", "sqlmap evil")], &[5]),
        ("/a", &[("user-agent", "sqlmap/1")], &[1]),
        ("/a", &[("USER-AGENT", "x"), ("User-Agent", "sqlmap")], &[1]),
        ("/a", &[("content-type", "text/EVIL")], &[2]),
        ("/a", &[("Referer", "EVIL")], &[2]),
        ("/a?Q=union%2520select&q=x", &[], &[3]),
        ("/a?q=union%2520select", &[], &[3]),
    ];
    let mut gated = 0;
    for (uri, headers, want) in cases {
        let mut a = get_exact(&on, uri, headers);
        let mut b = get_exact(&off, uri, headers);
        assert_eq!(outcome(&mut a), outcome(&mut b), "{uri} {headers:?}");
        assert_eq!(a.matches().iter().map(|m| m.id).collect::<Vec<_>>(), want, "{uri} {headers:?}");
        gated += b.stats().rules - a.stats().rules;
    }
    // the first request alone: rules 1 and 2 (their keys hold no trigger word, another header does), 3 and 4
    let a = get_exact(&on, cases[0].0, cases[0].1);
    let b = get_exact(&off, cases[0].0, cases[0].1);
    assert_eq!(b.stats().rules - a.stats().rules, 4, "one-key gates ignore the other keys' values");
    assert!(gated >= 10, "{gated}");
}
