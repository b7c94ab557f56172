//! Reads rule files, expanding `Include` (globs, relative to the including file) into one flat directive
//! list in load order, and rejecting include loops.

use super::lexer::{lex, RawDirective};
use crate::error::{LoadError, Location};
use std::path::{Path, PathBuf};

/// Deepest include nesting accepted; a guard against pathological (non-looping) include trees.
const MAX_INCLUDE_DEPTH: usize = 32;

/// Expands a path pattern (may contain glob characters) into sorted existing paths.
pub fn expand_pattern(pattern: &Path, loc: &Location) -> Result<Vec<PathBuf>, LoadError> {
    let s = pattern.to_string_lossy();
    if !s.contains(['*', '?', '[']) {
        return Ok(vec![pattern.to_path_buf()]);
    }
    let paths = glob::glob(&s).map_err(|e| LoadError::BadGlob {
        loc: loc.clone(),
        pattern: s.to_string(),
        reason: e.to_string(),
    })?;
    let mut out: Vec<PathBuf> = paths.filter_map(Result::ok).filter(|p| p.is_file()).collect();
    out.sort();
    Ok(out)
}

/// Loads `path` and everything it includes.
pub fn load_file(
    path: &Path,
    stack: &mut Vec<PathBuf>,
    from: &Location,
    out: &mut Vec<RawDirective>,
) -> Result<(), LoadError> {
    let canon =
        path.canonicalize().map_err(|e| LoadError::Io { loc: from.clone(), path: path.to_path_buf(), source: e })?;
    if stack.contains(&canon) {
        return Err(LoadError::IncludeLoop { loc: from.clone(), path: path.to_path_buf() });
    }
    if stack.len() >= MAX_INCLUDE_DEPTH {
        return Err(LoadError::syntax(from, None, format!("includes nested deeper than {MAX_INCLUDE_DEPTH}")));
    }
    let text = std::fs::read_to_string(path).map_err(|e| LoadError::Io {
        loc: from.clone(),
        path: path.to_path_buf(),
        source: e,
    })?;
    stack.push(canon);
    let res = load_text(&text, path, stack, out);
    stack.pop();
    res
}

/// Lexes `text` (named `name`) and expands its includes relative to `name`'s directory.
pub fn load_text(
    text: &str,
    name: &Path,
    stack: &mut Vec<PathBuf>,
    out: &mut Vec<RawDirective>,
) -> Result<(), LoadError> {
    for d in lex(text, name)? {
        if d.name.eq_ignore_ascii_case("include") {
            let [arg] = d.args.as_slice() else {
                return Err(LoadError::syntax(&d.loc, None, "Include takes exactly one path"));
            };
            let base = name.parent().unwrap_or(Path::new("."));
            let target = base.join(arg);
            let files = expand_pattern(&target, &d.loc)?;
            for f in files {
                load_file(&f, stack, &d.loc, out)?;
            }
        } else {
            out.push(d);
        }
    }
    Ok(())
}
