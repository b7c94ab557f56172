//! `@pm` / `@pmFromFile`: case-insensitive multi-phrase match with one Aho-Corasick automaton.

use super::{read_list_files, BuildCtx, OpCtx, Operator};
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

#[derive(Debug)]
pub struct Pm(AhoCorasick);

fn from_phrases(phrases: Vec<String>) -> Result<Box<dyn Operator>, String> {
    if phrases.is_empty() {
        return Err("no phrases".into());
    }
    let ac = AhoCorasickBuilder::new()
        .ascii_case_insensitive(true)
        .match_kind(MatchKind::LeftmostFirst)
        .build(&phrases)
        .map_err(|e| e.to_string())?;
    Ok(Box::new(Pm(ac)))
}

pub fn build(arg: &str, _: &BuildCtx<'_>) -> Result<Box<dyn Operator>, String> {
    from_phrases(arg.split_whitespace().map(str::to_string).collect())
}

pub fn build_from_file(arg: &str, ctx: &BuildCtx<'_>) -> Result<Box<dyn Operator>, String> {
    from_phrases(read_list_files(arg, ctx)?)
}

impl Operator for Pm {
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
