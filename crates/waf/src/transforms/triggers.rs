//! Which bytes a transformation needs to see before it changes a value by more than ASCII letter case. A
//! value holding none of a chain's trigger bytes comes out of the chain equal to itself up to case, so the
//! prefilter (ASCII case-insensitive) may judge it untransformed: the gate and the evaluator skip computing
//! the chain for it unless an operator is still possible (most benign values, most CRS chains).
//!
//! Each set is the transformation's own early exit (its `find` predicate) widened to single bytes: a pair
//! trigger (`/*`) is represented by one of its bytes that must be present. Trigger sets hold no letters, so
//! a change of case by an earlier step cannot add a trigger for a later one. Transformations that rewrite
//! every value (`length`, `sha1`, `hexEncode`, `base64*`, ...) have no set: a chain holding one is always
//! computed. Owns this table only; the functions themselves live in their own files.

/// C whitespace (`is_c_space`): `\t \n \v \f \r` and space.
const C_SPACE: &[u8] = b"\t\n\x0b\x0c\r ";

/// The trigger bytes of transformation `name` (canonical spelling), or `None` if it may change any value.
pub fn triggers(name: &str) -> Option<&'static [u8]> {
    Some(match name {
        "lowercase" | "uppercase" => b"",
        "urlDecode" | "urlDecodeUni" => b"%+",
        "jsDecode" | "cssDecode" | "escapeSeqDecode" => b"\\",
        "htmlEntityDecode" => b"&",
        "removeNulls" | "replaceNulls" => b"\0",
        // `cmdLine` lowers letters (case only) and rewrites these
        "cmdLine" => b"\\\"'^,;\t\r\n ",
        "compressWhitespace" | "trim" | "trimLeft" | "trimRight" => C_SPACE,
        "removeWhitespace" => b"\t\n\x0b\x0c\r \xa0",
        // `/*` needs `*`
        "replaceComments" => b"*",
        // `/*`, `*/`, `<!`, `--`, `#`
        "removeComments" | "removeCommentsChar" => b"*!-#",
        // `//`, `./`, a final `.`
        "normalizePath" => b"/.",
        "normalizePathWin" => b"/.\\",
        // `portcullis_detect::decode::deep`'s own first scan
        "deepDecode" => portcullis_detect::decode::DEEP_TRIGGERS,
        _ => return None,
    })
}

/// The union of the trigger bytes of `steps` as a 256-bit set (bit `b` of word `b / 64`), or `None` if a
/// step has no set.
pub fn chain_triggers(steps: &[super::Transform]) -> Option<[u64; 4]> {
    let mut t = [0u64; 4];
    for s in steps {
        if s.name == "utf8toUnicode" {
            // a range rather than a list: NUL and every non-ASCII byte
            t[0] |= 1;
            t[2] = u64::MAX;
            t[3] = u64::MAX;
            continue;
        }
        for b in triggers(s.name)? {
            t[(b >> 6) as usize] |= 1 << (b & 63);
        }
    }
    Some(t)
}

/// The trigger set of the single step `t` ([`chain_triggers`]), kept only if it holds no ASCII letter (none
/// does): a byte set read from the value in another letter case (the gate's untransformed entry) then
/// answers for the value itself.
pub fn step_triggers(t: &super::Transform) -> Option<[u64; 4]> {
    let set = chain_triggers(std::slice::from_ref(t))?;
    let letters = bytes_present(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");
    none_of(&set, &letters).then_some(set)
}

/// The set of bytes occurring in `v`, in the layout of [`chain_triggers`].
pub fn bytes_present(v: &[u8]) -> [u64; 4] {
    let mut m = [0u64; 4];
    for b in v {
        m[(b >> 6) as usize] |= 1 << (b & 63);
    }
    m
}

/// Does a value with the bytes `present` hold none of `triggers`?
pub fn none_of(triggers: &[u64; 4], present: &[u64; 4]) -> bool {
    triggers.iter().zip(present).all(|(t, p)| t & p == 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transforms::lookup;
    use proptest::prelude::*;
    use proptest::strategy::ValueTree;

    fn applied(name: &str, v: &[u8]) -> Vec<u8> {
        (lookup(name).unwrap().apply)(v).into_owned()
    }

    /// Every transformation with a set (and `utf8toUnicode`), on random values made of bytes outside it,
    /// must leave the value equal up to ASCII case.
    #[test]
    fn values_without_triggers_change_only_case() {
        let names: Vec<&str> = crate::transforms::names().collect();
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let mut checked = 0;
        for key in names {
            let t = lookup(key).unwrap();
            let Some(table) = chain_triggers(&[t]) else { continue };
            let allowed: Vec<u8> = (0..=255u8).filter(|b| none_of(&table, &bytes_present(&[*b]))).collect();
            let strategy = proptest::collection::vec(proptest::sample::select(allowed.clone()), 0..40);
            for _ in 0..400 {
                let v = strategy.new_tree(&mut runner).unwrap().current();
                let out = applied(key, &v);
                assert!(out.eq_ignore_ascii_case(&v), "{key} changed {v:?} into {out:?} without a trigger byte");
                checked += 1;
            }
        }
        assert!(checked > 5000);
    }

    /// Every step that does not change case on its own, on random values made of bytes outside its triggers
    /// (letters of both cases included), returns its input borrowed and whole: the engine may skip the call.
    /// The case-changing ones keep such a value up to case (above).
    #[test]
    fn values_without_step_triggers_come_back_borrowed() {
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let mut checked = 0;
        let mut skippable = Vec::new();
        for key in crate::transforms::names() {
            let t = lookup(key).unwrap();
            assert_eq!(t.triggers, chain_triggers(&[t]), "{key}: a trigger set with a letter");
            let Some(table) = t.triggers else { continue };
            let allowed: Vec<u8> = (0..=255u8).filter(|b| none_of(&table, &bytes_present(&[*b]))).collect();
            assert!(t.is_identity_on(&bytes_present(&allowed)) != t.changes_case);
            if t.changes_case {
                continue;
            }
            skippable.push(t.name);
            let strategy = proptest::collection::vec(proptest::sample::select(allowed.clone()), 0..40);
            for _ in 0..400 {
                let v = strategy.new_tree(&mut runner).unwrap().current();
                let out = (t.apply)(&v);
                assert!(
                    matches!(out, std::borrow::Cow::Borrowed(b) if b.len() == v.len()),
                    "{key} changed {v:?} into {out:?} without a trigger"
                );
                checked += 1;
            }
        }
        for name in ["urlDecodeUni", "jsDecode", "removeNulls", "removeWhitespace", "utf8toUnicode"] {
            assert!(skippable.contains(&name), "{name} is never skipped");
        }
        for name in ["lowercase", "uppercase", "cmdLine"] {
            assert!(lookup(name).unwrap().changes_case && !skippable.contains(&name), "{name} is skipped");
        }
        assert!(lookup("base64Decode").unwrap().triggers.is_none());
        assert!(checked > 5000);
    }

    #[test]
    fn chains_union_their_steps_and_refuse_rewriting_steps() {
        let steps = [lookup("urlDecodeUni").unwrap(), lookup("htmlEntityDecode").unwrap()];
        let t = chain_triggers(&steps).unwrap();
        let has = |t: &[u64; 4], b: u8| !none_of(t, &bytes_present(&[b]));
        assert!(has(&t, b'%') && has(&t, b'&') && !has(&t, b'a') && !has(&t, b'<'));
        assert!(chain_triggers(&[lookup("lowercase").unwrap(), lookup("length").unwrap()]).is_none());
        let u = chain_triggers(&[lookup("utf8toUnicode").unwrap()]).unwrap();
        assert!(has(&u, 0) && has(&u, 0x80) && has(&u, 0xff) && !has(&u, b'a') && !has(&u, 0x7f));
        let d = chain_triggers(&[lookup("deepDecode").unwrap()]).unwrap();
        assert!(has(&d, b'%') && has(&d, b'\\') && has(&d, 0xc0) && !has(&d, b'+') && !has(&d, 0x80));
        assert!(chain_triggers(&[lookup("deepDecode").unwrap(), lookup("base64IfEncoded").unwrap()]).is_none());
    }

    proptest! {
        /// A CRS-like chain on values without its triggers: equal up to case after every step.
        #[test]
        fn crs_chain_keeps_trigger_free_values(v in "[a-zA-Z0-9 ,._:=()?@!$~-]{0,60}") {
            let names = ["utf8toUnicode", "urlDecodeUni", "htmlEntityDecode", "jsDecode", "cssDecode", "lowercase"];
            let steps: Vec<_> = names.iter().map(|n| lookup(n).unwrap()).collect();
            let t = chain_triggers(&steps).unwrap();
            prop_assume!(none_of(&t, &bytes_present(v.as_bytes())));
            let mut cur = v.as_bytes().to_vec();
            for s in &steps {
                cur = (s.apply)(&cur).into_owned();
            }
            prop_assert!(cur.eq_ignore_ascii_case(v.as_bytes()));
        }
    }
}
