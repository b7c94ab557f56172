//! `multiMatch` chains that share steps after one they differ in: chains that differ only in a step the value
//! passes unchanged reach the later steps with the same input; chains that differ in a step that changes the
//! value must not share them. Written for a per-phase memo of (step input, step) → output (session 18, measured
//! and reverted: `docs/benchmarks.md`), which it caught with its input or epoch comparison removed; kept as
//! the reference for any sharing of steps between chains. The reference is each rule in an engine of its own:
//! its matches, their data (the form that matched) and its TX counter must be the same as when the rules run
//! together, over many requests in a row (an earlier transaction's data at the same offsets) and over more
//! values than a per-phase table of a few hundred slots holds.

mod common;

use common::*;
use portcullis_waf::Engine;
use std::sync::Arc;

/// Rule 1's `t:removeWhitespace` is an identity on values without whitespace (then it reaches `base64Decode`
/// with rule 2's input) and not on the others; rule 3 runs `base64Decode` too, then a step of its own before
/// `urlDecodeUni`. Each regex matches a form only some of the chains make, so a rule handed another chain's
/// form matches where it must not (or misses).
const RULES: [&str; 3] = [
    r#"SecRule ARGS "@rx ^a[ +]b$|^ab$" "id:1,phase:1,pass,log,t:none,t:removeWhitespace,t:base64Decode,t:urlDecodeUni,multiMatch,logdata:'%{MATCHED_VAR}',setvar:tx.one=+1""#,
    r#"SecRule ARGS "@rx ^a%2[0b]b$|^a\+b$|^a b$" "id:2,phase:1,pass,log,t:none,t:base64Decode,t:urlDecodeUni,multiMatch,logdata:'%{MATCHED_VAR}',setvar:tx.two=+1""#,
    r#"SecRule ARGS "@rx ^a%2[0B]b$|^A B$" "id:3,phase:1,pass,log,t:none,t:base64Decode,t:uppercase,t:urlDecodeUni,multiMatch,logdata:'%{MATCHED_VAR}',setvar:tx.three=+1""#,
];
const VARS: [&[u8]; 3] = [b"one", b"two", b"three"];

/// Runs `uri` through the shared engine and each rule's own ([`agree_with_each_alone`]).
fn agree(all: &Arc<Engine>, alone: &[Arc<Engine>], uri: &str) -> Vec<usize> {
    agree_with_each_alone(all, alone, uri, &[], &VARS)
}

/// The values: base64 of strings whose decodings the rules tell apart, whole or with whitespace inserted
/// (which only rule 1's chain removes), URL-encoded for the query string.
fn values() -> Vec<String> {
    let plain = ["a%20b", "a+b", "a%2Bb", "a%2bb", "a b", "ab", "A B", "a%20B", "xy"];
    let mut out = Vec::new();
    for p in plain {
        let b = base64(p.as_bytes());
        for cut in [None, Some(1), Some(4)] {
            let v = match cut {
                Some(k) if k < b.len() => format!("{} {}", &b[..k], &b[k..]),
                Some(_) => continue,
                None => b.clone(),
            };
            out.push(v.replace('%', "%25").replace('+', "%2B").replace('=', "%3D").replace(' ', "%20"));
        }
    }
    out
}

#[test]
fn each_chain_reads_only_its_own_steps_request_after_request() {
    // one engine for every request (its transactions' memo reused), each reference engine new per request
    let all = rules_engine(&RULES);
    let vals = values();
    let mut matched = [0; 3];
    for a in &vals {
        for b in &vals {
            let alone: Vec<Arc<Engine>> = engines_alone(&RULES);
            let n = agree(&all, &alone, &format!("/m?p={a}&q={b}&r={a}"));
            (0..3).for_each(|r| matched[r] += n[r]);
        }
    }
    eprintln!("values matched per rule: {matched:?}");
    assert!(matched.iter().all(|n| *n > 0), "{matched:?}");
}

#[test]
fn many_values_in_one_request() {
    let all = rules_engine(&RULES);
    let alone: Vec<Arc<Engine>> = engines_alone(&RULES);
    let vals = values();
    let query: Vec<String> = (0..4000).map(|k| format!("p{k}={}", vals[k % vals.len()])).collect();
    let n = agree(&all, &alone, &format!("/m?{}", query.join("&")));
    eprintln!("values matched per rule, of 4,000: {n:?}");
    assert!(n.iter().all(|m| *m > 100), "{n:?}");
}
