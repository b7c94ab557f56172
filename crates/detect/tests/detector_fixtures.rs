//! Runs every detector over its data fixtures (`tests/data/<class>_attacks.txt` / `<class>_benign.txt`, one
//! case per line, `# ` comments, `{NL}` for a newline): each attack must be found, no benign line may be flagged — by its own
//! detector or by any other of these detectors (the benign files together are one look-alike corpus).
//! Also: no detector panics on arbitrary bytes (proptest), and adversarial 100 KB inputs run in linear time.

use portcullis_detect::{cmdi, jndi, nosql, proto, ssrf, ssti, traversal, xxe, Finding};
use std::time::{Duration, Instant};

type Detector = fn(&[u8]) -> Option<Finding>;

/// The tests in this file take turns: the timing tests must not share the CPU with the others.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

const DETECTORS: &[(&str, Detector)] = &[
    ("cmdi", cmdi::detect),
    ("traversal", traversal::detect),
    ("ssrf", ssrf::detect),
    ("ssti", ssti::detect),
    ("jndi", jndi::detect),
    ("nosql", nosql::detect),
    ("xxe", xxe::detect),
    ("proto", proto::detect),
];

fn cases(name: &str) -> Vec<(usize, String)> {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.is_empty() && !l.starts_with("# "))
        .map(|(i, l)| (i + 1, l.replace("{NL}", "\n")))
        .collect()
}

#[test]
fn attacks_are_found() {
    let _turn = serial();
    let mut misses = Vec::new();
    for (class, detect) in DETECTORS {
        let file = format!("{class}_attacks.txt");
        let all = cases(&file);
        assert!(all.len() >= 60, "{file}: only {} cases", all.len());
        let mut found = 0;
        for (line, case) in &all {
            match detect(case.as_bytes()) {
                Some(f) => {
                    assert!(!f.reason.is_empty(), "{file}:{line}: empty reason");
                    assert!(f.span.end <= case.len().max(f.span.end), "{file}:{line}: span");
                    found += 1;
                }
                None => misses.push(format!("{file}:{line}: {case}")),
            }
        }
        eprintln!("{class:10} TPR {found}/{} ({:.1}%)", all.len(), 100.0 * found as f64 / all.len() as f64);
    }
    assert!(misses.is_empty(), "{} attacks missed:\n{}", misses.len(), misses.join("\n"));
}

#[test]
fn benign_lines_pass_every_detector() {
    let _turn = serial();
    let mut corpus = Vec::new();
    for (class, _) in DETECTORS {
        let file = format!("{class}_benign.txt");
        let c = cases(&file);
        assert!(c.len() >= 60, "{file}: only {} cases", c.len());
        corpus.extend(c.into_iter().map(|(l, s)| (format!("{file}:{l}"), s)));
    }
    let mut fps = Vec::new();
    for (class, detect) in DETECTORS {
        let mut n = 0;
        for (at, case) in &corpus {
            if let Some(f) = detect(case.as_bytes()) {
                n += 1;
                fps.push(format!("{class} flags {at}: {case}\n    -> {}", f.reason));
            }
        }
        eprintln!("{class:10} FP {n}/{}", corpus.len());
    }
    assert!(fps.is_empty(), "{} false positives:\n{}", fps.len(), fps.join("\n"));
}

/// Inputs built to hurt: long runs of each detector's special characters and delimiters.
fn adversarial(len: usize) -> Vec<Vec<u8>> {
    let pats: &[&[u8]] = &[
        b"../",
        b"..;",
        b"${",
        b"${${",
        b"{{",
        b"{%",
        b"<%",
        b"'",
        b"\"",
        b"`",
        b"$(",
        b"\\",
        b"%25",
        b"&#",
        b"<!ENTITY a '",
        b"<!DOCTYPE a [",
        b"[$ne]",
        b"{\"a\":",
        b"[",
        b"http://",
        b"; cat ",
        b"| ",
        b"__proto__.",
        b"%c0%ae",
        b"\\u00",
        b"a",
        // The third session's readings: fenced blocks, nested base64 lookups.
        b"```\n",
        b"x\n```sh\n;id\n",
        b"${${base64:JHske30=}",
    ];
    pats.iter().map(|p| p.iter().copied().cycle().take(len).collect()).collect()
}

#[test]
fn adversarial_inputs_run_in_linear_time() {
    let _turn = serial();
    // Debug builds are ~10x slower than release; the bound is generous but catches quadratic behaviour,
    // which on 100 KB inputs costs seconds to minutes.
    let budget = Duration::from_millis(if cfg!(debug_assertions) { 1500 } else { 150 });
    let mut worst = (Duration::ZERO, String::new());
    for input in adversarial(100 * 1024) {
        for (class, detect) in DETECTORS {
            let t = Instant::now();
            let _ = detect(&input);
            let e = t.elapsed();
            if e > worst.0 {
                worst = (e, format!("{class} on {:?}...", String::from_utf8_lossy(&input[..16])));
            }
            assert!(e < budget, "{class} took {e:?} on a 100 KB run of {:?}", String::from_utf8_lossy(&input[..16]));
        }
    }
    eprintln!("slowest detector on 100 KB adversarial input: {:?} ({})", worst.0, worst.1);
}

#[test]
fn long_input_stays_within_a_linear_budget() {
    let _turn = serial();
    // 320 KB of mixed syntax. Linear detectors take tens of milliseconds here even unoptimised; a quadratic
    // one (like the `..;` bug this test first caught) takes many seconds. Per-byte cost is printed.
    let budget = Duration::from_millis(if cfg!(debug_assertions) { 3000 } else { 300 });
    for (class, detect) in DETECTORS {
        for pat in [&b"${{'\"`$(../%25&#<!ENTITY x '"[..], b"a; cat /x | {{7*7}} ${jndi:x} "] {
            let big: Vec<u8> = pat.iter().copied().cycle().take(320 * 1024).collect();
            let t = Instant::now();
            let _ = detect(&big);
            let e = t.elapsed();
            eprintln!(
                "{class:10} {:>6.1} ns/byte on 320 KB of {:?}",
                e.as_nanos() as f64 / big.len() as f64,
                String::from_utf8_lossy(&pat[..8])
            );
            assert!(e < budget, "{class}: {e:?} on 320 KB");
        }
    }
}

mod properties {
    use super::DETECTORS;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn detectors_never_panic_on_bytes(v in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _turn = super::serial();
            for (_, detect) in DETECTORS {
                let _ = detect(&v);
            }
            let _ = portcullis_detect::nosql::detect_json(&v);
            let _ = portcullis_detect::nosql::detect_param_name(&v);
        }

        #[test]
        fn detectors_never_panic_on_syntax_soup(
            s in "([$%{}\\[\\]()<>!&|;`'\"\\\\/.:=#*@?_-]|jndi|ldap|DOCTYPE|ENTITY|SYSTEM|__proto__|constructor|prototype|cat|id|etc|passwd|http|127|0x|%2e|%c0|\\$ne|[a-z0-9 ]){0,120}"
        ) {
            let _turn = super::serial();
            for (_, detect) in DETECTORS {
                if let Some(f) = detect(s.as_bytes()) {
                    prop_assert!(!f.reason.is_empty());
                }
            }
        }
    }
}
