//! The WAF engine: ModSecurity SecLang (the language of the OWASP Core Rule Set) compiled at load time into
//! flat per-phase rule arrays and evaluated per transaction with shared, cached transformations.
//!
//! Owns: parsing rule files, the rule model, variables/collections, operators, transformations, actions and
//! request/response body processors. Must not touch: sockets, HTTP framing, the gateway's config format — the
//! gateway hands a transaction borrowed request/response data and gets back an intervention.

pub mod actions;
pub mod body;
pub mod engine;
pub mod error;
pub mod fold;
pub mod macros;
pub mod operators;
pub mod persist;
pub mod prefilter;
#[cfg(feature = "rule-profile")]
pub mod profile;
pub mod regex_util;
pub mod rule;
pub mod seclang;
pub mod settings;
pub mod transaction;
pub mod transforms;
pub mod variables;

pub use actions::EngineMode;
pub use engine::Engine;
pub use error::{BodyError, LoadError};
pub use settings::{LimitAction, Settings};
pub use transaction::{EvalStats, Intervention, InterventionAction, LogMeta, RuleMatch, Transaction, TxInfo};
