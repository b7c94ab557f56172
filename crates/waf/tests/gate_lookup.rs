//! The gate's cache look-ups (`transaction::gate`): an arena value's untransformed bitset is answered inline
//! (`pf_bits_of`), and so is a union already computed in the phase (`union_in_slot`); everything else (a
//! transformed form, a union not taken yet) goes through the full path. The reference is the same rule set
//! with the prefilter off. Each rule here reads a value whose untransformed entry (or untransformed union)
//! exists before the rule asks for a transformed one: a look-up that served the untransformed entry for a
//! transformed form, or the base union for a transformed chain, would skip a rule that matches.

mod common;

use common::*;

/// Rule 1 scans every raw value first (its gate takes the untransformed unions); the others need the form
/// their chain makes: `%3C` decoded, an entity decoded, a space removed, in a gated first link, in a chained
/// (ungated) link checked value by value, and in a `multiMatch` link.
const RULES: &str = r#"SecRuleEngine On
SecRule ARGS|ARGS_NAMES|REQUEST_HEADERS:X-A "@rx zzqq" "id:1,phase:1,pass,log,t:none"
SecRule ARGS|REQUEST_HEADERS:X-A "@rx <scr" "id:2,phase:1,pass,log,t:urlDecodeUni,logdata:'%{MATCHED_VAR}'"
SecRule ARGS "@rx <ifr" "id:3,phase:1,pass,log,t:urlDecodeUni,t:htmlEntityDecode,setvar:tx.three=%{MATCHED_VAR}"
SecRule ARGS_NAMES|ARGS "@rx selectx" "id:4,phase:2,pass,log,t:urlDecodeUni,t:removeWhitespace"
SecRule ARGS "@rx ." "id:5,phase:2,pass,log,chain"
  SecRule ARGS "@rx <obj" "t:urlDecodeUni,t:lowercase,setvar:tx.five=%{MATCHED_VAR}"
SecRule ARGS "@rx <emb" "id:6,phase:2,pass,log,t:urlDecodeUni,t:htmlEntityDecode,multiMatch,logdata:'%{MATCHED_VAR}'"
SecRule REQUEST_HEADERS:X-A "@rx jane" "id:7,phase:2,pass,log,t:lowercase"
"#;

#[test]
fn lookups_agree_with_no_prefilter() {
    let (on, off) = prefilter_pair(RULES);
    // ARGS values arrive URL-decoded once: `%253C` is the argument `%3C`
    let cases: [Case; 13] = [
        ("/a?q=hello", &[("X-A", "fine")], &[]),
        ("/a?q=%253Cscr", &[], &[2]),
        ("/a?q=1", &[("X-A", "%3cscr")], &[2]),
        ("/a?q=%26lt%3Bifr", &[], &[3]),
        ("/a?q=%253Cifr", &[], &[3]),
        ("/a?q=sel%20ectx", &[], &[4]),
        ("/a?sel%20%20ectx=1", &[], &[4]),
        ("/a?q=%253COBJ", &[], &[5]),
        ("/a?q=%26lt%3Bemb", &[], &[6]),
        ("/a?q=%253Cemb&r=zzqq", &[], &[1, 6]),
        // a form equal to the raw value up to case shares the raw value's bitset
        ("/a?q=1", &[("X-A", "JANE")], &[7]),
        ("/a?q=1", &[("X-A", "%3cscr JaNe")], &[2, 7]),
        ("/a?q=1", &[("X-A", "jAnE")], &[7]),
    ];
    assert_cases(&on, &off, &cases);
}

/// Phase 1 takes the unions, summaries and group ORs of rules that phase 2 reads again; the body then adds
/// `ARGS_POST`. Only the numbers over variables the body processor fills are cleared (`gate_body_numbers`):
/// the ones over headers must stay, the ones over `ARGS` (a summary with a header, a group) must be retaken.
const BODY_RULES: &str = r#"SecRuleEngine On
SecRequestBodyAccess On
SecRule ARGS|REQUEST_HEADERS:X-A "@rx <scr" "id:11,phase:1,pass,log,t:urlDecodeUni"
SecRule ARGS|REQUEST_HEADERS:X-A "@rx <ifr" "id:12,phase:1,pass,log,t:urlDecodeUni"
SecRule ARGS_NAMES|REQUEST_HEADERS:X-A "@rx evil" "id:13,phase:1,pass,log,t:none"
SecRule REQUEST_HEADERS:X-A "@rx jane" "id:14,phase:1,pass,log,t:lowercase"
SecRule ARGS|REQUEST_HEADERS:X-A "@rx <scr" "id:21,phase:2,pass,log,t:urlDecodeUni,setvar:tx.s=%{MATCHED_VAR}"
SecRule ARGS|REQUEST_HEADERS:X-A "@rx <ifr" "id:22,phase:2,pass,log,t:urlDecodeUni"
SecRule ARGS_NAMES|REQUEST_HEADERS:X-A "@rx evil" "id:23,phase:2,pass,log,t:none,logdata:'%{MATCHED_VAR}'"
SecRule REQUEST_HEADERS:X-A "@rx jane" "id:24,phase:2,pass,log,t:lowercase"
SecRule ARGS_POST "@rx zz" "id:25,phase:2,pass,log,t:none"
SecRule REQUEST_BODY "@rx evil" "id:26,phase:2,pass,log,t:none"
"#;

/// A URL-encoded POST through every request phase and logging.
fn post(
    engine: &std::sync::Arc<portcullis_waf::Engine>,
    uri: &str,
    x_a: &str,
    body: &str,
) -> portcullis_waf::Transaction {
    let mut tx = engine.transaction(info());
    tx.request_line("POST", uri, "HTTP/1.1");
    tx.request_header(b"Content-Type", b"application/x-www-form-urlencoded");
    tx.request_header(b"X-A", x_a.as_bytes());
    if tx.process_request_headers().is_none() {
        tx.append_request_body(body.as_bytes()).unwrap();
        tx.process_request_body();
    }
    tx.process_logging();
    tx
}

#[test]
fn a_body_retakes_only_the_unions_over_body_data() {
    let (on, off) = prefilter_pair(BODY_RULES);
    let cases: [(&str, &str, &str, &[u32]); 8] = [
        ("/a?q=1", "fine", "b=2", &[]),
        // the body brings what phase 2 needs; phase 1 closed the same gates over the query and the header
        ("/a?q=1", "fine", "b=%253Cscr", &[21]),
        ("/a?q=1", "fine", "b=%253Cifr&c=zz", &[22, 25]),
        ("/a?q=1", "fine", "evil=1", &[23, 26]),
        // the header's unions, kept from phase 1, still decide
        ("/a?q=1", "JANE", "b=2", &[14, 24]),
        ("/a?q=1", "%3cscr", "b=2", &[11, 21]),
        ("/a?q=%253Cifr", "jane", "evil=%253cscr", &[12, 14, 21, 22, 23, 24, 26]),
        ("/a?evil=1", "x", "b=1", &[13, 23]),
    ];
    for (uri, x_a, body, want) in cases {
        let mut a = post(&on, uri, x_a, body);
        let mut b = post(&off, uri, x_a, body);
        assert_eq!(outcome(&mut a), outcome(&mut b), "{uri} {x_a} {body}");
        let mut ids: Vec<u32> = a.matches().iter().map(|m| m.id).collect();
        ids.dedup();
        assert_eq!(ids, want, "{uri} {x_a} {body}");
    }
}
