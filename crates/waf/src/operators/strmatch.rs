//! `@strmatch`: the parameter occurs in the value (ModSecurity uses Boyer-Moore-Horspool; `memchr`-backed
//! search through `aho-corasick` would be equivalent; a simple search is enough for short parameters).

use super::{BuildCtx, OpCtx, Operator};

#[derive(Debug)]
pub struct StrMatch(Vec<u8>, Option<u32>);

pub fn build(arg: &str, ctx: &BuildCtx<'_>) -> Result<Box<dyn Operator>, String> {
    let pf = ctx.register_phrases([arg.as_bytes()]);
    Ok(Box::new(StrMatch(arg.as_bytes().to_vec(), pf)))
}

/// Position of the first `needle` in `hay`.
pub(crate) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    // memmem's vectorised search instead of a comparison per window (`@within %{tx.allowed_methods}` and
    // the content-type lists are searched on every request); the empty needle is found at 0 as before
    memchr::memmem::find(hay, needle)
}

impl Operator for StrMatch {
    fn prefilter_id(&self) -> Option<u32> {
        self.1
    }

    fn eval(&self, i: &[u8], ctx: &mut OpCtx<'_>) -> bool {
        let hit = find(i, &self.0).is_some();
        if hit {
            if let Some(c) = ctx.captures.as_deref_mut() {
                c.clear();
                c.push(&self.0);
            }
        }
        hit
    }
}
