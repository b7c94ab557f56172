//! Links that read one `TX` variable by name are evaluated straight from the `TX` table
//! (`transaction::tx_link`). That is a pure shortcut: every request here runs on the same rules with it on
//! and off, and the interventions, the logged matches (id, message, data, variable), the whole `TX`
//! collection and the work counters must be identical — on small rule sets that cover each form it takes
//! and each it must leave to the general path, and on CRS with the benchmark harness's requests.

mod common;

use common::*;
use portcullis_waf::{Engine, Transaction};
use std::path::PathBuf;
use std::sync::Arc;

/// The benchmark harness's client (the body's Content-Type among the request's headers); the work counters
/// are part of the outcome: the shortcut does the same work.
const CLIENT: Client = Client {
    headers: &[("Host", "127.0.0.1:47890"), ("User-Agent", "anchor-bench/1.0 (wrk)")],
    body_type: None,
    stats: true,
};

/// Runs all five phases of `r` as [`CLIENT`] sends it; `prepare` may change the transaction first.
fn run(engine: &Arc<Engine>, r: &Req, prepare: &dyn Fn(&mut Transaction)) -> String {
    outcome_text(engine, r, prepare, &CLIENT)
}

/// Every request gives the same outcome with the shortcut on and off.
fn check_same(on: &Arc<Engine>, off: &Arc<Engine>, reqs: &[Req], prepare: &dyn Fn(&mut Transaction)) {
    check_same_outcomes(on, off, reqs, prepare, &CLIENT, "the TX link shortcut");
}

/// The rules with the shortcut on and off, both without the memo of earlier transactions' scans (the work
/// counters are compared, and the memo would make them depend on which engine saw a value first).
fn both(text: &str) -> (Arc<Engine>, Arc<Engine>) {
    let load = || Engine::from_str(text, "tx_link.conf").unwrap_or_else(|e| panic!("{e}")).with_scan_memo(false);
    (Arc::new(load()), Arc::new(load().with_tx_link_fast(false)))
}

/// `TX` written at run time (so nothing folds), then read by each operator form the shortcut takes and each
/// it leaves to the general path: negation, macro operands, absent keys, matches that set variables and read
/// `MATCHED_VAR*` in their messages and in chained links, `capture`, transformations, `@rx` (prefilter),
/// `&TX` counts, exclusions and a `ctl:ruleRemoveTargetById` of a `TX` target.
const RULES: &str = r#"
SecRuleEngine On
SecRequestBodyAccess On
SecDefaultAction "phase:1,log,auditlog,pass"
SecDefaultAction "phase:2,log,auditlog,pass"
SecRule ARGS:n "@rx ^(\d+)$" "id:1,phase:1,pass,nolog,capture,setvar:tx.n=%{tx.1},setvar:tx.score=+%{tx.1}"
SecRule ARGS:s "@rx ^(.*)$" "id:2,phase:1,pass,nolog,capture,setvar:tx.s=%{tx.1}"
SecRule REQUEST_METHOD "@rx ^(.*)$" "id:3,phase:1,pass,nolog,capture,setvar:tx.method=%{tx.1},setvar:tx.limit=5"
SecRule TX:n "@eq 3" "id:10,phase:1,pass,log,msg:'eq %{MATCHED_VAR_NAME}=%{MATCHED_VAR}',logdata:'%{MATCHED_VARS_NAMES}',setvar:tx.hits=+1"
SecRule TX:n "!@eq 3" "id:11,phase:1,pass,log,msg:'not eq %{MATCHED_VAR}'"
SecRule TX:N "@ge %{tx.limit}" "id:12,phase:1,pass,log,severity:WARNING,msg:'ge %{tx.limit}',setvar:tx.score=+10"
SecRule TX:n "@lt %{tx.limit}" "id:13,phase:2,pass,log,msg:'lt',chain"
    SecRule TX:score "@gt 0" "setvar:tx.chained=%{MATCHED_VAR_NAME}/%{MATCHED_VAR}"
SecRule TX:absent "@eq 0" "id:14,phase:2,pass,log,msg:'absent key never matches'"
SecRule TX:absent "!@eq 7" "id:15,phase:2,pass,log,msg:'negated absent key never matches'"
SecRule TX:n "@le 1" "id:16,phase:2,pass,nolog,setvar:tx.small=1"
SecRule TX:s "@streq Hello" "id:17,phase:2,pass,log,msg:'streq %{MATCHED_VAR}'"
SecRule TX:s "@streq hello" "id:18,phase:2,pass,log,t:lowercase,msg:'lowercased %{MATCHED_VAR}'"
SecRule TX:s "@rx ^h(el)" "id:19,phase:2,pass,log,capture,msg:'rx %{tx.1}'"
SecRule TX:s "@within xHelloy" "id:20,phase:2,pass,log,msg:'within'"
SecRule TX:method "@within %{tx.allowed}" "id:21,phase:2,pass,log,msg:'method not allowed'"
SecRule TX:s "@contains ell" "id:22,phase:2,pass,log,capture,msg:'contains %{tx.0}'"
SecRule &TX:n "@eq 1" "id:23,phase:2,pass,log,msg:'count'"
SecRule TX:n|!TX:n "@ge 0" "id:24,phase:2,pass,log,msg:'excluded'"
SecRule TX:n "@ge 0" "id:25,phase:2,pass,log,msg:'removed target',ctl:ruleRemoveTargetById=26;TX:n"
SecRule TX:n "@ge 0" "id:26,phase:2,pass,log,msg:'target removed by 25'"
SecRule TX:score "@ge 10" "id:27,phase:2,deny,status:403,log,msg:'blocked at %{tx.score}'"
SecRule TX:n "@eq 3" "id:28,phase:3,pass,log,msg:'phase 3 %{MATCHED_VAR}'"
SecRule TX:hits "@eq 1" "id:29,phase:5,pass,log,msg:'phase 5 %{MATCHED_VARS}'"
SecRule TX:n "@unconditionalMatch" "id:30,phase:5,pass,log,msg:'always %{MATCHED_VAR}'"
SecRule TX:n "@noMatch" "id:31,phase:5,pass,log,msg:'never'"
SecAction "id:40,phase:1,pass,nolog,setvar:tx.actions=+1,setvar:tx.seen=%{MATCHED_VAR_NAME}%{MATCHED_VAR}"
SecAction "id:41,phase:2,pass,log,msg:'action after %{tx.actions} %{MATCHED_VARS}',logdata:'%{MATCHED_VAR_NAME}',setvar:tx.actions=+1"
SecAction "id:42,phase:2,pass,log,t:length,msg:'length of nothing %{MATCHED_VAR}',setvar:tx.len=%{MATCHED_VAR}"
SecAction "id:43,phase:2,pass,log,t:none,t:lowercase,severity:CRITICAL,msg:'chained action',chain"
    SecRule TX:actions "@ge 2" "setvar:tx.after=%{MATCHED_VAR_NAME}"
SecAction "id:44,phase:3,pass,log,capture,msg:'capturing action %{tx.0}'"
SecAction "id:45,phase:5,pass,log,msg:'report %{tx.score} %{tx.actions}'"
SecRule TX:score "@ge 100" "id:46,phase:2,pass,log,msg:'no match before an action'"
SecAction "id:47,phase:2,pass,nolog,setvar:tx.last=%{MATCHED_VAR}"
SecAction "id:48,phase:2,deny,status:418,log,msg:'action denies when n is 1',skipAfter:END-ACTIONS,chain"
    SecRule TX:n "@eq 1" "t:none"
SecMarker END-ACTIONS
"#;

const REQS: &[Req] = &[
    ("GET", "/", &[], ""),
    ("GET", "/?n=3&s=Hello", &[], ""),
    ("GET", "/?n=1&s=hello", &[], ""),
    ("GET", "/?n=7&s=HELLO", &[], ""),
    ("GET", "/?n=12&s=x", &[], ""),
    ("GET", "/?n=-2&s=", &[], ""),
    ("POST", "/?n=4", &[("Content-Type", "application/x-www-form-urlencoded")], "s=hello&n=0"),
];

#[test]
fn every_operator_form_gives_the_general_paths_outcome() {
    let (on, off) = both(RULES);
    check_same(&on, &off, REQS, &no_prep);
    // per-route removals and a pinned key reach both paths alike
    check_same(&on, &off, REQS, &|tx: &mut Transaction| tx.remove_rules_by_id(&[(12, 12)]));
    check_same(&on, &off, REQS, &|tx: &mut Transaction| tx.pin_tx("limit", b"2"));
    // the outcomes are the ones the rules say (so the comparison is not between two wrong answers)
    let out = run(&on, &REQS[1], &no_prep);
    // (the matches are in `{:#?}` form: their quotes escaped)
    for want in [r#"10 \"eq TX:n=3\" \"TX:n\""#, r#"13 \"lt\""#, r#"17 \"streq Hello\""#, r#"29 \"phase 5 1\""#] {
        assert!(out.contains(want), "{want} missing from {out}");
    }
    assert!(out.contains("chained=TX:score/3"), "{out}");
    // the actions ran, in order, with an empty `MATCHED_VAR` (a `length` step makes it `0`)
    for want in ["actions=2", "len=0", "after=TX:actions", r#"45 \"report 3 2\""#] {
        assert!(out.contains(want), "{want} missing from {out}");
    }
    let denied = run(&on, &REQS[2], &no_prep);
    assert!(denied.contains("status: 418") && denied.contains("rule_id: 48"), "n=1 is denied by 48: {denied}");
    assert!(!out.contains("\n    \"14 ") && !out.contains("\n    \"15 ") && !out.contains("\n    \"26 "), "{out}");
    assert!(run(&on, &REQS[4], &no_prep).contains("rule_id: 27"), "n=12 scores 22 and is blocked");
}

/// CRS PL1 as the gateway loads it (the harness's requests, a numeric Host that CRS 920350 scores, an
/// attack that blocks, a JSON login): the same outcomes with the shortcut on and off.
#[test]
fn crs_outcomes_are_the_same_with_and_without_the_shortcut() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/crs");
    if !dir.join("rules").is_dir() {
        eprintln!("skipped: no CRS at {}", dir.display());
        return;
    }
    let text = format!(
        "SecRuleEngine On\nSecRequestBodyAccess On\n\
         SecRule REQUEST_HEADERS:Content-Type \"@beginsWith application/json\" \
         \"id:199001,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON\"\n\
         Include {0}/crs-setup.conf.example\nInclude {0}/rules/*.conf\n",
        dir.display()
    );
    let (on, off) = both(&text);
    let json = [("Content-Type", "application/json")];
    let reqs: &[Req] = &[
        ("GET", "/api/items?id=123&q=hello", &[("Accept", "application/json")], ""),
        ("GET", "/api/v1/users?q=1%27%20OR%20%271%27%3D%271", &[], ""),
        ("GET", "/?x=<script>alert(1)</script>", &[("Proxy", "x")], ""),
        ("TRACE", "/", &[], ""),
        ("POST", "/api/login", &json, r#"{"username":"alice","password":"s3cret","remember_me":true}"#),
        ("POST", "/api/login", &json, r#"{"q":"1 union select password from users"}"#),
    ];
    check_same(&on, &off, reqs, &no_prep);
}
