//! Native attack detectors, written by us: each one analyses its input the way the target interpreter would
//! (a SQL tokenizer, an HTML/JS tokenizer, a shell word splitter, a path normaliser, a URL/IP parser...), not a
//! list of regexes, and answers with a [`Finding`] that says what matched and where.
//!
//! Detectors take the value as the application will see it (already URL-decoded once by the WAF's variable
//! extraction); [`decode`] holds the extra decoders attackers use to hide payloads (double URL encoding, HTML
//! entities, JS/Unicode escapes, base64, JSON escapes), bounded in work and output size.
//!
//! The WAF engine exposes them as SecLang operators (`@detectSQLi`, `@detectXSS`, `@detectCmdi`,
//! `@detectPathTraversal`, `@detectSSRF`, `@detectSSTI`, `@detectJndi`, `@detectNoSQLi`, `@detectXXE`,
//! `@detectProtoPollution`), and the built-in rule pack wires them into anomaly scoring.
//!
//! Own-form entry points: the detectors with their own decoding layers (deep decoding, base64) also have a hidden
//! `detect_own_form`, the same analysis without those layers. It gives `detect`'s answer on a value that is its
//! own only form: its deep decoding ([`decode::deep`]) is itself and it is not base64 of text
//! ([`decode::base64_payload`]), which a [`prefilter::Classes::mask`] short of every class proves. `@detectAny`,
//! the built-in pack's gate, asks it of most values; `tests/prefilter_necessary.rs` compares the two on every
//! value it reads.
//!
//! Owns: detection on byte strings. Must not touch: HTTP, config, the WAF's transaction state. Every detector
//! runs in time linear in its input (bounded backtracking, no unbounded recursion) and never panics.

pub mod cmdi;
pub mod decode;
pub mod jndi;
pub mod nosql;
pub mod prefilter;
pub mod proto;
pub mod sqli;
pub mod ssrf;
pub mod ssti;
#[cfg(test)]
mod test_util;
pub mod traversal;
pub mod xss;
pub mod xxe;

/// The attack class a detector looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    Sqli,
    Xss,
    Cmdi,
    PathTraversal,
    Ssrf,
    Ssti,
    Jndi,
    NoSqli,
    Xxe,
    ProtoPollution,
}

impl Class {
    /// Every class, in declaration order (bit `k` of [`prefilter::Classes::mask`] is `ALL[k]`).
    pub const ALL: [Class; 10] = [
        Class::Sqli,
        Class::Xss,
        Class::Cmdi,
        Class::PathTraversal,
        Class::Ssrf,
        Class::Ssti,
        Class::Jndi,
        Class::NoSqli,
        Class::Xxe,
        Class::ProtoPollution,
    ];

    /// Stable lowercase name, used in rule tags, logs and the evaluation report.
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Sqli => "sqli",
            Class::Xss => "xss",
            Class::Cmdi => "cmdi",
            Class::PathTraversal => "path_traversal",
            Class::Ssrf => "ssrf",
            Class::Ssti => "ssti",
            Class::Jndi => "jndi",
            Class::NoSqli => "nosqli",
            Class::Xxe => "xxe",
            Class::ProtoPollution => "proto_pollution",
        }
    }
}

/// A detection: which class, a short reason a human can act on, and where in the input it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub class: Class,
    /// Why, in a few words: `"UNION SELECT after a closed string"`, `"event handler onerror= in a tag"`.
    pub reason: String,
    /// Byte range in the analysed input of the part that decided it.
    pub span: std::ops::Range<usize>,
    /// A short machine-readable signature of what was seen (for SQLi a token fingerprint like `s&sos`);
    /// the WAF captures it as `TX:0`. May be empty.
    pub signature: String,
}
