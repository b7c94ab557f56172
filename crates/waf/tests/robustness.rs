//! Never panic: arbitrary request data through full CRS, arbitrary text through the SecLang loader.

mod common;

use common::*;
use portcullis_waf::Engine;
use proptest::prelude::*;
use std::sync::{Arc, OnceLock};

fn crs() -> Arc<Engine> {
    static E: OnceLock<Arc<Engine>> = OnceLock::new();
    E.get_or_init(|| Arc::new(crs_engine(""))).clone()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_requests_never_panic(
        method in "[A-Z]{0,8}",
        uri in proptest::collection::vec(any::<u8>(), 0..200),
        hname in proptest::collection::vec(any::<u8>(), 0..20),
        hval in proptest::collection::vec(any::<u8>(), 0..200),
        body in proptest::collection::vec(any::<u8>(), 0..400),
        json in any::<bool>(),
    ) {
        let e = crs();
        let mut tx = e.transaction(info());
        tx.request_line(&method, &String::from_utf8_lossy(&uri), "HTTP/1.1");
        tx.request_header(&hname, &hval);
        tx.request_header(b"Cookie", &hval);
        tx.request_header(b"Content-Type", if json { b"application/json" } else { b"application/x-www-form-urlencoded" });
        let _ = tx.process_request_headers();
        let _ = tx.append_request_body(&body);
        let _ = tx.process_request_body();
        tx.response_status(200, "HTTP/1.1");
        tx.response_header(b"Content-Type", b"text/html");
        let _ = tx.process_response_headers();
        let _ = tx.append_response_body(&body);
        let _ = tx.process_response_body();
        tx.process_logging();
        let meta = tx.log_meta();
        for m in tx.matches() {
            let line = m.modsec_log_line(&meta);
            prop_assert!(!line.contains('\n'));
        }
    }

    #[test]
    fn arbitrary_seclang_never_panics(text in "(Sec[A-Za-z]{0,12}|Include|[\"'\\\\ ,:|!&@%{}()\\[\\]a-z0-9.=-]|\n){0,120}") {
        let _ = Engine::from_str(&text, "fuzz.conf");
    }

    #[test]
    fn arbitrary_rules_never_panic(vars in "[A-Z_:&!|/a-z]{1,30}", op in "[!@a-zA-Z ()\\[\\]\\\\^$.*+?{}0-9%]{0,30}", acts in "[a-z:,'=.%{}0-9 ]{0,60}") {
        let text = format!("SecRule {vars} \"{op}\" \"id:1,{acts}\"");
        let _ = Engine::from_str(&text, "fuzz.conf");
    }
}

#[test]
fn each_crs_rule_file_loads_on_its_own() {
    let dir = crs_dir();
    let mut files: Vec<_> = std::fs::read_dir(dir.join("rules"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "conf"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 27);
    // response files skip to markers in the blocking-evaluation files, so those always come along
    let r949 = dir.join("rules/REQUEST-949-BLOCKING-EVALUATION.conf");
    let r959 = dir.join("rules/RESPONSE-959-BLOCKING-EVALUATION.conf");
    for f in files {
        let mut list = vec![dir.join("crs-setup.conf.example"), f.clone()];
        for extra in [&r949, &r959] {
            if &f != extra {
                list.push(extra.clone());
            }
        }
        Engine::from_files(&list).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
    }
}
