//! The WAF protection: runs the SecLang engine (`portcullis-waf`) with the built-in rule pack ([`builtin`])
//! and/or OWASP CRS in the gateway's phases.
//!
//! | gateway phase              | engine                                                           |
//! |----------------------------|------------------------------------------------------------------|
//! | `request_headers_filter`   | request line + headers, phase 1                                  |
//! | `request_body_filter`      | body buffered up to `SecRequestBodyLimit`, phase 2               |
//! | `upstream_selected_filter` | phase 2 for requests without a body (before anything goes out)   |
//! | `response_headers_filter`  | status + headers, phase 3                                        |
//! | `response_body_filter`     | phase 4, when `SecResponseBodyAccess On` and the type is inspected: the body is held back up to `SecResponseBodyLimit` |
//! | `logging`                  | phase 5, security events, the ModSecurity-style match log        |
//!
//! Built once per config load ([`WafProtection::build`]): the rule set is compiled once and shared by every
//! request. The engine's time in each phase is counted ([`PhaseTimes`]; the gateway exports it as
//! `portcullis_waf_phase_seconds_total{phase}`). Owns: feeding transactions, turning interventions into verdicts,
//! the match log, the phase times. Must not touch:
//! the rule language (that is `portcullis-waf`), sockets, HTTP framing.

mod build;
pub mod builtin;
mod header_name;
mod matchlog;
mod phase_times;
mod protection;

pub use build::{build_engine, check, rule_files, waf_used, WafError, BASE, BASE_BODY_ERROR};
pub use matchlog::MatchLog;
pub use phase_times::PhaseTimes;
pub use protection::{WafProtection, SECURITY_TARGET};
