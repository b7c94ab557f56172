//! Splits SecLang text into directives: joins `\`-continued lines, drops comments and blank lines, and
//! splits each directive into its name and arguments (Apache-style quoting: only `\"`/`\'` is an escape
//! inside a quoted argument, every other backslash is kept because operators like `@rx` need it).

use crate::error::{LoadError, Location};
use std::path::Path;

/// One directive as written: `SecRule ARGS "@rx foo" "id:1,deny"` → name `SecRule`, three args.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawDirective {
    pub name: String,
    pub args: Vec<String>,
    pub loc: Location,
}

/// Lexes a whole file's text.
pub fn lex(text: &str, file: &Path) -> Result<Vec<RawDirective>, LoadError> {
    let mut out = Vec::new();
    let mut logical = String::new();
    let mut start_line = 0u32;
    let mut in_continuation = false;
    for (idx, raw_line) in text.lines().enumerate() {
        let line_no = (idx + 1) as u32;
        let line = raw_line.strip_suffix('\r').unwrap_or(raw_line);
        if !in_continuation {
            let trimmed = line.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            start_line = line_no;
            logical.clear();
        }
        let trimmed_end = line.trim_end();
        if let Some(body) = trimmed_end.strip_suffix('\\') {
            logical.push_str(body);
            in_continuation = true;
            continue;
        }
        logical.push_str(line);
        in_continuation = false;
        let loc = Location { file: file.to_path_buf(), line: start_line };
        if let Some(d) = split_directive(&logical, &loc)? {
            out.push(d);
        }
    }
    if in_continuation && !logical.trim().is_empty() {
        let loc = Location { file: file.to_path_buf(), line: start_line };
        if let Some(d) = split_directive(&logical, &loc)? {
            out.push(d);
        }
    }
    Ok(out)
}

fn split_directive(line: &str, loc: &Location) -> Result<Option<RawDirective>, LoadError> {
    let words = split_args(line, loc)?;
    let mut it = words.into_iter();
    let Some(name) = it.next() else { return Ok(None) };
    Ok(Some(RawDirective { name, args: it.collect(), loc: loc.clone() }))
}

/// Splits a directive line into whitespace-separated words honouring `"..."` and `'...'` quoting.
pub fn split_args(line: &str, loc: &Location) -> Result<Vec<String>, LoadError> {
    let mut words = Vec::new();
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        if i >= chars.len() {
            break;
        }
        let mut word = String::new();
        let c = chars[i];
        if c == '"' || c == '\'' {
            let quote = c;
            i += 1;
            let mut closed = false;
            while i < chars.len() {
                let ch = chars[i];
                if ch == '\\' && i + 1 < chars.len() && chars[i + 1] == quote {
                    word.push(quote);
                    i += 2;
                    continue;
                }
                if ch == quote {
                    closed = true;
                    i += 1;
                    break;
                }
                word.push(ch);
                i += 1;
            }
            if !closed {
                return Err(LoadError::syntax(loc, None, format!("unterminated {quote} quote")));
            }
        } else {
            while i < chars.len() && !chars[i].is_whitespace() {
                word.push(chars[i]);
                i += 1;
            }
        }
        words.push(word);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lx(t: &str) -> Vec<RawDirective> {
        lex(t, Path::new("t.conf")).unwrap()
    }

    #[test]
    fn continuation_comments_and_quotes() {
        let d = lx("# c\n\nSecRule ARGS \"@rx a\\\"b\\d\" \\\n   \"id:1,\\\n  deny\"\nSecMarker END\n");
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].name, "SecRule");
        assert_eq!(d[0].args, vec!["ARGS", "@rx a\"b\\d", "id:1,  deny"]);
        assert_eq!(d[0].loc.line, 3);
        assert_eq!(d[1].args, vec!["END"]);
        assert_eq!(d[1].loc.line, 6);
    }

    #[test]
    fn single_quotes_and_unterminated() {
        let d = lx("SecAction 'id:2,pass'");
        assert_eq!(d[0].args, vec!["id:2,pass"]);
        let e = lex("SecAction \"id:2", Path::new("x.conf")).unwrap_err().to_string();
        assert!(e.contains("x.conf:1"), "{e}");
    }
}
