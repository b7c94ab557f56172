//! Errors that stop a run (bad suite, bad overrides, unreachable gateway, unreadable log). A single failing test
//! is not an error: it is a [`crate::TestOutcome`] in the [`crate::Report`].

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("test file {}: {message}", path.display())]
    TestFile { path: PathBuf, message: String },
    #[error("overrides file {}: {}", path.display(), problems.join("; "))]
    Overrides { path: PathBuf, problems: Vec<String> },
    #[error("invalid run options: {0}")]
    Options(String),
    #[error("no test matches the filter {0}")]
    NothingSelected(String),
    #[error("WAF log marker not found: {0}")]
    Marker(String),
    #[error("echo server: {0}")]
    Echo(std::io::Error),
}
