//! The `multiMatch` forms of a (value, chain) are kept per phase in a direct-mapped table
//! (`MultiForms::index`): a new entry replaces its slot's old one, a replaced or stale entry is computed again.
//! Whatever the table holds, every rule must see exactly the forms its own chain makes of each value. The
//! reference is each rule in an engine of its own: its matches, their data (the form that matched) and its TX
//! counter must be the same as when the rules share the table, over many requests in a row (entries of an
//! earlier phase or transaction at the same arena offsets) and over more values than the table has slots.

mod common;

use common::*;
use portcullis_waf::Engine;
use std::sync::Arc;

/// Rule 2's chain is a prefix of rule 1's (so rule 1 records rule 2's forms); each regex matches only a form
/// that a step makes, and rule 2's matches the form rule 1's last step makes too (`a bc` → `abc`), so a rule
/// handed the other's forms matches where it must not.
const RULES: [&str; 3] = [
    r#"SecRule ARGS|REQUEST_HEADERS:X-Data "@rx ^a\+c$" "id:1,phase:1,pass,log,t:none,t:urlDecodeUni,t:jsDecode,t:removeWhitespace,multiMatch,logdata:'%{MATCHED_VAR}',setvar:tx.one=+1""#,
    r#"SecRule ARGS|REQUEST_HEADERS:X-Data "@rx ^abc$|^a c$" "id:2,phase:1,pass,log,t:none,t:urlDecodeUni,t:jsDecode,multiMatch,logdata:'%{MATCHED_VAR}',setvar:tx.two=+1""#,
    r#"SecRule ARGS|REQUEST_HEADERS:X-Data "@rx ^abc$" "id:3,phase:2,pass,log,t:none,t:urlDecodeUni,multiMatch,logdata:'%{MATCHED_VAR}',setvar:tx.three=+1""#,
];
const VARS: [&[u8]; 3] = [b"one", b"two", b"three"];

/// Runs `uri` with header X-Data `header` through the shared engine and each rule's own
/// ([`agree_with_each_alone`]); returns each rule's TX counter (how many values it matched).
fn agree(all: &Arc<Engine>, alone: &[Arc<Engine>], uri: &str, header: &str) -> Vec<usize> {
    agree_with_each_alone(all, alone, uri, &[("X-Data", header)], &VARS)
}

#[test]
fn each_rule_sees_its_own_forms_request_after_request() {
    // one engine for every request (its transactions' tables reused), each reference engine new per request
    let all = rules_engine(&RULES);
    let alphabet = ["a", "%20", "%2B", "\\x20", "bc", "%62", "c", "+", "\\u0062"];
    let mut matched = [0; 3];
    for i in alphabet {
        for j in alphabet {
            for k in alphabet {
                let v = format!("{i}{j}{k}");
                let alone: Vec<Arc<Engine>> = engines_alone(&RULES);
                let n = agree(&all, &alone, &format!("/a?q={v}&r={v}&s=x"), &v.replace('%', "%25"));
                (0..3).for_each(|r| matched[r] += n[r]);
            }
        }
    }
    eprintln!("values matched per rule: {matched:?}");
    assert!(matched.iter().all(|n| *n > 0), "{matched:?}");
}

#[test]
fn more_values_than_slots() {
    let all = rules_engine(&RULES);
    let alone: Vec<Arc<Engine>> = engines_alone(&RULES);
    // 3,000 values under two chains and a prefix: more keys than the table's 2,048 slots
    let parts = ["a%20bc", "a%2Bc", "abc", "a\\x20c", "x%20y", "a+c", "%61%62%63"];
    let query: Vec<String> = (0..3000).map(|k| format!("p{k}={}", parts[k % parts.len()])).collect();
    let n = agree(&all, &alone, &format!("/a?{}", query.join("&")), "a%20bc");
    eprintln!("values matched per rule, of 3,000: {n:?}");
    assert!(n.iter().all(|m| *m > 100), "{n:?}");
}
