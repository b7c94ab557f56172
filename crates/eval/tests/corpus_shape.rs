//! The committed corpus (`tests/corpus`) is well formed and covers what issue 4 asks for: every attack class, the
//! placements and encodings, and benign requests that are valid requests (JSON that parses, multipart bodies
//! framed by their declared boundary, XML that starts like XML), so a refusal of one is a real false positive.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use portcullis_eval::corpus::{load_dir, Entry, Label};

fn corpus() -> Vec<Entry> {
    load_dir(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/corpus")).unwrap()
}

fn header<'a>(e: &'a Entry, name: &str) -> Option<&'a str> {
    e.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

#[test]
fn every_class_in_its_placements_and_encodings() {
    let c = corpus();
    let mut placements: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut encodings: BTreeSet<&str> = BTreeSet::new();
    for e in c.iter().filter(|e| e.label == Label::Attack) {
        placements.entry(e.class.as_str()).or_default().insert(e.placement.as_str());
        encodings.insert(e.encoding.as_str());
    }
    let classes = ["sqli", "xss", "cmdi", "traversal", "ssrf", "ssti", "log4shell", "nosql", "xxe", "proto"];
    assert_eq!(placements.keys().copied().collect::<BTreeSet<_>>(), classes.into_iter().collect());
    let everywhere = ["query", "json", "json_nested", "form", "multipart", "xml", "header", "cookie"];
    for class in ["sqli", "xss", "cmdi", "traversal", "ssti", "log4shell"] {
        for p in everywhere {
            assert!(placements[class].contains(p), "{class} has no {p} placement");
        }
    }
    assert!(placements["traversal"].contains("path") && placements["traversal"].contains("multipart_filename"));
    assert!(placements["log4shell"].contains("user_agent") && placements["xss"].contains("referer"));
    for enc in ["plain", "url", "double_url", "base64", "json_escape", "mixed_case", "html_entities", "js_unicode"] {
        assert!(encodings.contains(enc), "no attack uses the {enc} encoding");
    }
}

#[test]
fn bodies_are_well_formed_requests() {
    for e in corpus() {
        let ct = header(&e, "content-type").unwrap_or("");
        match e.placement.as_str() {
            "json" | "json_nested" if e.body.starts_with(['{', '[']) => {
                assert!(ct.starts_with("application/json"), "{}: JSON body without a JSON content type", e.id);
                serde_json::from_str::<serde_json::Value>(&e.body)
                    .unwrap_or_else(|err| panic!("{}: body is not JSON: {err}", e.id));
            }
            "form" => {
                assert_eq!(ct, "application/x-www-form-urlencoded", "{}", e.id);
                assert!(!e.body.contains(' ') && !e.body.is_empty(), "{}: form body must be urlencoded", e.id);
            }
            "multipart" | "multipart_filename" => {
                let boundary = ct
                    .strip_prefix("multipart/form-data; boundary=")
                    .unwrap_or_else(|| panic!("{}: multipart without a boundary: {ct}", e.id));
                assert!(e.body.starts_with(&format!("--{boundary}\r\n")), "{}: body does not open the boundary", e.id);
                assert!(e.body.ends_with(&format!("--{boundary}--\r\n")), "{}: body does not close it", e.id);
            }
            "xml" if e.body.contains('<') => {
                assert!(ct.contains("xml"), "{}: XML body with content type {ct}", e.id);
                assert!(e.body.trim_start().starts_with('<'), "{}", e.id);
            }
            _ => {}
        }
        if matches!(e.method.as_str(), "GET" | "DELETE") {
            assert!(e.body.is_empty(), "{}: {} with a body", e.id, e.method);
        }
    }
}

#[test]
fn benign_traffic_covers_the_categories_that_trip_wafs() {
    let c = corpus();
    let mut cats: BTreeMap<&str, usize> = BTreeMap::new();
    for e in c.iter().filter(|e| e.label == Label::Benign) {
        *cats.entry(e.class.as_str()).or_default() += 1;
    }
    for cat in [
        "prose",
        "sql_words",
        "code",
        "markdown",
        "html_text",
        "base64_image",
        "urls",
        "filenames",
        "non_latin",
        "dollar_json",
        "commerce",
        "search",
        "graphql",
        "tokens",
        "xml",
    ] {
        assert!(cats.get(cat).copied().unwrap_or(0) >= 50, "benign category {cat}: {:?}", cats.get(cat));
    }
    let benign = c.iter().filter(|e| e.label == Label::Benign).count();
    let attacks = c.len() - benign;
    assert!(attacks >= 1500 && benign >= 2500, "{attacks} attacks, {benign} benign");
}
