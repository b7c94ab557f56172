//! Portcullis configuration: one TOML file, validated as a whole.
//!
//! The file is read into raw structs (`#[serde(deny_unknown_fields)]`, so a typo is an error, not a silent
//! default), then [`validate`] checks everything that crosses keys (routes name existing upstreams, listener
//! addresses are unique, TLS files load) and returns **every** problem at once, each naming its key path:
//!
//! ```text
//! routes[2].upstream: no upstream named "billing"
//! ```
//!
//! Owns: the file format, defaults, validation. Must not touch: sockets, TLS handshakes, request handling —
//! the proxy builds its runtime state from a validated [`Config`].

mod admin;
mod error;
mod file;
mod ipguard;
mod jwt;
mod keys;
mod mtls;
mod traffic;
mod units;
mod validate;

pub use admin::{AdminAuthSection, AdminTlsSection};
pub use error::{ConfigError, ConfigErrors};
pub use file::*;
pub use ipguard::{parse_net, BodyRate, ClientIpHeader, DenyAction, IpSection};
pub use jwt::*;
pub use keys::{AuthMethodName, AuthRequire, KeysSection, RouteAuthSection};
pub use mtls::{read_crls, ClientAuthSection};
pub use traffic::*;
pub use units::{ByteSize, Dur};
pub use validate::validate;

use std::path::{Path, PathBuf};

/// A validated configuration, with the directory relative paths in it are resolved against.
#[derive(Debug, Clone)]
pub struct Config {
    pub file: ConfigFile,
    /// Where the file was read from (for reload and error messages).
    pub source: Option<PathBuf>,
    /// Directory that relative paths (certificates, rule files) are resolved against.
    pub base_dir: PathBuf,
}

impl Config {
    /// Reads, parses and validates the config file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigErrors::one(ConfigError::new(path.display().to_string(), format!("cannot read file: {e}")))
        })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Self::from_str_at(&text, Some(path.to_path_buf()), base)
    }

    /// Parses and validates config text; `source` names it in errors and `base_dir` anchors relative paths.
    pub fn from_str_at(text: &str, source: Option<PathBuf>, base_dir: PathBuf) -> Result<Config, ConfigErrors> {
        let file = file::parse(text, source.as_deref())?;
        let config = Config { file, source, base_dir };
        validate(&config)?;
        Ok(config)
    }

    /// Resolves a path from the config against its directory.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base_dir.join(p)
        }
    }
}
