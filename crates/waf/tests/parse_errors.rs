//! Load errors name file:line (and the rule id when known); any error means nothing loads.

use portcullis_waf::Engine;
use std::path::PathBuf;

fn load_err(text: &str) -> String {
    Engine::from_str(text, "rules.conf").expect_err("should fail").to_string()
}

#[test]
fn unknown_operator() {
    let e = load_err("SecRuleEngine On\n\nSecRule ARGS \"@bogus x\" \"id:5,phase:2,deny\"\n");
    assert!(e.contains("rules.conf:3"), "{e}");
    assert!(e.contains("rule 5") && e.contains("unknown operator @bogus"), "{e}");
}

#[test]
fn bad_regex() {
    let e = load_err("# c\nSecRule ARGS \\\n  \"@rx (unclosed\" \\\n  \"id:6,deny\"\n");
    assert!(e.contains("rules.conf:2") && e.contains("rule 6") && e.contains("bad regex"), "{e}");
}

#[test]
fn missing_id() {
    let e = load_err("SecRule ARGS \"@rx a\" \"phase:2,deny\"");
    assert!(e.contains("rules.conf:1") && e.contains("no id"), "{e}");
}

#[test]
fn unknown_directive_action_variable() {
    assert!(load_err("SecFoo On").contains("unknown directive SecFoo"));
    assert!(load_err("SecRule ARGS \"@rx a\" \"id:1,frobnicate\"").contains("unknown action"));
    assert!(load_err("SecRule NOT_A_VAR \"@rx a\" \"id:1\"").contains("unknown variable"));
    assert!(load_err("SecRule ARGS \"@rx a\" \"id:1,t:nosuch\"").contains("unknown transformation"));
}

#[test]
fn duplicate_id_dangling_chain_and_missing_marker() {
    assert!(load_err("SecAction \"id:1,pass\"\nSecAction \"id:1,pass\"").contains("rules.conf:2"));
    assert!(load_err("SecRule ARGS \"@rx a\" \"id:1,chain\"").contains("chain"));
    let e = load_err("SecAction \"id:1,pass,skipAfter:NOWHERE\"");
    assert!(e.contains("NOWHERE") && e.contains("rule 1"), "{e}");
}

#[test]
fn include_loop() {
    let a = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/include_loop/a.conf");
    let e = Engine::from_files(&[a]).expect_err("loop").to_string();
    assert!(e.contains("include loop"), "{e}");
    assert!(e.contains("b.conf:3"), "{e}");
}

#[test]
fn include_glob_relative_and_data_files() {
    let m = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/include_glob/main.conf");
    let e = Engine::from_files(&[m]).unwrap();
    assert_eq!(e.rule_count(), 2);
}
