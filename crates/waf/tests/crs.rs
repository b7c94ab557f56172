//! Full CRS v4 load and PL1 blocking behaviour.

mod common;

use common::*;
use portcullis_waf::InterventionAction;
use std::sync::Arc;
use std::time::Instant;

#[test]
fn crs_loads_and_reports_load_time() {
    let t = Instant::now();
    let engine = crs_engine("");
    let took = t.elapsed();
    eprintln!("CRS loaded: {} rules in {:?}; {}", engine.rule_count(), took, engine.describe());
    assert!(engine.rule_count() > 600, "only {} rules", engine.rule_count());
}

#[test]
fn benign_get_passes() {
    let engine = Arc::new(crs_engine(""));
    let (iv, mut tx) = get(&engine, "/index.html?page=2&sort=name", &[]);
    assert_eq!(iv, None, "matches: {:?}", tx.matches());
    assert!(tx.matches().is_empty(), "{:?}", tx.matches());
    eprintln!("benign GET work: {:?}", tx.stats());
}

#[test]
fn sqli_is_denied_by_949110() {
    let engine = Arc::new(crs_engine(""));
    let (iv, mut tx) = get(&engine, "/?q=1%27%20OR%20%271%27%3D%271", &[]);
    let ids: Vec<u32> = tx.matches().iter().map(|m| m.id).collect();
    let iv = iv.unwrap_or_else(|| panic!("not blocked; matches {ids:?}"));
    assert_eq!(iv.status, 403);
    assert_eq!(iv.action, InterventionAction::Deny);
    assert_eq!(iv.rule_id, 949110, "{ids:?}");
    assert!(ids.iter().any(|i| (942000..943000).contains(i)), "{ids:?}");
    let meta = tx.log_meta();
    let m = tx.matches().iter().find(|m| m.id == 949110).unwrap();
    assert!(m.disruptive && m.blocked);
    let line = m.modsec_log_line(&meta);
    assert!(line.contains("[id \"949110\"]"), "{line}");
}

#[test]
fn xss_is_denied_by_949110() {
    let engine = Arc::new(crs_engine(""));
    let (iv, mut tx) = get(&engine, "/?x=%3Cscript%3Ealert(1)%3C/script%3E", &[]);
    let ids: Vec<u32> = tx.matches().iter().map(|m| m.id).collect();
    let iv = iv.unwrap_or_else(|| panic!("not blocked; matches {ids:?}"));
    assert_eq!((iv.status, iv.rule_id), (403, 949110), "{ids:?}");
    assert!(ids.contains(&941100), "{ids:?}");
}

#[test]
fn detection_only_never_blocks_but_logs() {
    let engine = Arc::new(crs_engine("SecRuleEngine DetectionOnly"));
    let (iv, mut tx) = get(&engine, "/?q=1%27%20OR%20%271%27%3D%271", &[]);
    assert_eq!(iv, None);
    let meta = tx.log_meta();
    let m = tx.matches().iter().find(|m| m.id == 949110).unwrap();
    assert!(m.disruptive && !m.blocked);
    assert!(m.modsec_log_line(&meta).starts_with("ModSecurity: Warning."));
}

/// For instruction-count measurements (`perf stat -e instructions:u`), stable on a shared machine:
/// `PORTCULLIS_LOOP=N cargo test --release --test crs loop_benign -- --ignored` with N=0 and N=2000.
#[test]
#[ignore = "measurement helper, not a test"]
fn loop_benign() {
    let n: usize = std::env::var("PORTCULLIS_LOOP").ok().and_then(|v| v.parse().ok()).unwrap_or(100);
    let engine = Arc::new(crs_engine(""));
    let t = Instant::now();
    for _ in 0..n {
        let (iv, _) = get(
            &engine,
            "/api/v1/users/42?page=2&sort=name&fields=id,name,email",
            &[("Cookie", "session=3f1a9c0e7b2d4a6f; theme=dark")],
        );
        assert!(iv.is_none());
    }
    if n > 0 {
        eprintln!("{n} benign GETs: {:?} per transaction", t.elapsed() / n as u32);
    }
}
