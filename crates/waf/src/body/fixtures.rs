//! Runs the data-driven cases in `crates/waf/testdata/body/` (format: that folder's README.md).

use std::fmt::Write as _;
use std::path::Path;

use super::*;

/// Decodes one field of an `.expect` line: `%XX` escapes, `""` for an empty value.
fn field(s: &str) -> Vec<u8> {
    if s == "\"\"" {
        return Vec::new();
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() && b[i + 1].is_ascii_hexdigit() && b[i + 2].is_ascii_hexdigit() {
            let hex = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
            out.push(hex(b[i + 1]) << 4 | hex(b[i + 2]));
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

fn show(b: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(b))
}

fn flags_of(f: &MultipartFlags) -> Vec<String> {
    let mut v = Vec::new();
    let mut add = |name: &str, on: bool| {
        if on {
            v.push(name.to_string());
        }
    };
    add("strict_error", f.strict_error);
    add("boundary_quoted", f.boundary_quoted);
    add("boundary_whitespace", f.boundary_whitespace);
    add("data_before", f.data_before);
    add("data_after", f.data_after);
    add("header_folding", f.header_folding);
    add("lf_line", f.lf_line);
    add("crlf_lf_lines", f.crlf_lf_lines);
    add("missing_semicolon", f.missing_semicolon);
    add("invalid_quoting", f.invalid_quoting);
    add("invalid_part", f.invalid_part);
    add("invalid_header_folding", f.invalid_header_folding);
    add("file_limit_exceeded", f.file_limit_exceeded);
    if f.unmatched_boundary != 0 {
        v.push(format!("unmatched_boundary={}", f.unmatched_boundary));
    }
    v.sort();
    v
}

fn run_case(body: &[u8], expect: &str) -> Result<(), String> {
    let mut limits = BodyLimits::default();
    let mut processor = None;
    let mut content_type = Vec::new();
    let (mut args, mut files, mut headers, mut flags, mut texts, mut attrs) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut error: Option<Vec<u8>> = None;
    let mut urlencoded_error = false;
    for line in expect.lines().map(str::trim_end).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let parts: Vec<&str> = line.split(' ').collect();
        match parts.as_slice() {
            ["processor", p] => processor = Some(p.to_string()),
            ["compat", "coraza"] => limits.compat = Compat::Coraza,
            ["compat", "modsecurity"] => limits.compat = Compat::ModSecurity,
            ["max_args", n] => limits.max_args = n.parse().map_err(|e| format!("{line}: {e}"))?,
            ["max_json_depth", n] => limits.max_json_depth = n.parse().map_err(|e| format!("{line}: {e}"))?,
            ["max_files", n] => limits.max_files = n.parse().map_err(|e| format!("{line}: {e}"))?,
            ["content-type", ct] => content_type = field(ct),
            ["arg", n, v] => args.push((field(n), field(v))),
            ["file", n, f, size] => {
                files.push((field(n), field(f), size.parse::<usize>().map_err(|e| format!("{line}: {e}"))?))
            }
            ["part-header", n, l] => headers.push((field(n), field(l))),
            ["flag", f] => flags.push(f.to_string()),
            ["error", e] => error = Some(field(e)),
            ["urlencoded-error"] => urlencoded_error = true,
            ["xml-text", t] => texts.push(field(t)),
            ["xml-attr", a] => attrs.push(field(a)),
            _ => return Err(format!("unknown .expect line: {line}")),
        }
    }
    let parsed = match processor.as_deref() {
        Some("urlencoded") => parse_urlencoded(body, &limits),
        Some("json") => parse_json(body, &limits),
        Some("multipart") => parse_multipart(body, &content_type, &limits),
        Some("xml") => parse_xml(body, &limits),
        other => return Err(format!("unknown processor {other:?}")),
    };
    let mut problems = String::new();
    let got_args: Vec<(Vec<u8>, Vec<u8>)> = parsed.args.iter().map(|(n, v)| (n.to_vec(), v.to_vec())).collect();
    if got_args != args {
        let fmt = |l: &[(Vec<u8>, Vec<u8>)]| {
            l.iter().map(|(n, v)| format!("{}={}", show(n), show(v))).collect::<Vec<_>>().join(", ")
        };
        let _ = writeln!(problems, "args: got [{}], want [{}]", fmt(&got_args), fmt(&args));
    }
    let got_files: Vec<(Vec<u8>, Vec<u8>, usize)> =
        parsed.files.iter().map(|f| (f.name.to_vec(), f.filename.to_vec(), f.size)).collect();
    if got_files != files {
        let _ = writeln!(problems, "files: got {got_files:?}, want {files:?}");
    }
    let got_headers: Vec<(Vec<u8>, Vec<u8>)> =
        parsed.part_headers.iter().map(|(n, l)| (n.to_vec(), l.to_vec())).collect();
    if got_headers != headers {
        let fmt = |l: &[(Vec<u8>, Vec<u8>)]| {
            l.iter().map(|(n, v)| format!("{}: {}", show(n), show(v))).collect::<Vec<_>>().join(", ")
        };
        let _ = writeln!(problems, "part headers: got [{}], want [{}]", fmt(&got_headers), fmt(&headers));
    }
    flags.sort();
    let got_flags = flags_of(&parsed.multipart);
    if got_flags != flags {
        let _ = writeln!(problems, "flags: got {got_flags:?}, want {flags:?}");
    }
    match (&parsed.error, &error) {
        (None, None) => {}
        (Some(got), Some(want))
            if got.as_bytes().windows(want.len().max(1)).any(|w| w == &want[..]) || want.is_empty() => {}
        (got, want) => {
            let _ = writeln!(problems, "error: got {got:?}, want one containing {:?}", want.as_deref().map(show));
        }
    }
    if parsed.urlencoded_error != urlencoded_error {
        let _ = writeln!(problems, "urlencoded_error: got {}, want {urlencoded_error}", parsed.urlencoded_error);
    }
    let (got_texts, got_attrs): (Vec<Vec<u8>>, Vec<Vec<u8>>) = match &parsed.xml {
        Some(x) => (x.text_values().map(<[u8]>::to_vec).collect(), x.attributes.iter().map(|a| a.to_vec()).collect()),
        None => (Vec::new(), Vec::new()),
    };
    if got_texts != texts || got_attrs != attrs {
        let _ = writeln!(
            problems,
            "xml: got texts {got_texts:?} attrs {got_attrs:?}, want texts {texts:?} attrs {attrs:?}"
        );
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

#[test]
fn testdata_cases() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/body");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .expect("testdata/body exists")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".expect").map(str::to_string))
        .collect();
    names.sort();
    assert!(names.len() >= 20, "expected at least 20 cases, found {}", names.len());
    let mut failures = String::new();
    for name in &names {
        let expect = std::fs::read_to_string(dir.join(format!("{name}.expect"))).expect("readable .expect");
        let body = std::fs::read(dir.join(format!("{name}.body"))).unwrap_or_default();
        if let Err(p) = run_case(&body, &expect) {
            let _ = writeln!(failures, "--- {name}\n{p}");
        }
    }
    assert!(failures.is_empty(), "{failures}");
}
