//! The ModSecurity-style match log: one line per logged rule match, appended and flushed per request (the
//! CRS regression runner reads it between its marker requests, so lines must be written before the response
//! completes).

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::WafError;

/// An append-only log file shared by all requests of one config.
#[derive(Debug)]
pub struct MatchLog {
    path: PathBuf,
    file: Mutex<File>,
}

impl MatchLog {
    pub fn open(path: &Path) -> Result<MatchLog, WafError> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|source| WafError::Log { path: path.to_owned(), source })?;
        Ok(MatchLog { path: path.to_owned(), file: Mutex::new(file) })
    }

    /// Appends one request's lines with a single write (lines of concurrent requests never interleave).
    pub fn write_lines(&self, lines: &str) {
        if lines.is_empty() {
            return;
        }
        let mut f = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = f.write_all(lines.as_bytes()).and_then(|()| f.flush()) {
            tracing::warn!(path = %self.path.display(), error = %e, "cannot write the WAF match log");
        }
    }
}
