//! `portcullis check-config` on broken configs: each fixture in `fixtures/bad/` lists the lines it must
//! print (`# expect: ...`), every one with its key path; the command exits non-zero. Good configs pass.

mod common;

use std::path::Path;
use std::process::Command;

use common::BIN;

fn check(file: &Path) -> (bool, String) {
    let out = Command::new(BIN).arg("check-config").arg(file).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

#[test]
fn every_broken_fixture_reports_its_errors_with_key_paths() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bad");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let expected: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("# expect: ")).collect();
        assert!(!expected.is_empty(), "{} has no expectations", path.display());
        let (ok, out) = check(&path);
        assert!(!ok, "{} was accepted:\n{out}", path.display());
        for e in expected {
            assert!(out.contains(e), "{}: missing {e:?} in:\n{out}", path.display());
        }
        // The file is named in the report.
        assert!(out.contains(path.file_name().unwrap().to_str().unwrap()), "{out}");
        n += 1;
    }
    assert!(n >= 8);
}

#[test]
fn the_demo_config_is_valid() {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/demo.toml");
    let (ok, out) = check(&demo);
    assert!(ok, "{out}");
    // Routes come and go with the tour; the built-in WAF pack is always compiled in.
    assert!(out.contains("ok (1 listeners, 1 upstreams, ") && out.contains("WAF "), "{out}");
}

#[test]
fn a_route_auth_policy_with_jwt_and_step_up_is_valid() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("jwks.json"), r#"{"keys": []}"#).unwrap();
    let file = dir.path().join("auth.toml");
    std::fs::write(
        &file,
        r#"
[[listeners]]
name = "web"
address = "127.0.0.1:8080"
[jwt]
jwks_file = "jwks.json"
issuer = "https://idp.test"
audience = ["shop"]
[[upstreams]]
name = "shop"
targets = ["127.0.0.1:3000"]
[[routes]]
name = "payouts"
upstream = "shop"
auth = { methods = ["jwt"], step_up = { acr_values = ["mfa"], amr = ["otp", "hwk"] } }
"#,
    )
    .unwrap();
    let (ok, out) = check(&file);
    assert!(ok, "{out}");
}
