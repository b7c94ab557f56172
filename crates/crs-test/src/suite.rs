//! The go-ftw test file format (ftw-tests-schema v2, with the v1 spellings CRS files still use) and its loader.
//!
//! A file holds the tests of one rule; a test is addressed as `<rule_id>-<test_id>` (`942100-1`). Every
//! field go-ftw reads is typed here; unknown fields in `input`/`output` are rejected so that a typo in a
//! hand-written test fails loudly instead of silently testing nothing.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Deserializer};

use crate::error::Error;

/// `<rule_id>-<test_id>`, the id go-ftw prints and matches include/exclude patterns against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TestId {
    pub rule_id: u32,
    pub test_id: u32,
}

impl fmt::Display for TestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.rule_id, self.test_id)
    }
}

impl FromStr for TestId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (rule, test) =
            s.trim().split_once('-').ok_or_else(|| format!("test id `{s}` is not `<rule_id>-<test_id>`"))?;
        let rule_id = rule.parse().map_err(|_| format!("test id `{s}`: rule id `{rule}` is not a number"))?;
        let test_id = test.parse().map_err(|_| format!("test id `{s}`: test id `{test}` is not a number"))?;
        Ok(TestId { rule_id, test_id })
    }
}

/// Which tests of the suite to run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum TestFilter {
    #[default]
    All,
    /// Every test of one rule (`942100`).
    Rule(u32),
    /// One test (`942100-1`).
    Test(TestId),
}

impl TestFilter {
    pub fn matches(&self, id: TestId) -> bool {
        match self {
            TestFilter::All => true,
            TestFilter::Rule(rule) => id.rule_id == *rule,
            TestFilter::Test(test) => id == *test,
        }
    }
}

impl FromStr for TestFilter {
    type Err = String;
    /// `942100` selects a rule, `942100-1` a single test.
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.contains('-') {
            return s.parse().map(TestFilter::Test);
        }
        s.parse()
            .map(TestFilter::Rule)
            .map_err(|_| format!("`{s}` is neither a rule id (942100) nor a test id (942100-1)"))
    }
}

/// One YAML file: the tests of one rule.
#[derive(Debug, Clone)]
pub struct TestFile {
    pub path: PathBuf,
    pub rule_id: u32,
    pub meta: Meta,
    pub tests: Vec<TestCase>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Meta {
    pub author: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
    pub version: Option<String>,
    pub tags: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct TestCase {
    pub id: TestId,
    pub description: Option<String>,
    pub tags: Vec<String>,
    pub stages: Vec<Stage>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    #[serde(default)]
    pub description: Option<String>,
    pub input: Input,
    #[serde(default)]
    pub output: Output,
}

/// The request of a stage. `dest_addr`, `port` and `protocol` are parsed but the runner always targets the
/// configured gateway address.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Input {
    pub dest_addr: Option<String>,
    pub port: Option<u16>,
    pub protocol: Option<String>,
    pub method: Option<String>,
    pub uri: Option<String>,
    pub version: Option<String>,
    #[serde(deserialize_with = "headers_de")]
    pub headers: Vec<(String, String)>,
    pub data: Option<Data>,
    pub encoded_data: Option<String>,
    pub encoded_request: Option<String>,
    /// Deprecated v1 spelling of `encoded_request`.
    pub raw_request: Option<String>,
    pub autocomplete_headers: Option<bool>,
    /// Deprecated inverse of `autocomplete_headers`.
    pub stop_magic: Option<bool>,
    pub save_cookie: Option<bool>,
    pub follow_redirect: Option<bool>,
    pub uris: Option<Vec<String>>,
    pub virtual_host_mode: Option<bool>,
    pub response: Option<serde_yaml::Value>,
}

impl Input {
    pub fn method(&self) -> &str {
        self.method.as_deref().unwrap_or("GET")
    }
    pub fn uri(&self) -> &str {
        self.uri.as_deref().unwrap_or("/")
    }
    pub fn version(&self) -> &str {
        self.version.as_deref().unwrap_or("HTTP/1.1")
    }
    /// go-ftw's rule: `autocomplete_headers` wins, else the inverse of `stop_magic`, else true.
    pub fn autocomplete_headers(&self) -> bool {
        match (self.autocomplete_headers, self.stop_magic) {
            (Some(v), _) => v,
            (None, Some(stop)) => !stop,
            (None, None) => true,
        }
    }
}

/// `data:` as one string, or (v1) a list of lines joined with CRLF.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Data {
    Text(String),
    Lines(Vec<String>),
}

impl Data {
    pub fn text(&self) -> String {
        match self {
            Data::Text(s) => s.clone(),
            Data::Lines(lines) => lines.join("\r\n"),
        }
    }
}

/// What a stage expects. `log_contains`/`no_log_contains` are folded into the regexes at load time, as go-ftw does.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Output {
    pub status: Option<StatusExpect>,
    pub response_contains: Option<String>,
    pub log_contains: Option<String>,
    pub no_log_contains: Option<String>,
    pub log: LogExpect,
    pub expect_error: Option<bool>,
    pub retry_once: Option<bool>,
    pub isolated: Option<bool>,
}

impl Output {
    fn fold_legacy(&mut self) {
        if let Some(s) = self.log_contains.take() {
            if self.log.expect_ids.is_empty() && self.log.match_regex.is_none() {
                self.log.match_regex = Some(s);
            }
        }
        if let Some(s) = self.no_log_contains.take() {
            if self.log.no_expect_ids.is_empty() && self.log.no_match_regex.is_none() {
                self.log.no_match_regex = Some(s);
            }
        }
        if let Some(id) = self.log.expect_id.take() {
            if !self.log.expect_ids.contains(&id) {
                self.log.expect_ids.push(id);
            }
        }
        if let Some(id) = self.log.no_expect_id.take() {
            if !self.log.no_expect_ids.contains(&id) {
                self.log.no_expect_ids.push(id);
            }
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogExpect {
    pub expect_ids: Vec<u32>,
    pub no_expect_ids: Vec<u32>,
    pub match_regex: Option<String>,
    pub no_match_regex: Option<String>,
    /// v1 single-id spellings.
    pub expect_id: Option<u32>,
    pub no_expect_id: Option<u32>,
}

/// `status: 200` (v2) or `status: [200, 403]` (v1: any of them).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum StatusExpect {
    One(u16),
    AnyOf(Vec<u16>),
}

impl StatusExpect {
    pub fn accepts(&self, status: u16) -> bool {
        match self {
            StatusExpect::One(s) => *s == status,
            StatusExpect::AnyOf(list) => list.is_empty() || list.contains(&status),
        }
    }
}

impl fmt::Display for StatusExpect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StatusExpect::One(s) => write!(f, "{s}"),
            StatusExpect::AnyOf(list) => {
                let list: Vec<String> = list.iter().map(u16::to_string).collect();
                write!(f, "one of [{}]", list.join(", "))
            }
        }
    }
}

/// Header maps keep file order here; the request builder sorts them the way go-ftw does. Values may be YAML
/// numbers or booleans (`Content-Length: 0`), which go-ftw reads as their text.
fn headers_de<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(String, String)>, D::Error> {
    let map: Option<serde_yaml::Mapping> = Option::deserialize(d)?;
    let mut out = Vec::new();
    for (k, v) in map.into_iter().flatten() {
        let key = scalar_text(&k).ok_or_else(|| serde::de::Error::custom("header name must be a scalar"))?;
        let value = scalar_text(&v)
            .ok_or_else(|| serde::de::Error::custom(format!("header `{key}` must have a scalar value")))?;
        out.push((key, value));
    }
    Ok(out)
}

fn scalar_text(v: &serde_yaml::Value) -> Option<String> {
    match v {
        serde_yaml::Value::String(s) => Some(s.clone()),
        serde_yaml::Value::Number(n) => Some(n.to_string()),
        serde_yaml::Value::Bool(b) => Some(b.to_string()),
        serde_yaml::Value::Null => Some(String::new()),
        _ => None,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    meta: Option<Meta>,
    /// One CRS file (932271) puts `author` at the top level.
    #[serde(default)]
    author: Option<String>,
    #[serde(default)]
    rule_id: Option<u32>,
    #[serde(default)]
    tests: Vec<RawTest>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTest {
    #[serde(default)]
    test_id: Option<u32>,
    #[serde(default)]
    test_title: Option<String>,
    #[serde(default)]
    desc: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    /// Kept raw so that v1's `stage:` wrapper can be peeled off before strict parsing (an untagged enum would
    /// hide the real error, such as the name of an unknown field).
    #[serde(default)]
    stages: Vec<serde_yaml::Value>,
}

fn parse_stage(value: serde_yaml::Value) -> Result<Stage, String> {
    let value = match value {
        serde_yaml::Value::Mapping(mut m) if m.len() == 1 && m.contains_key("stage") => {
            m.remove("stage").unwrap_or_default()
        }
        other => other,
    };
    serde_yaml::from_value(value).map_err(|e| e.to_string())
}

/// Parses one test file. An empty (all-comment) file yields no tests. Errors name the file.
pub fn load_file(path: &Path) -> Result<TestFile, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io { path: path.to_owned(), source })?;
    parse_file(path, &text)
}

/// Parses test-file text; `path` is used for error messages and the rule-id fallback.
pub fn parse_file(path: &Path, text: &str) -> Result<TestFile, Error> {
    let bad = |message: String| Error::TestFile { path: path.to_owned(), message };
    let is_blank = text.lines().all(|l| {
        let l = l.trim();
        l.is_empty() || l.starts_with('#') || l == "---"
    });
    let raw: RawFile = if is_blank {
        RawFile { meta: None, author: None, rule_id: None, tests: Vec::new() }
    } else {
        serde_yaml::from_str(text).map_err(|e| bad(e.to_string()))?
    };
    let mut meta = raw.meta.unwrap_or_default();
    if meta.author.is_none() {
        meta.author = raw.author;
    }
    // go-ftw falls back on the first number in the file name when `rule_id` is missing.
    let rule_id = match raw.rule_id {
        Some(id) if id > 0 => id,
        _ if raw.tests.is_empty() => 0,
        _ => {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let digits: String =
                name.chars().skip_while(|c| !c.is_ascii_digit()).take_while(char::is_ascii_digit).collect();
            digits.parse().map_err(|_| bad("no `rule_id` and no rule id in the file name".into()))?
        }
    };
    let mut tests = Vec::with_capacity(raw.tests.len());
    let mut seen = BTreeMap::new();
    for (index, t) in raw.tests.into_iter().enumerate() {
        let test_id = match t.test_id {
            Some(id) if id > 0 => id,
            _ => index as u32 + 1,
        };
        let id = TestId { rule_id, test_id };
        if let Some(previous) = seen.insert(id, index) {
            return Err(bad(format!("test {id} is defined twice (entries {} and {})", previous + 1, index + 1)));
        }
        if t.stages.is_empty() {
            return Err(bad(format!("test {id} has no stages")));
        }
        let mut stages = Vec::with_capacity(t.stages.len());
        for (n, s) in t.stages.into_iter().enumerate() {
            let mut stage = parse_stage(s).map_err(|m| bad(format!("test {id} stage {}: {m}", n + 1)))?;
            stage.output.fold_legacy();
            validate_stage(&stage).map_err(|m| bad(format!("test {id} stage {}: {m}", n + 1)))?;
            stages.push(stage);
        }
        tests.push(TestCase { id, description: t.desc.or(t.test_title), tags: t.tags, stages });
    }
    Ok(TestFile { path: path.to_owned(), rule_id, meta, tests })
}

fn validate_stage(stage: &Stage) -> Result<(), String> {
    let input = &stage.input;
    let has_data = input.data.is_some() || input.encoded_data.is_some();
    if has_data && (input.encoded_request.is_some() || input.raw_request.is_some()) {
        return Err("`data` and `encoded_request` must not be set together".into());
    }
    if stage.output.isolated == Some(true) && stage.output.log.expect_ids.len() != 1 {
        return Err("`isolated` needs exactly one id in `expect_ids`".into());
    }
    for re in [&stage.output.log.match_regex, &stage.output.log.no_match_regex].into_iter().flatten() {
        regex::bytes::Regex::new(re).map_err(|e| format!("bad log regex `{re}`: {e}"))?;
    }
    Ok(())
}

/// Every `*.yaml`/`*.yml` under `dir`, recursively, sorted by path so runs are reproducible.
pub fn find_test_files(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(d) = pending.pop() {
        let entries = std::fs::read_dir(&d).map_err(|source| Error::Io { path: d.clone(), source })?;
        for entry in entries {
            let entry = entry.map_err(|source| Error::Io { path: d.clone(), source })?;
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Loads every test file under `dir`. All files are parsed; the first error (which names its file) is returned.
pub fn load_dir(dir: &Path) -> Result<Vec<TestFile>, Error> {
    find_test_files(dir)?.iter().map(|p| load_file(p)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_ids_and_filters_parse() {
        let id: TestId = "942100-1".parse().unwrap();
        assert_eq!(id, TestId { rule_id: 942100, test_id: 1 });
        assert_eq!(id.to_string(), "942100-1");
        assert_eq!("942100".parse::<TestFilter>().unwrap(), TestFilter::Rule(942100));
        assert_eq!("942100-3".parse::<TestFilter>().unwrap(), TestFilter::Test(TestId { rule_id: 942100, test_id: 3 }));
        assert!("x-1".parse::<TestFilter>().is_err());
        assert!("abc".parse::<TestFilter>().is_err());
    }

    #[test]
    fn parses_v1_and_v2_spellings() {
        let yaml = r#"
meta: {author: me}
rule_id: 123
tests:
  - test_title: legacy
    stages:
      - stage:
          input:
            stop_magic: true
            data: ["a=1", "b=2"]
            headers: {Content-Length: 7, X-Flag: true}
          output:
            status: [200, 403]
            log_contains: 'id "123"'
            log: {expect_id: 5}
  - test_id: 7
    stages:
      - input: {}
        output:
          status: 404
          log: {no_expect_ids: [1, 2]}
"#;
        let f = parse_file(Path::new("x.yaml"), yaml).unwrap();
        assert_eq!(f.tests[0].id.to_string(), "123-1");
        assert_eq!(f.tests[1].id.to_string(), "123-7");
        let s = &f.tests[0].stages[0];
        assert!(!s.input.autocomplete_headers());
        assert_eq!(s.input.data.as_ref().unwrap().text(), "a=1\r\nb=2");
        assert_eq!(s.input.headers[0], ("Content-Length".into(), "7".into()));
        assert_eq!(s.input.headers[1], ("X-Flag".into(), "true".into()));
        assert!(s.output.status.as_ref().unwrap().accepts(403));
        assert_eq!(s.output.log.match_regex.as_deref(), Some(r#"id "123""#));
        assert_eq!(s.output.log.expect_ids, vec![5]);
        assert_eq!(f.tests[1].stages[0].output.status, Some(StatusExpect::One(404)));
    }

    #[test]
    fn errors_name_the_file_and_reject_unknown_fields() {
        let yaml = "rule_id: 1\ntests:\n  - test_id: 1\n    stages:\n      - input: {methd: GET}\n";
        let err = parse_file(Path::new("dir/bad.yaml"), yaml).unwrap_err().to_string();
        assert!(err.contains("dir/bad.yaml"), "{err}");
        assert!(err.contains("methd"), "{err}");
    }

    #[test]
    fn comment_only_file_has_no_tests() {
        let f = parse_file(Path::new("920539.yaml"), "# nothing\n# ---\n").unwrap();
        assert!(f.tests.is_empty());
    }

    #[test]
    fn rule_id_falls_back_on_file_name() {
        let f = parse_file(Path::new("911100.yaml"), "tests:\n  - stages:\n      - input: {}\n").unwrap();
        assert_eq!(f.tests[0].id.to_string(), "911100-1");
    }
}
