//! `multiMatch` forms after a `base64Decode` whose decoded text holds none of the bytes from which the later
//! steps could make one of the operator's need bytes are not computed (`Transaction::multi_forms_for`,
//! `post_cut_bytes`). The reference is the same rule set with the prefilter off, where every form is
//! computed and offered to the operator: the matches, their data (the form that matched) and TX must be
//! identical.

mod common;

use common::*;

/// Regexes whose need is a few punctuation bytes (`()(` and `[][`: the need bytes are the brackets), on
/// chains whose steps after the decode make those bytes from others (`%28`, `\x28`, `\u0028`, `%u0028`),
/// two of them sharing one chain with different needs (the one in phase 1 meets each value's decoded text
/// first, the other then computes its forms afresh in phase 2), and a negated rule (a refused form is its
/// match).
const RULES: &str = r#"SecRuleEngine On
SecRule ARGS "@rx \(\)\(" "id:1,phase:2,pass,log,capture,t:none,t:base64Decode,t:urlDecodeUni,t:jsDecode,multiMatch,logdata:'%{MATCHED_VAR}',setvar:tx.one=%{TX.0}"
SecRule ARGS "@rx \[\]\[" "id:2,phase:1,pass,log,t:none,t:base64Decode,t:urlDecodeUni,t:jsDecode,multiMatch,logdata:'%{MATCHED_VAR}',setvar:tx.two=+1"
SecRule ARGS "@rx \(\)\(" "id:3,phase:2,pass,log,t:none,t:urlDecodeUni,t:base64Decode,t:jsDecode,t:removeWhitespace,multiMatch,logdata:'%{MATCHED_VAR}',setvar:tx.three=+1"
SecRule ARGS "!@rx \(\)\(" "id:4,phase:2,pass,log,t:none,t:base64Decode,t:urlDecodeUni,multiMatch,logdata:'%{MATCHED_VAR}',setvar:tx.four=+1"
"#;

/// Base64 text of `s` after `lead` bytes (each of the three alignments of a 3-byte group).
fn encoded(lead: &str, s: &str) -> String {
    base64(format!("{lead}{s}").as_bytes())
}

/// The value in a query string (every byte but letters and digits percent-encoded).
fn query(v: &str) -> String {
    v.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

#[test]
fn decoded_text_without_the_need_bytes_agrees_with_every_form_computed() {
    let (on, off) = prefilter_pair(RULES);
    let mut texts = Vec::new();
    for lead in ["", "x", "xy", "abcdef"] {
        for lit in [
            "()(",
            "[][",
            "%28%29%28",
            "%5b%5d%5b",
            "\\x28\\x29\\x28",
            "\\u005b\\u005d\\u005b",
            "%u0028%u0029%u0028",
            "( ) (",
            "()x(",
            "%2",
            "\\",
            "abcdefgh",
        ] {
            texts.push(encoded(lead, lit));
            texts.push(encoded(lead, lit).trim_end_matches('=').to_string());
        }
    }
    let mut matched = [0usize; 5];
    let mut check = |v: &str| {
        let mut x = get_exact(&on, &format!("/?q={}", query(v)), &[]);
        let mut y = get_exact(&off, &format!("/?q={}", query(v)), &[]);
        assert_eq!(outcome(&mut x), outcome(&mut y), "{v:?}");
        for m in x.matches() {
            matched[m.id as usize] += 1;
        }
    };
    for t in &texts {
        check(t);
        // the same behind a `%`-escape the first step of rule 3 resolves
        check(&format!("%25{t}"));
    }
    // random text of the bytes that make the need bytes, and the need bytes themselves, encoded
    let alphabet = b"()[]%\\xu0123589bdAB ";
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..3_000 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let len = (seed % 24) as usize + 4;
        let bytes: Vec<u8> =
            (0..len).map(|i| alphabet[((seed >> (i % 16 * 4)) as usize ^ i) % alphabet.len()]).collect();
        check(&base64(&bytes));
    }
    // every rule matches somewhere, so the comparison covers forms past the decode for each chain
    assert!(matched[1..].iter().all(|n| *n > 0), "{matched:?}");
}

/// A decoded text long enough for the operator but holding none of its need bytes, nor a byte the later step
/// makes one from, has no later form computed; one holding such a byte has, and matches. A mutant that never
/// tests the decoded text fails the first assertion; one that tests it for the need bytes alone (not what
/// the later steps make them from) fails the last. (The rule's gate, `Gate::b64`, would rule the first
/// request out before evaluation: a second parameter that matches as it is opens it.)
#[test]
fn decoded_text_without_the_need_bytes_computes_no_later_form() {
    let e = rules_engine(&[
        r#"SecRule ARGS "@rx \(\)\(" "id:1,phase:2,pass,log,t:none,t:base64Decode,t:urlDecodeUni,multiMatch""#,
    ]);
    let computed = |q: &str| get_exact(&e, &format!("/?q={}", query(q)), &[]).stats().transforms_computed;
    // `abcdefgh`: eight bytes, no bracket and no `%`: decoded, then nothing more (`r` matches untransformed)
    let opened = get_exact(&e, &format!("/?q={}&r={}", query(&base64(b"abcdefgh")), query("()(")), &[]);
    assert_eq!(opened.stats().rules, 1, "the gate is open");
    assert_eq!(opened.stats().transforms_computed, 1);
    assert_eq!(computed(&base64(b"abcdefgh")), 0, "closed by the gate: nothing evaluated");
    // `%28%29%28`: the later step runs and makes `()(`
    let v = base64(b"%28%29%28");
    assert_eq!(computed(&v), 2);
    let mut tx = get_exact(&e, &format!("/?q={}", query(&v)), &[]);
    assert_eq!(outcome(&mut tx).0, ["1 "]);
}
