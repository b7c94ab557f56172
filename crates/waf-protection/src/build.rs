//! From the `[waf]` config section to a compiled engine: a small built-in base, the configured rule files in
//! order, then the gateway's limit overrides (later directives win).

use std::fmt::Write as _;
use std::path::PathBuf;

use portcullis_config::{Config, WafMode};
use portcullis_waf::{Engine, LoadError};

/// Directives loaded before the configured rules, which may override them: what ModSecurity's recommended
/// config provides and CRS expects. Request bodies are inspected (CRS needs them in phase 2), with the XML and
/// JSON body processors chosen from the Content-Type, and an unparsable body refused (400) in blocking mode;
/// response bodies only when a rule file says `SecResponseBodyAccess On`. Rule ids 199000–199099 are the
/// gateway's. The built-in pack, when used, loads between the settings and the body-error rule (so its own
/// verdicts on a body, e.g. an XXE, come before the generic 400).
pub const BASE: &str = r#"SecRequestBodyAccess On
SecRequestBodyLimitAction Reject
SecResponseBodyAccess Off
SecResponseBodyMimeType text/plain text/html text/xml
SecRule REQUEST_HEADERS:Content-Type "^(?:application(?:/soap\+|/)|text/)xml" "id:199000,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=XML"
SecRule REQUEST_HEADERS:Content-Type "^application/json" "id:199001,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON"
SecRule REQUEST_HEADERS:Content-Type "^application/[a-z0-9.-]+[+]json" "id:199002,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON"
"#;

/// The body-error rule of the base config (see [`BASE`]).
pub const BASE_BODY_ERROR: &str = r#"SecRule REQBODY_ERROR "!@eq 0" "id:199003,phase:2,t:none,log,deny,status:400,msg:'Failed to parse request body.',logdata:'%{reqbody_error_msg}',severity:2"
"#;

/// The WAF could not be built; the message names the config key and, for rules, the file and line.
#[derive(Debug, thiserror::Error)]
pub enum WafError {
    #[error("waf.rules: {0}")]
    Rules(#[from] LoadError),
    #[error("waf.log: cannot open {path}: {source}")]
    Log { path: PathBuf, source: std::io::Error },
}

/// Whether any route runs the WAF (`waf.mode` or a route's `waf.mode` other than `off`).
pub fn waf_used(config: &Config) -> bool {
    let f = &config.file;
    f.waf.mode != WafMode::Off
        || f.routes.iter().any(|r| r.waf.as_ref().and_then(|w| w.mode).is_some_and(|m| m != WafMode::Off))
}

/// Compiles the rule set if the config uses the WAF, without opening anything (for `check-config`).
/// Returns the number of rules loaded.
pub fn check(config: &Config) -> Result<Option<usize>, WafError> {
    if !waf_used(config) {
        return Ok(None);
    }
    Ok(Some(build_engine(config)?.rule_count()))
}

/// The rule files the config names (globs expanded), for the reload watcher; empty when the WAF is not used.
/// Files they `Include` and `@pmFromFile` data files are not listed: changing those needs a SIGHUP.
pub fn rule_files(config: &Config) -> Vec<PathBuf> {
    if !waf_used(config) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (_, pattern) in config.file.waf.rule_files() {
        let full = config.resolve(pattern);
        let text = full.to_string_lossy();
        if text.contains(['*', '?', '[']) {
            if let Ok(paths) = glob::glob(&text) {
                out.extend(paths.filter_map(Result::ok));
            }
        } else {
            out.push(full);
        }
    }
    out
}

/// Compiles the configured rule set (base, `waf.rules` in order, limit overrides).
pub fn build_engine(config: &Config) -> Result<Engine, WafError> {
    let waf = &config.file.waf;
    let mut text = String::from(BASE);
    if waf.uses_builtin() {
        text.push_str(&crate::builtin::text(waf));
    }
    text.push_str(BASE_BODY_ERROR);
    for (_, pattern) in waf.rule_files() {
        let full = config.resolve(pattern);
        let _ = writeln!(text, "Include \"{}\"", full.display());
    }
    if let Some(l) = waf.request_body_limit {
        let _ = writeln!(text, "SecRequestBodyLimit {}", l.0);
    }
    if let Some(l) = waf.response_body_limit {
        let _ = writeln!(text, "SecResponseBodyLimit {}", l.0);
    }
    Ok(Engine::from_str(&text, "<portcullis waf config>")?)
}
