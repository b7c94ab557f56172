//! Runs the data-file cases in `testdata/transforms/` and a no-panic / copy-on-write property check over
//! pseudo-random inputs.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use super::{lookup, names, TABLE};

fn testdata_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/transforms")
}

/// Decodes the escapes of the data-file format: `\\`, `\n`, `\r`, `\t`, `\0`, `\xHH`.
fn unescape(s: &str, at: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        match b.get(i + 1) {
            Some(b'\\') => out.push(b'\\'),
            Some(b'n') => out.push(b'\n'),
            Some(b'r') => out.push(b'\r'),
            Some(b't') => out.push(b'\t'),
            Some(b'0') => out.push(0),
            Some(b'x') => {
                let hex = s.get(i + 2..i + 4).unwrap_or_else(|| panic!("{at}: truncated \\x escape"));
                out.push(u8::from_str_radix(hex, 16).unwrap_or_else(|_| panic!("{at}: bad \\x escape")));
                i += 2;
            }
            other => panic!("{at}: unknown escape {other:?}"),
        }
        i += 2;
    }
    out
}

fn show(b: &[u8]) -> String {
    b.escape_ascii().to_string()
}

struct Case {
    at: String,
    input: Vec<u8>,
    output: Vec<u8>,
}

/// File format: `# comment` lines, blank lines, and pairs of lines `in: <value>` / `out: <value>`. The
/// value is everything after `in: ` / `out: ` (one space), taken verbatim apart from escapes.
fn parse_cases(path: &Path) -> Vec<Case> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut cases = Vec::new();
    let mut pending: Option<(String, Vec<u8>)> = None;
    for (no, line) in text.lines().enumerate() {
        let at = format!("{}:{}", path.display(), no + 1);
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(v) = line.strip_prefix("in:") {
            assert!(pending.is_none(), "{at}: `in:` without `out:` before it");
            pending = Some((at.clone(), unescape(v.strip_prefix(' ').unwrap_or(v), &at)));
        } else if let Some(v) = line.strip_prefix("out:") {
            let (at, input) = pending.take().unwrap_or_else(|| panic!("{at}: `out:` without `in:`"));
            cases.push(Case { output: unescape(v.strip_prefix(' ').unwrap_or(v), &at), at, input });
        } else {
            panic!("{at}: expected `in:`, `out:` or `#`");
        }
    }
    assert!(pending.is_none(), "{}: trailing `in:`", path.display());
    cases
}

#[test]
fn data_file_cases() {
    let mut files: Vec<_> = std::fs::read_dir(testdata_dir()).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let mut failures = Vec::new();
    let mut total = 0;
    let mut covered = std::collections::HashSet::new();
    for path in files.iter().filter(|p| p.extension().is_some_and(|e| e == "txt")) {
        let name = path.file_stem().unwrap().to_str().unwrap();
        let tr = lookup(name).unwrap_or_else(|| panic!("{}: no transformation named {name}", path.display()));
        covered.insert(tr.name);
        for case in parse_cases(path) {
            total += 1;
            let got = (tr.apply)(&case.input);
            if *got != case.output[..] {
                failures.push(format!(
                    "{}: {name}({}) = {} expected {}",
                    case.at,
                    show(&case.input),
                    show(&got),
                    show(&case.output)
                ));
            } else if case.input == case.output && !matches!(got, Cow::Borrowed(_)) {
                failures.push(format!("{}: {name}: unchanged input must be returned borrowed", case.at));
            }
        }
    }
    for (_, tr) in TABLE {
        assert!(covered.contains(tr.name), "no data file for {}", tr.name);
    }
    assert!(failures.is_empty(), "{} of {total} cases failed:\n{}", failures.len(), failures.join("\n"));
    eprintln!("{total} transformation cases passed");
}

#[test]
fn lookup_is_case_insensitive_with_aliases() {
    assert_eq!(lookup("URLDECODEUNI").unwrap().name, "urlDecodeUni");
    assert_eq!(lookup("normalisePath").unwrap().name, "normalizePath");
    assert_eq!(lookup("normalisePathWin").unwrap().name, "normalizePathWin");
    assert_eq!(lookup("utf8toUnicode").unwrap().name, "utf8toUnicode");
    assert!(lookup("none").is_none());
    assert!(lookup("nosuch").is_none());
    assert!(lookup("").is_none());
    for key in names() {
        assert_eq!(key, key.to_ascii_lowercase(), "table keys are lowercase");
        assert!(lookup(key).is_some());
    }
    for name in [
        "urlDecodeUni",
        "urlDecode",
        "lowercase",
        "jsDecode",
        "htmlEntityDecode",
        "utf8toUnicode",
        "removeNulls",
        "cssDecode",
        "cmdLine",
        "removeWhitespace",
        "replaceComments",
        "normalizePath",
        "normalisePath",
        "normalizePathWin",
        "normalisePathWin",
        "escapeSeqDecode",
        "compressWhitespace",
        "length",
        "base64Decode",
        "sha1",
        "hexEncode",
        "removeCommentsChar",
        "base64DecodeExt",
        "base64Encode",
        "hexDecode",
        "sqlHexDecode",
        "md5",
        "uppercase",
        "trim",
        "trimLeft",
        "trimRight",
        "removeComments",
        "replaceNulls",
        "urlEncode",
        "parityEven7bit",
        "parityOdd7bit",
        "parityZero7bit",
    ] {
        assert!(lookup(name).is_some(), "{name} missing");
    }
}

/// xorshift64*: deterministic pseudo-random bytes without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// Random inputs biased towards the bytes the decoders care about, so the escape paths are exercised.
fn random_input(rng: &mut Rng) -> Vec<u8> {
    const INTERESTING: &[u8] = b"%uUxX+&#;\\/.*-<!>=^\"', \t\r\n\x00\xa0\xc2\xe0\xf0\xf5\xff0aAfF9";
    let len = (rng.next() % 40) as usize;
    (0..len)
        .map(|_| {
            let r = rng.next();
            if r & 3 == 0 {
                (r >> 8) as u8
            } else {
                INTERESTING[((r >> 8) % INTERESTING.len() as u64) as usize]
            }
        })
        .collect()
}

/// `Transform::apply_into` (a step's own writer, `cmdLine` and `base64Decode`, or `apply` copied) appends
/// exactly what `apply` returns after the bytes the buffer already held, and reports "changed" exactly when
/// `apply` does not hand the input back whole (the engine's test: borrowed with the input's length); when
/// unchanged the buffer is left as it was. Random inputs and plain ones (letters, digits, base64 text, spaces
/// before `/`), after an empty and a non-empty buffer. The mutants that report an unchanged base64 text as
/// changed, or let `cmdLine`'s space removal reach into the bytes before, fail it.
#[test]
fn apply_into_appends_what_apply_returns() {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let plain: [&[u8]; 8] = [b"", b"hello", b"SGVsbG8=", b"aGVsbG8", b"abcd", b"a /b", b" /x", b"Ab, c;d"];
    let mut inputs: Vec<Vec<u8>> = plain.iter().map(|p| p.to_vec()).collect();
    inputs.extend((0..5_000).map(|_| random_input(&mut rng)));
    for (key, tr) in TABLE {
        for input in &inputs {
            let want = (tr.apply)(input);
            let changed = !matches!(&want, Cow::Borrowed(b) if b.len() == input.len());
            for before in [&b""[..], b"xy "] {
                let mut out = before.to_vec();
                assert_eq!(tr.apply_into(input, &mut out), changed, "{key}({})", show(input));
                let mut expect = before.to_vec();
                if changed {
                    expect.extend_from_slice(&want);
                }
                assert_eq!(show(&out), show(&expect), "{key}({})", show(input));
            }
        }
    }
}

#[test]
fn never_panics_and_borrows_when_unchanged() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..20_000 {
        let input = random_input(&mut rng);
        for (key, tr) in TABLE {
            let out = (tr.apply)(&input);
            if *out == input[..] {
                assert!(matches!(out, Cow::Borrowed(_)), "{key}({}) unchanged but owned", show(&input));
            }
            if let Cow::Borrowed(b) = &out {
                // Borrowed output is the input or a sub-slice of it.
                let range = input.as_ptr_range();
                assert!(b.is_empty() || (range.contains(&b.as_ptr()) && b.len() <= input.len()), "{key}");
            }
        }
    }
}

#[test]
fn long_inputs_run_in_linear_time() {
    // Pathological repetitions for the decoders; each must finish quickly even in a debug build.
    for unit in [&b"%u"[..], b"&#", b"\\", b"/../", b"/*", b"<!--", b"0x", b"\xe0", b" ;,", b"./"] {
        let input = unit.repeat(200_000 / unit.len());
        for (_, tr) in TABLE {
            let start = std::time::Instant::now();
            let _ = (tr.apply)(&input);
            assert!(start.elapsed().as_secs() < 5, "{} too slow on {}", tr.name, show(unit));
        }
    }
}

/// Straightforward reference versions (no fast scan, no copy-on-write) of the transformations whose fast
/// path skips over state, checked against the real ones on random inputs.
mod reference {
    pub fn cmd_line(input: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut space = false;
        for &b in input {
            match b {
                b'"' | b'\'' | b'\\' | b'^' => {}
                b' ' | b',' | b';' | b'\t' | b'\r' | b'\n' => {
                    if !space {
                        out.push(b' ');
                        space = true;
                    }
                }
                b'/' | b'(' => {
                    if space {
                        out.pop();
                    }
                    space = false;
                    out.push(b);
                }
                _ => {
                    out.push(b.to_ascii_lowercase());
                    space = false;
                }
            }
        }
        out
    }

    pub fn compress_whitespace(input: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut ws = false;
        for &b in input {
            if matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
                if !ws {
                    out.push(b' ');
                }
                ws = true;
            } else {
                out.push(b);
                ws = false;
            }
        }
        out
    }

    /// ModSecurity's erase-in-place loop, literally.
    pub fn remove_comments_char(input: &[u8]) -> Vec<u8> {
        let mut v = input.to_vec();
        let mut i = 0;
        while i < v.len() {
            let r = &v[i..];
            let n = if r.starts_with(b"/*") || r.starts_with(b"*/") {
                2
            } else if r.starts_with(b"<!--") {
                4
            } else if r.starts_with(b"-->") {
                3
            } else if r.starts_with(b"--") {
                2
            } else if r[0] == b'#' {
                1
            } else {
                0
            };
            if n == 0 {
                i += 1;
            } else {
                v.drain(i..i + n);
            }
        }
        v
    }

    pub fn lowercase(input: &[u8]) -> Vec<u8> {
        input.to_ascii_lowercase()
    }

    pub fn remove_whitespace(input: &[u8]) -> Vec<u8> {
        input.iter().copied().filter(|b| !matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | 0xa0)).collect()
    }
}

#[test]
fn fast_paths_agree_with_reference_versions() {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    type Reference = fn(&[u8]) -> Vec<u8>;
    let checks: [(&str, Reference); 5] = [
        ("cmdLine", reference::cmd_line),
        ("compressWhitespace", reference::compress_whitespace),
        ("removeCommentsChar", reference::remove_comments_char),
        ("lowercase", reference::lowercase),
        ("removeWhitespace", reference::remove_whitespace),
    ];
    for round in 0..20_000 {
        let mut input = random_input(&mut rng);
        if round % 2 == 0 {
            // Long plain prefixes exercise the block scans.
            let mut long = b"plain text with single spaces and more words ".repeat(1 + round % 3);
            long.extend_from_slice(&input);
            input = long;
        }
        for (name, reference) in checks {
            let got = (lookup(name).unwrap().apply)(&input);
            assert_eq!(&*got, &reference(&input)[..], "{name}({})", show(&input));
        }
    }
}

#[test]
fn path_normalisers_survive_path_shaped_noise() {
    let mut rng = Rng(0xdead_beef_cafe_f00d);
    for _ in 0..50_000 {
        let len = (rng.next() % 24) as usize;
        let input: Vec<u8> = (0..len).map(|_| b"/./\\.a."[(rng.next() % 7) as usize]).collect();
        for name in ["normalizePath", "normalizePathWin"] {
            let out = (lookup(name).unwrap().apply)(&input);
            assert!(out.len() <= input.len(), "{name}({}) grew", show(&input));
            // Idempotence is not promised by ModSecurity's algorithm; no-panic and no growth are.
        }
    }
}

/// Random text from the base64 alphabet with some line breaks, padding and a stray invalid byte, so the
/// decoder's stop and skip rules are reached.
fn base64ish_input(rng: &mut Rng) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let len = (rng.next() % 48) as usize;
    (0..len)
        .map(|_| {
            let r = rng.next();
            match r % 16 {
                0 => b"\r\n=%.@ -\x00\xff"[((r >> 8) % 10) as usize],
                _ => ALPHABET[((r >> 8) % 64) as usize],
            }
        })
        .collect()
}

/// `base64_decoded_len` is the decoded output's length, exactly: on random bytes, base64-like text with line
/// breaks, padding and invalid bytes, and every length from 0 to 12 of clean text. Mutants that count the
/// skipped `\r`/`\n`, round up, or read past the first invalid byte fail it.
#[test]
fn base64_decoded_len_is_the_output_length() {
    let base64 = lookup("base64Decode").unwrap();
    let mut rng = Rng(0x0bad_cafe_1234_5678);
    let mut inputs: Vec<Vec<u8>> = (0..=12).map(|n| b"QUJDREVGR0hJSktM"[..n].to_vec()).collect();
    inputs.extend([b"QU\r\nJD".to_vec(), b"QUJD=QUJD".to_vec(), b"QUJ@DREVG".to_vec(), b"\n\n".to_vec()]);
    for _ in 0..20_000 {
        inputs.push(random_input(&mut rng));
        inputs.push(base64ish_input(&mut rng));
    }
    for input in &inputs {
        assert_eq!(super::base64_decoded_len(input), (base64.apply)(input).len(), "{}", show(input));
    }
}

/// Every step `Transform::never_lengthens` names returns at most as many bytes as it was given (the bound the
/// `multiMatch` forms after a `base64Decode` rely on): random and escape-heavy inputs, and inputs built of
/// the longest-output escapes (`%uFF01`, `\u0041`, `\x41`, `/*`, `+`). Naming a step that can lengthen
/// (`utf8toUnicode`, `htmlEntityDecode`'s multi-byte entities, `urlEncode`) fails it.
#[test]
fn never_lengthening_steps_never_lengthen() {
    let mut rng = Rng(0x1234_5678_9abc_def0);
    let pieces: [&[u8]; 12] = [
        b"%uFF01",
        b"%u0041",
        b"\\u0041",
        b"\\x41",
        b"\\101",
        b"/*",
        b"*/",
        b"+",
        b"%41",
        b"&#x41;",
        b" ",
        b"\xc3\xa9",
    ];
    let mut inputs: Vec<Vec<u8>> = Vec::new();
    for a in pieces {
        for b in pieces {
            for c in pieces {
                inputs.push([a, b, c].concat());
            }
        }
    }
    for _ in 0..20_000 {
        inputs.push(random_input(&mut rng));
        inputs.push(base64ish_input(&mut rng));
    }
    let mut named = 0;
    for (key, tr) in TABLE {
        let tr = lookup(key).unwrap_or(*tr);
        if !tr.never_lengthens() {
            continue;
        }
        named += 1;
        for input in &inputs {
            assert!((tr.apply)(input).len() <= input.len(), "{key}({})", show(input));
        }
    }
    // the nine steps, each under its one key
    assert_eq!(named, 9);
}
