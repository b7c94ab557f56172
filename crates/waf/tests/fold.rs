//! Load-time folding of constant `TX` flow rules (`portcullis_waf::fold`): what folds, what must not and
//! why, and that folding never changes an outcome — every request here runs on the same rules with folding
//! on and off, and the interventions, the logged matches (id, message, data, variable) and the whole `TX`
//! collection must be identical.

mod common;

use common::*;
use portcullis_waf::{Engine, Transaction};
use std::sync::Arc;

/// A browser sending bodies as `application/x-www-form-urlencoded`; the work counters are not part of the
/// outcome (folding skips rules by design).
const CLIENT: Client = Client {
    headers: &[("Host", "localhost"), ("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0")],
    body_type: Some("application/x-www-form-urlencoded"),
    stats: false,
};

/// Runs all five phases of `r` as [`CLIENT`] sends it; `prepare` may change the transaction first.
fn run(engine: &Arc<Engine>, r: &Req, prepare: &dyn Fn(&mut Transaction)) -> String {
    outcome_text(engine, r, prepare, &CLIENT)
}

/// Loads `text` twice (folding on and off) and checks every request gives the same outcome; returns the
/// folded engine.
fn same_outcomes(text: &str, reqs: &[Req], prepare: &dyn Fn(&mut Transaction)) -> Arc<Engine> {
    let on = Arc::new(Engine::from_str(text, "fold.conf").unwrap_or_else(|e| panic!("{e}")));
    let off = Arc::new(Engine::from_str(text, "fold.conf").unwrap().with_folding(false));
    check_same(&on, &off, reqs, prepare);
    on
}

fn check_same(on: &Arc<Engine>, off: &Arc<Engine>, reqs: &[Req], prepare: &dyn Fn(&mut Transaction)) {
    check_same_outcomes(on, off, reqs, prepare, &CLIENT, "folding");
}

const BASE: &str = r#"
SecRuleEngine On
SecRequestBodyAccess On
SecDefaultAction "phase:1,log,auditlog,pass"
SecDefaultAction "phase:2,log,auditlog,pass"
SecAction "id:1,phase:1,pass,nolog,setvar:tx.pl=1"
SecRule &TX:pl "@eq 0" "id:2,phase:1,pass,nolog,setvar:tx.pl=1"
SecRule TX:pl "@lt 2" "id:10,phase:1,pass,nolog,skipAfter:END-2"
SecRule ARGS "@contains bad2" "id:11,phase:1,deny,status:403,log,msg:'pl2 %{MATCHED_VAR_NAME}'"
SecMarker END-2
SecRule TX:pl "@ge 3" "id:12,phase:2,pass,nolog,skipAfter:END-3"
SecRule ARGS "@contains evil" "id:13,phase:2,deny,status:403,log,msg:'evil in %{MATCHED_VAR_NAME}'"
SecMarker END-3
SecRule &TX:never_set "@eq 0" "id:14,phase:2,pass,nolog"
SecRule TX:pl "@lt %{tx.limit}" "id:15,phase:2,pass,nolog"
SecRule TX:pl "@eq 1" "id:16,phase:2,pass,log,msg:'logged'"
SecRule TX:pl "@eq 1" "id:17,phase:2,pass,nolog,severity:2"
"#;

const REQS: &[Req] = &[
    ("GET", "/?a=1", &[], ""),
    ("GET", "/?a=bad2", &[], ""),
    ("GET", "/admin?a=bad2", &[], ""),
    ("POST", "/login", &[], "user=evil&x=1"),
    ("GET", "/admin/?x=1&a=evil", &[], ""),
];

fn folded(e: &Engine) -> Vec<(u32, bool)> {
    e.folded_ids()
}

#[test]
fn constant_paranoia_checks_fold_and_logging_or_severity_rules_do_not() {
    let e = same_outcomes(BASE, REQS, &no_prep);
    // 10 always (pl=1 < 2), 12 never, 14 always (never written: absent), 15 never (1 < "" is false);
    // 1 and 2 are the prefix; 16 logs; 17 would set HIGHEST_SEVERITY
    assert_eq!(folded(&e), [(10, true), (12, false), (14, true), (15, false)]);
    assert_eq!(e.folded_rules(), (2, 2));
    assert!(
        e.describe().contains("4 rules folded (2 never, 2 always), initialisation of 2 rules replayed (1 TX values)"),
        "{}",
        e.describe()
    );
    // a `ctl` in the prefix: still folded, but the prefix runs (its ctl has effects beyond TX)
    let ctl = BASE.replacen("setvar:tx.pl=1\"", "setvar:tx.pl=1,ctl:ruleRemoveById=99\"", 1);
    let c = same_outcomes(&ctl, REQS, &no_prep);
    assert_eq!(folded(&c).len(), 4);
    assert!(!c.describe().contains("replayed"), "{}", c.describe());
    // a logged match in the prefix: the same
    let logged = BASE.replacen("pass,nolog,setvar:tx.pl=1\"", "pass,log,msg:'init',setvar:tx.pl=1\"", 1);
    let l = same_outcomes(&logged, REQS, &no_prep);
    assert_eq!(folded(&l).len(), 4);
    assert!(!l.describe().contains("replayed"), "{}", l.describe());
    // the folded skipAfter is taken: 11 never runs at pl 1, 13 does
    let out = run(&e, &REQS[1], &no_prep);
    assert!(out.starts_with("[None, None, None, None]"), "{out}");
    let out = run(&e, &REQS[3], &no_prep);
    assert!(out.contains("evil in ARGS:user"), "{out}");
}

#[test]
fn a_run_time_paranoia_change_makes_the_level_non_constant() {
    // after the prefix: the prefix still computes pl, but pl is written elsewhere, so nothing reading it folds
    let later =
        format!("{BASE}\nSecRule REQUEST_URI \"@beginsWith /admin\" \"id:5,phase:1,pass,nolog,setvar:tx.pl=2\"\n");
    let e = same_outcomes(&later, REQS, &no_prep);
    assert_eq!(folded(&e), [(14, true)]);
    // before the prefix: it ends the prefix (it reads the request and writes TX)
    let first = BASE.replacen(
        "SecAction \"id:1,",
        "SecRule REQUEST_URI \"@beginsWith /admin\" \"id:5,phase:1,pass,nolog,setvar:tx.pl=2\"\nSecAction \"id:1,",
        1,
    );
    let e = same_outcomes(&first, REQS, &no_prep);
    assert_eq!(folded(&e), [(14, true)]);
    // between the prefix and the checks: /admin at pl 2 runs rule 11
    let between = BASE.replacen(
        "SecRule TX:pl \"@lt 2\"",
        "SecRule REQUEST_URI \"@beginsWith /admin\" \"id:5,phase:1,pass,nolog,setvar:tx.pl=2\"\nSecRule TX:pl \"@lt 2\"",
        1,
    );
    let e = same_outcomes(&between, REQS, &no_prep);
    assert_eq!(folded(&e), [(14, true)]);
    let out = run(&e, &REQS[2], &no_prep);
    assert!(out.contains("pl2 ARGS:a"), "{out}");
}

#[test]
fn dynamic_setvar_names_capture_and_expirevar_write_what_they_may() {
    let prefixed = format!(
        "{BASE}\nSecRule ARGS:name \"@rx ^(\\w+)$\" \"id:20,phase:2,pass,nolog,capture,setvar:tx.pl%{{tx.1}}=1\"\n\
         SecRule TX:1 \"@eq 0\" \"id:21,phase:2,pass,nolog\"\n\
         SecRule &TX:pl \"@eq 1\" \"id:22,phase:2,pass,nolog\"\n\
         SecRule &TX:other \"@eq 0\" \"id:23,phase:2,pass,nolog\"\n"
    );
    let reqs: &[Req] = &[("POST", "/", &[], "name=x"), ("POST", "/", &[], "name=%20")];
    let e = same_outcomes(&prefixed, reqs, &no_prep);
    // `tx.pl%{tx.1}` may write every key starting with "pl" (pl itself: "pl" + an empty capture); capture
    // writes TX:0-9; `other` stays constant
    assert_eq!(folded(&e), [(14, true), (23, true)]);
    let anything =
        format!("{BASE}\nSecRule ARGS:name \"@rx ^\\w+$\" \"id:20,phase:2,pass,nolog,setvar:tx.%{{args.name}}=1\"\n");
    let e = same_outcomes(&anything, reqs, &no_prep);
    assert_eq!(folded(&e), []);
    let expire = format!("{BASE}\nSecAction \"id:20,phase:2,pass,nolog,expirevar:tx.never_set=60\"\n");
    let e = same_outcomes(&expire, reqs, &no_prep);
    assert_eq!(folded(&e), [(10, true), (12, false), (15, false)]);
}

#[test]
fn reading_matched_var_before_a_match_or_a_disruptive_prefix_folds_nothing() {
    let reader = format!("{BASE}\nSecRule MATCHED_VAR \"@streq 1\" \"id:30,phase:2,pass,nolog\"\n");
    let e = same_outcomes(&reader, REQS, &no_prep);
    assert_eq!(folded(&e), []);
    assert!(
        e.describe().contains("nothing folded (a rule reads MATCHED_VAR before its own match)"),
        "{}",
        e.describe()
    );
    let operand = format!("{BASE}\nSecRule ARGS \"@streq %{{MATCHED_VAR}}\" \"id:30,phase:2,pass,nolog\"\n");
    assert_eq!(folded(&same_outcomes(&operand, REQS, &no_prep)), []);
    // a chained link reading MATCHED_VAR reads its own rule's match: folding goes on
    let chained = format!(
        "{BASE}\nSecRule ARGS \"@contains x\" \"id:30,phase:2,pass,nolog,chain\"\nSecRule MATCHED_VAR \"@streq 1\" \"\"\n"
    );
    assert_eq!(folded(&same_outcomes(&chained, REQS, &no_prep)).len(), 4);
    // an init rule that denies every request: the prefix is not what every transaction runs through
    let deny = BASE.replacen(
        "SecRule &TX:pl",
        "SecRule &TX:missing \"@eq 0\" \"id:3,phase:1,deny,status:403,log,msg:'setup missing'\"\nSecRule &TX:pl",
        1,
    );
    let e = same_outcomes(&deny, REQS, &no_prep);
    assert_eq!(folded(&e), []);
    assert!(e.describe().contains("disruptive"), "{}", e.describe());
}

#[test]
fn removals_and_target_exclusions_keep_every_outcome() {
    // removing an init rule per route: the prefix did not run whole, so no verdict is used
    for ranges in [vec![(1, 2)], vec![(1, 1)], vec![(10, 10)], vec![(12, 15)]] {
        let prep = move |tx: &mut Transaction| tx.remove_rules_by_id(&ranges);
        same_outcomes(BASE, REQS, &prep);
    }
    // engine off for the transaction, then nothing runs either way
    same_outcomes(BASE, REQS, &|tx: &mut Transaction| tx.set_engine_mode(portcullis_waf::EngineMode::Off));
    same_outcomes(BASE, REQS, &|tx: &mut Transaction| tx.set_engine_mode(portcullis_waf::EngineMode::DetectionOnly));
}

#[test]
fn target_exclusion_before_the_folded_rule_is_obeyed() {
    // the exclusion rules run before rule 10, after the prefix
    let text = BASE.replacen(
        "SecRule TX:pl \"@lt 2\"",
        "SecRule ARGS:x \"@streq 1\" \"id:40,phase:1,pass,nolog,ctl:ruleRemoveTargetById=10;TX:pl\"\n\
         SecRule ARGS:x \"@streq 2\" \"id:41,phase:1,pass,nolog,ctl:ruleRemoveById=10\"\n\
         SecRule TX:pl \"@lt 2\"",
        1,
    );
    let reqs: &[Req] =
        &[("GET", "/?x=1&a=bad2", &[], ""), ("GET", "/?x=2&a=bad2", &[], ""), ("GET", "/?x=3&a=bad2", &[], "")];
    let e = same_outcomes(&text, reqs, &no_prep);
    assert_eq!(folded(&e), [(10, true), (12, false), (14, true), (15, false)]);
    // with 10's target removed it matches nothing, so 11 runs and blocks
    assert!(run(&e, &reqs[0], &no_prep).contains("pl2 ARGS:a"));
    assert!(run(&e, &reqs[1], &no_prep).contains("pl2 ARGS:a"));
    assert!(!run(&e, &reqs[2], &no_prep).contains("pl2 ARGS:a"));
}

fn crs_text(extra: &str) -> String {
    let dir = crs_dir();
    format!(
        "SecRuleEngine On\nSecRequestBodyAccess On\nSecResponseBodyAccess On\nSecResponseBodyMimeType text/plain text/html\n{extra}\nInclude {}/crs-setup.conf.example\nInclude {}/rules/*.conf\n",
        dir.display(),
        dir.display()
    )
}

const CRS_REQS: &[Req] = &[
    ("GET", "/index.html?page=2&sort=name", &[], ""),
    ("GET", "/?q=1%27%20OR%20%271%27%3D%271", &[], ""),
    ("GET", "/?x=%3Cscript%3Ealert(1)%3C/script%3E", &[], ""),
    ("GET", "/admin/config?file=../../etc/passwd", &[("Accept", "*/*")], ""),
    ("POST", "/api/login", &[("Accept", "application/json")], "user=jane&password=S3cret%21%20x"),
    ("POST", "/api/search", &[], "q=select+name+from+users+where+1%3D1&page=%3Cb%3E"),
    ("GET", "/?a=1&a=2&b=;ls%20-la", &[("X-Forwarded-For", "127.0.0.1"), ("Range", "bytes=0-,1-,2-,3-,4-,5-")], ""),
];

fn pl(n: u8) -> String {
    format!(
        "SecAction \"id:900000,phase:1,pass,nolog,setvar:tx.blocking_paranoia_level={n},setvar:tx.detection_paranoia_level={n}\""
    )
}

#[test]
fn crs_at_paranoia_levels_1_2_4_folds_and_changes_nothing() {
    let mut counts = Vec::new();
    for n in [1, 2, 4] {
        let e = same_outcomes(&crs_text(&pl(n)), CRS_REQS, &no_prep);
        let ids = folded(&e);
        // every paranoia check of the levels above is an "always" skip, those at or below "never"
        let check = |id: u32| ids.iter().find(|(i, _)| *i == id).map(|(_, f)| *f);
        assert_eq!(check(911013), Some(n < 2), "PL{n}: 911013 (@lt 2)");
        assert_eq!(check(911011), Some(false), "PL{n}: 911011 (@lt 1)");
        counts.push((n, e.folded_rules()));
        eprintln!("CRS PL{n}: {}", e.describe());
    }
    // fewer skips at higher levels (more checks say "go on")
    assert!(counts[0].1 .1 > counts[2].1 .1, "{counts:?}");
    assert!(counts[0].1 .0 + counts[0].1 .1 > 150, "{counts:?}");
}

#[test]
fn crs_with_a_run_time_paranoia_rule_folds_no_paranoia_check() {
    let admin = "SecRule REQUEST_URI \"@beginsWith /admin\" \"id:1000,phase:1,pass,nolog,setvar:tx.detection_paranoia_level=2\"";
    let e = same_outcomes(&crs_text(admin), CRS_REQS, &no_prep);
    let ids = folded(&e);
    for id in [911011, 911012, 911013, 911014, 942013, 942014] {
        assert!(!ids.iter().any(|(i, _)| *i == id), "{id} folded: {ids:?}");
    }
    // the same rule after crs-setup (still before the CRS files' checks)
    let dir = crs_dir();
    let text = format!(
        "SecRuleEngine On\nInclude {}/crs-setup.conf.example\n{admin}\nInclude {}/rules/*.conf\n",
        dir.display(),
        dir.display()
    );
    let e = same_outcomes(&text, CRS_REQS, &no_prep);
    let ids = folded(&e);
    for id in [911011, 911012, 911013, 911014, 942013, 942014] {
        assert!(!ids.iter().any(|(i, _)| *i == id), "{id} folded: {ids:?}");
    }
}

#[test]
fn crs_exclusions_and_per_route_removals_change_nothing() {
    let excl = "SecRule REQUEST_URI \"@beginsWith /api/search\" \"id:1001,phase:1,pass,nolog,ctl:ruleRemoveTargetById=942100;ARGS:q,ctl:ruleRemoveById=911100\"\n\
                SecRule REQUEST_URI \"@beginsWith /admin\" \"id:1002,phase:1,pass,nolog,ctl:ruleRemoveByTag=attack-lfi\"";
    let text = crs_text(excl);
    let on = Arc::new(Engine::from_str(&text, "fold.conf").unwrap());
    let off = Arc::new(Engine::from_str(&text, "fold.conf").unwrap().with_folding(false));
    assert!(on.folded_rules().1 > 100, "{}", on.describe());
    check_same(&on, &off, CRS_REQS, &no_prep);
    for ranges in [vec![(901200, 901200)], vec![(900990, 900990)], vec![(911013, 911014)], vec![(920000, 921000)]] {
        check_same(&on, &off, CRS_REQS, &move |tx: &mut Transaction| tx.remove_rules_by_id(&ranges));
    }
}
