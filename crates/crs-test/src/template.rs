//! The part of go-ftw's `data` templating (Go `text/template` + sprig) that CRS tests use:
//! `{{ "1" | repeat 64200 }}` and its call form `{{ repeat 64200 "1" }}`. Anything else is reported, not guessed.

/// Expands template actions in `data`. Text without `{{` is returned unchanged.
pub fn expand(data: &str) -> Result<String, String> {
    if !data.contains("{{") {
        return Ok(data.to_owned());
    }
    let mut out = String::with_capacity(data.len());
    let mut rest = data;
    while let Some(start) = rest.find("{{") {
        let mut literal = &rest[..start];
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or("unclosed `{{` in data template")?;
        let mut action = &after[..end];
        rest = &after[end + 2..];
        // `{{-` and `-}}` trim the surrounding whitespace, as in Go.
        if let Some(a) = action.strip_prefix('-') {
            action = a;
            literal = literal.trim_end();
        }
        out.push_str(literal);
        if let Some(a) = action.strip_suffix('-') {
            action = a;
            rest = rest.trim_start();
        }
        out.push_str(&eval(action.trim())?);
    }
    out.push_str(rest);
    Ok(out)
}

fn eval(action: &str) -> Result<String, String> {
    let unsupported = || format!("unsupported data template action `{{{{{action}}}}}`");
    let (head, piped) = match action.split_once('|') {
        Some((lit, call)) => (call.trim(), Some(parse_string(lit.trim()).ok_or_else(unsupported)?)),
        None => (action, None),
    };
    let mut words = head.split_whitespace();
    if words.next() != Some("repeat") {
        return Err(unsupported());
    }
    let count: usize = words.next().and_then(|n| n.parse().ok()).ok_or_else(unsupported)?;
    let text = match piped {
        Some(t) => t,
        None => parse_string(words.collect::<Vec<_>>().join(" ").trim()).ok_or_else(unsupported)?,
    };
    Ok(text.repeat(count))
}

/// A Go double-quoted or raw (backquoted) string literal.
fn parse_string(s: &str) -> Option<String> {
    if let Some(raw) = s.strip_prefix('`').and_then(|r| r.strip_suffix('`')) {
        return Some(raw.to_owned());
    }
    let inner = s.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            '\\' => out.push('\\'),
            '"' => out.push('"'),
            _ => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::expand;

    #[test]
    fn repeats() {
        assert_eq!(expand("a{{ \"1\" | repeat 3 }}b").unwrap(), "a111b");
        assert_eq!(expand("{{ repeat 2 \"xy\" }}").unwrap(), "xyxy");
        assert_eq!(expand("x  {{- \"z\" | repeat 1 -}}  y").unwrap(), "xzy");
        assert_eq!(expand("plain").unwrap(), "plain");
    }

    #[test]
    fn unsupported_is_an_error() {
        assert!(expand("{{constructor.constructor('alert(1)')()}}").is_err());
        assert!(expand("{{ \"1\" | repeat").is_err());
    }
}
