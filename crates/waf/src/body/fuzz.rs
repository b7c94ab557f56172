//! Fuzz-style tests: random bytes and random mixes of each format's tokens through every parser, which must
//! neither panic nor take more than linear time. A deterministic xorshift generator keeps failures
//! reproducible (the failing seed is printed); a crash found here becomes a named regression test.

use std::time::{Duration, Instant};

use super::*;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const JSON_TOKENS: &[&str] = &[
    "{", "}", "[", "]", ",", ":", "\"", "\"k\"", "\"v\\n\"", "\\u", "\\ud83d", "\\ude00", "00", "-1", "1.5e3", "true",
    "false", "null", " ", "\n", "\\", "\"\"", "\x01", "\u{e9}",
];

const MULTIPART_TOKENS: &[&str] = &[
    "--xyz",
    "--xyz--",
    "\r\n",
    "\n",
    "\r",
    "Content-Disposition: ",
    "form-data",
    "; name=",
    "; filename=",
    "\"a\"",
    "'b'",
    "\"",
    "\\",
    ";",
    " ",
    "\t",
    "\x0b",
    "Content-Type: text/plain",
    ":",
    "x",
    "\0",
    "--",
    "--\"xyz",
    "-- xyz",
];

const XML_TOKENS: &[&str] = &[
    "<a>",
    "</a>",
    "<b x=\"1\">",
    "</b>",
    "<c/>",
    "&amp;",
    "&#x41;",
    "&#0;",
    "&x;",
    "<![CDATA[",
    "]]>",
    "<!--",
    "-->",
    "<?p ?>",
    "<!DOCTYPE a>",
    "<!ENTITY",
    "\"",
    "'",
    "=",
    " ",
    "text",
    "\u{e9}",
    "\x00",
    "<",
];

const FORM_TOKENS: &[&str] = &["a", "=", "&", "%", "%4", "%41", "%zz", "+", "\u{e9}", "\0"];

fn random_bytes(rng: &mut Rng) -> Vec<u8> {
    let len = rng.below(300);
    (0..len).map(|_| rng.next() as u8).collect()
}

fn random_tokens(rng: &mut Rng, tokens: &[&str]) -> Vec<u8> {
    let n = rng.below(80);
    let mut out = Vec::new();
    for _ in 0..n {
        out.extend_from_slice(tokens[rng.below(tokens.len())].as_bytes());
    }
    out
}

fn run_all(body: &[u8], limits: &BodyLimits) {
    let check = |p: ParsedBody<'_>| {
        assert!(p.args.len() <= limits.max_args);
        assert!(p.files.len() <= limits.max_files);
        for f in &p.files {
            assert_eq!(f.size, f.content.len());
        }
        if p.multipart.crlf_lf_lines {
            assert!(p.multipart.lf_line);
        }
        let _ = p.into_owned();
    };
    check(parse_urlencoded(body, limits));
    check(parse_json(body, limits));
    check(parse_xml(body, limits));
    for ct in [&b"multipart/form-data; boundary=xyz"[..], b"multipart/form-data; boundary=\"xyz\"", body] {
        let p = parse_multipart(body, ct, limits);
        if p.error.is_some() {
            assert!(p.multipart.strict_error);
        }
        check(p);
    }
    let _ = multipart_boundary(body);
}

#[test]
fn random_inputs_never_panic() {
    let small = BodyLimits {
        max_args: 5,
        max_json_depth: 4,
        max_files: 2,
        max_part_header_bytes: 40,
        max_xml_nodes: 20,
        compat: Compat::ModSecurity,
    };
    let limits = [BodyLimits::default(), small];
    let seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut rng = Rng(seed);
    let start = Instant::now();
    for i in 0..3000 {
        let body = match i % 5 {
            0 => random_bytes(&mut rng),
            1 => random_tokens(&mut rng, JSON_TOKENS),
            2 => random_tokens(&mut rng, MULTIPART_TOKENS),
            3 => random_tokens(&mut rng, XML_TOKENS),
            _ => random_tokens(&mut rng, FORM_TOKENS),
        };
        for l in &limits {
            let result = std::panic::catch_unwind(|| run_all(&body, l));
            assert!(result.is_ok(), "iteration {i} (seed {seed:#x}) panicked on {:?}", String::from_utf8_lossy(&body));
        }
    }
    assert!(start.elapsed() < Duration::from_secs(60));
}

#[test]
fn large_pathological_inputs_stay_linear() {
    let limits = BodyLimits::default();
    let bodies: Vec<Vec<u8>> = vec![
        vec![b'['; 1 << 20],
        b"{\"a\":".repeat(200_000),
        b"--xyz".repeat(200_000),
        b"-".repeat(1 << 20),
        [&b"--xyz\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n"[..], &b"--xy-".repeat(200_000)].concat(),
        b"%".repeat(1 << 20),
        b"a=&".repeat(300_000),
        b"<a>".repeat(200_000),
        b"\n".repeat(1 << 20),
        [&b"--xyz\r\n"[..], &b"a:\n".repeat(300_000)].concat(),
        [&b"--xyz\r\nContent-Disposition: form-data; name=\"a\"\r\nX: 1\r\n"[..], &b" x\r\n".repeat(300_000)].concat(),
        b"{\"a\":\"\\u0041".repeat(100_000),
        b"<a x='".repeat(100_000),
        b"<!--".repeat(100_000),
    ];
    for body in &bodies {
        let start = Instant::now();
        run_all(body, &limits);
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "slow on a body starting {:?}",
            String::from_utf8_lossy(&body[..20])
        );
    }
}
