//! [`Engine`]: a loaded, immutable rule set plus settings, shared by all transactions (`Send + Sync`).

use crate::error::{LoadError, Location};
use crate::persist::Store;
use crate::seclang::{self, loader, RuleSet};
use crate::settings::Settings;
use crate::transaction::{Transaction, TxInfo};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug)]
pub struct Engine {
    pub(crate) rules: RuleSet,
    pub(crate) settings: Settings,
    pub(crate) store: Store,
}

impl Engine {
    /// Loads rule files in order. Each path may be a glob (`rules/*.conf`, sorted); `Include`s inside are
    /// resolved relative to the including file.
    pub fn from_files(paths: &[PathBuf]) -> Result<Engine, LoadError> {
        let mut directives = Vec::new();
        let top = Location { file: PathBuf::from("<from_files>"), line: 0 };
        for p in paths {
            for f in loader::expand_pattern(p, &top)? {
                let mut stack = Vec::new();
                loader::load_file(&f, &mut stack, &top, &mut directives)?;
            }
        }
        Self::build(directives)
    }

    /// Loads rules from text; `name` is used in error messages and as the base for relative `Include`s.
    pub fn from_str(text: &str, name: &str) -> Result<Engine, LoadError> {
        let mut directives = Vec::new();
        let mut stack = Vec::new();
        loader::load_text(text, Path::new(name), &mut stack, &mut directives)?;
        Self::build(directives)
    }

    fn build(directives: Vec<seclang::RawDirective>) -> Result<Engine, LoadError> {
        let (settings, rules) = seclang::compile(directives)?;
        Ok(Engine { rules, settings, store: Store::default() })
    }

    /// Settings the gateway needs (engine mode, body access, limits, inspected response types).
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Number of rules (chain starters) loaded, over all phases.
    pub fn rule_count(&self) -> usize {
        self.rules.rule_count()
    }

    /// Starts a transaction. Takes the `Arc` so the transaction is `'static` and can move across tasks.
    pub fn transaction(self: &Arc<Self>, info: TxInfo) -> Transaction {
        Transaction::new(Arc::clone(self), info)
    }
}
