//! The native detector operators (`@detectCmdi`, `@detectPathTraversal`, `@detectSSRF`, `@detectSSTI`,
//! `@detectJndi`, `@detectNoSQLi`, `@detectXXE`, `@detectProtoPollution`) and the `t:deepDecode` /
//! `t:base64IfEncoded` transformations, loaded from SecLang and run through real transactions.

mod common;

use common::*;
use portcullis_waf::Engine;
use std::sync::Arc;

fn engine(rules: &str) -> Arc<Engine> {
    Arc::new(Engine::from_str(&format!("SecRuleEngine On\n{rules}"), "t.conf").unwrap_or_else(|e| panic!("{e}")))
}

/// One rule with `operator` on ARGS (names and values); returns (blocked, msg, logdata) for `query`.
fn run(operator: &str, transforms: &str, query: &str) -> (bool, String, String) {
    let e = engine(&format!(
        "SecRule ARGS|ARGS_NAMES \"@{operator}\" \"id:100,phase:1,deny,status:403,capture,{transforms}msg:'%{{TX.1}}',logdata:'%{{TX.0}}'\""
    ));
    let (iv, mut tx) = get(&e, query, &[]);
    let m = tx.matches().first().map(|m| (m.msg.clone(), m.data.clone())).unwrap_or_default();
    (iv.is_some_and(|i| i.status == 403), m.0, m.1)
}

#[test]
fn each_operator_matches_its_attack_and_passes_benign() {
    let cases: &[(&str, &str, &str)] = &[
        ("detectCmdi", "/?q=x%3Bcat%24%7BIFS%7D%2Fetc%2Fpasswd", "/?q=salt%3B+pepper+%26+cats"),
        ("detectPathTraversal", "/?f=..%2F..%2F..%2Fetc%2Fpasswd", "/?f=docs%2Fguide%2Fintro.md"),
        ("detectSSRF", "/?url=http%3A%2F%2F169.254.169.254%2Flatest%2Fmeta-data%2F", "/?url=https%3A%2F%2Fexample.com%2Fhook"),
        ("detectSSTI", "/?name=%7B%7B7*7%7D%7D", "/?name=%7B%7B+user.name+%7D%7D"),
        ("detectJndi", "/?x=%24%7B%24%7Blower%3Aj%7Dndi%3Aldap%3A%2F%2Fe.example%2Fa%7D", "/?x=%24%7Bprice%7D"),
        ("detectNoSQLi", "/?user%5B%24ne%5D=admin", "/?items%5B0%5D%5Bname%5D=a"),
        (
            "detectXXE",
            "/?xml=%3C!DOCTYPE+a+%5B%3C!ENTITY+x+SYSTEM+%22file%3A%2F%2F%2Fetc%2Fpasswd%22%3E%5D%3E%3Ca%3E%26x%3B%3C%2Fa%3E",
            "/?xml=%3Corder%3E%3Cid%3E1%3C%2Fid%3E%3C%2Forder%3E",
        ),
        ("detectProtoPollution", "/?__proto__%5BisAdmin%5D=1", "/?user%5Bprofile%5D%5Bname%5D=bob"),
    ];
    for (op, attack, benign) in cases {
        let (blocked, msg, data) = run(op, "", attack);
        assert!(blocked, "@{op} should block {attack}");
        assert!(!msg.is_empty() && !data.is_empty(), "@{op}: capture gives TX.0/TX.1 (msg {msg:?}, data {data:?})");
        let (blocked, ..) = run(op, "", benign);
        assert!(!blocked, "@{op} should pass {benign}");
    }
}

#[test]
fn operator_names_are_case_insensitive_and_capture_reason() {
    let (blocked, msg, data) = run("detectssrf", "", "/?u=http%3A%2F%2F127.0.0.1%3A8080%2F");
    assert!(blocked);
    assert!(msg.contains("loopback"), "{msg}");
    assert_eq!(data, "loopback");
}

#[test]
fn deep_decode_reveals_double_encoding() {
    // `%252e%252e%252f` arrives as `%2e%2e%2f` after the engine's own URL decoding; @streq sees the layers.
    let rule = |t: &str| engine(&format!("SecRule ARGS:f \"@beginsWith ../../\" \"id:1,phase:1,deny,status:403,{t}\""));
    let (iv, _) = get(&rule("t:none"), "/?f=%252e%252e%252f%252e%252e%252fetc", &[]);
    assert!(iv.is_none());
    let (iv, _) = get(&rule("t:none,t:deepDecode"), "/?f=%252e%252e%252f%252e%252e%252fetc", &[]);
    assert_eq!(iv.map(|i| i.status), Some(403));
}

#[test]
fn base64_if_encoded_feeds_detectors_and_keeps_plain_values() {
    // base64("${jndi:ldap://x}") in a header-like parameter.
    let e = engine("SecRule ARGS \"@detectJndi\" \"id:1,phase:1,deny,status:403,t:none,t:base64IfEncoded\"");
    let (iv, _) = get(&e, "/?token=JHtqbmRpOmxkYXA6Ly94fQ%3D%3D", &[]);
    assert_eq!(iv.map(|i| i.status), Some(403));
    let (iv, _) = get(&e, "/?token=QWxsIGdvb2QgaGVyZQ%3D%3D", &[]);
    assert!(iv.is_none());
    // A plain value is left as it is (the literal still matches).
    let e = engine("SecRule ARGS \"@streq Administrator\" \"id:1,phase:1,deny,status:403,t:none,t:base64IfEncoded\"");
    let (iv, _) = get(&e, "/?u=Administrator", &[]);
    assert_eq!(iv.map(|i| i.status), Some(403));
}

/// The detectors that decode inside (SSRF, path traversal, JNDI, SSTI, XXE) run with `t:none` in the pack: a
/// value that is base64 of an attack, or still percent-encoded after the query's own decoding, must reach their
/// decoding layers, also when an earlier detector rule has already filled the evaluator's per-value class cache
/// (rule 1); the attack as sent plain is blocked too, a benign word and a hex id are not.
#[test]
fn decoding_layers_stay_on_for_encoded_values() {
    let cases: &[(&str, &str, &str, &str)] = &[
        ("detectSSRF", "http%3A%2F%2F127.0.0.1%2Fadmin", "aHR0cDovLzEyNy4wLjAuMS9hZG1pbg%3D%3D", "http%253A%252F%252F127.0.0.1%252Fadmin"),
        ("detectPathTraversal", "..%2F..%2F..%2Fetc%2Fpasswd", "Li4vLi4vLi4vZXRjL3Bhc3N3ZA%3D%3D", "..%252F..%252F..%252Fetc%252Fpasswd"),
        (
            "detectJndi",
            "%24%7Bjndi%3Aldap%3A%2F%2Fe.example%2Fa%7D",
            "JHtqbmRpOmxkYXA6Ly9lLmV4YW1wbGUvYX0%3D",
            "%2524%257Bjndi%253Aldap%253A%252F%252Fe.example%252Fa%257D",
        ),
        ("detectSSTI", "%7B%7B7*7%7D%7D", "e3s3Kjd9fQ%3D%3D", "%257B%257B7%252A7%257D%257D"),
        (
            "detectXXE",
            "%3C!DOCTYPE+a+%5B%3C!ENTITY+x+SYSTEM+%22file%3A%2F%2F%2Fetc%2Fpasswd%22%3E%5D%3E%3Ca%3E%26x%3B%3C%2Fa%3E",
            "PCFET0NUWVBFIGEgWzwhRU5USVRZIHggU1lTVEVNICJmaWxlOi8vL2V0Yy9wYXNzd2QiPl0%2BPGE%2BJng7PC9hPg%3D%3D",
            "%253C%2521DOCTYPE%2520a%2520%255B%253C%2521ENTITY%2520x%2520SYSTEM%2520%2522file%253A%252F%252F%252Fetc%252Fpasswd%2522%253E%255D%253E%253Ca%253E%2526x%253B%253C%252Fa%253E",
        ),
    ];
    for &(op, plain, b64, double) in cases {
        for warm in [false, true] {
            let first = if warm { "SecRule ARGS \"@detectSQLi\" \"id:1,phase:1,pass,nolog\"\n" } else { "" };
            let e = engine(&format!("{first}SecRule ARGS \"@{op}\" \"id:2,phase:1,deny,status:403\""));
            for v in [plain, b64, double] {
                let (iv, _) = get(&e, &format!("/?v={v}"), &[]);
                assert!(iv.is_some_and(|i| i.status == 403), "{op} (cache warm: {warm}) missed {v}");
            }
            let (iv, _) = get(&e, "/?v=hello&w=4f6c0d2e8b1a4c7d9e3f5a6b7c8d9e0f", &[]);
            assert!(iv.is_none(), "{op} blocked a benign value");
        }
    }
}

/// A `t:none` detector rule whose values the per-value class cache all rules out is skipped whole
/// (`EvalStats::detector_list_skips`); one value that may fire, wherever it stands in the list, brings back
/// the per-value loop with its capture and `MATCHED_VAR_NAME`; a negated detector link is never skipped (it
/// matches every value its detector passes, with side effects).
#[test]
fn a_detector_rule_is_skipped_whole_only_when_no_value_may_fire() {
    let e = engine(
        "SecRule ARGS \"@detectPathTraversal\" \"id:100,phase:1,deny,status:403,capture,logdata:'%{MATCHED_VAR_NAME}'\"",
    );
    let benign = "/?a=hello&b=42&c=plain+words&d=en-GB";
    let (iv, tx) = get(&e, benign, &[]);
    assert!(iv.is_none());
    assert_eq!(tx.stats().detector_list_skips, 1, "{:?}", tx.stats());
    for attack in ["/?f=..%2F..%2Fetc%2Fpasswd&a=hello&b=42", "/?a=hello&b=42&c=plain&f=..%2F..%2Fetc%2Fpasswd"] {
        let (iv, mut tx) = get(&e, attack, &[]);
        assert_eq!(iv.map(|i| i.status), Some(403), "{attack}");
        assert_eq!(tx.stats().detector_list_skips, 0);
        assert_eq!(tx.matches().first().map(|m| m.data.as_str()), Some("ARGS:f"), "{attack}");
    }
    // negated: every benign value is a match (the rule counts them), so nothing may be skipped
    let e = engine(
        "SecRule ARGS \"!@detectPathTraversal\" \"id:101,phase:1,pass,nolog,setvar:tx.plain=+1\"\n\
         SecRule TX:plain \"@eq 4\" \"id:102,phase:1,deny,status:403\"",
    );
    let (iv, tx) = get(&e, benign, &[]);
    assert_eq!(iv.map(|i| i.status), Some(403));
    assert_eq!(tx.stats().detector_list_skips, 0);
}

/// Detector families (`transaction/detectors.rs`): rules reading the same target list under the same chain
/// share one class decision per value. The rules after the first are skipped whole when no value may fire
/// (without collecting the list again); a value that may fire brings back the per-value loop for its class
/// only, with the capture and `MATCHED_VAR_NAME` of the value that matched, also when the attack is only in a
/// `multiMatch` form (base64, double-encoded) of one value among plain ones; a rule with a `ctl` target
/// removal is decided on its own list.
#[test]
fn detector_families_decide_each_class_once_per_list() {
    let list = "ARGS|REQUEST_HEADERS:User-Agent";
    let mm = "t:none,t:deepDecode,t:base64IfEncoded,multiMatch";
    let rules = format!(
        "SecRule {list} \"@detectSQLi\" \"id:1,phase:2,pass,log,capture,{mm},logdata:'%{{MATCHED_VAR_NAME}}'\"\n\
         SecRule {list} \"@detectXSS\" \"id:2,phase:2,pass,log,capture,{mm},logdata:'%{{MATCHED_VAR_NAME}}'\"\n\
         SecRule {list} \"@detectCmdi\" \"id:3,phase:2,pass,log,capture,{mm},logdata:'%{{MATCHED_VAR_NAME}}'\"\n\
         SecRule {list} \"@detectSSTI\" \"id:4,phase:2,pass,log,capture,{mm},logdata:'%{{MATCHED_VAR_NAME}}'\"\n\
         SecRule {list} \"@detectJndi\" \"id:5,phase:2,pass,log,capture,{mm},logdata:'%{{MATCHED_VAR_NAME}}'\""
    );
    let e = engine(&rules);
    let ua = [("User-Agent", "anchor-bench/1.0")];
    let fired = |tx: &mut portcullis_waf::Transaction| {
        tx.matches().iter().map(|m| format!("{} {}", m.id, m.data)).collect::<Vec<_>>().join(", ")
    };
    // plain values: SQLi, XSS and command injection may fire on a User-Agent (spaces, `/`, `(`), SSTI and
    // JNDI on no value: two rules skipped whole
    let (_, mut tx) = get(&e, "/?a=hello&b=42&c=plain", &ua);
    assert_eq!(fired(&mut tx), "");
    assert_eq!(tx.stats().detector_list_skips, 2, "{:?}", tx.stats());
    // the attack only in a form: base64 of `<script>alert(1)</script>`, double URL encoding of a JNDI lookup
    let (_, mut tx) = get(
        &e,
        "/?a=hello&x=PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg%3D%3D&b=42&j=%2524%257Bjndi%253Aldap%253A%252F%252Fe.example%252Fa%257D",
        &ua,
    );
    assert_eq!(fired(&mut tx), "2 ARGS:x, 5 ARGS:j");
    // a rule with a ctl target removal reads its own list, and still finds what is left in it
    let e = engine(&format!(
        "{rules}\nSecRule REQUEST_FILENAME \"@streq /t\" \"id:10,phase:1,pass,nolog,ctl:ruleRemoveTargetById=2;ARGS:x\""
    ));
    let (_, mut tx) = get(&e, "/t?x=%3Cscript%3Ealert(1)%3C%2Fscript%3E&y=%3Cscript%3Ealert(1)%3C%2Fscript%3E", &ua);
    assert_eq!(fired(&mut tx), "2 ARGS:y");
    let (_, mut tx) = get(&e, "/u?x=%3Cscript%3Ealert(1)%3C%2Fscript%3E", &ua);
    assert_eq!(fired(&mut tx), "2 ARGS:x");
}
