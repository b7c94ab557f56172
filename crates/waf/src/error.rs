//! Load-time errors. Every error names the file and line of the directive and, where known, the rule id.
//! Request-time code never fails: it has no error type.

use std::fmt;
use std::path::PathBuf;

/// Where a directive came from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Location {
    pub file: PathBuf,
    pub line: u32,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// A rule set failed to load; nothing from it is used.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{loc}: cannot read {path}: {source}")]
    Io { loc: Location, path: PathBuf, source: std::io::Error },
    #[error("{loc}: include loop: {path} is already being loaded")]
    IncludeLoop { loc: Location, path: PathBuf },
    #[error("{loc}: bad include pattern {pattern:?}: {reason}")]
    BadGlob { loc: Location, pattern: String, reason: String },
    #[error("{loc}{}: {msg}", rule_suffix(.rule_id))]
    Syntax { loc: Location, rule_id: Option<u32>, msg: String },
}

fn rule_suffix(id: &Option<u32>) -> String {
    match id {
        Some(id) => format!(" (rule {id})"),
        None => String::new(),
    }
}

impl LoadError {
    pub(crate) fn syntax(loc: &Location, rule_id: Option<u32>, msg: impl Into<String>) -> Self {
        LoadError::Syntax { loc: loc.clone(), rule_id, msg: msg.into() }
    }
}

/// Errors while feeding request data into a transaction (only limits; data is never rejected as malformed).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BodyError {
    #[error("request body exceeds SecRequestBodyLimit ({limit} bytes)")]
    RequestBodyTooLarge { limit: usize },
    #[error("request body without files exceeds SecRequestBodyNoFilesLimit ({limit} bytes)")]
    RequestBodyNoFilesTooLarge { limit: usize },
    #[error("response body exceeds SecResponseBodyLimit ({limit} bytes)")]
    ResponseBodyTooLarge { limit: usize },
}
