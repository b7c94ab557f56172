//! `Transaction::pin_tx`: a `TX` key the gateway sets before the rules run (the per-route paranoia level) and
//! that no `setvar` of the rule set changes, on a small rule set and on CRS.

mod common;

use common::*;
use portcullis_waf::{Engine, Transaction};
use std::sync::Arc;

/// A GET of `uri` without `User-Agent` (CRS 920320, paranoia level 2, reports that), with `pins` set first.
fn run(engine: &Arc<Engine>, uri: &str, pins: &[(&str, &str)]) -> Transaction {
    let mut tx = engine.transaction(info());
    for (k, v) in pins {
        tx.pin_tx(k, v.as_bytes());
    }
    tx.request_line("GET", uri, "HTTP/1.1");
    tx.request_header(b"Host", b"localhost");
    tx.request_header(b"Accept", b"application/json");
    if tx.process_request_headers().is_none() {
        tx.process_request_body();
    }
    tx.process_logging();
    tx
}

fn ids(tx: &mut Transaction) -> Vec<u32> {
    tx.matches().iter().map(|m| m.id).collect()
}

#[test]
fn a_pinned_key_survives_every_kind_of_setvar() {
    let e = Arc::new(
        Engine::from_str(
            r#"SecRuleEngine On
SecAction "id:1,phase:1,pass,nolog,setvar:tx.level=1,setvar:tx.other=1"
SecAction "id:2,phase:1,pass,nolog,setvar:tx.level=+5,setvar:tx.other=+5"
SecAction "id:3,phase:1,pass,nolog,setvar:'tx.%{tx.name}=9'"
SecAction "id:4,phase:2,pass,nolog,setvar:!tx.level"
SecRule TX:level "@eq 3" "id:10,phase:2,pass,log,msg:'level %{tx.level}'"
"#,
            "t.conf",
        )
        .unwrap_or_else(|e| panic!("{e}")),
    );
    // unpinned: the rules decide (1 + 5)
    let mut tx = run(&e, "/", &[]);
    assert_eq!(tx.tx_var("level"), None, "deleted by rule 4");
    assert!(ids(&mut tx).is_empty());
    // pinned (in any case): neither `=`, `=+`, a macro-built name nor `!` changes it; other keys are untouched
    let mut tx = run(&e, "/", &[("LEVEL", "3"), ("name", "level")]);
    assert_eq!(tx.tx_var("level"), Some(&b"3"[..]));
    assert_eq!(tx.tx_var("other"), Some(&b"6"[..]));
    assert_eq!(ids(&mut tx), vec![10]);
    assert_eq!(tx.matches()[0].msg, "level 3");
}

#[test]
fn crs_runs_the_paranoia_level_pinned_on_the_transaction() {
    // crs-setup assigns the level itself here (as a deployment's 900000 would): the pin still wins
    let e = Arc::new(crs_engine("SecAction \"id:900000,phase:1,pass,nolog,setvar:tx.blocking_paranoia_level=1\""));
    let pl = |n: &'static str| [("blocking_paranoia_level", n), ("detection_paranoia_level", n)];
    let mut at1 = run(&e, "/api/items", &[]);
    assert!(!ids(&mut at1).contains(&920320), "PL1 does not run 920320: {:?}", ids(&mut at1));
    let mut at2 = run(&e, "/api/items", &pl("2"));
    assert!(ids(&mut at2).contains(&920320), "PL2 reports the missing User-Agent: {:?}", ids(&mut at2));
    assert_eq!(at2.tx_var("blocking_paranoia_level"), Some(&b"2"[..]));
    // and the engine's other transactions are not affected (nothing leaks through pooled buffers)
    let mut again = run(&e, "/api/items", &[]);
    assert_eq!(ids(&mut again), ids(&mut at1));
    assert_eq!(again.tx_var("detection_paranoia_level"), Some(&b"1"[..]));
}
