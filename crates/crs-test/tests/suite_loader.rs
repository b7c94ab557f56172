//! The loader against the real CRS v4 regression suite.

mod common;

use std::collections::BTreeSet;

use portcullis_crs_test::{request, suite, tests_dir, Overrides};

#[test]
fn every_crs_test_file_loads_and_every_stage_builds() {
    let dir = tests_dir(&common::crs_dir());
    let files = suite::load_dir(&dir).unwrap();
    assert_eq!(files.len(), 323);
    let tests: usize = files.iter().map(|f| f.tests.len()).sum();
    let stages: usize = files.iter().flat_map(|f| &f.tests).map(|t| t.stages.len()).sum();
    assert_eq!(tests, 5003);
    assert_eq!(stages, 5009);
    let mut ids = BTreeSet::new();
    for t in files.iter().flat_map(|f| &f.tests) {
        assert!(ids.insert(t.id), "duplicate test id {}", t.id);
        for s in &t.stages {
            request::build(&s.input, None).unwrap_or_else(|e| panic!("{}: {e}", t.id));
        }
    }
    // Spot checks of fields the runner depends on.
    let get = |id: &str| files.iter().flat_map(|f| &f.tests).find(|t| t.id.to_string() == id).unwrap();
    assert!(get("920620-1").stages[0].input.encoded_request.is_some());
    assert_eq!(get("920430-5").stages[0].output.expect_error, Some(true));
    assert_eq!(get("959100-1").stages[0].output.retry_once, Some(true));
    let big = request::build(&get("920400-1").stages[0].input, None).unwrap();
    assert!(big.len() > 64200, "template expanded");
}

#[test]
fn crs_override_files_load() {
    let dir = common::crs_dir().join("tests/regression");
    for name in ["coraza-overrides.yaml", "httpd-overrides.yaml", "nginx-overrides.yaml"] {
        let o = Overrides::from_platform_file(&dir.join(name)).unwrap();
        assert!(!o.is_empty(), "{name}");
    }
}
