//! Expectation overrides: where our engine knowingly differs from the suite, and why.
//!
//! Our own format (every entry needs a non-empty `reason`; loading reports all problems at once):
//!
//! ```yaml
//! overrides:
//!   "920100-4":
//!     action: skip
//!     reason: "Invalid URI never reaches the WAF: the HTTP parser answers 400 first"
//!   "920270-4":
//!     action: expect
//!     reason: "Rule matches; the test expects Apache's 400"
//!     status: 200            # replaces the expected status (`status: [200, 400]` accepts either)
//!     expect_ids: [920270]   # replaces expect_ids
//!     no_expect_ids: []      # replaces no_expect_ids
//! ```
//!
//! An `expect` entry replaces only the fields it names, in every stage of the test. CRS's own
//! `tests/regression/<engine>-overrides.yaml` (go-ftw `--overrides`, whose `output` replaces a stage's whole
//! expectation) can be read too, with [`Overrides::from_platform_file`].

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::error::Error;
use crate::suite::{Output, StatusExpect, TestId};

/// What to do with one test.
#[derive(Debug, Clone, PartialEq)]
pub enum Override {
    Skip {
        reason: String,
    },
    /// Replace the named expectation fields.
    Expect {
        reason: String,
        patch: ExpectPatch,
    },
    /// Replace the whole expected output of the listed stages (all stages when `stages` is empty); go-ftw's
    /// platform-override semantics.
    ReplaceOutput {
        reason: String,
        stages: Vec<usize>,
        output: Output,
    },
}

impl Override {
    pub fn reason(&self) -> &str {
        match self {
            Override::Skip { reason } | Override::Expect { reason, .. } | Override::ReplaceOutput { reason, .. } => {
                reason
            }
        }
    }

    /// Applies the override to the expected output of stage `index` (0-based).
    pub fn apply(&self, index: usize, output: &mut Output) {
        match self {
            Override::Skip { .. } => {}
            Override::Expect { patch, .. } => {
                if let Some(s) = &patch.status {
                    output.status = Some(s.clone());
                }
                if let Some(ids) = &patch.expect_ids {
                    output.log.expect_ids = ids.clone();
                }
                if let Some(ids) = &patch.no_expect_ids {
                    output.log.no_expect_ids = ids.clone();
                }
                if let Some(r) = &patch.match_regex {
                    output.log.match_regex = Some(r.clone());
                }
                if let Some(r) = &patch.no_match_regex {
                    output.log.no_match_regex = Some(r.clone());
                }
                if let Some(b) = patch.expect_error {
                    output.expect_error = Some(b);
                }
            }
            Override::ReplaceOutput { stages, output: replacement, .. } => {
                if stages.is_empty() || stages.contains(&index) {
                    *output = replacement.clone();
                }
            }
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectPatch {
    #[serde(default)]
    pub status: Option<StatusExpect>,
    #[serde(default)]
    pub expect_ids: Option<Vec<u32>>,
    #[serde(default)]
    pub no_expect_ids: Option<Vec<u32>>,
    #[serde(default)]
    pub match_regex: Option<String>,
    #[serde(default)]
    pub no_match_regex: Option<String>,
    #[serde(default)]
    pub expect_error: Option<bool>,
}

/// All overrides of a run, keyed by test id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overrides {
    entries: BTreeMap<TestId, Override>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileOverrides {
    #[serde(default)]
    #[allow(dead_code)]
    version: Option<String>,
    #[serde(default)]
    overrides: BTreeMap<String, FileEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileEntry {
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    status: Option<StatusExpect>,
    #[serde(default)]
    expect_ids: Option<Vec<u32>>,
    #[serde(default)]
    no_expect_ids: Option<Vec<u32>>,
    #[serde(default)]
    match_regex: Option<String>,
    #[serde(default)]
    no_match_regex: Option<String>,
    #[serde(default)]
    expect_error: Option<bool>,
}

impl FileEntry {
    fn patch(&self) -> ExpectPatch {
        ExpectPatch {
            status: self.status.clone(),
            expect_ids: self.expect_ids.clone(),
            no_expect_ids: self.no_expect_ids.clone(),
            match_regex: self.match_regex.clone(),
            no_match_regex: self.no_match_regex.clone(),
            expect_error: self.expect_error,
        }
    }
}

impl Overrides {
    pub fn get(&self, id: TestId) -> Option<&Override> {
        self.entries.get(&id)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (TestId, &Override)> {
        self.entries.iter().map(|(k, v)| (*k, v))
    }

    /// Adds or replaces the entry of `id`.
    pub fn insert(&mut self, id: TestId, entry: Override) {
        self.entries.insert(id, entry);
    }

    /// Loads an overrides file in either format: CRS's platform format when it has a top-level
    /// `test_overrides` list, ours otherwise. This is what `--overrides FILE` takes.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io { path: path.to_owned(), source })?;
        let is_platform = serde_yaml::from_str::<serde_yaml::Value>(&text)
            .ok()
            .and_then(|v| v.as_mapping().map(|m| m.contains_key("test_overrides")))
            .unwrap_or(false);
        if is_platform {
            Self::parse_platform(path, &text)
        } else {
            Self::parse(path, &text)
        }
    }

    /// Loads our overrides format (see the module docs).
    pub fn from_file(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io { path: path.to_owned(), source })?;
        Self::parse(path, &text)
    }

    /// Parses our overrides format; `path` only names the source in errors.
    pub fn parse(path: &Path, text: &str) -> Result<Self, Error> {
        let fail = |problems: Vec<String>| Error::Overrides { path: path.to_owned(), problems };
        let file: FileOverrides = serde_yaml::from_str(text).map_err(|e| fail(vec![e.to_string()]))?;
        let mut problems = Vec::new();
        let mut entries = BTreeMap::new();
        for (key, entry) in file.overrides {
            let id = match key.parse::<TestId>() {
                Ok(id) => id,
                Err(e) => {
                    problems.push(e);
                    continue;
                }
            };
            let patch = entry.patch();
            let reason = entry.reason.as_deref().map(|r| r.trim().to_owned()).unwrap_or_default();
            if reason.is_empty() {
                problems.push(format!("{id}: `reason` is mandatory"));
            }
            let is_empty_patch = patch == ExpectPatch::default();
            match entry.action.as_deref() {
                Some("skip") if is_empty_patch => {
                    entries.insert(id, Override::Skip { reason });
                }
                Some("skip") => problems.push(format!("{id}: `skip` takes no expectation fields")),
                Some("expect") if is_empty_patch => {
                    problems.push(format!("{id}: `expect` must change at least one expectation"))
                }
                Some("expect") => {
                    for re in patch.match_regex.iter().chain(&patch.no_match_regex) {
                        if let Err(e) = regex::bytes::Regex::new(re) {
                            problems.push(format!("{id}: bad regex `{re}`: {e}"));
                        }
                    }
                    entries.insert(id, Override::Expect { reason, patch });
                }
                Some(other) => problems.push(format!("{id}: unknown action `{other}` (skip | expect)")),
                None => problems.push(format!("{id}: `action` is mandatory (skip | expect)")),
            }
        }
        if problems.is_empty() {
            Ok(Overrides { entries })
        } else {
            Err(fail(problems))
        }
    }

    /// Reads CRS's go-ftw platform overrides (`tests/regression/coraza-overrides.yaml` and friends). Reasons
    /// are kept as written; an entry without `test_ids` covers nothing, as in go-ftw.
    pub fn from_platform_file(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io { path: path.to_owned(), source })?;
        Self::parse_platform(path, &text)
    }

    pub fn parse_platform(path: &Path, text: &str) -> Result<Self, Error> {
        #[derive(Deserialize)]
        struct Platform {
            #[serde(default)]
            test_overrides: Vec<PlatformEntry>,
        }
        #[derive(Deserialize)]
        struct PlatformEntry {
            rule_id: u32,
            #[serde(default)]
            test_ids: Vec<u32>,
            #[serde(default)]
            stage_ids: Vec<usize>,
            #[serde(default)]
            reason: String,
            #[serde(default)]
            output: Output,
        }
        let file: Platform = serde_yaml::from_str(text)
            .map_err(|e| Error::Overrides { path: path.to_owned(), problems: vec![e.to_string()] })?;
        let mut entries = BTreeMap::new();
        for e in file.test_overrides {
            for test_id in e.test_ids {
                let reason = e.reason.trim().to_owned();
                entries.insert(
                    TestId { rule_id: e.rule_id, test_id },
                    Override::ReplaceOutput { reason, stages: e.stage_ids.clone(), output: e.output.clone() },
                );
            }
        }
        Ok(Overrides { entries })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> TestId {
        s.parse().unwrap()
    }

    #[test]
    fn parses_skip_and_expect() {
        let o = Overrides::parse(
            Path::new("o.yaml"),
            r#"
overrides:
  "920100-4": {action: skip, reason: "never reaches the WAF"}
  "920270-4":
    action: expect
    reason: "Apache answers 400"
    status: 200
    expect_ids: [920270]
"#,
        )
        .unwrap();
        assert_eq!(o.len(), 2);
        assert!(matches!(o.get(id("920100-4")), Some(Override::Skip { .. })));
        let mut out = Output { status: Some(StatusExpect::One(400)), ..Output::default() };
        out.log.no_expect_ids = vec![1];
        o.get(id("920270-4")).unwrap().apply(0, &mut out);
        assert_eq!(out.status, Some(StatusExpect::One(200)));
        assert_eq!(out.log.expect_ids, vec![920270]);
        assert_eq!(out.log.no_expect_ids, vec![1], "fields not named are kept");
    }

    #[test]
    fn missing_or_blank_reason_is_rejected_with_all_problems() {
        let err = Overrides::parse(
            Path::new("ours.yaml"),
            r#"
overrides:
  "920100-4": {action: skip}
  "920100-5": {action: skip, reason: "  "}
  "bogus": {action: skip, reason: x}
  "920100-6": {action: explode, reason: x}
"#,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("ours.yaml"), "{err}");
        assert!(err.contains("920100-4: `reason` is mandatory"), "{err}");
        assert!(err.contains("920100-5: `reason` is mandatory"), "{err}");
        assert!(err.contains("bogus"), "{err}");
        assert!(err.contains("unknown action `explode`"), "{err}");
    }

    #[test]
    fn load_detects_the_format() {
        let dir = tempfile::tempdir().unwrap();
        let ours = dir.path().join("ours.yaml");
        std::fs::write(&ours, "overrides:\n  \"1-1\": {action: skip, reason: r}\n").unwrap();
        assert!(matches!(Overrides::load(&ours).unwrap().get(id("1-1")), Some(Override::Skip { .. })));
        let platform = dir.path().join("p.yaml");
        std::fs::write(&platform, "test_overrides:\n  - rule_id: 1\n    test_ids: [2]\n    reason: r\n").unwrap();
        assert!(matches!(Overrides::load(&platform).unwrap().get(id("1-2")), Some(Override::ReplaceOutput { .. })));
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let err =
            Overrides::parse(Path::new("o.yaml"), "overrides:\n  \"1-1\": {action: expect, reason: r, stauts: 1}\n");
        assert!(err.unwrap_err().to_string().contains("stauts"));
    }

    #[test]
    fn reads_crs_platform_overrides() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/crs/tests/regression/coraza-overrides.yaml");
        let o = Overrides::from_platform_file(&path).unwrap();
        let Some(Override::ReplaceOutput { output, reason, .. }) = o.get(id("920100-8")) else { panic!("920100-8") };
        assert_eq!(output.status, Some(StatusExpect::One(200)));
        assert_eq!(output.log.expect_ids, vec![920100]);
        assert!(reason.contains("colon"));
        assert!(o.get(id("934131-7")).is_some());
    }
}
