//! The WAF engine: ModSecurity SecLang (the language of the OWASP Core Rule Set) compiled at load time into
//! flat per-phase rule arrays and evaluated per transaction with shared, cached transformations.
//!
//! Owns: parsing rule files, the rule model, variables/collections, operators, transformations, actions and
//! request/response body processors. Must not touch: sockets, HTTP framing, the gateway's config format — the
//! gateway hands a transaction borrowed request/response data and gets back an intervention.

pub mod body;
pub mod transforms;
