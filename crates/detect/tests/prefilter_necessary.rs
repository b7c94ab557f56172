//! The prefilters (`portcullis_detect::prefilter`) are necessary conditions: whenever a detector fires on a
//! value, its prefilter must have let that value through, or the WAF would miss the attack. Checked over every
//! fixture line (`tests/data/*.txt`, attacks and look-alikes) and every value of the evaluation corpus
//! (`tests/corpus/*.jsonl` at the repository root: target, path, query and form fields, headers, cookies,
//! JSON keys and strings, XML text and attributes, whole bodies), each as extracted, deep-decoded and
//! base64-decoded — the forms the rule pack hands to the operators — plus random strings.

use portcullis_detect::decode::{base64_payload, deep, url_decode};
use portcullis_detect::prefilter::{class_bit, may_match, Classes, ALL_CLASSES};
use portcullis_detect::{cmdi, jndi, nosql, proto, sqli, ssrf, ssti, traversal, xss, xxe, Class, Finding};
use proptest::prelude::*;

type Detector = fn(&[u8]) -> Option<Finding>;

const DETECTORS: &[(Class, Detector)] = &[
    (Class::Sqli, sqli::detect),
    (Class::Xss, xss::detect),
    (Class::Cmdi, cmdi::detect),
    (Class::PathTraversal, traversal::detect),
    (Class::Ssrf, ssrf::detect),
    (Class::Ssti, ssti::detect),
    (Class::Jndi, jndi::detect),
    (Class::NoSqli, nosql::detect),
    (Class::ProtoPollution, proto::detect),
    (Class::Xxe, xxe::detect),
];

/// The forms of a value the operators see: as extracted, after `t:deepDecode`, after `t:base64IfEncoded`.
fn forms(v: &[u8]) -> Vec<Vec<u8>> {
    let mut out = vec![v.to_vec()];
    let d = deep(v).into_owned();
    out.extend(base64_payload(&d));
    out.extend(base64_payload(v));
    out.push(d);
    out.sort();
    out.dedup();
    out
}

/// Violations: (class, value) where the detector fired and the prefilter said it could not.
fn violations(values: &[Vec<u8>]) -> (Vec<String>, usize) {
    let mut bad = Vec::new();
    let mut fired = 0;
    for v in values {
        for f in forms(v) {
            let mut all = Classes::of(&f);
            for (class, detect) in DETECTORS {
                // the engine's shared answer must be the per-class answer, or it would skip a detector that may fire
                if all.may_match(*class, &f) != may_match(*class, &f) {
                    bad.push(format!(
                        "Classes::may_match differs on {}: {:?}",
                        class.as_str(),
                        String::from_utf8_lossy(&f)
                    ));
                }
                let found = detect(&f);
                if found.is_some() {
                    fired += 1;
                    if !may_match(*class, &f) {
                        bad.push(format!("{}: {:?}", class.as_str(), String::from_utf8_lossy(&f)));
                    }
                }
            }
            bad.extend(shortcut_differences(&f));
            bad.extend(mask_differences(&f));
            bad.extend(own_form_differences(&f));
        }
    }
    (bad, fired)
}

/// `Classes::mask` (what the WAF engine's detector families decide on) must hold exactly the classes
/// `may_match` passes, and a mask short of every class must prove that `t:deepDecode` and
/// `t:base64IfEncoded` leave the value as it is (the engine then skips computing those forms).
fn mask_differences(f: &[u8]) -> Vec<String> {
    let mut bad = Vec::new();
    let mut lazy = Classes::of(f);
    // a few classes asked first, as the rules do, then the rest
    let _ = lazy.may_match(Class::Jndi, f) && lazy.may_match(Class::Sqli, f);
    let mask = lazy.mask(f);
    if mask != Classes::of(f).mask(f) {
        bad.push(format!("mask depends on what was asked before: {:?}", String::from_utf8_lossy(f)));
    }
    for (class, _) in DETECTORS {
        if (mask & class_bit(*class) != 0) != may_match(*class, f) {
            bad.push(format!("mask differs from may_match on {}: {:?}", class.as_str(), String::from_utf8_lossy(f)));
        }
    }
    if mask != ALL_CLASSES && (matches!(deep(f), std::borrow::Cow::Owned(_)) || base64_payload(f).is_some()) {
        bad.push(format!("a mask short of every class on a value decoding changes: {:?}", String::from_utf8_lossy(f)));
    }
    bad.extend(mask_of_differences(f));
    bad
}

/// The class sets `mask_of` is checked with: one class each, CRS's (`@detectSQLi` and `@detectXSS`), and a
/// few mixed ones.
fn wanted_sets() -> Vec<u16> {
    let mut sets: Vec<u16> = DETECTORS.iter().map(|(c, _)| class_bit(*c)).collect();
    sets.push(class_bit(Class::Sqli) | class_bit(Class::Xss));
    sets.push(class_bit(Class::Cmdi) | class_bit(Class::PathTraversal) | class_bit(Class::Ssrf));
    sets.push(ALL_CLASSES & !class_bit(Class::Cmdi));
    sets.push(0);
    sets
}

/// `Classes::mask_of(v, wanted)` (the engine asks only for its rule set's detector classes) must hold exactly
/// the classes `may_match` passes among `wanted`, never leave out a class that passes (asked or not), and,
/// short of every class, prove what `mask` proves.
fn mask_of_differences(f: &[u8]) -> Vec<String> {
    let mut bad = Vec::new();
    let v = String::from_utf8_lossy(f);
    for wanted in wanted_sets() {
        let mask = Classes::of(f).mask_of(f, wanted);
        for (class, _) in DETECTORS {
            let (b, passes) = (class_bit(*class), may_match(*class, f));
            if mask & b == 0 && passes {
                bad.push(format!("mask_of({wanted:#x}) leaves out {} which passes: {v:?}", class.as_str()));
            }
            if wanted & b != 0 && (mask & b != 0) != passes {
                bad.push(format!("mask_of({wanted:#x}) differs from may_match on {}: {v:?}", class.as_str()));
            }
        }
        if mask != ALL_CLASSES && (matches!(deep(f), std::borrow::Cow::Owned(_)) || base64_payload(f).is_some()) {
            bad.push(format!("mask_of({wanted:#x}) short of every class on a value decoding changes: {v:?}"));
        }
    }
    bad
}

/// On a value whose class mask is short of every class (its own only form: `mask_differences` checks that),
/// each detector's `detect_own_form` (what `@detectAny` runs there) must give `detect`'s finding exactly.
fn own_form_differences(f: &[u8]) -> Vec<String> {
    if Classes::of(f).mask(f) == ALL_CLASSES {
        return Vec::new();
    }
    let own: [(&str, Detector, Detector); 8] = [
        ("cmdi", cmdi::detect, cmdi::detect_own_form),
        ("pathTraversal", traversal::detect, traversal::detect_own_form),
        ("ssrf", ssrf::detect, ssrf::detect_own_form),
        ("ssti", ssti::detect, ssti::detect_own_form),
        ("jndi", jndi::detect, jndi::detect_own_form),
        ("noSqli", nosql::detect, nosql::detect_own_form),
        ("protoPollution", proto::detect, proto::detect_own_form),
        ("xxe", xxe::detect, xxe::detect_own_form),
    ];
    own.iter()
        .filter(|(_, full, own)| full(f) != own(f))
        .map(|(name, ..)| format!("{name}: detect_own_form differs on {:?}", String::from_utf8_lossy(f)))
        .collect()
}

/// Detectors with a shortcut for values they provably cannot report (`cmdi`'s plain words) must give the
/// answer of their full analysis on every value.
fn shortcut_differences(f: &[u8]) -> Vec<String> {
    let mut bad = Vec::new();
    let shortcuts: [(&str, Detector, Detector); 5] = [
        ("pathTraversal", traversal::detect, traversal::detect_reference),
        ("xss", xss::detect, xss::detect_exhaustive),
        ("cmdi", cmdi::detect, cmdi::detect_exhaustive),
        ("sqli", sqli::detect, sqli::detect_exhaustive),
        ("nosqli", nosql::detect, nosql::detect_exhaustive),
    ];
    for (name, fast, full) in shortcuts {
        if fast(f) != full(f) {
            bad.push(format!("{name} shortcut changes the answer on {:?}", String::from_utf8_lossy(f)));
        }
    }
    bad
}

fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixture_values() -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let mut out = Vec::new();
    for e in std::fs::read_dir(&dir).expect("fixture dir") {
        let path = e.expect("dir entry").path();
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        out.extend(text.lines().filter(|l| !l.is_empty() && !l.starts_with("# ")).map(|l| l.as_bytes().to_vec()));
    }
    out
}

/// `a=1&b=2` (or `; `-separated cookies) into names and values, each raw, percent-decoded and with `+` as
/// a space.
fn pairs(s: &str, sep: &str, out: &mut Vec<Vec<u8>>) {
    for part in s.split(sep) {
        for piece in part.trim().splitn(2, '=') {
            out.push(piece.as_bytes().to_vec());
            out.push(url_decode(piece.as_bytes()).into_owned());
            out.push(url_decode(piece.replace('+', " ").as_bytes()).into_owned());
        }
    }
}

fn json_strings(v: &serde_json::Value, out: &mut Vec<Vec<u8>>) {
    match v {
        serde_json::Value::String(s) => out.push(s.as_bytes().to_vec()),
        serde_json::Value::Array(a) => a.iter().for_each(|x| json_strings(x, out)),
        serde_json::Value::Object(o) => {
            for (k, x) in o {
                out.push(k.as_bytes().to_vec());
                json_strings(x, out);
            }
        }
        other => out.push(other.to_string().into_bytes()),
    }
}

fn corpus_values(file: &str) -> Vec<Vec<u8>> {
    let path = root().join("tests/corpus").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let case: serde_json::Value = serde_json::from_str(line).expect("corpus line is JSON");
        let target = case["target"].as_str().unwrap_or_default();
        out.push(target.as_bytes().to_vec());
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        out.push(path.as_bytes().to_vec());
        out.push(url_decode(path.as_bytes()).into_owned());
        pairs(query, "&", &mut out);
        for h in case["headers"].as_array().into_iter().flatten() {
            let (name, value) = (h[0].as_str().unwrap_or_default(), h[1].as_str().unwrap_or_default());
            out.push(name.as_bytes().to_vec());
            out.push(value.as_bytes().to_vec());
            if name.eq_ignore_ascii_case("cookie") {
                pairs(value, ";", &mut out);
            }
        }
        let body = case["body"].as_str().unwrap_or_default();
        if body.is_empty() {
            continue;
        }
        out.push(body.as_bytes().to_vec());
        match serde_json::from_str::<serde_json::Value>(body) {
            Ok(doc) => json_strings(&doc, &mut out),
            Err(_) if body.contains('<') => {
                // XML/multipart: text between tags and quoted attribute values, roughly as XML:/* sees them.
                out.extend(body.split(['<', '>', '"', '\n']).map(|p| p.trim().as_bytes().to_vec()));
            }
            Err(_) => pairs(body, "&", &mut out),
        }
        // Multipart parts: the lines of each part (headers, file names, contents).
        out.extend(body.split("\r\n").map(|p| p.as_bytes().to_vec()));
    }
    out.retain(|v| !v.is_empty());
    out.sort();
    out.dedup();
    out
}

fn check(name: &str, values: &[Vec<u8>]) {
    let (bad, fired) = violations(values);
    eprintln!("{name}: {} values, {fired} detector hits, {} prefilter misses", values.len(), bad.len());
    assert!(fired > 0, "{name}: no detector fired at all; the test reads nothing");
    assert!(bad.is_empty(), "{name}: prefilter rejected values its detector flags:\n{}", bad.join("\n"));
}

#[test]
fn fixtures_never_pass_a_detector_the_prefilter_rejected() {
    check("fixtures", &fixture_values());
}

#[test]
fn corpus_attacks_never_pass_a_detector_the_prefilter_rejected() {
    check("attacks.jsonl", &corpus_values("attacks.jsonl"));
}

#[test]
fn corpus_benign_never_pass_a_detector_the_prefilter_rejected() {
    let values = corpus_values("benign.jsonl");
    let (bad, _) = violations(&values);
    assert!(bad.is_empty(), "benign.jsonl:\n{}", bad.join("\n"));
}

proptest! {
    // The shortcuts' edge cases (`)(sh)`, a stray `)` before a subshell) took thousands of cases to find.
    #![proptest_config(ProptestConfig::with_cases(2048))]

    /// Short strings of identifier bytes (what the prefilters skip most) around attack words.
    #[test]
    fn identifier_like_strings(s in "(union|select|or|and|sleep|whoami|id|passwd|localhost|proto|[a-zA-Z0-9_.-]){1,6}") {
        let (bad, _) = violations(&[s.into_bytes()]);
        prop_assert!(bad.is_empty(), "{:?}", bad);
    }

    /// Shell words, paths and parentheses without other syntax: what the command detector's plain-word
    /// shortcut decides alone.
    #[test]
    fn plain_shell_words(s in "(/bin/|/usr/|/\\?\\?\\?/|sh|bash|whoami|id|cat|ls|\\(|\\)|\\( |=| |A=b |/|\\?|\\*|[a-z]){1,10}") {
        let (bad, _) = violations(&[s.into_bytes()]);
        prop_assert!(bad.is_empty(), "{:?}", bad);
    }

    /// Quotes, carets, braces and separators around program names: what the command detector's
    /// no-command-word shortcut decides alone.
    #[test]
    fn quoted_shell_words(s in "(/bin/|/b\\?n/|who|ami|whoami|id|cat|c|at|CMD|\\.exe|'|\"|\\^|\\{|,|\\}|;|\\||&|`|\\(|\\)|#|\n| |x|[a-z]){1,12}") {
        let (bad, _) = violations(&[s.into_bytes()]);
        prop_assert!(bad.is_empty(), "{:?}", bad);
    }

    /// Bare SQL without quotes: calls, keywords glued to numbers, comments, `+` for spaces: what the SQLi
    /// detector's bare-value shortcut decides alone.
    #[test]
    fn bare_sql(s in "(1|\\.5|e5|or|OR|and|union|select|sleep|benchmark|order|by|group|having|case|when|\\(|\\)|\\+| |=|;|@@version|/\\*|\\*/|--|#|x|[a-z0-9]){1,10}") {
        let (bad, _) = violations(&[s.into_bytes()]);
        prop_assert!(bad.is_empty(), "{:?}", bad);
    }

    /// Paths and URLs whose parts are single SQL tokens or not: what the SQLi detector's part skipping decides.
    #[test]
    fn url_parts(s in "(/|/api|/x\\?a=|&b=|1|or|OR|'|--| |=|union|select|\\(|\\)|[a-z0-9.-]){1,10}") {
        let (bad, _) = violations(&[s.into_bytes()]);
        prop_assert!(bad.is_empty(), "{:?}", bad);
    }

    /// JavaScript of a `$where` string around spaces: what the NoSQL detector's shortcut decides.
    #[test]
    fn where_js(s in "(this|\\.|password|username|match|db|getCollection|\\(| |'|;|return true|x){1,10}") {
        let (bad, _) = violations(&[s.into_bytes()]);
        prop_assert!(bad.is_empty(), "{:?}", bad);
    }

    /// Hosts, addresses and numbers with and without URL syntax: what the SSRF prefilter's bare-address
    /// test decides alone (a dotted quad, not a bare name or number).
    #[test]
    fn bare_hosts(s in "(127|0|1|255|\\.|localhost|evil|nip\\.io| |0x7f|2130706433|:|80|\\?|#|/|@|\\[|::1|\\]|[a-z0-9]){1,10}") {
        let (bad, _) = violations(&[s.into_bytes()]);
        prop_assert!(bad.is_empty(), "{:?}", bad);
    }

    /// Markup declarations and XInclude around words: what the XXE prefilter (`<` or `xinclude`) decides.
    #[test]
    fn markup(s in "(<|!|<!|DOCTYPE|ENTITY|xinclude|XInclude|xi:|SYSTEM|\"|>|\\[|\\]| |file:///etc/passwd|[a-z]){1,10}") {
        let (bad, _) = violations(&[s.into_bytes()]);
        prop_assert!(bad.is_empty(), "{:?}", bad);
    }

    /// Paths in any case with `\\` separators, look-alike dots and slashes, wrappers and sensitive names after
    /// boundary bytes: what the path traversal detector's fast normalisation and segment-start scan decide.
    #[test]
    fn paths(s in "(\\.\\.|/|\\\\|etc|passwd|ETC|PassWd|\\.env|\\.ENV|id_rsa|win\\.ini|WEB-INF|php://filter|file:/|:|;|\u{FF0E}|\u{FF0F}|\u{2215}|\u{2024}| |=|\\?|'|\\(|x|[a-zA-Z]){1,12}") {
        let (bad, _) = violations(&[s.into_bytes()]);
        prop_assert!(bad.is_empty(), "{:?}", bad);
    }

    /// Any bytes (escapes, overlong UTF-8 lead bytes, control bytes): what `Classes::mask` proves about
    /// `t:deepDecode` and `t:base64IfEncoded`.
    #[test]
    fn arbitrary_bytes(v in proptest::collection::vec(any::<u8>(), 0..24)) {
        let (bad, _) = violations(&[v]);
        prop_assert!(bad.is_empty(), "{:?}", bad);
    }

    #[test]
    fn arbitrary_printable(s in "[ -~]{1,24}") {
        let (bad, _) = violations(&[s.into_bytes()]);
        prop_assert!(bad.is_empty(), "{:?}", bad);
    }
}
