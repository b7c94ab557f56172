//! The detection gate: `portcullis eval` runs the labeled corpus (`tests/corpus`) through the real gateway and
//! fails when TPR or FPR are worse than the floors in `tests/corpus/floors.toml` (overall and per class).
//!
//! By default the gateway runs its default configuration. To gate another config or other floors:
//! `PORTCULLIS_EVAL_CONFIG=tests/corpus/configs/crs-pl1.toml PORTCULLIS_EVAL_FLOORS=my-floors.toml
//! cargo test -p portcullis --test eval_corpus` (paths relative to the repository root).
//!
//! A second gate runs the held-out corpus (`tests/corpus-holdout`) against its own floors.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::BIN;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn from_env(var: &str) -> Option<PathBuf> {
    std::env::var_os(var).filter(|v| !v.is_empty()).map(|v| {
        let p = PathBuf::from(v);
        if p.is_absolute() {
            p
        } else {
            root().join(p)
        }
    })
}

fn eval(corpus: &Path, config: Option<&Path>, floors: Option<&Path>, extra: &[&str]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.arg("eval").arg("--corpus").arg(corpus);
    if let Some(c) = config {
        cmd.arg("--config").arg(c);
    }
    if let Some(f) = floors {
        cmd.arg("--floors").arg(f);
    }
    cmd.args(extra).output().unwrap()
}

fn text(out: &Output) -> (String, String) {
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn corpus_figures_do_not_regress_below_the_floors() {
    let config = from_env("PORTCULLIS_EVAL_CONFIG");
    let floors = from_env("PORTCULLIS_EVAL_FLOORS").unwrap_or_else(|| root().join("tests/corpus/floors.toml"));
    let out = eval(&root().join("tests/corpus"), config.as_deref(), Some(&floors), &["--show-misses", "20"]);
    let (stdout, stderr) = text(&out);
    let overall = stdout.lines().last().unwrap_or("");
    assert!(overall.starts_with("overall: TPR "), "the last line is the overall figure, got {overall:?}\n{stderr}");
    assert!(out.status.success(), "{overall}\n{stderr}\n{stdout}");
    // The corpus keeps its size: a generator change that loses requests must be deliberate.
    let counts = |marker: &str| -> usize {
        let inner = overall.split(marker).nth(1).and_then(|s| s.split(')').next()).unwrap_or("");
        inner.split('/').nth(1).and_then(|n| n.parse().ok()).unwrap_or(0)
    };
    assert!(counts("TPR ") >= 1500, "at least 1,500 attacks: {overall}");
    assert!(counts("FPR ") >= 2500, "at least 2,500 benign requests: {overall}");
}

/// The held-out corpus (`tests/corpus-holdout`, written apart from the main one and never tuned against) through the
/// default config, gated by its own floors: the figure that says whether the detectors generalise.
#[test]
fn holdout_figures_do_not_regress_below_their_floors() {
    let dir = root().join("tests/corpus-holdout");
    let out = eval(&dir, None, Some(&dir.join("floors.toml")), &["--show-misses", "20"]);
    let (stdout, stderr) = text(&out);
    let overall = stdout.lines().last().unwrap_or("");
    assert!(overall.starts_with("overall: TPR "), "the last line is the overall figure, got {overall:?}\n{stderr}");
    assert!(out.status.success(), "{overall}\n{stderr}\n{stdout}");
    assert!(overall.contains("/364)") && overall.contains("/702)"), "the held-out corpus keeps its size: {overall}");
}

/// Parameter pollution (`15-parameters.conf`): a repeated list parameter passes at every sensitivity; the same
/// name in the query and the form body scores 3, which blocks at `high` (threshold 3) but not at `medium`; the
/// rules that scored are named either way.
#[test]
fn parameter_pollution_is_scored_not_blocked_for_lists() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let entry = |id: &str, label: &str, target: &str, body: &str| {
        let ct = if body.is_empty() { "" } else { r#",["Content-Type","application/x-www-form-urlencoded"]"# };
        let method = if body.is_empty() { "GET" } else { "POST" };
        format!(
            r#"{{"id":"{id}","label":"{label}","class":"c{label}","placement":"query","encoding":"plain","method":"{method}","target":"{target}","headers":[["User-Agent","test"]{ct}],"body":"{body}"}}"#
        )
    };
    let corpus = [
        entry("both", "attack", "/api/users?role=user", "role=admin&name=bob"),
        entry("tags", "benign", "/api/items?tag=red&tag=blue&tag=green", ""),
        entry("list", "benign", "/api/items?ids[]=1&ids[]=2", ""),
        entry("form", "benign", "/api/items/filter", "color=red&size=m&color=blue"),
    ]
    .join("\n");
    std::fs::write(d.join("c.jsonl"), corpus).unwrap();
    let config = |level: &str| {
        format!(
            "[waf]\nsensitivity = \"{level}\"\n[[listeners]]\nname = \"x\"\naddress = \"127.0.0.1:0\"\n\
             [[upstreams]]\nname = \"app\"\ntargets = [\"127.0.0.1:9\"]\n[[routes]]\nname = \"all\"\nupstream = \"app\"\n"
        )
    };
    for (level, both_refused) in [("high", true), ("medium", false)] {
        std::fs::write(d.join("gw.toml"), config(level)).unwrap();
        let out = eval(d, Some(&d.join("gw.toml")), None, &["--json"]);
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{level}: {stdout}\n{stderr}");
        let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        let result = |id: &str| v["results"].as_array().unwrap().iter().find(|r| r["id"] == id).unwrap().clone();
        let rules = |id: &str| result(id)["rules"].to_string();
        let both = result("both");
        assert_eq!(both["refused"].as_bool(), Some(both_refused), "{level}: {both}");
        assert!(rules("both").contains("192120"), "{level}: query + body is named: {both}");
        for id in ["tags", "list", "form"] {
            assert_eq!(result(id)["refused"].as_bool(), Some(false), "{level}: {}", result(id));
        }
        assert!(rules("tags").contains("192110") && rules("form").contains("192110"), "{level}: repeats are named");
        assert!(!rules("list").contains("192110"), "{level}: `ids[]` is a declared list: {}", result("list"));
    }
}

/// The harness itself, on a five-line corpus behind a two-rule WAF: a refusal (403 or a dropped connection)
/// counts as a true positive, a pass as a miss, the rule that fired is named, and floors the run does not meet
/// make it fail.
#[test]
fn refusals_are_counted_and_floors_fail_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let line = |id: &str, label: &str, q: &str| {
        format!(
            r#"{{"id":"{id}","label":"{label}","class":"c{label}","placement":"query","encoding":"plain","method":"GET","target":"/s?q={q}","headers":[["User-Agent","test"]],"body":""}}"#
        )
    };
    let corpus = [
        line("a1", "attack", "attack-here"),
        line("a2", "attack", "missed"),
        line("b1", "benign", "hello"),
        line("b2", "benign", "an%20attack%20word"),
        line("a3", "attack", "dropme"),
    ]
    .join("\n");
    std::fs::write(d.join("c.jsonl"), corpus).unwrap();
    std::fs::write(
        d.join("rules.conf"),
        "SecRule ARGS:q \"@contains attack\" \"id:1001,phase:1,deny,status:403,log,msg:'test attack'\"\n\
         SecRule ARGS:q \"@streq dropme\" \"id:1002,phase:1,drop,log,msg:'dropped'\"\n",
    )
    .unwrap();
    std::fs::write(
        d.join("gw.toml"),
        "[waf]\nmode = \"on\"\nrules = [\"rules.conf\"]\n[[listeners]]\nname = \"x\"\naddress = \"127.0.0.1:0\"\n\
         [[upstreams]]\nname = \"app\"\ntargets = [\"127.0.0.1:9\"]\n[[routes]]\nname = \"all\"\nupstream = \"app\"\n",
    )
    .unwrap();
    std::fs::write(d.join("ok.toml"), "[overall]\nmin_tpr = 50\nmax_fpr = 50\n").unwrap();
    std::fs::write(d.join("strict.toml"), "[overall]\nmax_fpr = 0\n[classes]\ncattack = 100\n").unwrap();

    let out = eval(d, Some(&d.join("gw.toml")), Some(&d.join("ok.toml")), &["--show-misses", "5"]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    // A WAF `drop` (connection closed without a response) counts as a refusal.
    assert!(stdout.ends_with("overall: TPR 66.7% (2/3), FPR 50.00% (1/2)\n"), "{stdout}");
    assert!(stdout.contains("refusals by status: 403: 2, dropped: 1"), "{stdout}");
    assert!(stdout.contains("missed attacks (1, showing 1):\n  a2 GET /s?q=missed: passed with 200"), "{stdout}");
    assert!(stdout.contains("  b2 GET /s?q=an%20attack%20word: refused with 403"), "{stdout}");
    assert!(stdout.contains("rules: 1001 (test attack)"), "the matching rule is named:\n{stdout}");

    let out = eval(d, Some(&d.join("gw.toml")), Some(&d.join("strict.toml")), &["--json"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stderr.contains("below the floor: overall FPR 50.00% is above the ceiling 0%"), "{stderr}");
    assert!(stderr.contains("class cattack: TPR 66.67% is below the floor 100%"), "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["attacks"]["hits"], 2);
    let a3 = v["results"].as_array().unwrap().iter().find(|r| r["id"] == "a3").unwrap();
    assert_eq!((a3["refused"].as_bool(), a3["outcome"]["kind"].as_str()), (Some(true), Some("dropped")), "{a3}");
    assert_eq!(v["benign_categories"]["cbenign"]["total"], 2);

    // Without --config the default configuration runs: nothing refuses a plain attack word today.
    let out = eval(d, None, None, &[]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.lines().last().unwrap_or("").starts_with("overall: TPR "), "{stdout}");

    // Bad input is a precise error, not a panic.
    std::fs::write(d.join("c.jsonl"), "{\"id\": 1}\n").unwrap();
    let out = eval(d, None, None, &[]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("c.jsonl:1: "), "{stderr}");
}
