//! `@pm` / `@pmFromFile`: case-insensitive multi-phrase match with one Aho-Corasick automaton.

use super::{read_list_files, BuildCtx, OpCtx, Operator};
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};

#[derive(Debug)]
pub struct Pm(AhoCorasick, Option<u32>);

fn from_phrases(phrases: Vec<String>, ctx: &BuildCtx<'_>) -> Result<Box<dyn Operator>, String> {
    if phrases.is_empty() {
        return Err("no phrases".into());
    }
    // a match contains one of the phrases (case-insensitively, as the shared scan checks them)
    let pf = ctx.register_phrases(phrases.iter().map(|p| p.as_bytes()));
    let mut b = AhoCorasickBuilder::new();
    b.ascii_case_insensitive(true).match_kind(MatchKind::LeftmostFirst);
    // A DFA walks each byte with one table lookup; the automatic choice takes the contiguous NFA (failure
    // transitions per byte) for CRS's large `@pmFromFile` lists, which costs several times more per value.
    // The DFA is bigger (a few MB for the largest list at most); if it cannot be built, the default is used.
    let ac = match b.clone().kind(Some(AhoCorasickKind::DFA)).build(&phrases) {
        Ok(ac) => ac,
        Err(_) => b.build(&phrases).map_err(|e| e.to_string())?,
    };
    Ok(Box::new(Pm(ac, pf)))
}

pub fn build(arg: &str, ctx: &BuildCtx<'_>) -> Result<Box<dyn Operator>, String> {
    from_phrases(arg.split_whitespace().map(str::to_string).collect(), ctx)
}

pub fn build_from_file(arg: &str, ctx: &BuildCtx<'_>) -> Result<Box<dyn Operator>, String> {
    from_phrases(read_list_files(arg, ctx)?, ctx)
}

impl Operator for Pm {
    fn prefilter_id(&self) -> Option<u32> {
        self.1
    }

    fn eval(&self, input: &[u8], ctx: &mut OpCtx<'_>) -> bool {
        match self.0.find(input) {
            None => false,
            Some(m) => {
                if let Some(c) = ctx.captures.as_deref_mut() {
                    c.clear();
                    c.push(&input[m.start()..m.end()]);
                }
                true
            }
        }
    }
}
