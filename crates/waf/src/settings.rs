//! Engine-wide settings from `Sec*` configuration directives. The gateway reads them (through
//! `Engine::settings`) to decide what to buffer and where to stop.

use crate::actions::EngineMode;

/// What happens when a body exceeds its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitAction {
    /// Reject the transaction (413 for requests, 500 for responses, as ModSecurity does).
    Reject,
    /// Inspect only the part within the limit.
    ProcessPartial,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub rule_engine: EngineMode,
    pub request_body_access: bool,
    pub response_body_access: bool,
    /// Lowercase MIME types whose response bodies are inspected (`SecResponseBodyMimeType`).
    pub response_body_mime_types: Vec<String>,
    pub request_body_limit: usize,
    pub request_body_limit_action: LimitAction,
    pub request_body_no_files_limit: usize,
    pub request_body_in_memory_limit: usize,
    pub response_body_limit: usize,
    pub response_body_limit_action: LimitAction,
    pub arguments_limit: usize,
    pub component_signatures: Vec<String>,
    pub collection_timeout_secs: u64,
    /// Directives accepted for compatibility and stored verbatim (audit/debug log, PCRE limits, paths...).
    pub passthrough: Vec<(String, Vec<String>)>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            rule_engine: EngineMode::Off,
            request_body_access: false,
            response_body_access: false,
            response_body_mime_types: vec!["text/plain".into(), "text/html".into()],
            request_body_limit: 13_107_200,
            request_body_limit_action: LimitAction::Reject,
            request_body_no_files_limit: 1_048_576,
            request_body_in_memory_limit: 131_072,
            response_body_limit: 524_288,
            response_body_limit_action: LimitAction::ProcessPartial,
            arguments_limit: 1000,
            component_signatures: Vec::new(),
            collection_timeout_secs: 3600,
            passthrough: Vec::new(),
        }
    }
}

impl Settings {
    /// Is a response with this `Content-Type` inspected in phase 4?
    pub fn inspects_response_type(&self, content_type: &str) -> bool {
        let mime = content_type.split(';').next().unwrap_or("").trim();
        self.response_body_mime_types.iter().any(|m| m.eq_ignore_ascii_case(mime))
    }
}
