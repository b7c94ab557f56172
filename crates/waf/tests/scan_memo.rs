//! The memo of earlier transactions' prefilter entries (`transaction::memo`): a value's entry under a chain,
//! and a gate's base64 test of it, are carried from one transaction to the next on a worker thread. That is a
//! pure shortcut: every request here runs twice on an engine with the memo (the second run served by it) and
//! once on the same rules without, and the interventions, the logged matches and the whole `TX` collection
//! must be identical; engines loaded side by side never see each other's entries.

mod common;

use common::*;
use portcullis_waf::{Engine, Transaction};
use std::sync::Arc;

/// The harness's client; the work counters differ by design (the memo saves work), so they are left out.
const CLIENT: Client = Client {
    headers: &[("Host", "127.0.0.1:47890"), ("User-Agent", "anchor-bench/1.0 (wrk)")],
    body_type: None,
    stats: false,
};

/// Each request gives the outcome of the engine without the memo on the engine with it, run twice in a row.
fn check(on: &Arc<Engine>, off: &Arc<Engine>, reqs: &[Req]) {
    for r in reqs {
        let want = outcome_text(off, r, &no_prep, &CLIENT);
        for run in ["first", "second"] {
            assert_eq!(
                outcome_text(on, r, &no_prep, &CLIENT),
                want,
                "request {r:?}, {run} run: the memo changed the outcome"
            );
        }
    }
}

/// The work counters of one run of `r`.
fn stats(engine: &Arc<Engine>, r: &Req) -> portcullis_waf::EvalStats {
    let (method, uri, headers, body) = *r;
    let mut tx: Transaction = engine.transaction(info());
    tx.request_line(method, uri, "HTTP/1.1");
    for (n, v) in CLIENT.headers.iter().chain(headers.iter()) {
        tx.request_header(n.as_bytes(), v.as_bytes());
    }
    let _ = tx.process_request_headers();
    let _ = tx.append_request_body(body.as_bytes());
    let _ = tx.process_request_body();
    tx.stats()
}

fn crs_pair() -> Option<(Arc<Engine>, Arc<Engine>)> {
    if !crs_dir().join("rules").is_dir() {
        eprintln!("skipped: no CRS at {}", crs_dir().display());
        return None;
    }
    let extra = "SecRule REQUEST_HEADERS:Content-Type \"@beginsWith application/json\" \
                 \"id:199001,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON\"";
    Some((Arc::new(crs_engine(extra)), Arc::new(crs_engine(extra).with_scan_memo(false))))
}

/// The second of two identical requests is served by the memo: more entries found there, fewer values
/// transformed, and none looked up in vain: every entry the first run missed was stored, also under chains
/// that hand the value back as it is (the `Content-Type` under 199001's `t:lowercase`). (It fails if the memo
/// is never read, or never written, or skips storing such an entry.)
#[test]
fn a_repeated_request_is_served_by_the_memo() {
    let Some((on, off)) = crs_pair() else { return };
    let json = [("Content-Type", "application/json")];
    let login: Req =
        ("POST", "/api/login", &json, r#"{"username":"alice","password":"s3cret","client":{"app":"web"}}"#);
    let (first, second) = (stats(&on, &login), stats(&on, &login));
    assert!(second.memo_hits > first.memo_hits, "first {first:?}\nsecond {second:?}");
    assert_eq!(second.memo_misses, 0, "first {first:?}\nsecond {second:?}");
    assert!(second.transforms_computed < first.transforms_computed, "first {first:?}\nsecond {second:?}");
    assert_eq!(second.rules, first.rules, "the same rules are evaluated");
    let without = stats(&off, &login);
    assert_eq!((without.memo_hits, without.memo_misses), (0, 0), "the memo is off: {without:?}");
    assert_eq!(without.rules, second.rules);
}

/// CRS PL1: benign requests and attacks that share most of their values, values that differ only in letter
/// case or in one byte, base64 values (CRS 934100's decoded forms), a value longer than the memo keeps, JSON
/// bodies: the same outcomes with the memo (twice) and without.
#[test]
fn crs_outcomes_are_the_same_with_and_without_the_memo() {
    let Some((on, off)) = crs_pair() else { return };
    let json = [("Content-Type", "application/json")];
    let form = [("Content-Type", "application/x-www-form-urlencoded")];
    let long = format!("/search?q={}", "a".repeat(300));
    let long_attack = format!("/search?q={}%27%20OR%20%271%27%3D%271", "a".repeat(300));
    let b64_attack = format!("/?data={}", base64(b"require('child_process').exec('id')"));
    let b64_benign = format!("/?data={}", base64(b"hello world, this is plain text"));
    let reqs: &[Req] = &[
        ("GET", "/api/items?id=123&q=hello", &[("Accept", "application/json")], ""),
        ("GET", "/api/items?id=123&q=Hello", &[("Accept", "application/json")], ""),
        ("GET", "/api/items?id=123&q=1%27%20OR%20%271%27%3D%271", &[("Accept", "application/json")], ""),
        ("GET", "/api/items?id=123&q=hello", &[("Accept", "application/json")], ""),
        ("GET", "/api/items?id=123&q=%3Cscript%3Ealert(1)%3C/script%3E", &[], ""),
        ("GET", "/api/items?id=123&q=%3CSCRIPT%3Ealert(1)%3C/SCRIPT%3E", &[], ""),
        ("GET", "/api/items?id=123&q=hello", &[("Referer", "http://example.com/<script>")], ""),
        ("GET", &b64_benign, &[], ""),
        ("GET", &b64_attack, &[], ""),
        ("GET", &b64_benign, &[], ""),
        ("GET", &long, &[], ""),
        ("GET", &long_attack, &[], ""),
        ("GET", "/files?path=../../etc/passwd", &[], ""),
        ("GET", "/files?path=..%2f..%2fetc%2fpasswd", &[], ""),
        ("GET", "/files?path=docs%2freadme", &[], ""),
        ("POST", "/api/login", &json, r#"{"username":"alice","password":"s3cret","remember_me":true}"#),
        ("POST", "/api/login", &json, r#"{"username":"alice","password":"1 union select password from users"}"#),
        ("POST", "/api/login", &json, r#"{"username":"alice","password":"s3cret","remember_me":true}"#),
        ("POST", "/api/run", &form, "cmd=ls&arg=-la"),
        ("POST", "/api/run", &form, "cmd=;cat%20/etc/passwd&arg=-la"),
        ("POST", "/api/run", &form, "cmd=ls&arg=-la"),
    ];
    check(&on, &off, reqs);
}

/// Rules whose chains get the same numbers in two engines but transform differently: a value's entry under
/// a chain of one engine would be wrong in the other. Three engines (more than the memo keeps per thread)
/// take turns on one thread, each checked against its rules without the memo.
#[test]
fn engines_never_share_entries() {
    let rules = |t: &str| {
        format!(
            "SecRuleEngine On\nSecRequestBodyAccess On\n\
             SecRule ARGS \"@rx admin\" \"id:1,phase:2,t:none,{t},deny,status:403,log,msg:'admin in %{{MATCHED_VAR_NAME}}'\"\n\
             SecRule ARGS \"@rx root\" \"id:2,phase:2,t:none,{t},multiMatch,pass,log,msg:'root'\"\n"
        )
    };
    let engines: Vec<(Arc<Engine>, Arc<Engine>)> = ["t:urlDecodeUni", "t:base64Decode", "t:lowercase"]
        .iter()
        .map(|t| on_and_off(&rules(t), "memo.conf", |e| e.with_scan_memo(false)))
        .collect();
    let reqs: Vec<String> = ["%2561dmin", &base64(b"admin"), "ADMIN", &base64(b"root"), "%2572oot", "ROOT", "plain"]
        .iter()
        .map(|v| format!("/?a={v}&b=x"))
        .collect();
    for _ in 0..3 {
        for r in &reqs {
            let req: Req = ("GET", r, &[], "");
            for (on, off) in &engines {
                check(on, off, &[req]);
            }
        }
    }
    // the three engines block different requests (ARGS are URL-decoded once by the parser, so `%2561dmin`
    // arrives as `%61dmin`): a shared entry would have shown
    let blocked = |e: &Arc<Engine>, v: &str| {
        outcome_text(e, &("GET", &format!("/?a={v}"), &[], ""), &no_prep, &CLIENT).contains("403")
    };
    assert!(
        blocked(&engines[0].0, "%2561dmin")
            && !blocked(&engines[1].0, "%2561dmin")
            && !blocked(&engines[2].0, "%2561dmin")
    );
    let b = base64(b"admin");
    assert!(!blocked(&engines[0].0, &b) && blocked(&engines[1].0, &b) && !blocked(&engines[2].0, &b));
    assert!(!blocked(&engines[0].0, "ADMIN") && !blocked(&engines[1].0, "ADMIN") && blocked(&engines[2].0, "ADMIN"));
}
