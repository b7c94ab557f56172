//! The built-in rule pack (`rules/*.conf`, compiled into the binary): Portcullis's own detectors wired into
//! anomaly scoring, so a gateway is protected before anyone downloads CRS. `rules/README.md` explains the levels
//! and scores.

use std::fmt::Write as _;

use portcullis_config::WafSection;

/// The pack's files, in load order.
pub const FILES: &[(&str, &str)] = &[
    ("builtin/00-setup.conf", include_str!("../rules/00-setup.conf")),
    ("builtin/10-protocol.conf", include_str!("../rules/10-protocol.conf")),
    ("builtin/15-parameters.conf", include_str!("../rules/15-parameters.conf")),
    ("builtin/20-injection.conf", include_str!("../rules/20-injection.conf")),
    ("builtin/25-embedded.conf", include_str!("../rules/25-embedded.conf")),
    ("builtin/90-blocking.conf", include_str!("../rules/90-blocking.conf")),
];

/// Blocking threshold of the anomaly score per sensitivity level: one detector match (5) blocks at every level;
/// at `high` two suspicious protocol findings do too.
fn threshold(level: u8) -> u32 {
    if level >= 3 {
        3
    } else {
        5
    }
}

/// The pack as SecLang text, preceded by rule 190001 carrying the configured level, threshold and methods.
pub fn text(waf: &WafSection) -> String {
    let level = waf.sensitivity.level();
    // Validation guarantees upper-case ASCII names, so they need no escaping inside the regex or the quotes.
    let methods = waf.allowed_methods.join("|");
    let mut out = String::new();
    let _ = writeln!(
        out,
        "SecAction \"id:190001,phase:1,pass,nolog,t:none,setvar:tx.pc_level={level},setvar:tx.pc_threshold={},\
         setvar:'tx.pc_methods_rx=^(?:{methods})$'\"",
        threshold(level)
    );
    // The method allow-list is known at load time: the macro becomes the literal pattern, so the regex is
    // compiled once with the rule set instead of once per request (a macro pattern is expanded and compiled
    // on every evaluation).
    let methods_rx = format!("^(?:{methods})$");
    for (_, body) in FILES {
        out.push_str(&body.replace(METHODS_MACRO, &methods_rx));
        out.push('\n');
    }
    out
}

/// The macro the method rule (190210) is written with in `rules/10-protocol.conf`; [`text`] replaces it.
const METHODS_MACRO: &str = "%{tx.pc_methods_rx}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_method_pattern_is_literal() {
        let waf = WafSection { allowed_methods: vec!["GET".into(), "POST".into()], ..WafSection::default() };
        let t = text(&waf);
        assert!(!t.contains(METHODS_MACRO));
        assert!(t.contains(r#"SecRule REQUEST_METHOD "!@rx ^(?:GET|POST)$""#), "{t}");
    }
}
