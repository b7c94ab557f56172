//! A rule's transformation chain (`Transaction::compute_chain`: steps writing into two scratch buffers in turn,
//! steps skipped on the value's known bytes, a chain finished from its interned prefix's cached result) gives
//! the bytes of the chain's steps applied one after the other (`Transform::apply`, the reference). Every rule
//! below records its transformed value in `TX` (`MATCHED_VAR`), with the prefilter on and off.

mod common;

use common::*;
use portcullis_waf::transforms::lookup;

/// The chains: case changes before and after decoders, a chain and its prefix (2 after 1, 4 after 3), steps
/// that shorten, grow or rewrite the value.
const CHAINS: &[&[&str]] = &[
    &["urlDecodeUni", "lowercase"],
    &["urlDecodeUni", "lowercase", "removeWhitespace", "removeNulls"],
    &["lowercase"],
    &["lowercase", "htmlEntityDecode", "jsDecode", "cssDecode", "compressWhitespace"],
    &["utf8toUnicode", "urlDecodeUni", "htmlEntityDecode", "jsDecode", "cssDecode", "removeNulls"],
    &["cmdLine", "replaceComments", "normalizePath", "trim"],
    &["base64Decode", "lowercase", "urlDecodeUni"],
];

fn rules() -> String {
    let mut s = String::from("SecRuleEngine On\n");
    for (i, chain) in CHAINS.iter().enumerate() {
        let steps: String = chain.iter().map(|t| format!("t:{t},")).collect();
        s.push_str(&format!(
            "SecRule ARGS:v \"@rx ^\" \"id:{},phase:1,pass,nolog,t:none,{steps}setvar:'tx.r{}=%{{MATCHED_VAR}}'\"\n",
            i + 1,
            i + 1
        ));
    }
    s
}

/// The chain's steps applied one after the other.
fn reference(chain: &[&str], value: &[u8]) -> Vec<u8> {
    let mut cur = value.to_vec();
    for name in chain {
        let t = lookup(name).unwrap();
        cur = (t.apply)(&cur).into_owned();
    }
    cur
}

fn percent(v: &[u8]) -> String {
    v.iter().map(|b| format!("%{b:02X}")).collect()
}

#[test]
fn chains_give_the_steps_bytes() {
    let (on, off) = prefilter_pair(&rules());
    let alphabet: [&[u8]; 14] =
        [b"a", b"B", b"%41", b"%2520", b" ", b"\0", b"&lt;", b"\\x41", b"/*", b"*/", b"./", b"Zm9v", b"\xc3\xa9", b"'"];
    let mut n = 0;
    for i in &alphabet {
        for j in &alphabet {
            for k in &alphabet {
                let value = [*i, *j, *k].concat();
                let uri = format!("/a?v={}", percent(&value));
                for engine in [&on, &off] {
                    let tx = get_exact(engine, &uri, &[]);
                    let members = tx.tx_members();
                    for (c, chain) in CHAINS.iter().enumerate() {
                        let key = format!("r{}", c + 1).into_bytes();
                        let got = members.iter().find(|(k, _)| *k == key).map(|(_, v)| v.clone());
                        assert_eq!(got, Some(reference(chain, &value)), "chain {chain:?} on {value:?}");
                    }
                    n += 1;
                }
            }
        }
    }
    assert_eq!(n, 2 * alphabet.len().pow(3));
}

/// Rules whose operators have prefilter literals, negated or not, with chains that keep the value up to case or
/// may change it: the per-value path reads the value's untransformed entry once for the rule-out, the
/// transformation and the prefilter. The same outcome (matches, their transformed value, TX) as with the
/// prefilter off, where none of these shortcuts exists.
const LITERAL_RULES: &str = r#"SecRuleEngine On
SecRule ARGS:v|REQUEST_HEADERS:X-V "@rx a b" "id:1,phase:1,pass,log,t:none,t:urlDecodeUni,t:lowercase,logdata:'%{MATCHED_VAR}'"
SecRule ARGS:v|REQUEST_HEADERS:X-V "!@rx a b" "id:2,phase:1,pass,log,t:none,t:urlDecodeUni,t:lowercase,logdata:'%{MATCHED_VAR}'"
SecRule ARGS:v|REQUEST_HEADERS:X-V "@rx (?i)<b" "id:3,phase:1,pass,log,t:none,t:htmlEntityDecode,t:removeWhitespace,capture,logdata:'%{MATCHED_VAR}',setvar:tx.three=%{TX.0}"
SecRule ARGS:v|REQUEST_HEADERS:X-V "@pm zm9v foo" "id:4,phase:1,pass,log,t:none,t:base64Decode,t:lowercase,logdata:'%{MATCHED_VAR}'"
SecRule ARGS:v|REQUEST_HEADERS:X-V "@rx ab" "id:5,phase:1,pass,log,t:none,logdata:'%{MATCHED_VAR}'"
SecRule ARGS:v|REQUEST_HEADERS:X-V "@streq ab" "id:6,phase:1,pass,log,t:none,t:lowercase,t:removeNulls,logdata:'%{MATCHED_VAR}'"
"#;

#[test]
fn literal_rules_agree_with_the_prefilter_off() {
    let (on, off) = prefilter_pair(LITERAL_RULES);
    let alphabet: [&[u8]; 12] = [b"a", b"B", b"%41", b"%20", b" ", b"\0", b"&lt;", b"Zm9v", b"b", b"<", b"\t", b"x"];
    let matched = agree_on_triples((&on, &off), &alphabet, "X-V", |t| {
        let value = t.concat();
        (format!("/a?v={}", percent(&value)), String::from_utf8_lossy(&value).replace(['\0', '\t'], ""))
    });
    assert!(matched.len() == 7 && matched[1..].iter().all(|n| *n > 0), "{matched:?}");
}
