//! Exactness of the shared prefilter's necessary conditions on CRS's own operators: every `@rx`, `@pm`,
//! `@pmFromFile`, `@contains`, `@beginsWith`, `@endsWith`, `@streq` and `@strmatch` of the CRS rules is built
//! through the real operator factory into one real prefilter, and then
//! - on every string of the CRS regression suite (as written, percent-decoded, split into parameters, in
//!   both cases), an operator whose prefilter bit is unset must not match;
//! - for every CRS regex `proptest` can sample, sampled strings the regex matches must set its bit.
//!
//! A failure names the rule id and the value: it is a gate that would have skipped a real match.

mod common;

use common::crs_dir;
use portcullis_waf::macros::MacroEnv;
use portcullis_waf::operators::{build, BuildCtx, OpCtx, Operator};
use portcullis_waf::prefilter::{has, Prefilter, PrefilterBuilder};
use portcullis_waf::variables::Var;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::path::Path;

struct NoEnv;
impl MacroEnv for NoEnv {
    fn expand_var(&self, _: Var, _: Option<&str>, _: &mut Vec<u8>) {}
}

/// (rule id or file:line, operator name, operand, built operator with a prefilter id).
struct Gated {
    at: String,
    name: String,
    arg: String,
    op: Box<dyn Operator>,
    id: u32,
}

/// Every CRS operator that registered a condition, and the prefilter they share.
fn crs_gated() -> (Vec<Gated>, Prefilter, usize) {
    let rules = crs_dir().join("rules");
    let pf = RefCell::new(PrefilterBuilder::default());
    let ctx = BuildCtx { rule_dir: &rules, prefilter: Some(&pf) };
    let mut out = Vec::new();
    let mut total = 0;
    for o in common::rule_operators(&rules) {
        total += 1;
        let op = build(&o.name, &o.arg, &ctx).unwrap_or_else(|e| panic!("{}: {e}", o.line));
        let at = o.id.unwrap_or_else(|| format!("{}:{}", o.file, o.line));
        if let Some(id) = op.prefilter_id() {
            out.push(Gated { at, name: o.name.to_ascii_lowercase(), arg: o.arg, op, id });
        }
    }
    (out, pf.into_inner().build(), total)
}

fn percent_decode(s: &[u8]) -> Vec<u8> {
    let hex = |c: u8| (c as char).to_digit(16);
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match (s[i], s.get(i + 1).and_then(|c| hex(*c)), s.get(i + 2).and_then(|c| hex(*c))) {
            (b'%', Some(a), Some(b)) => {
                out.push((a * 16 + b) as u8);
                i += 3;
            }
            (b'+', _, _) => {
                out.push(b' ');
                i += 1;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

fn strings_of(v: &serde_yaml::Value, out: &mut Vec<String>) {
    match v {
        serde_yaml::Value::String(s) => out.push(s.clone()),
        serde_yaml::Value::Sequence(x) => x.iter().for_each(|v| strings_of(v, out)),
        serde_yaml::Value::Mapping(m) => m.iter().for_each(|(k, v)| {
            strings_of(k, out);
            strings_of(v, out);
        }),
        _ => {}
    }
}

/// Values an operator may see, from the CRS regression suite.
fn corpus() -> BTreeSet<Vec<u8>> {
    let mut files = Vec::new();
    let mut dirs = vec![crs_dir().join("tests/regression/tests")];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|e| e == "yaml") {
                files.push(p);
            }
        }
    }
    let mut strings = Vec::new();
    for f in &files {
        if let Ok(v) = serde_yaml::from_str::<serde_yaml::Value>(&std::fs::read_to_string(f).unwrap()) {
            strings_of(&v, &mut strings);
        }
    }
    let mut out = BTreeSet::new();
    for s in strings {
        let raw = s.into_bytes();
        let dec = percent_decode(&raw);
        let twice = percent_decode(&dec);
        for v in [&raw, &dec, &twice] {
            for part in v.split(|b| *b == b'&' || *b == b'?' || *b == b';') {
                for kv in part.splitn(2, |b| *b == b'=') {
                    out.insert(kv.to_vec());
                }
                out.insert(part.to_vec());
            }
            out.insert(v.to_ascii_lowercase());
            out.insert(v.to_ascii_uppercase());
            out.insert(v.clone());
        }
    }
    out
}

fn eval(op: &dyn Operator, v: &[u8]) -> bool {
    op.eval(v, &mut OpCtx { env: &NoEnv, captures: None })
}

#[test]
fn crs_conditions_hold_on_every_match_in_the_regression_corpus() {
    let (gated, pf, total) = crs_gated();
    let values = corpus();
    eprintln!("{} of {total} CRS operators gated; {} corpus values", gated.len(), values.len());
    assert!(gated.len() > 250, "only {} gated", gated.len());
    assert!(values.len() > 10_000);
    let mut bits = vec![0u64; pf.words()];
    let (mut skipped, mut matched) = (0u64, 0u64);
    for v in &values {
        pf.scan(v, &mut bits);
        for g in &gated {
            if has(&bits, g.id) {
                continue;
            }
            skipped += 1;
            if eval(g.op.as_ref(), v) {
                matched += 1;
                eprintln!(
                    "rule {} @{} {:?} matches {:?} with its bit unset",
                    g.at,
                    g.name,
                    g.arg,
                    String::from_utf8_lossy(v)
                );
            }
        }
    }
    eprintln!("{skipped} (operator, value) pairs ruled out");
    assert_eq!(matched, 0, "a condition ruled out a real match");
    assert!(skipped > values.len() as u64 * 100, "the gate rules out almost nothing: {skipped}");
}

/// The scan sets a bit exactly when the id's condition holds (`Prefilter::need`, `Need::met_by`), over CRS's
/// own conditions and every corpus value, short and long (past `LONG_VALUE`, the byte-table path): the
/// per-byte loop, the match states it leaves it for (`Prefilter::on_special`: every literal such a state ends,
/// every owner of each) and the byte rows, against a plain reading of the conditions.
#[test]
fn crs_scan_sets_a_bit_exactly_when_its_condition_holds() {
    let (_, pf, _) = crs_gated();
    let ids = pf.regex_count();
    let needs: Vec<_> = (0..ids).map(|id| pf.need(id).expect("the CRS automaton is built").clone()).collect();
    let mut values: Vec<Vec<u8>> = corpus().into_iter().collect();
    // long values: neighbours joined, so literals also straddle the joins
    let joined: Vec<Vec<u8>> = values.windows(8).step_by(97).map(|w| w.concat()).filter(|v| v.len() > 96).collect();
    assert!(joined.len() > 100, "{} long values", joined.len());
    values.extend(joined);
    let mut bits = vec![0u64; pf.words()];
    let mut set = 0u64;
    for v in &values {
        pf.scan(v, &mut bits);
        for (id, n) in needs.iter().enumerate() {
            let want = n.met_by(v);
            set += want as u64;
            assert_eq!(has(&bits, id as u32), want, "id {id} {n:?} on {:?}", String::from_utf8_lossy(v));
        }
    }
    assert!(set > values.len() as u64, "conditions met only {set} times");
}

#[test]
fn crs_regex_samples_set_their_bit() {
    let (gated, pf, _) = crs_gated();
    let mut runner = TestRunner::deterministic();
    let mut bits = vec![0u64; pf.words()];
    let (mut sampled, mut checked) = (0, 0);
    for g in gated.iter().filter(|g| g.name == "rx") {
        // proptest samples the pattern as written (its own Unicode mode); only samples the compiled regex
        // matches count
        let Ok(strategy) = proptest::string::string_regex(&g.arg) else { continue };
        sampled += 1;
        for _ in 0..64 {
            let Ok(tree) = strategy.new_tree(&mut runner) else { break };
            let s = tree.current();
            if !eval(g.op.as_ref(), s.as_bytes()) {
                continue;
            }
            checked += 1;
            pf.scan(s.as_bytes(), &mut bits);
            assert!(has(&bits, g.id), "rule {} /{}/ matches {s:?} with its bit unset", g.at, g.arg);
        }
    }
    eprintln!("{sampled} CRS regexes sampled, {checked} matching samples checked");
    assert!(checked > 1000, "too few samples: {checked}");
}

#[test]
fn shape_samples_set_their_bit() {
    // small patterns of every HIR shape the walk handles, sampled by proptest and checked the same way
    let patterns = [
        r"(?i)union\s+select",
        r"(?:abc|de|[<>])+x?",
        r"[0-9]+\s*(?:or|and)\s*[0-9]+=[0-9]+",
        r"(?i)(?:on[a-z]{3,10}|formaction)\s*=",
        r"(?:\.\./|\.\.\\)+etc",
        r"x*y?(?:\$|`)",
        r"(?i)k(?:ill|ey)",
        r"(?:a(?:b(?:c|dd)|e)){1,3}",
        "[\u{e9}\u{20ac}]x{2}",
    ];
    let pf = RefCell::new(PrefilterBuilder::default());
    let ctx = BuildCtx { rule_dir: Path::new("."), prefilter: Some(&pf) };
    let ops: Vec<_> = patterns.iter().map(|p| (p, build("rx", p, &ctx).unwrap())).collect();
    let pf = pf.into_inner().build();
    let mut bits = vec![0u64; pf.words()];
    let mut runner = TestRunner::deterministic();
    let mut checked = 0;
    for (p, op) in &ops {
        let Some(id) = op.prefilter_id() else { continue };
        let strategy = proptest::string::string_regex(p).unwrap();
        for _ in 0..200 {
            let s = strategy.new_tree(&mut runner).unwrap().current();
            if eval(op.as_ref(), s.as_bytes()) {
                checked += 1;
                pf.scan(s.as_bytes(), &mut bits);
                assert!(has(&bits, id), "/{p}/ matches {s:?} with its bit unset");
            }
        }
    }
    assert!(ops.iter().filter(|(_, o)| o.prefilter_id().is_some()).count() >= 8);
    assert!(checked > 1000, "{checked}");
}

/// `Operator::may_match`, the byte test the `multiMatch` path runs before an `@rx` (`operators::rx_need`), may
/// only rule out inputs the regex cannot match: on every corpus string and on its `t:base64Decode` output (the
/// binary forms CRS 934100/934160 see), a failed test must go with no match.
#[test]
fn rx_byte_tests_rule_out_no_match_in_the_regression_corpus() {
    let (gated, _, _) = crs_gated();
    let b64 = portcullis_waf::transforms::lookup("base64Decode").unwrap();
    let mut values: Vec<Vec<u8>> = Vec::new();
    for v in corpus() {
        values.push((b64.apply)(&v).into_owned());
        values.push(v);
    }
    let (mut ruled_out, mut pairs) = (0u64, 0u64);
    for g in gated.iter().filter(|g| g.name == "rx") {
        for v in &values {
            pairs += 1;
            if g.op.may_match(v) {
                continue;
            }
            ruled_out += 1;
            assert!(
                !eval(g.op.as_ref(), v),
                "rule {} /{}/ matches {:?}, which its byte test ruled out",
                g.at,
                g.arg,
                String::from_utf8_lossy(v)
            );
        }
    }
    eprintln!("{ruled_out} of {pairs} (regex, value) pairs ruled out by the byte test");
    assert!(ruled_out > pairs / 4, "the byte test rules out almost nothing: {ruled_out}");
}
