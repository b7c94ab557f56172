//! The gate's preimages (`prefilter::preimage`, used by `transaction::gate` before computing a union): for
//! every (condition, chain) of a CRS gate, a value the preimage rules out must come out of the chain without
//! the condition's bit — checked against the real transformations and the real shared scan on generated
//! values built to defeat it (the condition's bytes and literals percent-, entity-, JS-, CSS-encoded, split by
//! deleted bytes, non-ASCII, whitespace runs). And on the engine: with the preimage shortcut, prefilter on and
//! off give the same matches, data and TX on requests whose values hold the chains' trigger bytes.

mod common;

use common::*;
use portcullis_waf::prefilter::{has, preimage::Preimage};
use portcullis_waf::seclang::{compile, loader, RuleSet};
use portcullis_waf::transforms::triggers::bytes_present;
use std::collections::BTreeMap;
use std::path::Path;

fn crs_rules() -> RuleSet {
    let dir = crs_dir();
    let text = format!(
        "SecRuleEngine On\nSecRequestBodyAccess On\nInclude {}/crs-setup.conf.example\nInclude {}/rules/*.conf\n",
        dir.display(),
        dir.display()
    );
    let (mut stack, mut directives) = (Vec::new(), Vec::new());
    loader::load_text(&text, Path::new("/crs-preimage.conf"), &mut stack, &mut directives).unwrap();
    compile(directives).unwrap().1
}

/// A small deterministic generator (xorshift): the test must fail the same way every run.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// One byte written the ways CRS's decoders undo: itself, `%XX`, `%u00XX`, `%uFFXX` (full width), `&#N;`,
/// `&#xHH;`, a named entity, `\xHH`, `\u00HH`, octal, CSS hex.
fn encoded(b: u8, r: &mut Rng) -> Vec<u8> {
    let named: &[(u8, &str)] = &[(b'<', "&lt;"), (b'>', "&gt;"), (b'"', "&quot;"), (b'&', "&amp;")];
    let s = match r.below(12) {
        0 => format!("%{b:02x}"),
        1 => format!("%u00{b:02X}"),
        2 if (0x21..0x7f).contains(&b) => format!("%uff{:02x}", b - 0x20),
        3 => format!("&#{b};"),
        4 => format!("&#x{b:x}"),
        5 => named.iter().find(|(c, _)| *c == b).map_or(format!("&#{b}"), |(_, n)| n.to_string()),
        6 => format!("\\x{b:02x}"),
        7 => format!("\\u00{b:02x}"),
        8 => format!("\\{b:o}"),
        9 => format!("\\{b:x} "),
        10 => format!("%25{b:02x}"),
        _ => return vec![b],
    };
    s.into_bytes()
}

/// A value around the condition's bytes and literals, or plain request text, with trigger bytes mixed in.
fn value(lits: &[Vec<u8>], bytes: &[u8], r: &mut Rng) -> Vec<u8> {
    const FILLER: &[&[u8]] = &[
        b"text/html,application/xhtml+xml;q=0.9",
        b"Mozilla/5.0 (X11; Linux x86_64)",
        b"gzip, deflate",
        b"a+b",
        b"  \t ",
        b"'",
        b"\"",
        b"^",
        b"\\",
        b"\0",
        b"/*c*/",
        b"\xc3\xa9",
        b"\xef\xbc\x9c",
        b"/./",
        b"&",
        b"%",
        b";",
        b",",
        b"(",
        b"\\..\\",
        b"/../",
        b"--",
        b"#",
        b"<!--",
    ];
    let mut v = Vec::new();
    for _ in 0..1 + r.below(5) {
        match r.below(4) {
            0 if !lits.is_empty() => {
                let l = &lits[r.below(lits.len())];
                // the literal with some bytes encoded and a deleted or whitespace byte inserted somewhere
                let cut = r.below(l.len() + 1);
                for (i, b) in l.iter().enumerate() {
                    if i == cut {
                        v.extend_from_slice(FILLER[5 + r.below(6)]);
                    }
                    let b = if r.below(3) == 0 { b.to_ascii_uppercase() } else { *b };
                    if r.below(4) == 0 {
                        v.extend(encoded(b, r));
                    } else {
                        v.push(b);
                    }
                }
            }
            1 if !bytes.is_empty() => v.extend(encoded(bytes[r.below(bytes.len())], r)),
            _ => v.extend_from_slice(FILLER[r.below(FILLER.len())]),
        }
    }
    v
}

fn apply(rules: &RuleSet, chain: u32, v: &[u8]) -> Vec<u8> {
    let mut cur = v.to_vec();
    for s in &rules.chains[chain as usize].steps {
        cur = (s.apply)(&cur).into_owned();
    }
    cur
}

/// The (condition, chain) pairs of every CRS gate union with a preimage.
fn crs_preimages(rules: &RuleSet) -> BTreeMap<(u32, u32), Preimage> {
    let mut out = BTreeMap::new();
    for g in rules.phases.iter().flatten().filter_map(|r| r.gate.as_ref()) {
        for u in &g.unions {
            if let Some(p) = u.pre {
                out.insert((g.prefilter_id, u.chain), p);
            }
        }
    }
    out
}

/// Checks every pair on generated values; returns (checks, values ruled out although the chain changed them).
fn check(rules: &RuleSet, pairs: &BTreeMap<(u32, u32), Preimage>, per_pair: usize) -> (usize, usize) {
    let pf = &rules.prefilter;
    let mut r = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut raw_bits, mut t_bits) = (vec![0u64; pf.words()], vec![0u64; pf.words()]);
    let (mut checks, mut hard) = (0, 0);
    for ((id, chain), p) in pairs {
        let need = pf.need(*id).expect("CRS's prefilter is exact");
        let bytes: Vec<u8> = need.bytes.iter().collect();
        for _ in 0..per_pair {
            let v = value(&need.lits, &bytes, &mut r);
            let present = pf.scan(&v, &mut raw_bits);
            assert_eq!(present, bytes_present(&v));
            if !p.rules_out(&present, has(&raw_bits, *id)) {
                continue;
            }
            let t = apply(rules, *chain, &v);
            pf.scan(&t, &mut t_bits);
            assert!(
                !has(&t_bits, *id),
                "preimage of condition {id} ({need:?}) under {:?} ruled out {:?}, whose transformed form {:?} \
                 meets it",
                rules.chains[*chain as usize],
                String::from_utf8_lossy(&v),
                String::from_utf8_lossy(&t)
            );
            checks += 1;
            hard += usize::from(!t.eq_ignore_ascii_case(&v));
        }
    }
    (checks, hard)
}

#[test]
fn crs_preimages_never_rule_out_a_transformed_match() {
    let rules = crs_rules();
    let pairs = crs_preimages(&rules);
    assert!(pairs.len() > 100, "{} pairs", pairs.len());
    let (checks, hard) = check(&rules, &pairs, 300);
    eprintln!(
        "{} (condition, chain) pairs; {checks} values ruled out, {hard} of them changed by the chain",
        pairs.len()
    );
    // the generator must reach values the chain changes and the preimage still rules out
    assert!(hard > 1000, "{hard}");
}

/// A rule set whose chains make the condition's bytes from others: `<` from `%3c`, `&lt;`, `\x3c`; `select`
/// from `sel'ect` (cmdLine deletes the quote) or `sel%65ct`; a space from `+`. Rules 1 and 2 share their
/// sources and chains (a group whose OR one of them records), so a preimage that rules one out must not
/// leave the other reading a partial OR.
const RULES: &str = r#"SecRuleEngine On
SecRule REQUEST_HEADERS|ARGS "@rx <[a-z]" "id:1,phase:1,pass,log,t:none,t:utf8toUnicode,t:urlDecodeUni,t:htmlEntityDecode,t:jsDecode,t:cssDecode,t:removeNulls"
SecRule REQUEST_HEADERS|ARGS "@rx script" "id:2,phase:1,pass,log,t:none,t:utf8toUnicode,t:urlDecodeUni,t:htmlEntityDecode,t:jsDecode,t:cssDecode,t:removeNulls"
SecRule ARGS|REQUEST_HEADERS:X-A "@rx select" "id:3,phase:1,pass,log,t:urlDecodeUni,t:cmdLine,capture,setvar:tx.three=%{TX.0}"
SecRule ARGS "@rx a b" "id:4,phase:1,pass,log,t:urlDecodeUni,t:compressWhitespace,logdata:'%{MATCHED_VAR}'"
SecRule ARGS "@rx ;" "id:5,phase:1,pass,log,t:trim,t:urlDecodeUni"
SecRule ARGS "@rx [<>]" "id:6,phase:1,pass,log,t:urlDecodeUni,t:htmlEntityDecode,multiMatch"
"#;

#[test]
fn preimage_shortcut_agrees_with_no_prefilter() {
    let (on, off) = prefilter_pair(RULES);
    let accept = ("Accept", "text/html,application/xhtml+xml;q=0.9");
    let cases: &[Case] = &[
        ("/a?q=hello+world", &[accept], &[]),
        ("/a?q=%253cb", &[accept], &[1, 6]),
        ("/a?q=x", &[accept, ("X-B", "&lt;b")], &[1]),
        ("/a?q=x", &[accept, ("X-B", "\\x3cb")], &[1]),
        ("/a?q=x", &[accept, ("X-B", "%uff1cb")], &[1]),
        ("/a?q=x", &[accept, ("X-B", "\u{ff1c}b")], &[1]),
        ("/a?q=x", &[accept, ("X-B", "scr%69pt")], &[2]),
        ("/a?q=sel'ect", &[accept], &[3]),
        ("/a?q=x", &[accept, ("X-A", "SEL^ECT")], &[3]),
        ("/a?q=x", &[accept, ("X-B", "sel'ect")], &[]),
        ("/a?q=sel%2565ct", &[accept], &[3]),
        ("/a?q=a%2bb", &[accept], &[4]),
        ("/a?q=a%09%20b", &[accept], &[4]),
        ("/a?q=a,b", &[accept], &[]),
        ("/a?q=%253b", &[accept], &[5]),
        ("/a?q=%2526gt;", &[accept], &[5, 6]),
    ];
    let mut evaluated = 0;
    for (uri, headers, want) in cases {
        let (mut a, mut b) = (get_exact(&on, uri, headers), get_exact(&off, uri, headers));
        assert_eq!(outcome(&mut a), outcome(&mut b), "{uri} {headers:?}");
        let ids: Vec<u32> = a.matches().iter().map(|m| m.id).collect();
        assert_eq!(&ids, want, "{uri} {headers:?}");
        evaluated += a.stats().rules;
    }
    // the benign request's rules are all skipped by the gate, the others' evaluated
    let benign = get_exact(&on, "/a?q=hello+world", &[accept]);
    assert_eq!(benign.stats().rules, 0);
    assert!(evaluated > 0);
}
