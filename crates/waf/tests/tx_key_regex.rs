//! `TX:/regex/` selectors answered from the load-time index (`TxImage::index_key_regexes`,
//! `TxVars::regex_members`): a transaction started from the fold snapshot asks the regex only of the `TX`
//! keys set after it. The reference is the walk over every member, which an engine without folding (no
//! snapshot) takes. Every request must give the same outcome (interventions, logged matches with their
//! `MATCHED_VAR_NAME`, the whole `TX`, which records the order the selected members were visited in) on
//! both engines, over keys from the snapshot, keys set per request, a removed key, a removed and set again
//! key, exclusions, counts, and with the transaction's buffers reused (each request runs twice).

mod common;

use common::*;
use portcullis_waf::{Engine, Transaction};
use std::sync::Arc;

const CLIENT: Client = Client { headers: &[("Host", "localhost")], body_type: None, stats: false };

/// The prefix (rule 1) sets keys some selectors match; the rules after it set more per request (one per
/// header name, as CRS 920450 does), remove one or set it again, and read them through key regexes: an
/// anchored literal in another case, an unanchored literal with a quantifier, a general regex, an
/// exclusion, a count, a chained link as 920450's. Each selector's rule appends every member it matched, in
/// the order it saw them, to a `TX` key.
const RULES: &str = r#"
SecRuleEngine On
SecAction "id:1,phase:1,pass,nolog,setvar:tx.hdr_zeta=z,setvar:tx.hdr_accept=a,setvar:tx.other=o,setvar:tx.xhdr_b=x,setvar:tx.multi_ct_q=m,setvar:tx.allowed=/host/ /accept/ /x-b/ /zeta/"
SecAction "id:2,phase:1,pass,nolog,setvar:tx.hdr_mid=1"
SecRule REQUEST_HEADERS_NAMES "@rx ^.*$" "id:10,phase:1,pass,nolog,capture,t:lowercase,setvar:'tx.hdr_%{tx.0}=/%{tx.0}/'"
SecRule ARGS:drop "@streq 1" "id:11,phase:1,pass,nolog,setvar:!tx.hdr_zeta"
SecRule ARGS:readd "@streq 1" "id:12,phase:1,pass,nolog,setvar:tx.hdr_zeta=again"
SecRule ARGS:late "@streq 1" "id:13,phase:1,pass,nolog,setvar:tx.multi_ct_late=l,setvar:tx.hdr_late=L"
SecRule TX:/^HDR_/ "@rx ." "id:20,phase:1,pass,nolog,setvar:'tx.seen20=%{tx.seen20}|%{MATCHED_VAR_NAME}=%{MATCHED_VAR}'"
SecRule TX:/MULTI_CT_*/ "@rx ." "id:21,phase:1,pass,nolog,setvar:'tx.seen21=%{tx.seen21}|%{MATCHED_VAR_NAME}'"
SecRule TX:/^(hdr|xhdr)_[a-z]$/ "@rx ." "id:22,phase:1,pass,nolog,setvar:'tx.seen22=%{tx.seen22}|%{MATCHED_VAR_NAME}'"
SecRule TX:/^hdr_/|!TX:/^hdr_a/ "@rx ." "id:23,phase:1,pass,nolog,setvar:'tx.seen23=%{tx.seen23}|%{MATCHED_VAR_NAME}'"
SecRule &TX:/^hdr_/ "@gt 0" "id:24,phase:1,pass,log,msg:'count %{MATCHED_VAR}'"
SecRule REQUEST_HEADERS_NAMES "@rx ^.*$" "id:25,phase:1,pass,log,msg:'%{MATCHED_VAR_NAME}',chain"
    SecRule TX:/^hdr_/ "!@within %{tx.allowed}" "setvar:'tx.seen25=%{tx.seen25}|%{MATCHED_VAR_NAME}'"
SecRule TX:/^hdr_/ "@rx ." "id:30,phase:2,pass,log,msg:'last %{MATCHED_VAR_NAME}',setvar:'tx.seen30=%{tx.seen30}|%{MATCHED_VAR_NAME}'"
SecRule TX:/^hdr_/ "@rx ." "id:40,phase:5,pass,nolog,setvar:'tx.seen40=%{tx.seen40}|%{MATCHED_VAR_NAME}'"
"#;

const REQS: &[Req] = &[
    ("GET", "/", &[], ""),
    ("GET", "/?drop=1", &[("X-B", "1"), ("Accept", "*/*")], ""),
    ("GET", "/?drop=1&readd=1", &[("Zeta", "1")], ""),
    ("GET", "/?late=1", &[("Hdr", "1"), ("A", "2")], ""),
    ("GET", "/?readd=1&late=1", &[("User-Agent", "u")], ""),
];

fn engines(text: &str) -> (Arc<Engine>, Arc<Engine>) {
    let on = Arc::new(Engine::from_str(text, "tx_key_regex.conf").unwrap_or_else(|e| panic!("{e}")));
    let off = Arc::new(Engine::from_str(text, "tx_key_regex.conf").unwrap().with_folding(false));
    (on, off)
}

#[test]
fn indexed_key_regexes_select_what_the_walk_selects() {
    let (on, off) = engines(RULES);
    // twice: the second round runs on the first round's pooled buffers
    for _ in 0..2 {
        check_same_outcomes(&on, &off, REQS, &no_prep, &CLIENT, "the TX key-regex index");
    }
    // the index is in use and the rules read keys from both parts (snapshot and per request)
    let out = outcome_text(&on, &REQS[3], &no_prep, &CLIENT);
    for want in [
        "seen20=|TX:hdr_a=/a/|TX:hdr_accept=a|TX:hdr_hdr=/hdr/|TX:hdr_host=/host/|TX:hdr_late=L|TX:hdr_mid=1|TX:hdr_zeta=z",
        "seen21=|TX:multi_ct_late|TX:multi_ct_q",
        "seen22=|TX:hdr_a|TX:xhdr_b",
        "seen25=|TX:hdr_a|TX:hdr_hdr|TX:hdr_late|TX:hdr_mid",
    ] {
        assert!(out.contains(want), "{want}: {out}");
    }
    let dropped = outcome_text(&on, &REQS[1], &no_prep, &CLIENT);
    assert!(!dropped.contains("TX:hdr_zeta") && dropped.contains("TX:hdr_x-b"), "{dropped}");
}

#[test]
fn removals_and_exclusions_change_nothing() {
    let (on, off) = engines(RULES);
    for ranges in [vec![(1, 1)], vec![(2, 2)], vec![(10, 10)], vec![(11, 12)]] {
        check_same_outcomes(
            &on,
            &off,
            REQS,
            &move |tx: &mut Transaction| tx.remove_rules_by_id(&ranges),
            &CLIENT,
            "ranges",
        );
    }
    check_same_outcomes(&on, &off, REQS, &|tx: &mut Transaction| tx.pin_tx("hdr_pinned", b"p"), &CLIENT, "pinned");
    let excl = RULES.replacen(
        "SecRule ARGS:drop",
        "SecRule ARGS:late \"@streq 1\" \"id:5,phase:1,pass,nolog,ctl:ruleRemoveTargetById=20;TX:hdr_mid\"\nSecRule ARGS:drop",
        1,
    );
    let (on, off) = engines(&excl);
    check_same_outcomes(&on, &off, REQS, &no_prep, &CLIENT, "a ctl target exclusion");
}

/// CRS PL1 and PL2 (920450 and 920451 read `TX:/^header_name_920450_/` and `_920451_`, 922110
/// `TX:/MULTIPART_HEADERS_CONTENT_TYPES_*/`), with restricted and multipart requests.
#[test]
fn crs_key_regexes_change_nothing() {
    let reqs: &[Req] = &[
        ("GET", "/api/items?id=123&q=hello", &[("Host", "127.0.0.1:47890"), ("Accept", "application/json")], ""),
        ("GET", "/", &[("Proxy", "x"), ("Lock-Token", "y"), ("Content-Encoding", "gzip")], ""),
        (
            "POST",
            "/upload",
            &[("Content-Type", "multipart/form-data; boundary=b")],
            "--b\r\nContent-Disposition: form-data; name=\"f\"\r\nContent-Type: text/plain; charset=utf-7\r\n\r\nx\r\n--b--\r\n",
        ),
    ];
    for level in [1, 2] {
        let dir = crs_dir();
        let text = format!(
            "SecRuleEngine On\nSecRequestBodyAccess On\n\
             SecAction \"id:900000,phase:1,pass,nolog,setvar:tx.blocking_paranoia_level={level},setvar:tx.detection_paranoia_level={level}\"\n\
             Include {}/crs-setup.conf.example\nInclude {}/rules/*.conf\n",
            dir.display(),
            dir.display()
        );
        let (on, off) = engines(&text);
        for _ in 0..2 {
            check_same_outcomes(&on, &off, reqs, &no_prep, &CLIENT, "the TX key-regex index (CRS)");
        }
    }
}
