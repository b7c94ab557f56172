//! Small rule sets exercising evaluation semantics.

mod common;

use common::*;
use portcullis_waf::{Engine, InterventionAction};
use std::sync::Arc;

fn engine(rules: &str) -> Arc<Engine> {
    Arc::new(Engine::from_str(&format!("SecRuleEngine On\n{rules}"), "t.conf").unwrap_or_else(|e| panic!("{e}")))
}

fn ids(tx: &mut portcullis_waf::Transaction) -> Vec<u32> {
    tx.matches().iter().map(|m| m.id).collect()
}

#[test]
fn block_uses_default_action_and_status() {
    let e =
        engine("SecDefaultAction \"phase:1,log,deny,status:406\"\nSecRule ARGS:a \"@streq x\" \"id:1,phase:1,block\"");
    let (iv, _) = get(&e, "/?a=x", &[]);
    let iv = iv.unwrap();
    assert_eq!((iv.status, iv.rule_id, iv.action), (406, 1, InterventionAction::Deny));
    let (iv, _) = get(&e, "/?a=y", &[]);
    assert!(iv.is_none());
}

#[test]
fn chain_setvar_capture_and_macros() {
    let e = engine(
        r#"
SecRule ARGS:id "@rx ^(\d+)-(\w+)$" "id:1,phase:1,pass,capture,chain,msg:'got %{TX.2}',logdata:'%{MATCHED_VAR_NAME}=%{MATCHED_VAR}'"
    SecRule TX:1 "@gt 10" "setvar:tx.score=+5,setvar:'tx.last=%{tx.2}'"
SecRule TX:score "@ge 5" "id:2,phase:1,deny,status:418,msg:'score %{tx.score} last %{tx.last}'"
"#,
    );
    let (iv, mut tx) = get(&e, "/?id=42-abc", &[]);
    assert_eq!(iv.map(|i| i.status), Some(418));
    assert_eq!(ids(&mut tx), vec![1, 2]);
    assert_eq!(tx.matches()[0].msg, "got abc");
    assert_eq!(tx.matches()[0].data, "TX:1=42");
    assert_eq!(tx.matches()[1].msg, "score 5 last abc");
    let (iv, mut tx) = get(&e, "/?id=7-abc", &[]);
    assert!(iv.is_none(), "{:?}", ids(&mut tx));
}

#[test]
fn skip_after_marker_and_skip() {
    let e = engine(
        r#"
SecAction "id:1,phase:1,pass,nolog,skipAfter:END"
SecAction "id:2,phase:1,deny"
SecMarker END
SecAction "id:3,phase:1,pass,log,skip:1"
SecAction "id:4,phase:1,deny"
SecAction "id:5,phase:1,pass,log"
"#,
    );
    let (iv, mut tx) = get(&e, "/", &[]);
    assert!(iv.is_none());
    assert_eq!(ids(&mut tx), vec![3, 5]);
}

#[test]
fn exclusions_counts_and_negation() {
    let e = engine(
        r#"
SecRule ARGS|!ARGS:safe "@rx evil" "id:1,phase:1,pass,log"
SecRule &ARGS "@eq 3" "id:2,phase:1,pass,log"
SecRule &ARGS:nope "@eq 0" "id:3,phase:1,pass,log"
SecRule REQUEST_METHOD "!@within GET HEAD" "id:4,phase:1,pass,log"
SecRule REQUEST_COOKIES:/^sess/ "@rx admin" "id:5,phase:1,pass,log"
SecRule REQUEST_HEADERS:user-agent "@contains firefox" "id:6,phase:1,pass,log,t:lowercase"
"#,
    );
    let (_, mut tx) = get(&e, "/?safe=evil&x=1&y=2", &[("Cookie", "sessid=admin; other=admin")]);
    assert_eq!(ids(&mut tx), vec![2, 3, 5, 6]);
    let (_, mut tx) = get(&e, "/?other=evil", &[]);
    assert_eq!(ids(&mut tx), vec![1, 3, 6]);
}

#[test]
fn ctl_remove_and_detection_only() {
    let e = engine(
        r#"
SecRule REQUEST_HEADERS:X-Skip "@eq 1" "id:1,phase:1,pass,nolog,ctl:ruleRemoveById=2-3"
SecRule ARGS "@rx bad" "id:2,phase:1,deny"
SecRule REQUEST_HEADERS:X-Det "@eq 1" "id:4,phase:1,pass,nolog,ctl:ruleEngine=DetectionOnly"
SecRule ARGS "@rx worse" "id:5,phase:1,deny,log"
SecRule REQUEST_HEADERS:X-T "@eq 1" "id:6,phase:1,pass,nolog,ctl:ruleRemoveTargetById=7;ARGS:a"
SecRule ARGS "@rx meh" "id:7,phase:1,deny"
"#,
    );
    assert!(get(&e, "/?a=bad", &[]).0.is_some());
    assert!(get(&e, "/?a=bad", &[("X-Skip", "1")]).0.is_none());
    let (iv, mut tx) = get(&e, "/?a=worse", &[("X-Det", "1")]);
    assert!(iv.is_none());
    assert_eq!(ids(&mut tx), vec![5]);
    assert!(get(&e, "/?a=meh", &[("X-T", "1")]).0.is_none());
    assert!(get(&e, "/?b=meh", &[("X-T", "1")]).0.is_some());
}

/// Removed rules are passed over wherever they are: ids out of file order within a range, rules of later
/// phases (5 included), rules removed by tag, and rules a `ctl` later in the same phase removes; a rule that
/// ran before the removal keeps its match.
#[test]
fn ctl_removals_reach_rules_in_any_order_and_phase() {
    let e = engine(
        r#"
SecRule ARGS:a "@streq x" "id:50,phase:1,pass,log"
SecRule REQUEST_HEADERS:X-Rm "@eq 1" "id:1,phase:1,pass,nolog,ctl:ruleRemoveById=15-35,ctl:ruleRemoveByTag=gone"
SecRule ARGS:a "@streq x" "id:30,phase:1,pass,log"
SecRule ARGS:a "@streq x" "id:10,phase:1,pass,log"
SecRule ARGS:a "@streq x" "id:20,phase:2,pass,log"
SecRule ARGS:a "@streq x" "id:40,phase:2,pass,log,tag:'gone'"
SecRule ARGS:a "@streq x" "id:41,phase:2,pass,log"
SecRule REQUEST_HEADERS:X-Rm "@eq 1" "id:3,phase:2,pass,nolog,ctl:ruleRemoveById=42"
SecRule ARGS:a "@streq x" "id:42,phase:2,pass,log"
SecRule ARGS:a "@streq x" "id:43,phase:2,pass,log"
SecRule ARGS:a "@streq x" "id:25,phase:5,pass,log"
"#,
    );
    let (_, mut tx) = get(&e, "/?a=x", &[]);
    assert_eq!(ids(&mut tx), vec![50, 30, 10, 20, 40, 41, 42, 43, 25]);
    let (_, mut tx) = get(&e, "/?a=x", &[("X-Rm", "1")]);
    assert_eq!(ids(&mut tx), vec![50, 10, 41, 43]);
}

#[test]
fn allow_and_redirect() {
    let e = engine(
        r#"
SecRule REMOTE_ADDR "@ipMatch 192.0.2.0/24" "id:1,phase:1,allow,nolog"
SecAction "id:2,phase:1,deny"
"#,
    );
    assert!(get(&e, "/", &[]).0.is_none());
    let e = engine("SecAction \"id:1,phase:1,redirect:'http://x/%{tx.nothing}blocked'\"");
    let iv = get(&e, "/", &[]).0.unwrap();
    assert_eq!(iv.status, 302);
    assert_eq!(iv.action, InterventionAction::Redirect { url: "http://x/blocked".into() });
}

#[test]
fn multi_match_and_transform_cache() {
    let e = engine(
        r#"
SecRule ARGS "@streq a b" "id:1,phase:1,pass,log,t:none,t:urlDecodeUni,multiMatch"
SecRule ARGS "@streq ab" "id:2,phase:1,pass,log,t:none,t:urlDecodeUni,t:removeWhitespace"
SecRule ARGS "@streq a%20b" "id:3,phase:1,pass,log,t:none,multiMatch"
"#,
    );
    // query decoding gives "a%20b"; urlDecodeUni makes "a b"
    let (_, mut tx) = get(&e, "/?x=a%2520b", &[]);
    assert_eq!(ids(&mut tx), vec![1, 2, 3]);
}

#[test]
fn multi_match_forms_are_computed_once_per_value() {
    // Three rules with the same `multiMatch` chain over one value: the two intermediate forms are computed by
    // the first rule and read from the transformation cache by the other two. (Rules 1 and 2 test a literal
    // the value holds, so the rule-level gate lets them run.)
    let e = engine(
        r#"
SecRule ARGS "@streq a" "id:1,phase:1,pass,log,t:none,t:urlDecodeUni,t:lowercase,multiMatch"
SecRule ARGS "@streq a" "id:2,phase:1,pass,log,t:none,t:urlDecodeUni,t:lowercase,multiMatch"
SecRule ARGS "@streq a b" "id:3,phase:1,pass,log,t:none,t:urlDecodeUni,t:lowercase,multiMatch"
"#,
    );
    let (_, mut tx) = get(&e, "/?x=A%2520B", &[]);
    assert_eq!(ids(&mut tx), vec![3]);
    let s = tx.stats();
    // (two steps computed once for the three rules' forms, plus the one the gate of rule 3 computed to see its
    // literal in the decoded value: the gate caches transformations apart from the forms)
    assert_eq!((s.transforms_computed, s.transform_cache_hits), (3, 4));
}

#[test]
fn post_urlencoded_body_and_limits() {
    let e = engine(
        "SecRequestBodyAccess On\nSecRequestBodyLimit 20\nSecRule ARGS_POST:user \"@streq root\" \"id:1,phase:2,deny\"",
    );
    let mut tx = e.transaction(info());
    tx.request_line("POST", "/login", "HTTP/1.1");
    tx.request_header(b"Content-Type", b"application/x-www-form-urlencoded");
    assert!(tx.process_request_headers().is_none());
    tx.append_request_body(b"user=root&x=1").unwrap();
    assert!(tx.process_request_body().is_some());
    let mut tx = e.transaction(info());
    tx.request_line("POST", "/login", "HTTP/1.1");
    assert!(tx.append_request_body(&[b'a'; 40]).is_err());
}

#[test]
fn request_body_no_files_limit_applies_to_bodies_without_files() {
    let e = engine("SecRequestBodyAccess On\nSecRequestBodyLimit 1000\nSecRequestBodyNoFilesLimit 20\nSecRule ARGS_POST \"@streq x\" \"id:1,phase:2,deny\"");
    let start = |ct: &[u8]| {
        let mut tx = e.transaction(info());
        tx.request_line("POST", "/upload", "HTTP/1.1");
        tx.request_header(b"Content-Type", ct);
        assert!(tx.process_request_headers().is_none());
        tx
    };
    // URL-encoded (and any other processor): the no-files limit is the smaller one and rejects
    let mut tx = start(b"application/x-www-form-urlencoded");
    tx.append_request_body(b"a=0123456789").unwrap();
    let err = tx.append_request_body(b"&b=0123456789").unwrap_err();
    assert!(err.to_string().contains("SecRequestBodyNoFilesLimit (20 bytes)"), "{err}");
    // multipart carries files: only SecRequestBodyLimit applies
    let mut tx = start(b"multipart/form-data; boundary=xyz");
    tx.append_request_body(&[b'a'; 500]).unwrap();
    assert!(tx.append_request_body(&[b'a'; 501]).is_err());
    // DetectionOnly never rejects
    let d = engine("SecRuleEngine DetectionOnly\nSecRequestBodyAccess On\nSecRequestBodyNoFilesLimit 20");
    let mut tx = d.transaction(info());
    tx.request_line("POST", "/", "HTTP/1.1");
    assert!(tx.append_request_body(&[b'a'; 40]).is_ok());
}

#[test]
fn response_phases() {
    let e = engine(
        "SecResponseBodyAccess On\nSecResponseBodyMimeType text/html\nSecRule RESPONSE_STATUS \"@eq 500\" \"id:1,phase:3,pass,log\"\nSecRule RESPONSE_BODY \"@contains secret\" \"id:2,phase:4,deny\"",
    );
    let mut tx = e.transaction(info());
    tx.request_line("GET", "/", "HTTP/1.1");
    assert!(tx.process_request_headers().is_none());
    assert!(tx.process_request_body().is_none());
    tx.response_status(500, "HTTP/1.1");
    tx.response_header(b"Content-Type", b"text/html; charset=utf-8");
    assert!(tx.process_response_headers().is_none());
    tx.append_response_body(b"the secret is").unwrap();
    assert_eq!(tx.process_response_body().map(|i| i.rule_id), Some(2));
    tx.process_logging();
    assert_eq!(ids(&mut tx), vec![1, 2]);
}

#[test]
fn engine_is_send_sync_and_tx_is_send() {
    fn ss<T: Send + Sync>() {}
    fn s<T: Send>() {}
    ss::<Engine>();
    s::<portcullis_waf::Transaction>();
}

fn post(
    e: &Arc<Engine>,
    content_type: &str,
    body: &[u8],
) -> (Option<portcullis_waf::Intervention>, portcullis_waf::Transaction) {
    let mut tx = e.transaction(info());
    tx.request_line("POST", "/upload", "HTTP/1.1");
    tx.request_header(b"Host", b"example.com");
    tx.request_header(b"Content-Type", content_type.as_bytes());
    let _ = tx.process_request_headers();
    let _ = tx.append_request_body(body);
    let iv = tx.process_request_body();
    (iv, tx)
}

#[test]
fn body_processors_feed_xml_multipart_and_errors() {
    let e = engine(
        r#"
SecRequestBodyAccess On
SecRule REQUEST_HEADERS:Content-Type "^text/xml" "id:1,phase:1,pass,nolog,ctl:requestBodyProcessor=XML"
SecRule XML://@* "@streq evil" "id:10,phase:2,pass,log"
SecRule XML:/* "@streq inner" "id:11,phase:2,pass,log"
SecRule FILES "@rx \.php$" "id:20,phase:2,pass,log"
SecRule FILES_NAMES "@streq upload" "id:21,phase:2,pass,log"
SecRule FILES_COMBINED_SIZE "@eq 5" "id:22,phase:2,pass,log"
SecRule MULTIPART_PART_HEADERS "@rx ^content-type\s*:" "id:23,phase:2,pass,log,t:lowercase"
SecRule MULTIPART_STRICT_ERROR "!@eq 0" "id:24,phase:2,pass,log"
SecRule ARGS_POST:note "@streq hi" "id:25,phase:2,pass,log"
SecRule REQBODY_ERROR "!@eq 0" "id:30,phase:2,pass,log,msg:'%{REQBODY_ERROR_MSG}'"
SecRule TX:/^ABC_/ "@streq 1" "id:40,phase:2,pass,log"
SecAction "id:41,phase:1,pass,nolog,setvar:tx.abc_x=1"
"#,
    );
    let (_, mut tx) = post(&e, "text/xml", br#"<a x="evil"><b>inner</b></a>"#);
    assert_eq!(ids(&mut tx), vec![10, 11, 40]);

    let body = b"--b\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhi\r\n--b\r\nContent-Disposition: form-data; name=\"upload\"; filename=\"x.php\"\r\nContent-Type: text/plain\r\n\r\n<?php\r\n--b--\r\n";
    let (_, mut tx) = post(&e, "multipart/form-data; boundary=b", body);
    assert_eq!(ids(&mut tx), vec![20, 21, 22, 23, 25, 40]);

    let (_, mut tx) =
        post(&e, "multipart/form-data; boundary=b", b"--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx");
    assert_eq!(ids(&mut tx), vec![24, 30, 40]);
    assert!(tx.matches()[1].msg.starts_with("Multipart parsing error"), "{}", tx.matches()[1].msg);
}

#[test]
fn expirevar_drops_a_persistent_variable_after_its_deadline() {
    // Request 1 marks the client (expiring at once, or in an hour); request 2 checks the mark.
    let e = engine(
        r#"
SecAction "id:1,phase:1,pass,nolog,initcol:ip=%{REMOTE_ADDR}"
SecRule ARGS:mark "@streq now" "id:2,phase:1,pass,nolog,setvar:ip.flagged=1,setvar:ip.kept=1,expirevar:ip.flagged=0"
SecRule IP:flagged "@eq 1" "id:10,phase:2,deny,status:429"
SecRule IP:kept "@eq 1" "id:11,phase:2,pass,log"
"#,
    );
    let (iv, _) = get(&e, "/?mark=now", &[]);
    assert_eq!(iv.map(|i| i.status), Some(429), "the deadline applies when the record is next loaded");
    let (iv, mut tx) = get(&e, "/", &[]);
    assert!(iv.is_none(), "expired after 0 s: {:?}", ids(&mut tx));
    assert_eq!(ids(&mut tx), vec![11], "expirevar removes only the variable it names");
    // The deadline may come from a macro, as in CRS plugins (`expirevar:'ip.x=%{tx.block_duration}'`).
    let e = engine(
        r#"
SecAction "id:1,phase:1,pass,nolog,initcol:ip=%{REMOTE_ADDR},setvar:tx.ttl=3600"
SecRule ARGS:mark "@streq later" "id:3,phase:1,pass,nolog,setvar:ip.flagged=1,expirevar:'ip.flagged=%{tx.ttl}'"
SecRule IP:flagged "@eq 1" "id:10,phase:2,deny,status:429"
"#,
    );
    let (iv, _) = get(&e, "/?mark=later", &[]);
    assert_eq!(iv.map(|i| i.status), Some(429), "set in phase 1, seen in phase 2 of the same request");
    let (iv, _) = get(&e, "/", &[]);
    assert_eq!(iv.map(|i| i.status), Some(429), "an hour has not passed");
}

#[test]
fn files_tmp_content_holds_each_uploaded_file() {
    let e = engine(
        r#"
SecRequestBodyAccess On
SecRule FILES_TMP_CONTENT "@rx <\?php" "id:1,phase:2,pass,log,logdata:'%{MATCHED_VAR_NAME}'"
SecRule FILES_TMP_CONTENT:doc "@contains secret" "id:2,phase:2,pass,log"
SecRule &FILES_TMP_CONTENT "@eq 2" "id:3,phase:2,pass,log"
"#,
    );
    let body = b"--b\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\n<?php not a file\r\n--b\r\nContent-Disposition: form-data; name=\"up\"; filename=\"x.php\"\r\n\r\n<?php system($_GET[1]);\r\n--b\r\nContent-Disposition: form-data; name=\"doc\"; filename=\"a.txt\"\r\n\r\ntop secret\r\n--b--\r\n";
    let (_, mut tx) = post(&e, "multipart/form-data; boundary=b", body);
    assert_eq!(ids(&mut tx), vec![1, 2, 3]);
    assert_eq!(tx.matches()[0].data, "FILES_TMP_CONTENT:up");
}

/// The rule-level prefilter gate skips rules whose required literals occur in no value of their variables,
/// before collecting them; matches must be exactly those without the prefilter (excluded keys, other
/// variables, selectors and TX — never gated — included).
#[test]
fn the_rule_level_prefilter_gate_skips_rules_but_never_changes_matches() {
    let rules = r#"SecRuleEngine On
SecRule ARGS|!ARGS:skip "@rx union\s+select" "id:1,phase:1,pass,log,t:lowercase"
SecRule REQUEST_HEADERS:User-Agent "@rx sqlmap" "id:2,phase:1,pass,log"
SecRule ARGS_NAMES|REQUEST_COOKIES_NAMES "@rx passwd" "id:3,phase:1,pass,log,t:urlDecodeUni"
SecAction "id:4,phase:1,pass,nolog,setvar:tx.x=union select"
SecRule TX:x "@rx union\s+select" "id:5,phase:1,pass,log"
SecRule REQUEST_FILENAME "@rx \.php$" "id:6,phase:1,pass,log"
"#;
    let on = Arc::new(Engine::from_str(rules, "t.conf").unwrap());
    let off = Arc::new(Engine::from_str(rules, "t.conf").unwrap().with_rx_prefilter(false));
    let cases: [(&str, &[(&str, &str)]); 5] = [
        ("/a?q=hello", &[]),
        ("/a.php?q=1+UNION+SELECT+2", &[]),
        ("/a?skip=union+select&passwd=1", &[("User-Agent", "sqlmap/1.0")]),
        ("/a?skip=union+select", &[("Cookie", "pass%77d=1")]),
        ("/a?UNION=select", &[]),
    ];
    let mut gated = 0;
    for (uri, headers) in cases {
        let (_, mut a) = get(&on, uri, headers);
        let (_, mut b) = get(&off, uri, headers);
        assert_eq!(ids(&mut a), ids(&mut b), "{uri}");
        assert!(ids(&mut a).contains(&5), "TX is never gated");
        gated += b.stats().rules - a.stats().rules;
    }
    let (_, mut tx) = get(&on, "/a?skip=union+select&passwd=1", &[("User-Agent", "sqlmap/1.0")]);
    assert_eq!(ids(&mut tx), vec![2, 3, 5]);
    assert!(gated >= 5, "the benign request alone skips rules 1, 2, 3 and 6: {gated}");
}

/// The gate's unions outlive a phase only while the data under them is unchanged (`gate_stale`), and rules
/// with the same variables and chain share the OR of their sources' unions (`Gate::group`): data added
/// after phase 1 (a late header, a parsed body, response headers) reopens the gates, with the prefilter
/// on as with it off.
#[test]
fn gate_unions_follow_data_changes_between_phases() {
    let rules = r#"
SecRuleEngine On
SecRequestBodyAccess On
SecRule REQUEST_HEADERS|ARGS "@rx evil" "id:10,phase:1,pass,log"
SecRule REQUEST_HEADERS|ARGS "@rx wicked" "id:11,phase:2,pass,log"
SecRule REQUEST_HEADERS|ARGS "@rx evil" "id:12,phase:2,pass,log"
SecRule ARGS "@rx evil" "id:13,phase:2,pass,log"
SecRule REQUEST_HEADERS|ARGS "@rx evil" "id:14,phase:3,pass,log"
SecRule RESPONSE_HEADERS "@rx evil" "id:15,phase:3,pass,log"
"#;
    let on = Arc::new(Engine::from_str(rules, "t.conf").unwrap());
    let off = Arc::new(Engine::from_str(rules, "t.conf").unwrap().with_rx_prefilter(false));
    /// (late request header, body, response header content type, expected matches)
    type Case<'a> = (Option<&'a str>, Option<&'a str>, &'a str, &'a [u32]);
    let cases: [Case; 5] = [
        (None, None, "text/plain", &[]),
        (Some("evil wicked"), None, "text/plain", &[11, 12, 14]),
        (None, Some("q=evil"), "text/plain", &[12, 13, 14]),
        (None, None, "evil/type", &[15]),
        (None, Some("q=wicked"), "evil", &[11, 15]),
    ];
    let run = |e: &Arc<Engine>, late: Option<&str>, body: Option<&str>, resp: &str| {
        let mut tx = e.transaction(info());
        tx.request_line(if body.is_some() { "POST" } else { "GET" }, "/a?page=2", "HTTP/1.1");
        tx.request_header(b"Host", b"example.com");
        if body.is_some() {
            tx.request_header(b"Content-Type", b"application/x-www-form-urlencoded");
        }
        assert!(tx.process_request_headers().is_none());
        if let Some(v) = late {
            tx.request_header(b"X-Late", v.as_bytes());
        }
        if let Some(b) = body {
            tx.append_request_body(b.as_bytes()).unwrap();
        }
        assert!(tx.process_request_body().is_none());
        tx.response_status(200, "HTTP/1.1");
        tx.response_header(b"Content-Type", resp.as_bytes());
        assert!(tx.process_response_headers().is_none());
        tx
    };
    for (late, body, resp, want) in cases {
        let mut a = run(&on, late, body, resp);
        let mut b = run(&off, late, body, resp);
        assert_eq!(ids(&mut a), want, "{late:?} {body:?} {resp}");
        assert_eq!(ids(&mut a), ids(&mut b), "{late:?} {body:?} {resp}");
    }
    let benign = run(&on, None, None, "text/plain");
    assert_eq!(benign.stats().rules, 0, "every rule is gated on a benign request");
}

#[test]
fn response_mime_types_add_up_after_the_first_directive() {
    // The first directive replaces the built-in default (text/plain, text/html) ...
    let e = engine("SecResponseBodyMimeType application/json");
    assert!(e.settings().inspects_response_type("application/json"));
    assert!(!e.settings().inspects_response_type("text/html"));
    // ... later ones add (a test-mode `text/plain` after the recommended list keeps HTML inspected) ...
    let e = engine("SecResponseBodyMimeType text/plain text/html text/xml\nSecResponseBodyMimeType text/plain");
    assert_eq!(e.settings().response_body_mime_types, ["text/plain", "text/html", "text/xml"]);
    // ... and the clear directive starts over.
    let e =
        engine("SecResponseBodyMimeType text/html\nSecResponseBodyMimeTypesClear\nSecResponseBodyMimeType text/xml");
    assert_eq!(e.settings().response_body_mime_types, ["text/xml"]);
}

#[test]
fn rules_sharing_a_target_list_see_the_same_values_and_their_own_removals() {
    // Rules 2–4 (phase 1) and 5–6 (phase 2) list the same targets, so each phase collects them once and
    // shares the list; rule 1 removes ARGS:b from rule 3 only, which must collect its own list; the phase 2
    // list must hold the body's arguments, added after phase 1 ran.
    let e = engine(
        r#"
SecRequestBodyAccess On
SecAction "id:1,phase:1,pass,nolog,ctl:ruleRemoveTargetById=3;ARGS:b"
SecRule ARGS|!ARGS:c|REQUEST_HEADERS:Host "@contains zz" "id:2,phase:1,pass,log"
SecRule ARGS|!ARGS:c|REQUEST_HEADERS:Host "@contains zz" "id:3,phase:1,pass,log"
SecRule ARGS|!ARGS:c|REQUEST_HEADERS:Host "@contains zz" "id:4,phase:1,pass,log"
SecRule ARGS|!ARGS:c|REQUEST_HEADERS:Host "@contains zz" "id:5,phase:2,pass,log"
SecRule ARGS|!ARGS:c|REQUEST_HEADERS:Host "@contains zz" "id:6,phase:2,pass,log"
"#,
    );
    let mut tx = e.transaction(info());
    tx.request_line("POST", "/?a=1&b=zz&c=zz", "HTTP/1.1");
    tx.request_header(b"Host", b"example.com");
    tx.request_header(b"Content-Type", b"application/x-www-form-urlencoded");
    assert!(tx.process_request_headers().is_none());
    tx.append_request_body(b"d=zz").unwrap();
    assert!(tx.process_request_body().is_none());
    let seen: Vec<(u32, &str)> = tx.matches().iter().map(|m| (m.id, m.matched_var_name.as_str())).collect();
    assert_eq!(seen, vec![(2, "ARGS:b"), (4, "ARGS:b"), (5, "ARGS:d"), (6, "ARGS:d")]);
}

#[test]
fn reused_transaction_buffers_carry_nothing_over() {
    // Finished transactions hand their emptied buffers (arena, caches, TX, argument and header lists) to the
    // next one: nothing of the first request may be visible to the second.
    let e = engine(
        r#"
SecRule ARGS "@rx secret" "id:1,phase:1,pass,log,t:lowercase,setvar:tx.seen=1,setvar:'tx.v_%{matched_var}=1'"
SecRule TX:/^v_/ "@rx ." "id:2,phase:1,pass,log"
SecRule TX:seen "@eq 1" "id:3,phase:2,pass,log"
SecRule &ARGS "@gt 0" "id:4,phase:2,pass,log"
SecRule &REQUEST_HEADERS:X-First "@gt 0" "id:5,phase:2,pass,log"
SecRule REQUEST_HEADERS|ARGS_NAMES "@rx first" "id:6,phase:2,pass,log"
"#,
    );
    for round in 0..3 {
        let (iv, mut tx) = get(&e, "/?q=SECRET", &[("X-First", "first")]);
        assert!(iv.is_none());
        assert_eq!(ids(&mut tx), vec![1, 2, 3, 4, 5, 6], "round {round}");
        assert_eq!(tx.tx_var("v_secret"), Some(&b"1"[..]));
        drop(tx);
        let (iv, mut tx) = get(&e, "/plain", &[]);
        assert!(iv.is_none());
        assert_eq!(ids(&mut tx), Vec::<u32>::new(), "round {round}: the second request saw the first one's data");
        assert_eq!(tx.tx_var("seen"), None);
    }
}

#[test]
fn chains_finish_from_a_cached_prefix() {
    // Rule 1 caches `t:lowercase` of each value; rules 2–4 use chains that extend it, so they start from that
    // result. The extension may leave it as it is (2: no whitespace in `HELLO`), change it (3), or apply to a
    // value the prefix left unchanged (4: `abc` is already lowercase).
    let e = engine(
        r#"
SecRule ARGS "@rx zzz" "id:1,phase:1,pass,log,t:lowercase"
SecRule ARGS:a "@streq hello" "id:2,phase:1,pass,log,t:lowercase,t:removeWhitespace"
SecRule ARGS:b "@streq helloworld" "id:3,phase:1,pass,log,t:lowercase,t:removeWhitespace"
SecRule ARGS:c "@streq 3" "id:4,phase:1,pass,log,t:lowercase,t:length"
SecRule ARGS:a "@streq HELLO" "id:5,phase:1,pass,log,t:removeWhitespace"
"#,
    );
    let (iv, mut tx) = get(&e, "/?a=HELLO&b=Hello%20World&c=abc", &[]);
    assert!(iv.is_none());
    assert_eq!(ids(&mut tx), vec![2, 3, 4, 5]);
}

/// Operand macros: a single `%{tx.key}` is read from the lent `TX` value (any key case, a number parsed per
/// evaluation), a missing variable reads as empty / 0, and a macro with more than one part is still expanded
/// whole.
#[test]
fn operand_macros_read_tx_set_by_earlier_rules() {
    let e = engine(
        r#"
SecAction "id:1,phase:1,pass,nolog,setvar:tx.limit=5,setvar:tx.a=ab,setvar:tx.mixed=abx"
SecRule ARGS:n "@ge %{TX.Limit}" "id:10,phase:1,pass"
SecRule ARGS:n "@lt %{tx.limit}" "id:11,phase:1,pass"
SecRule ARGS:n "@eq %{tx.missing}" "id:12,phase:1,pass"
SecRule ARGS:s "@streq %{tx.missing}" "id:13,phase:1,pass"
SecRule TX:mixed "@streq %{tx.a}x" "id:14,phase:1,pass"
SecRule ARGS:s "@streq %{tx.a}%{tx.missing}x" "id:15,phase:1,pass"
SecRule ARGS:s "@within -%{tx.a}-" "id:16,phase:1,pass"
SecRule ARGS:n "@gt %{tx.limit}0" "id:17,phase:1,pass"
"#,
    );
    let (_, mut tx) = get(&e, "/?n=7&s=abx", &[]);
    assert_eq!(ids(&mut tx), vec![10, 14, 15]);
    let (_, mut tx) = get(&e, "/?n=4&s=", &[]);
    assert_eq!(ids(&mut tx), vec![11, 13, 14, 16]);
    let (_, mut tx) = get(&e, "/?n=0&s=b", &[]);
    assert_eq!(ids(&mut tx), vec![11, 12, 14, 16]);
    let (_, mut tx) = get(&e, "/?n=51&s=-ab-", &[]);
    assert_eq!(ids(&mut tx), vec![10, 14, 16, 17]);
}

/// REQUEST_LINE is method, URI as sent and protocol joined by single spaces; the variables around it in the
/// arena (REQUEST_PROTOCOL before, ARGS_GET after) keep their own bytes.
#[test]
fn request_line_is_the_three_parts_joined_by_spaces() {
    let e = engine(
        "SecRule REQUEST_LINE \"@streq GET /a/b?x=1&y=%41 HTTP/1.1\" \"id:1,phase:1,pass,log\"\n\
         SecRule REQUEST_PROTOCOL \"@streq HTTP/1.1\" \"id:2,phase:1,pass,log\"\n\
         SecRule ARGS_GET:y \"@streq A\" \"id:3,phase:1,pass,log\"\n\
         SecRule REQUEST_LINE \"@rx ^GET /a/b\\?x=1&y=%41 HTTP/1\\.1$\" \"id:4,phase:1,pass,log\"",
    );
    let (_, mut tx) = get(&e, "/a/b?x=1&y=%41", &[]);
    assert_eq!(ids(&mut tx), vec![1, 2, 3, 4]);
}

/// `multiMatch` `@rx` links (CRS 930100/930110) with the prefilter shortcuts on and off: the matches,
/// `MATCHED_VAR` and the captures of every form, for plain and negated links, must be the same.
#[test]
fn multi_match_forms_match_the_same_with_and_without_the_prefilter() {
    let rules = r#"SecRuleEngine On
SecRule ARGS "@rx (\.\./)+etc" "id:1,phase:1,pass,log,capture,t:none,t:urlDecodeUni,t:lowercase,multiMatch,logdata:'%{TX.0}|%{MATCHED_VAR}'"
SecRule ARGS "!@rx passwd" "id:2,phase:1,pass,log,t:none,t:urlDecodeUni,multiMatch,setvar:tx.n=+1"
SecRule TX:n "@eq 0" "id:3,phase:1,pass,log"
"#;
    let on = Arc::new(Engine::from_str(rules, "t.conf").unwrap());
    let off = Arc::new(Engine::from_str(rules, "t.conf").unwrap().with_rx_prefilter(false));
    let cases = [
        "/a?q=hello&r=world",
        "/a?f=..%252F..%252FETC%252Fpasswd",
        "/a?f=../../etc/passwd&g=plain",
        "/a?x=%2570asswd&y=passwd",
        "/a?f=..%2F..%2Fetc",
    ];
    for uri in cases {
        let (_, mut a) = get(&on, uri, &[]);
        let (_, mut b) = get(&off, uri, &[]);
        let data = |tx: &mut portcullis_waf::Transaction| {
            tx.matches().iter().map(|m| format!("{} {}", m.id, m.data)).collect::<Vec<_>>()
        };
        assert_eq!(data(&mut a), data(&mut b), "{uri}");
    }
    let (_, mut tx) = get(&on, "/a?f=..%252F..%252FETC%252Fpasswd", &[]);
    assert_eq!(tx.matches().first().map(|m| m.data.as_str()), Some("../../etc|../../etc/passwd"));
}

/// The capture buffers are kept across matches and transactions (`Captures`): a shorter match after a longer
/// one, with fewer groups, leaves exactly its own groups in `TX:0..` (the groups it does not set keep what
/// `TX` held), value after value of one link (as CRS 920450 captures each header name) and in the next
/// transaction of the pool. Mutants: a group's buffer appended to instead of replaced, or `clear` leaving the
/// previous groups counted.
#[test]
fn shorter_captures_replace_longer_ones() {
    let e = engine(
        r#"
SecRule ARGS:x "@rx ^(a+)(b+)(c+)$" "id:1,phase:1,pass,log,capture,setvar:'tx.first=%{tx.0}|%{tx.1}|%{tx.2}|%{tx.3}'"
SecRule ARGS:y "@rx ^(z+)$" "id:2,phase:1,pass,log,capture,setvar:'tx.second=%{tx.0}|%{tx.1}|%{tx.2}'"
SecRule ARGS_NAMES "@rx ^.*$" "id:3,phase:1,pass,nolog,capture,t:lowercase,setvar:'tx.name_%{tx.0}=/%{tx.0}/'"
"#,
    );
    let tx_of = |uri: &str| {
        let (_, tx) = get(&e, uri, &[]);
        tx.tx_members()
            .into_iter()
            .map(|(k, v)| format!("{}={}", String::from_utf8_lossy(&k), String::from_utf8_lossy(&v)))
            .collect::<Vec<_>>()
    };
    for _ in 0..2 {
        let got = tx_of("/?x=aabbbc&y=zz&Longer_Name=1&s=2");
        for want in ["first=aabbbc|aa|bbb|c", "second=zz|zz|bbb", "name_longer_name=/longer_name/", "name_s=/s/", "0=s"]
        {
            assert!(got.iter().any(|m| m == want), "{want} not in {got:?}");
        }
        let got = tx_of("/?y=z&q=1");
        for want in ["second=z|z|", "name_q=/q/", "name_y=/y/"] {
            assert!(got.iter().any(|m| m == want), "{want} not in {got:?}");
        }
    }
}

/// `ctl:ruleRemoveTargetByTag` with the tag's rules looked up when the rule set is built (`TargetsByTag`):
/// the tag is matched without regard to case, the rules bearing it are in neither id nor load order and one
/// bears it twice; each loses the target, the others keep it. Mutants: the resolved ids left unsorted (rule
/// 300 keeps `ARGS:a`), or the tag looked up as written (no rule loses it).
#[test]
fn ctl_remove_target_by_tag_resolved_at_load() {
    let e = engine(
        r#"
SecAction "id:10,phase:1,pass,nolog,ctl:ruleRemoveTargetByTag=Perf-Tag;ARGS:a"
SecRule ARGS "@contains attack" "id:300,phase:2,pass,log,tag:'perf-tag'"
SecRule ARGS "@contains attack" "id:100,phase:2,pass,log,tag:'PERF-TAG',tag:'perf-tag'"
SecRule ARGS "@contains attack" "id:200,phase:2,pass,log,tag:'Perf-Tag'"
SecRule ARGS "@contains attack" "id:150,phase:2,pass,log,tag:'other'"
"#,
    );
    let (_, mut tx) = get(&e, "/?a=attack", &[]);
    assert_eq!(ids(&mut tx), vec![150]);
    let (_, mut tx) = get(&e, "/?b=attack", &[]);
    assert_eq!(ids(&mut tx), vec![300, 100, 200, 150]);
    let (_, mut tx) = get(&e, "/?a=attack&b=attack", &[]);
    assert_eq!(ids(&mut tx), vec![300, 100, 200, 150]);
}

/// A `multiMatch` link over a value that no step of its chain can change (no trigger byte, no step that
/// changes letter case) has no form besides the value: the per-value path and the detector families skip
/// the forms (`eval_multi`, `item_mask`). With the prefilter shortcuts on and off, detectors sharing a list
/// (a family), a detector alone and an `@rx`, plain and negated, must match the same values, with the same
/// `MATCHED_VAR_NAME` and `MATCHED_VAR`, whether a value needs its forms (`%`, `&`, uppercase under
/// `t:lowercase`) or not. Mutants: the skip taken for a case-changing step, or for a value holding a trigger.
#[test]
fn multi_match_values_no_step_changes_have_no_other_form() {
    let rules = r#"SecRuleEngine On
SecRule ARGS "@detectSQLi" "id:1,phase:1,pass,log,t:none,t:utf8toUnicode,t:urlDecodeUni,t:removeNulls,multiMatch,logdata:'%{MATCHED_VAR_NAME}=%{MATCHED_VAR}'"
SecRule ARGS "@detectXSS" "id:2,phase:1,pass,log,t:none,t:utf8toUnicode,t:urlDecodeUni,t:removeNulls,multiMatch,logdata:'%{MATCHED_VAR_NAME}=%{MATCHED_VAR}'"
SecRule ARGS_NAMES|REQUEST_HEADERS:User-Agent "@detectXSS" "id:3,phase:1,pass,log,t:none,t:urlDecodeUni,t:htmlEntityDecode,multiMatch,logdata:'%{MATCHED_VAR_NAME}=%{MATCHED_VAR}'"
SecRule ARGS:s "@rx ^select$" "id:4,phase:1,pass,log,t:none,t:urlDecodeUni,t:lowercase,multiMatch,logdata:'%{MATCHED_VAR_NAME}=%{MATCHED_VAR}'"
SecRule ARGS_NAMES "@detectXSS" "id:6,phase:1,pass,log,t:none,t:removeWhitespace,multiMatch,logdata:'%{MATCHED_VAR_NAME}=%{MATCHED_VAR}'"
SecRule ARGS_NAMES "@detectSQLi" "id:7,phase:1,pass,log,t:none,t:removeWhitespace,multiMatch,logdata:'%{MATCHED_VAR_NAME}=%{MATCHED_VAR}'"
SecRule ARGS "!@rx ^[a-z]+$" "id:5,phase:1,pass,log,t:none,t:urlDecodeUni,multiMatch,logdata:'%{MATCHED_VAR_NAME}=%{MATCHED_VAR}'"
"#;
    let on = Arc::new(Engine::from_str(rules, "t.conf").unwrap());
    let off = Arc::new(Engine::from_str(rules, "t.conf").unwrap().with_rx_prefilter(false));
    let cases = [
        "/a?q=hello&r=world",
        "/a?q=1'%20or%20'1'%3D'1&r=plain",
        "/a?q=1' or '1'='1",
        "/a?x=%3Cscript%3Ealert(1)%3C/script%3E&y=fine",
        "/a?x=<script>alert(1)</script>",
        "/a?s=SELECT&t=select&u=SeLeCt%20",
        "/a?%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E=1",
        "/a?n=%00abc&m=abc",
        // forms that differ from the value in a NUL or in full-width brackets (`removeNulls`, `utf8toUnicode`)
        "/a?x=%3Cscr%00ipt%3Ealert(1)%3C/scr%00ipt%3E",
        "/a?x=%EF%BC%9Cscript%EF%BC%9Ealert(1)%EF%BC%9C/script%EF%BC%9E",
        // a space the chain removes (`removeWhitespace`): not an escape byte, so the value's classes alone
        // do not stand for its form's
        "/a?%3Csvg/onl%20oad%3Dalert(1)%3E=1&1%20un%20ion%20sel%20ect%201=2",
        "/a?java%20script:alert(1)=1&%3Cscr%20ipt%3Ealert(1)%3C/scr%20ipt%3E=2",
    ];
    for uri in cases {
        let headers: &[(&str, &str)] = &[("User-Agent", "Mozilla/5.0 &lt;script&gt;alert(1)&lt;/script&gt;")];
        let (_, mut a) = get(&on, uri, headers);
        let (_, mut b) = get(&off, uri, headers);
        let data = |tx: &mut portcullis_waf::Transaction| {
            tx.matches().iter().map(|m| format!("{} {}", m.id, m.data)).collect::<Vec<_>>()
        };
        let (da, db) = (data(&mut a), data(&mut b));
        assert_eq!(da, db, "{uri}");
        if uri.contains("SELECT") {
            // the uppercase value matches only in its lowercased form (a rule logs its last matched value)
            assert!(da.iter().any(|d| d.starts_with("4 ARGS:s=select")), "{da:?}");
        }
    }
}
