//! Load-time "always" verdicts for rules that run `setvar`s (`portcullis_waf::fold`, `Kind::Setvars`): a rule
//! whose every link reads one constant `TX` key by name and always matches runs its `setvar`s (and sets its
//! severity) without collecting or comparing anything. What folds, what must not, and that folding never
//! changes an outcome: every request runs on the same rules with folding on and off, and the interventions,
//! the logged matches (id, message, data, variable, severity), the whole `TX` collection and the engine mode
//! must be identical.

mod common;

use common::*;
use portcullis_waf::{Engine, EngineMode, Transaction};
use std::sync::Arc;

const CLIENT: Client = Client {
    headers: &[("Host", "localhost"), ("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0")],
    body_type: Some("application/x-www-form-urlencoded"),
    stats: false,
};

/// Folding on and off give the same outcome for every request of `reqs` after `prepare`; returns the
/// folded engine.
fn same_outcomes(text: &str, reqs: &[Req], prepare: &dyn Fn(&mut Transaction)) -> Arc<Engine> {
    let on = Arc::new(Engine::from_str(text, "fold_setvars.conf").unwrap_or_else(|e| panic!("{e}")));
    let off = Arc::new(Engine::from_str(text, "fold_setvars.conf").unwrap().with_folding(false));
    check_same_outcomes(&on, &off, reqs, prepare, &CLIENT, "folding setvar rules");
    on
}

/// The prefix sets the constants; the rules after it read them and run `setvar`s in every phase. (Rule 2
/// ends the prefix in phase 1: the verdicts are used once phase 1 walks past it.)
const RULES: &str = r#"
SecRuleEngine On
SecRequestBodyAccess On
SecResponseBodyAccess On
SecAction "id:1,phase:1,pass,nolog,setvar:tx.pl=1,setvar:tx.crit=5,setvar:tx.max=3"
SecRule ARGS "@contains zzz" "id:2,phase:1,pass,nolog,setvar:tx.zzz=1"
SecRule TX:pl "@ge 1" "id:99,phase:1,pass,nolog,setvar:tx.early=+%{tx.crit}"
SecRule TX:pl "@ge 1" "id:100,phase:2,pass,nolog,setvar:tx.score=+%{tx.crit},setvar:tx.first=%{tx.pl}"
SecRule TX:pl "@ge 2" "id:101,phase:2,pass,nolog,setvar:tx.score=+100"
SecRule ARGS "@contains x" "id:120,phase:2,pass,log,msg:'%{MATCHED_VAR_NAME}=%{MATCHED_VAR}',chain"
    SecRule MATCHED_VAR "@contains x" "setvar:tx.chained=%{MATCHED_VAR_NAME}"
SecRule &TX:pl "@eq 1" "id:102,phase:2,pass,nolog,severity:3,setvar:tx.sev=1"
SecRule TX:pl "@lt 2" "id:104,phase:2,pass,nolog,setvar:tx.took=1,skipAfter:END-104"
SecAction "id:105,phase:2,pass,nolog,setvar:tx.notrun=1"
SecMarker END-104
SecRule TX:pl "@ge 1" "id:110,phase:2,pass,nolog,setvar:tx.mv=%{MATCHED_VAR_NAME}-%{MATCHED_VAR}"
SecRule TX:pl "@ge 1" "id:111,phase:2,pass,log,msg:'logged %{tx.score}',setvar:tx.logged=1"
SecRule TX:pl|TX:max "@ge 1" "id:112,phase:2,pass,nolog,setvar:tx.two=+1"
SecRule TX:score "@ge 1" "id:114,phase:2,pass,nolog,setvar:tx.seen=1"
SecRule TX:pl "@eq 1" "id:103,phase:3,pass,nolog,chain,setvar:tx.a=+2"
    SecRule TX:max "!@lt 2" "setvar:tx.b=%{tx.a},setvar:tx.a=+1"
SecRule TX:pl "@eq 1" "id:106,phase:4,pass,nolog,chain,setvar:tx.c=1"
    SecRule TX:max "@lt 2" "setvar:tx.d=1"
SecRule TX:pl "@ge 1" "id:107,phase:4,pass,nolog,setvar:tx.resp=+%{tx.score}"
SecRule HIGHEST_SEVERITY "@eq 3" "id:190,phase:5,pass,log,msg:'severity %{HIGHEST_SEVERITY}'"
SecAction "id:191,phase:5,pass,log,msg:'report %{tx.score} %{tx.a} %{tx.b} %{tx.resp} %{tx.two}'"
"#;

const REQS: &[Req] = &[("GET", "/?a=1", &[], ""), ("GET", "/?a=x", &[], ""), ("POST", "/login", &[], "user=xy&b=2")];

#[test]
fn constant_checks_with_setvars_fold_to_always_and_change_nothing() {
    let e = same_outcomes(RULES, REQS, &no_prep);
    let ids = e.folded_ids();
    // always: each link reads one constant key and matches; the chain's actions run in link order (b = a
    // after the first link's +2), the severity is set (190 logs), the skipAfter is taken (105 never runs)
    for id in [99, 100, 102, 103, 104, 107] {
        assert!(ids.contains(&(id, true)), "{id} always: {ids:?}");
    }
    // never: decided by the first link (101)
    assert!(ids.contains(&(101, false)), "{ids:?}");
    // not folded: reads MATCHED_VAR* in an action (110), logs (111), two targets (112: two values, two
    // runs of the setvar), reads a key rules write (114), a chain whose second link never matches (106)
    for id in [106, 110, 111, 112, 114, 120, 190, 191] {
        assert!(ids.iter().all(|(i, _)| *i != id), "{id} must be evaluated: {ids:?}");
    }
    let out = outcome_text(&e, &REQS[1], &no_prep, &CLIENT);
    for want in ["severity 3", "report 5 3 2 5 2", "first=1", "early=5", "mv=TX:pl-1", "took=1", "chained=", "c=1"] {
        assert!(out.contains(want), "{want}: {out}");
    }
    assert!(!out.contains("notrun") && !out.contains("\"d=1\""), "{out}");
}

#[test]
fn removals_engine_modes_and_pinned_keys_change_nothing() {
    for ranges in [vec![(100, 100)], vec![(1, 1)], vec![(102, 104)], vec![(190, 191)]] {
        same_outcomes(RULES, REQS, &move |tx: &mut Transaction| tx.remove_rules_by_id(&ranges));
    }
    same_outcomes(RULES, REQS, &|tx: &mut Transaction| tx.set_engine_mode(EngineMode::DetectionOnly));
    same_outcomes(RULES, REQS, &|tx: &mut Transaction| tx.set_engine_mode(EngineMode::Off));
    // a key the gateway pins is set before phase 1: no verdict is used
    same_outcomes(RULES, REQS, &|tx: &mut Transaction| tx.pin_tx("pl", b"2"));
    same_outcomes(RULES, REQS, &|tx: &mut Transaction| tx.pin_tx("score", b"7"));
    // a target exclusion in force for a folded rule: it is evaluated (without its target it matches nothing)
    let excl = RULES.replacen(
        "SecRule TX:pl \"@ge 1\" \"id:100,",
        "SecRule ARGS:a \"@streq x\" \"id:50,phase:1,pass,nolog,ctl:ruleRemoveTargetById=100;TX:pl\"\nSecRule TX:pl \"@ge 1\" \"id:100,",
        1,
    );
    let e = same_outcomes(&excl, REQS, &no_prep);
    assert!(e.folded_ids().contains(&(100, true)));
    let out = outcome_text(&e, &REQS[1], &no_prep, &CLIENT);
    assert!(!out.contains("first=1"), "{out}");
}

#[test]
fn a_matched_var_reader_before_its_match_turns_folding_off() {
    // a rule reading MATCHED_VAR_NAME in its first link would see what the always rule before it left
    let text = format!("{RULES}\nSecRule MATCHED_VAR_NAME \"@streq TX:pl\" \"id:130,phase:2,pass,log,msg:'seen'\"\n");
    let e = same_outcomes(&text, REQS, &no_prep);
    assert_eq!(e.folded_ids(), []);
}

fn crs_text(level: u8) -> String {
    let dir = crs_dir();
    format!(
        "SecRuleEngine On\nSecRequestBodyAccess On\nSecResponseBodyAccess On\nSecResponseBodyMimeType text/plain text/html\n\
         SecAction \"id:900000,phase:1,pass,nolog,setvar:tx.blocking_paranoia_level={level},setvar:tx.detection_paranoia_level={level}\"\n\
         Include {}/crs-setup.conf.example\nInclude {}/rules/*.conf\n",
        dir.display(),
        dir.display()
    )
}

const CRS_REQS: &[Req] = &[
    ("GET", "/api/items?id=123&q=hello", &[("Host", "127.0.0.1:47890")], ""),
    ("GET", "/?q=1%27%20OR%20%271%27%3D%271", &[], ""),
    ("GET", "/?x=%3Cscript%3Ealert(1)%3C/script%3E", &[], ""),
    ("POST", "/api/search", &[], "q=select+name+from+users+where+1%3D1&page=%3Cb%3E"),
];

/// CRS's per-level score sums at or below the paranoia level (`TX:BLOCKING_PARANOIA_LEVEL "@ge 1"` with a
/// `setvar`) fold to "always"; those above stay "never"; the outcomes (scores, reports) are unchanged.
#[test]
fn crs_score_sums_fold_and_change_nothing() {
    for n in [1, 2] {
        let e = same_outcomes(&crs_text(n), CRS_REQS, &no_prep);
        let ids = e.folded_ids();
        let check = |id: u32| ids.iter().find(|(i, _)| *i == id).map(|(_, f)| *f);
        assert_eq!(check(949060), Some(true), "PL{n}: 949060 (@ge 1, setvar)");
        assert_eq!(check(959060), Some(true), "PL{n}: 959060 (@ge 1, setvar)");
        assert_eq!(check(949061), Some(n >= 2), "PL{n}: 949061 (@ge 2)");
    }
}
