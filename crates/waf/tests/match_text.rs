//! A match's `msg` and `logdata` that read only `TX` keys are rendered when the matches are read or just
//! before `TX` next changes, not when the rule matches (`transaction::log::DeferredText`; CRS's phase-5
//! report, 980170). That is a pure shortcut: every request here runs on the same rules with it on and off, and
//! the interventions, the logged matches (id, message, data, variable, severity, block), the whole `TX`
//! collection and the work counters must be identical — on rules whose texts are followed by every kind of
//! `TX` write, and on CRS with the benchmark harness's requests.

mod common;

use common::*;
use portcullis_waf::{Engine, Transaction};
use std::sync::Arc;

const CLIENT: Client = Client {
    headers: &[("Host", "127.0.0.1:47890"), ("User-Agent", "anchor-bench/1.0 (wrk)")],
    body_type: None,
    stats: true,
};

/// The rules with deferred texts and without, both without the memo of earlier transactions' scans (the work
/// counters are compared, and the memo would make them depend on which engine saw a value first).
fn both(text: &str) -> (Arc<Engine>, Arc<Engine>) {
    let load = || Engine::from_str(text, "match_text.conf").unwrap_or_else(|e| panic!("{e}")).with_scan_memo(false);
    (Arc::new(load()), Arc::new(load().with_deferred_match_text(false)))
}

/// Texts that read only `TX` (deferred), each followed by a write of a key it names: an assignment, `=+`,
/// a macro-built key, a removal, a capture (`TX:0`/`TX:1`), the next phase's writes, a pinned key; a text
/// longer than the 512-byte clip; a text with a non-`TX` variable (rendered at once); a blocking rule's text.
const RULES: &str = r#"
SecRuleEngine On
SecRequestBodyAccess On
SecAction "id:1,phase:1,pass,nolog,setvar:tx.score=1,setvar:tx.a=alpha,setvar:tx.level=2"
SecAction "id:2,phase:1,pass,log,msg:'score %{tx.score} a=%{tx.a}',logdata:'level %{TX.Level}'"
SecAction "id:3,phase:1,pass,nolog,setvar:tx.score=+5,setvar:tx.a=beta"
SecAction "id:4,phase:1,pass,log,msg:'a is %{tx.a}'"
SecAction "id:5,phase:1,pass,nolog,setvar:!tx.a"
SecAction "id:6,phase:1,pass,log,logdata:'gone %{tx.a}|%{tx.score}'"
SecRule ARGS:k "@rx ^(\w+)$" "id:7,phase:1,pass,nolog,capture,setvar:'tx.key_%{tx.1}=%{tx.score}'"
SecAction "id:8,phase:1,pass,log,msg:'key %{tx.key_x} level %{tx.level}'"
SecRule ARGS:k "@rx ^(\w+)$" "id:9,phase:1,pass,nolog,capture,setvar:'tx.key_%{tx.1}=9'"
SecRule ARGS:c "@rx ^(\w)(\w*)$" "id:10,phase:2,pass,log,capture,msg:'caught %{tx.1}+%{tx.2} of %{tx.0}'"
SecRule ARGS:d "@rx ^(\w+)$" "id:11,phase:2,pass,nolog,capture"
SecRule ARGS:long "@rx ^(.*)$" "id:12,phase:2,pass,nolog,capture,setvar:tx.long=%{tx.1}%{tx.1}%{tx.1}%{tx.1}"
SecAction "id:13,phase:2,pass,log,msg:'long %{tx.long}',logdata:'%{tx.long}%{tx.long}'"
SecAction "id:14,phase:2,pass,nolog,setvar:tx.long=short"
SecRule ARGS:m "@rx ." "id:15,phase:2,pass,log,msg:'mixed %{tx.score} %{MATCHED_VAR}'"
SecRule ARGS:m "@rx ^(.+)$" "id:16,phase:2,pass,nolog,capture,setvar:tx.score=+%{tx.1}"
SecRule TX:score "@ge 100" "id:17,phase:2,deny,status:403,log,msg:'blocked at %{tx.score}'"
SecAction "id:18,phase:3,pass,log,msg:'phase 3 score %{tx.score}'"
SecAction "id:19,phase:4,pass,nolog,setvar:tx.score=+1"
SecAction "id:20,phase:5,pass,log,msg:'report %{tx.score}/%{tx.level}/%{tx.a}/%{tx.key_x}'"
SecAction "id:21,phase:5,pass,log,msg:'static text'"
SecAction "id:22,phase:5,pass,nolog,setvar:tx.level=+10"
SecAction "id:23,phase:5,pass,log,msg:'after %{tx.level}'"
"#;

const REQS: &[Req] = &[
    ("GET", "/", &[], ""),
    ("GET", "/?k=x&c=hello&d=other", &[], ""),
    ("GET", "/?k=y&c=a", &[], ""),
    ("GET", "/?long=0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123456789", &[], ""),
    ("GET", "/?long=%ff%fe%c3", &[], ""),
    ("GET", "/?m=7&k=x", &[], ""),
    ("GET", "/?m=200", &[], ""),
    ("POST", "/?k=x", &[("Content-Type", "application/x-www-form-urlencoded")], "c=zz&m=3&d=q"),
];

#[test]
fn texts_are_the_ones_rendered_when_the_rule_matched() {
    let (on, off) = both(RULES);
    let what = "deferring the match texts";
    check_same_outcomes(&on, &off, REQS, &no_prep, &CLIENT, what);
    check_same_outcomes(&on, &off, REQS, &|tx: &mut Transaction| tx.pin_tx("level", b"7"), &CLIENT, what);
    // the outcomes are the ones the rules say (so the comparison is not between two wrong answers)
    let out = outcome_text(&on, &REQS[1], &no_prep, &CLIENT);
    for want in [
        r#"2 \"score 1 a=alpha\" \"level 2\""#,
        r#"4 \"a is beta\""#,
        r#"6 \"\" \"gone |6\""#,
        r#"8 \"key 6 level 2\""#,
        r#"10 \"caught h+ello of hello\""#,
        r#"20 \"report 7/2//9\""#,
        r#"23 \"after 12\""#,
    ] {
        assert!(out.contains(want), "{want} missing from {out}");
    }
    let out = outcome_text(&on, &REQS[5], &no_prep, &CLIENT);
    assert!(out.contains(r#"15 \"mixed 6 7\""#) && out.contains(r#"20 \"report 14/2//9\""#), "{out}");
    let out = outcome_text(&on, &REQS[6], &no_prep, &CLIENT);
    assert!(out.contains(r#"17 \"blocked at 206\""#) && out.contains("rule_id: 17"), "{out}");
}

/// Reading the matches between phases renders what is pending then; later writes leave those texts alone and
/// the later matches are rendered from the later `TX`. Reading twice changes nothing.
#[test]
fn texts_read_between_phases_stay_as_rendered() {
    let (on, off) = both(RULES);
    let run = |e: &Arc<Engine>| {
        let mut tx = e.transaction(info());
        tx.request_line("GET", "/?k=x&c=abc", "HTTP/1.1");
        tx.request_header(b"Host", b"h");
        let mut seen = Vec::new();
        let mut texts = |tx: &mut Transaction| {
            let now: Vec<String> = tx.matches().iter().map(|m| format!("{} {:?} {:?}", m.id, m.msg, m.data)).collect();
            seen.push(now.clone());
            assert_eq!(
                now,
                tx.matches().iter().map(|m| format!("{} {:?} {:?}", m.id, m.msg, m.data)).collect::<Vec<_>>()
            );
        };
        tx.process_request_headers();
        texts(&mut tx);
        tx.process_request_body();
        tx.response_status(200, "HTTP/1.1");
        tx.process_response_headers();
        tx.process_response_body();
        tx.process_logging();
        texts(&mut tx);
        seen
    };
    let seen = run(&on);
    assert_eq!(seen, run(&off));
    assert_eq!(seen[1][..seen[0].len()], seen[0][..], "texts read after phase 1 are kept");
}

/// CRS PL1 (its phase-5 report, 980170, reads 25 scores): the harness's requests, an attack that blocks, a
/// JSON login: the same outcomes with the texts deferred and rendered at once.
#[test]
fn crs_outcomes_are_the_same_with_the_texts_deferred() {
    let dir = crs_dir();
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
        ("GET", "/", &[], ""),
        ("GET", "/api/items?id=123&q=hello", &[("Accept", "application/json")], ""),
        ("GET", "/api/v1/users?q=1%27%20OR%20%271%27%3D%271", &[], ""),
        ("GET", "/?x=<script>alert(1)</script>", &[("Proxy", "x")], ""),
        ("TRACE", "/", &[], ""),
        ("POST", "/api/login", &json, r#"{"username":"alice","password":"s3cret","remember_me":true}"#),
        ("POST", "/api/login", &json, r#"{"q":"1 union select password from users"}"#),
    ];
    check_same_outcomes(&on, &off, reqs, &no_prep, &CLIENT, "deferring the match texts");
    let out = outcome_text(&on, &reqs[2], &no_prep, &CLIENT);
    assert!(out.contains("980170") && out.contains("Anomaly Scores: (Inbound Scores: blocking="), "{out}");
}
