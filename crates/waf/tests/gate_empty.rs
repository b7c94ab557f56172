//! The gates closed at once when their sources are empty (`RuleSet::empty_closes`, `Transaction::
//! close_empty_sources`): a response without a body closes every gated `RESPONSE_BODY` rule when phase 4
//! starts, a request without a body or cookies the phase-2 rules reading only those. The reference is the
//! same rule set with the prefilter off: matches, logged data and TX must be identical, every ungated rule
//! between closed ones must still run (in order), and every gated rule must match when its literal is there,
//! or, for a chain that turns the empty value into one that matches (`t:length` gives `0`), when the source
//! is empty.

mod common;

use common::*;
use portcullis_waf::{Engine, Transaction};
use std::sync::Arc;

const RULES: &str = r#"SecRuleEngine On
SecRequestBodyAccess On
SecResponseBodyAccess On
SecResponseBodyMimeType text/plain
SecRule ARGS_POST|REQUEST_BODY "@rx postlit" "id:2001,phase:2,pass,log,logdata:'%{MATCHED_VAR_NAME}'"
SecAction "id:2002,phase:2,pass,log,setvar:tx.walk=%{tx.walk}-2002"
SecRule REQUEST_COOKIES|REQUEST_COOKIES_NAMES "@rx cookielit" "id:2003,phase:2,pass,log,t:lowercase"
SecRule REQUEST_BODY "@rx ^0$" "id:2004,phase:2,pass,log,t:length"
SecRule RESPONSE_HEADERS:X-Leak "@rx leakhead" "id:3001,phase:3,pass,log,logdata:'%{MATCHED_VAR}'"
SecAction "id:3002,phase:3,pass,log,setvar:tx.walk=%{tx.walk}-3002"
SecRule RESPONSE_HEADERS_NAMES "@rx leakname" "id:3003,phase:3,pass,log,t:lowercase"
SecRule RESPONSE_BODY "@rx leakone" "id:4001,phase:4,pass,log,setvar:tx.walk=%{tx.walk}+4001"
SecRule RESPONSE_BODY "@rx leaktwo" "id:4002,phase:4,pass,log,t:lowercase,setvar:tx.walk=%{tx.walk}+4002"
SecAction "id:4003,phase:4,pass,log,setvar:tx.walk=%{tx.walk}-4003"
SecRule RESPONSE_BODY "@rx ^0$" "id:4004,phase:4,pass,log,t:length,setvar:tx.walk=%{tx.walk}+4004"
SecRule RESPONSE_HEADERS|RESPONSE_BODY "@rx leakthree" "id:4005,phase:4,pass,log,logdata:'%{MATCHED_VAR_NAME}'"
SecRule RESPONSE_BODY "@rx leakfour" "id:4006,phase:4,pass,log,t:urlDecodeUni"
SecAction "id:4007,phase:4,pass,log,setvar:tx.walk=%{tx.walk}-4007"
"#;

/// A request, then a response: (request body, cookie, response headers, response body).
type Exchange<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)], &'a str);

/// Runs `x` through all five phases (a POST when it has a body, a GET otherwise).
fn run(engine: &Arc<Engine>, x: &Exchange) -> Transaction {
    let (body, cookie, headers, resp_body) = x;
    let mut tx = engine.transaction(info());
    tx.request_line(if body.is_empty() { "GET" } else { "POST" }, "/a", "HTTP/1.1");
    tx.request_header(b"Host", b"localhost");
    if !body.is_empty() {
        tx.request_header(b"Content-Type", b"application/x-www-form-urlencoded");
    }
    if !cookie.is_empty() {
        tx.request_header(b"Cookie", cookie.as_bytes());
    }
    tx.process_request_headers();
    if !body.is_empty() {
        tx.append_request_body(body.as_bytes()).unwrap();
    }
    tx.process_request_body();
    tx.response_status(200, "HTTP/1.1");
    for (n, v) in headers.iter() {
        tx.response_header(n.as_bytes(), v.as_bytes());
    }
    tx.process_response_headers();
    if !resp_body.is_empty() {
        tx.append_response_body(resp_body.as_bytes()).unwrap();
    }
    tx.process_response_body();
    tx.process_logging();
    tx
}

#[test]
fn empty_sources_close_their_gates_and_nothing_else() {
    let (on, off) = prefilter_pair(RULES);
    let text: &[(&str, &str)] = &[("Content-Type", "text/plain")];
    let cases: [(Exchange, &[u32]); 9] = [
        // nothing in the request body, cookies or response: only the ungated rules and the `t:length` ones
        (("", "", &[], ""), &[2002, 2004, 3002, 4003, 4004, 4007]),
        (("", "", text, ""), &[2002, 2004, 3002, 4003, 4004, 4007]),
        // a response body: its rules run (and `t:length` no longer gives `0`)
        (("", "", text, "x leakone y"), &[2002, 2004, 3002, 4001, 4003, 4007]),
        (("", "", text, "LEAKTWO leakfour"), &[2002, 2004, 3002, 4002, 4003, 4006, 4007]),
        (("", "", text, "leakthree"), &[2002, 2004, 3002, 4003, 4005, 4007]),
        // response headers, no body: the header rules run, and so does the one over headers and body
        (
            ("", "", &[("Content-Type", "text/plain"), ("X-Leak", "a leakhead"), ("Leakname", "leakthree")], ""),
            &[2002, 2004, 3001, 3002, 3003, 4003, 4004, 4005, 4007],
        ),
        // a request body and a cookie
        (("a=postlit", "", text, ""), &[2001, 2002, 3002, 4003, 4004, 4007]),
        (("a=b", "COOKIELIT=1", text, ""), &[2002, 2003, 3002, 4003, 4004, 4007]),
        (("a=b", "x=1", text, "leakone"), &[2002, 3002, 4001, 4003, 4007]),
    ];
    for (x, want) in &cases {
        let mut a = run(&on, x);
        let mut b = run(&off, x);
        assert_eq!(outcome(&mut a), outcome(&mut b), "{x:?}");
        let ids: Vec<u32> = a.matches().iter().map(|m| m.id).collect();
        assert_eq!(&ids, want, "{x:?}");
    }
}

/// The same on CRS: a response without a body closes phase 4's leak rules at once, and one with a leak in
/// it still matches (the gate closes nothing there); with the prefilter off the outcome is the same.
#[test]
fn crs_response_rules_agree_with_and_without_a_body() {
    let on = Arc::new(crs_engine(""));
    let off = Arc::new(crs_engine("").with_rx_prefilter(false));
    let text: &[(&str, &str)] = &[("Content-Type", "text/plain")];
    let leak = "<b>Warning</b>: mysql_fetch_array() expects parameter 1 to be resource in /var/www/a.php";
    for (x, leaks) in [(("", "", text, ""), false), (("", "", text, leak), true), (("", "", &[][..], ""), false)] {
        let mut a = run(&on, &x);
        let mut b = run(&off, &x);
        assert_eq!(outcome(&mut a), outcome(&mut b), "{x:?}");
        let phase4 = a.matches().iter().any(|m| (950000..960000).contains(&m.id));
        assert_eq!(phase4, leaks, "{x:?}: {:?}", a.matches().iter().map(|m| m.id).collect::<Vec<_>>());
    }
}
