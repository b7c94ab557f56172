//! Data-file fixtures for the SQL injection and XSS detectors: every line of `data/*_attacks.txt` must be
//! detected and no line of `data/*_benign.txt` may be. One case per line; `## ` starts a comment line; `{NL}`,
//! `{TAB}` and `{CR}` stand for control characters. A failure lists every case that went the wrong way, with
//! the detector's reason for false positives.

use portcullis_detect::{sqli, xss, Finding};
use std::path::PathBuf;

fn cases(name: &str) -> Vec<String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with("## "))
        .map(|l| l.replace("{NL}", "\n").replace("{TAB}", "\t").replace("{CR}", "\r"))
        .collect()
}

fn check(name: &str, detect: fn(&[u8]) -> Option<Finding>, want: bool, min_cases: usize) {
    let cases = cases(name);
    assert!(cases.len() >= min_cases, "{name}: only {} cases", cases.len());
    let wrong: Vec<String> = cases
        .iter()
        .filter_map(|c| match (detect(c.as_bytes()), want) {
            (Some(f), false) => Some(format!("  false positive: {c:?} — {} [{}]", f.reason, f.signature)),
            (None, true) => Some(format!("  missed: {c:?}")),
            _ => None,
        })
        .collect();
    eprintln!("{name}: {} cases, {} wrong", cases.len(), wrong.len());
    assert!(wrong.is_empty(), "{name}: {} of {} wrong:\n{}", wrong.len(), cases.len(), wrong.join("\n"));
}

#[test]
fn sqli_attacks_are_detected() {
    check("sqli_attacks.txt", sqli::detect, true, 200);
}

#[test]
fn sqli_benign_values_pass() {
    check("sqli_benign.txt", sqli::detect, false, 200);
}

#[test]
fn xss_attacks_are_detected() {
    check("xss_attacks.txt", xss::detect, true, 200);
}

#[test]
fn xss_benign_values_pass() {
    check("xss_benign.txt", xss::detect, false, 200);
}
