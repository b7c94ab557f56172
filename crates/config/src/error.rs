use std::fmt;

/// One problem in a config, located by key path (`routes[2].upstream`) and, for syntax errors, line/column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Key path, or the file name for file-level problems.
    pub path: String,
    pub message: String,
    /// 1-based line and column, when the problem is at a known place in the text.
    pub position: Option<(usize, usize)>,
}

impl ConfigError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError { path: path.into(), message: message.into(), position: None }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some((line, col)) if self.path.is_empty() => {
                write!(f, "line {line}, column {col}: {}", self.message)
            }
            Some((line, col)) => write!(f, "{} (line {line}, column {col}): {}", self.path, self.message),
            None => write!(f, "{}: {}", self.path, self.message),
        }
    }
}

/// Every problem found in one config; never empty.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors {
    /// The file these errors are about, if known.
    pub file: Option<String>,
    pub errors: Vec<ConfigError>,
}

impl ConfigErrors {
    pub fn one(e: ConfigError) -> Self {
        ConfigErrors { file: None, errors: vec![e] }
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.errors.len();
        match &self.file {
            Some(file) => writeln!(f, "{file}: {n} error{}", if n == 1 { "" } else { "s" })?,
            None => writeln!(f, "{n} config error{}", if n == 1 { "" } else { "s" })?,
        }
        for e in &self.errors {
            writeln!(f, "  {e}")?;
        }
        Ok(())
    }
}
