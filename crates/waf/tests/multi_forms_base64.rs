//! `multiMatch` forms after a `base64Decode` that are provably too short for the operator are not computed
//! (`Transaction::multi_forms_for`): the decoded length is ⌊6n/8⌋ for the `n` base64 characters before the
//! decoder stops, and the steps after it never lengthen. The reference is the same rule set with the
//! prefilter off, where every form is computed and offered to the operator: the matches, their data (the
//! form that matched) and TX must be identical.

mod common;

use common::*;

/// CRS 934100/934160's chains with small regexes of their kind (shortest need 4 and 5 bytes, reachable only
/// through the decoded forms or through the escapes the later steps decode), a bare `base64Decode` chain at
/// the length boundary (`abcd`: 4 bytes, six characters), a negated rule (a refused form is its match), and
/// a rule whose need is a byte (no length bound: every form computed).
const RULES: &str = r#"SecRuleEngine On
SecRule ARGS "@rx (?:\beval|new\s+Function)\(|env\[|this\.constructor" "id:1,phase:2,pass,log,capture,t:none,t:urlDecodeUni,t:jsDecode,t:removeWhitespace,t:base64Decode,t:urlDecodeUni,t:jsDecode,t:removeWhitespace,multiMatch,logdata:'%{MATCHED_VAR}',setvar:tx.one=%{TX.0}"
SecRule ARGS "@rx while[\s\x0b]*\((?:!+false|true)\)" "id:2,phase:2,pass,log,t:none,t:urlDecodeUni,t:jsDecode,t:base64Decode,t:urlDecodeUni,t:jsDecode,t:replaceComments,multiMatch,logdata:'%{MATCHED_VAR}',setvar:tx.two=+1"
SecRule ARGS "@rx abcd" "id:3,phase:2,pass,log,t:none,t:base64Decode,multiMatch,logdata:'%{MATCHED_VAR}',setvar:tx.three=+1"
SecRule ARGS "!@rx abcd" "id:4,phase:2,pass,log,t:none,t:base64Decode,t:urlDecodeUni,multiMatch,logdata:'%{MATCHED_VAR}',setvar:tx.four=+1"
SecRule ARGS "@rx [<>]" "id:5,phase:2,pass,log,t:none,t:base64Decode,t:urlDecodeUni,multiMatch,logdata:'%{MATCHED_VAR}',setvar:tx.five=+1"
"#;

/// Base64 text of `s` after `lead` bytes (so a literal starts at each of the three alignments of a 3-byte
/// group), without its padding.
fn encoded(lead: &str, s: &str) -> String {
    base64(format!("{lead}{s}").as_bytes()).trim_end_matches('=').to_string()
}

/// The pieces the values are made of: encodings of the rules' literals at every alignment, the same
/// behind escapes that only the steps after the decode resolve (`%65` → `e`, `\x65` → `e`, a comment, a
/// space), padding, line breaks, bytes that stop the decoder, whitespace the first steps remove, and plain
/// words of every length around the boundary.
fn pieces() -> Vec<String> {
    let mut out = Vec::new();
    for lead in ["", "x", "xy"] {
        for lit in ["eval(", "env[", "while(true)", "abcd", "%65val(", "\\x65nv[", "while/**/(true)", "<"] {
            out.push(encoded(lead, lit));
        }
    }
    for p in ["=", "==", "\r\n", "@", ".", "%", " ", "a", "QUJD", "YWJjZA", "YWJj", "abcd", "eval(", "%3c"] {
        out.push(p.to_string());
    }
    out
}

/// The value in a query string (every byte but letters and digits percent-encoded).
fn query(v: &str) -> String {
    v.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

#[test]
fn skipped_base64_forms_agree_with_every_form_computed() {
    let (on, off) = prefilter_pair(RULES);
    let pieces = pieces();
    let alphabet: Vec<&str> = pieces.iter().map(String::as_str).collect();
    // pairs of pieces (all), and each piece in the middle of a few others
    let mut matched = vec![0usize; 6];
    for a in &alphabet {
        for b in &alphabet {
            for c in ["", "a", "=", "QUJD"] {
                let v = format!("{c}{a}{b}");
                let mut x = get_exact(&on, &format!("/?q={}", query(&v)), &[]);
                let mut y = get_exact(&off, &format!("/?q={}", query(&v)), &[]);
                assert_eq!(outcome(&mut x), outcome(&mut y), "{v:?}");
                for m in x.matches() {
                    matched[m.id as usize] += 1;
                }
            }
        }
    }
    // every rule matches somewhere, so the comparison covers forms past the decode for each chain
    assert!(matched[1..].iter().all(|n| *n > 0), "{matched:?}");
    // random base64 text of every length up to 40, with and without padding and a stray byte
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for n in 0..4_000 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let len = (seed % 41) as usize;
        let bytes: Vec<u8> = (0..len).map(|i| (seed >> (i % 8 * 8)) as u8 ^ (i as u8).wrapping_mul(151)).collect();
        let mut v = base64(&bytes);
        match n % 4 {
            0 => v = v.trim_end_matches('=').to_string(),
            1 => v.insert(v.len() / 2, '.'),
            _ => {}
        }
        let mut x = get_exact(&on, &format!("/?q={}", query(&v)), &[]);
        let mut y = get_exact(&off, &format!("/?q={}", query(&v)), &[]);
        assert_eq!(outcome(&mut x), outcome(&mut y), "{v:?}");
    }
}

/// The decoded forms of a value too short for the operator are not computed at all, and they are at the
/// boundary (six base64 characters make the four bytes `abcd` needs). A mutant that never cuts, or rounds
/// the decoded length down, fails it.
#[test]
fn short_base64_text_computes_no_decoded_form() {
    let e = rules_engine(&[
        r#"SecRule ARGS "@rx abcd" "id:1,phase:2,pass,log,t:none,t:base64Decode,t:urlDecodeUni,multiMatch""#,
    ]);
    let computed = |q: &str| get_exact(&e, &format!("/?q={q}"), &[]).stats().transforms_computed;
    // five characters: three bytes, shorter than `abcd`
    assert_eq!(computed("YWJjZ"), 0);
    // six: four bytes, decoded (and the later step run on them); the rule matches
    assert_eq!(computed("YWJjZA"), 2);
    let mut tx = get_exact(&e, "/?q=YWJjZA", &[]);
    assert_eq!(outcome(&mut tx).0, ["1 "]);
}
