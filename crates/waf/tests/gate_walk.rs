//! The rule walk's jump over the rules a summary batch closed (`Transaction::gate_closed`): once a batch is
//! tested, the walk goes on at the next rule not marked, over runs of closed rules that cross 64-rule words.
//! The reference is the same rule set with the prefilter off: matches, logged data and TX must be identical,
//! every ungated rule between closed ones must still run (in order), every batch member must match when its
//! literal is there, and phase 2 (ungated rules where phase 1 had closed ones) must not see phase 1's marks.

mod common;

use common::*;

/// Rules per phase: most are one batch (same sources, same chain, one straight run); the rest are
/// `SecAction`s (no gate) at positions that differ between the phases.
const RULES_PER_PHASE: u32 = 200;

fn ungated(phase: u32, k: u32) -> bool {
    match phase {
        1 => k % 37 == 36 || k == 64 || k == 128,
        _ => k % 41 == 5 || k == 63 || k == 65,
    }
}

fn id(phase: u32, k: u32) -> u32 {
    phase * 1000 + k
}

fn rules() -> String {
    let mut s = String::from("SecRuleEngine On\n");
    for phase in [1, 2] {
        for k in 0..RULES_PER_PHASE {
            let id = id(phase, k);
            if ungated(phase, k) {
                s += &format!("SecAction \"id:{id},phase:{phase},pass,log,setvar:tx.walk=%{{tx.walk}}-{id}\"\n");
            } else {
                s += &format!(
                    "SecRule ARGS|REQUEST_HEADERS:X-A \"@rx lit{k}q\" \"id:{id},phase:{phase},pass,log,t:urlDecodeUni,\
                     logdata:'%{{MATCHED_VAR_NAME}}',setvar:tx.walk=%{{tx.walk}}+{id}\"\n"
                );
            }
        }
    }
    s
}

/// The ids expected to match when the request holds the literals of rules `lits` (by position).
fn expected(lits: &[u32]) -> Vec<u32> {
    let mut ids = Vec::new();
    for phase in [1, 2] {
        for k in 0..RULES_PER_PHASE {
            if ungated(phase, k) || lits.contains(&k) {
                ids.push(id(phase, k));
            }
        }
    }
    ids
}

#[test]
fn the_walk_jumps_only_over_closed_rules() {
    let (on, off) = prefilter_pair(&rules());
    let cases: [Case; 9] = [
        ("/a?q=hello", &[("X-A", "fine")], &[]),
        // members next to ungated rules and at the words' edges (63, 64, 65, 127, 128, 129), first and last
        ("/a?q=lit0q", &[], &[0]),
        ("/a?q=lit63q", &[], &[63]),
        ("/a?q=x", &[("X-A", "lit65q")], &[65]),
        ("/a?q=lit%3127q", &[], &[127]),
        ("/a?q=lit129q&r=lit35q", &[], &[35, 129]),
        ("/a?q=lit199q", &[("X-A", "lit37q")], &[37, 199]),
        // several literals in one value: members spread over every word
        ("/a?q=lit1q+lit70q+lit140q+lit190q", &[], &[1, 70, 140, 190]),
        ("/a?lit5q=1", &[], &[]),
    ];
    for (uri, headers, lits) in cases {
        let mut a = get_exact(&on, uri, headers);
        let mut b = get_exact(&off, uri, headers);
        assert_eq!(outcome(&mut a), outcome(&mut b), "{uri} {headers:?}");
        let ids: Vec<u32> = a.matches().iter().map(|m| m.id).collect();
        assert_eq!(ids, expected(lits), "{uri} {headers:?}");
    }
    // on the benign request only the ungated rules are evaluated
    let a = get_exact(&on, "/a?q=hello", &[("X-A", "fine")]);
    let ungated_rules = [1, 2].iter().map(|p| (0..RULES_PER_PHASE).filter(|k| ungated(*p, *k)).count()).sum::<usize>();
    assert_eq!(a.stats().rules as usize, ungated_rules);
}
