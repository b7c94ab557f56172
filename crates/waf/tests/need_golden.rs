//! The regex need analysis (`prefilter::need::of_regex`) gives, for every `@rx` operand of CRS and of the
//! built-in pack, exactly the need recorded in `tests/data/regex_needs.txt`. The analysis is start-up work
//! that has been made cheaper (memoised walks) without changing what it finds: this file pins what it finds.
//! `PORTCULLIS_BLESS_NEEDS=1 cargo test -p portcullis-waf --test need_golden` rewrites the file (only for a
//! change that means to alter a need, with its reason in the commit).

mod common;

use common::crs_dir;
use portcullis_waf::prefilter::need;
use portcullis_waf::regex_util::compile_rx_mode;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Every `@rx` operand (negated or not) of the `.conf` files in `dir`, with where it is, in file order.
fn rx_operands(dir: &Path, out: &mut Vec<(String, String)>) {
    for o in common::rule_operators(dir) {
        if o.name.eq_ignore_ascii_case("rx") {
            out.push((format!("{}:{}", o.file, o.line), o.arg));
        }
    }
}

fn describe(n: &Option<need::Need>) -> String {
    match n {
        None => "none".into(),
        Some(n) => {
            let lits: Vec<String> = n.lits.iter().map(|l| l.escape_ascii().to_string()).collect();
            let bytes: String = n.bytes.iter().map(|b| [b].escape_ascii().to_string()).collect();
            format!("lits {lits:?} bytes {bytes:?}")
        }
    }
}

#[test]
fn every_crs_and_pack_regex_keeps_its_need() {
    let mut ops = Vec::new();
    rx_operands(&crs_dir().join("rules"), &mut ops);
    rx_operands(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../waf-protection/rules"), &mut ops);
    assert!(ops.len() > 300, "found only {} regexes", ops.len());
    let mut got = String::new();
    for (at, arg) in &ops {
        if arg.contains("%{") {
            continue;
        }
        let Ok((_, unicode)) = compile_rx_mode(arg) else { continue };
        writeln!(got, "{at}\t{}", describe(&need::of_regex(arg, unicode))).unwrap();
    }
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/regex_needs.txt");
    if std::env::var_os("PORTCULLIS_BLESS_NEEDS").is_some() {
        std::fs::write(&path, &got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap();
    for (g, w) in got.lines().zip(want.lines()) {
        assert_eq!(g, w, "a regex's need changed");
    }
    assert_eq!(got.lines().count(), want.lines().count());
}
