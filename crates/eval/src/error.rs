//! The harness's errors: each names the file (and line) or the stage that failed.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}:{line}: {message}")]
    Corpus { path: PathBuf, line: usize, message: String },
    #[error("{0}: no corpus files (*.jsonl) found")]
    EmptyCorpus(PathBuf),
    #[error("{path}: {message}")]
    Floors { path: PathBuf, message: String },
    #[error("config: {0}")]
    Config(String),
    #[error("gateway: {0}")]
    Gateway(String),
    #[error("echo upstream: {0}")]
    Echo(String),
}
