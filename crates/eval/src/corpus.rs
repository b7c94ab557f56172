//! The corpus format: JSON lines, one request per line (`tests/corpus/README.md` documents the fields).
//!
//! Every `*.jsonl` file of a directory is read, in name order; ids must be unique across files. Nothing here
//! touches the network.

use std::collections::HashSet;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::Error;

/// Whether a request is an attack (should be refused) or benign (should pass).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Label {
    Attack,
    Benign,
}

/// One labeled request.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub id: String,
    pub label: Label,
    /// Attack class (`sqli`, `xss`, ...) or, for benign requests, the category (`prose`, `code`, ...).
    pub class: String,
    /// Where the payload sits: `query`, `path`, `json`, `form`, `multipart`, `xml`, `header`, `cookie`, ...
    pub placement: String,
    /// How it is encoded: `plain`, `url`, `double_url`, `base64`, `json_escape`, `mixed_case`, ...
    pub encoding: String,
    pub method: String,
    /// Path and query exactly as sent on the request line (already percent-encoded).
    pub target: String,
    /// Header name/value pairs in order; `Host`, `Content-Length` and `Connection` are added when absent.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// The body as UTF-8 text (empty: none).
    #[serde(default)]
    pub body: String,
    /// What variant this is (free text, shown in miss listings).
    #[serde(default)]
    pub note: String,
}

/// Loads every `*.jsonl` file in `dir` (or `dir` itself when it is a file).
pub fn load_dir(dir: &Path) -> Result<Vec<Entry>, Error> {
    let files = if dir.is_file() {
        vec![dir.to_path_buf()]
    } else {
        let rd = std::fs::read_dir(dir).map_err(|source| Error::Io { path: dir.to_path_buf(), source })?;
        let mut files: Vec<_> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "jsonl") && p.is_file())
            .collect();
        files.sort();
        files
    };
    if files.is_empty() {
        return Err(Error::EmptyCorpus(dir.to_path_buf()));
    }
    let mut out = Vec::new();
    let mut ids = HashSet::new();
    for f in files {
        let text = std::fs::read_to_string(&f).map_err(|source| Error::Io { path: f.clone(), source })?;
        for e in parse(&f, &text)? {
            if !ids.insert(e.id.clone()) {
                return Err(Error::Corpus { path: f.clone(), line: 0, message: format!("duplicate id `{}`", e.id) });
            }
            out.push(e);
        }
    }
    Ok(out)
}

/// Parses JSON-lines text; blank lines and lines starting with `#` or `//` are skipped.
pub fn parse(path: &Path, text: &str) -> Result<Vec<Entry>, Error> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') || t.starts_with("//") {
            continue;
        }
        let err = |message: String| Error::Corpus { path: path.to_path_buf(), line: i + 1, message };
        let e: Entry = serde_json::from_str(t).map_err(|e| err(e.to_string()))?;
        check(&e).map_err(err)?;
        out.push(e);
    }
    Ok(out)
}

/// What the request line and headers need to be sendable as written.
fn check(e: &Entry) -> Result<(), String> {
    if e.id.is_empty() {
        return Err("empty id".into());
    }
    if e.method.is_empty() || !e.method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(format!("{}: method `{}` is not an upper-case token", e.id, e.method));
    }
    if !e.target.starts_with('/') || e.target.bytes().any(|b| b <= b' ' || b >= 0x7f) {
        return Err(format!("{}: target must start with `/` and contain no spaces, controls or non-ASCII", e.id));
    }
    for (n, v) in &e.headers {
        if n.is_empty() || n.bytes().any(|b| b <= b' ' || b == b':' || b >= 0x7f) {
            return Err(format!("{}: bad header name `{n}`", e.id));
        }
        if v.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
            return Err(format!("{}: header `{n}` has a line break or NUL", e.id));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = r#"{"id":"a1","label":"attack","class":"sqli","placement":"query","encoding":"url","method":"GET","target":"/s?q=1%27","headers":[["User-Agent","curl/8"]],"body":""}"#;

    #[test]
    fn parses_lines_and_skips_comments() {
        let text = format!("# comment\n\n{LINE}\n");
        let v = parse(Path::new("x.jsonl"), &text).unwrap();
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].label, Label::Attack);
        assert_eq!(v[0].headers[0], ("User-Agent".to_string(), "curl/8".to_string()));
    }

    #[test]
    fn errors_name_the_line() {
        let text = format!("{LINE}\n{{\"id\": 3}}\n");
        let e = parse(Path::new("x.jsonl"), &text).unwrap_err().to_string();
        assert!(e.starts_with("x.jsonl:2: "), "{e}");
        let bad_target = LINE.replace("/s?q=1%27", "/s?q=1 2");
        let e = parse(Path::new("x.jsonl"), &bad_target).unwrap_err().to_string();
        assert!(e.contains("x.jsonl:1: a1: target"), "{e}");
        let bad_header = LINE.replace("curl/8", "a\\r\\nInjected: 1");
        assert!(parse(Path::new("x.jsonl"), &bad_header).unwrap_err().to_string().contains("line break"));
    }

    #[test]
    fn duplicate_ids_across_files_are_refused() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("a.jsonl"), LINE).unwrap();
        std::fs::write(d.path().join("b.jsonl"), LINE).unwrap();
        assert!(load_dir(d.path()).unwrap_err().to_string().contains("duplicate id `a1`"));
        std::fs::remove_file(d.path().join("b.jsonl")).unwrap();
        assert_eq!(load_dir(d.path()).unwrap().len(), 1);
        let empty = tempfile::tempdir().unwrap();
        assert!(matches!(load_dir(empty.path()), Err(Error::EmptyCorpus(_))));
    }
}
