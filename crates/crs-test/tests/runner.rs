//! Drives the runner over loopback against a fake WAF (tests/common) with hand-written and real CRS tests.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{crs_dir, FakeWaf};
use portcullis_crs_test::{run_suite, run_suite_with, EchoServer, Error, Overrides, RunOptions, TestFilter, Verdict};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
}

fn crs_file(rel: &str) -> PathBuf {
    crs_dir().join("tests/regression/tests").join(rel)
}

struct Setup {
    _dir: tempfile::TempDir,
    _echo: EchoServer,
    waf: FakeWaf,
}

fn setup(log_markers: bool) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let echo = EchoServer::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let waf = FakeWaf::start(&dir.path().join("waf.log"), Some(echo.local_addr()), log_markers);
    Setup { _dir: dir, _echo: echo, waf }
}

fn options(s: &Setup, file: Option<PathBuf>) -> RunOptions {
    let mut o = RunOptions::new(&crs_dir(), s.waf.addr, &s.waf.log_path);
    o.file = file;
    o.marker_timeout = Duration::from_millis(500);
    o.request_timeout = Duration::from_secs(2);
    o
}

#[test]
fn handwritten_tests_pass_fail_and_skip_as_designed() {
    let s = setup(true);
    let mut opts = options(&s, Some(data("handwritten.yaml")));
    opts.overrides = Overrides::from_file(&data("overrides.yaml")).unwrap();
    let mut streamed = Vec::new();
    let report = run_suite_with(&opts, &mut |o| streamed.push(o.to_string())).unwrap();
    assert_eq!(streamed.len(), 12);
    let verdict = |id: &str| report.outcome(id.parse().unwrap()).unwrap();
    for id in ["942100-1", "942100-2", "942100-6", "942100-7", "942100-8", "942100-10", "942100-12"] {
        assert_eq!(verdict(id).verdict, Verdict::Passed, "{}", verdict(id));
    }
    assert_eq!(verdict("942100-3").reason, "missing expected id 942100 (logged: none)");
    assert_eq!(verdict("942100-4").reason, "unexpected id 942100");
    assert_eq!(verdict("942100-5").reason, "status 200 (expected 403)");
    assert_eq!(verdict("942100-9").reason, "stage 2/2: missing expected id 942100 (logged: none)");
    assert_eq!(verdict("942100-11").verdict, Verdict::Skipped);
    assert_eq!(verdict("942100-11").to_string(), "942100-11 skipped: demonstrates skipping");
    assert_eq!(report.summary_line(), "7 passed, 4 failed, 1 skipped");
    assert!(report.to_string().ends_with("\n7 passed, 4 failed, 1 skipped"));
    assert!(report.to_string().starts_with("942100-3 FAILED: missing expected id 942100 (logged: none)\n"));
}

#[test]
fn retry_once_save_cookie_and_isolated() {
    let s = setup(true);
    let report = run_suite(&options(&s, Some(data("behaviours.yaml")))).unwrap();
    let failed: Vec<String> = report.failures().map(|f| f.to_string()).collect();
    assert_eq!(failed, vec!["1-2 FAILED: missing expected id 942100 (logged: none)"]);
    assert_eq!(report.summary_line(), "3 passed, 1 failed");
}

#[test]
fn filters_select_one_test_or_one_rule() {
    let s = setup(true);
    let mut opts = options(&s, Some(data("handwritten.yaml")));
    opts.filter = "942100-2".parse::<TestFilter>().unwrap();
    assert_eq!(run_suite(&opts).unwrap().summary_line(), "1 passed, 0 failed");
    opts.filter = "942101".parse::<TestFilter>().unwrap();
    assert!(matches!(run_suite(&opts), Err(Error::NothingSelected(_))));
}

#[test]
fn real_crs_942100_file() {
    let s = setup(true);
    let opts = options(&s, Some(crs_file("REQUEST-942-APPLICATION-ATTACK-SQLI/942100.yaml")));
    let report = run_suite(&opts).unwrap();
    let first = report.outcome("942100-1".parse().unwrap()).unwrap();
    assert_eq!(first.verdict, Verdict::Passed, "{first}");
    // The fake WAF only knows `OR 1=1`; everything it misses is reported by id.
    assert!(report.failed > 0);
    for f in report.failures() {
        assert!(f.reason.contains("missing expected id 942100") || f.reason.contains("unexpected id 942100"), "{f}");
    }
    assert_eq!(report.passed + report.failed, report.outcomes.len());
    assert_eq!(report.summary_line(), format!("{} passed, {} failed", report.passed, report.failed));
}

#[test]
fn a_bare_file_name_is_found_in_the_suite() {
    let s = setup(true);
    let opts = options(&s, Some(PathBuf::from("920620.yaml")));
    assert_eq!(run_suite(&opts).unwrap().summary_line(), "1 passed, 0 failed");
    let opts = options(&s, Some(PathBuf::from("nope-999.yaml")));
    assert!(run_suite(&opts).unwrap_err().to_string().contains("nope-999.yaml"));
}

#[test]
fn real_crs_files_with_encoded_requests_and_status() {
    let s = setup(true);
    // 920620-1: a raw request with two Content-Type headers, expecting 200 and no 920620.
    let opts = options(&s, Some(crs_file("REQUEST-920-PROTOCOL-ENFORCEMENT/920620.yaml")));
    assert_eq!(run_suite(&opts).unwrap().summary_line(), "1 passed, 0 failed");
    // 920290-4 sends `GET / HTTP/1.0` with an empty Host verbatim and expects 920290: the fake WAF misses it.
    let mut opts = options(&s, Some(crs_file("REQUEST-920-PROTOCOL-ENFORCEMENT/920290.yaml")));
    opts.filter = "920290-4".parse().unwrap();
    let report = run_suite(&opts).unwrap();
    assert_eq!(report.summary_line(), "0 passed, 1 failed");
    assert_eq!(report.failures().next().unwrap().reason, "missing expected id 920290 (logged: none)");
}

#[test]
fn crs_platform_overrides_apply() {
    let s = setup(true);
    let mut opts = options(&s, Some(crs_file("REQUEST-920-PROTOCOL-ENFORCEMENT/920270.yaml")));
    opts.filter = "920270-4".parse().unwrap();
    opts.overrides = Overrides::from_platform_file(&crs_dir().join("tests/regression/coraza-overrides.yaml")).unwrap();
    // Coraza's override replaces the expectation with `status: 200`, which the fake WAF gives.
    assert_eq!(run_suite(&opts).unwrap().summary_line(), "1 passed, 0 failed");
}

#[test]
fn a_waf_that_does_not_log_markers_stops_the_run() {
    let s = setup(false);
    let opts = options(&s, Some(data("handwritten.yaml")));
    let err = run_suite(&opts).unwrap_err();
    assert!(matches!(err, Error::Marker(_)), "{err}");
    assert!(err.to_string().contains("rule 999999"), "{err}");
}

#[test]
fn only_loopback_targets() {
    let s = setup(true);
    let mut opts = options(&s, Some(data("handwritten.yaml")));
    opts.target = "192.0.2.1:80".parse().unwrap();
    assert!(matches!(run_suite(&opts), Err(Error::Options(_))));
}

#[test]
fn overrides_without_reason_are_rejected() {
    let err = Overrides::from_file(&data("overrides-no-reason.yaml")).unwrap_err().to_string();
    assert!(err.contains("overrides-no-reason.yaml"), "{err}");
    assert!(err.contains("942100-11: `reason` is mandatory"), "{err}");
}

/// The whole CRS suite through the runner against the fake WAF: every test must come back with a verdict
/// (no hang, no crash), fast.
#[test]
fn whole_crs_suite_runs_quickly() {
    let s = setup(true);
    let opts = options(&s, None);
    let started = Instant::now();
    let report = run_suite(&opts).unwrap();
    let elapsed = started.elapsed();
    assert_eq!(report.outcomes.len(), 5003);
    assert_eq!(report.passed + report.failed, 5003);
    let per_minute = 5003.0 / elapsed.as_secs_f64() * 60.0;
    eprintln!("{} in {elapsed:?} ({per_minute:.0} tests/minute)", report.summary_line());
    assert!(report.passed > 500, "{}", report.summary_line());
}
