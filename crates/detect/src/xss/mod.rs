//! Cross-site scripting detection. The value is read in each HTML context an application may paste it into,
//! and flagged when, in one of them, it makes the browser run script:
//!
//! - as markup ([`html`]): an element that executes or loads code (`<script>`, `<iframe>`, `<object>`, `<base>`,
//!   `<x:script>`), any `on*=` handler, a script URI (`javascript:`, `vbscript:`, `data:text/html`, with entity and
//!   whitespace obfuscation undone by [`entity`]), CSS that runs script, `<meta http-equiv>`, `<link rel=import>`;
//! - inside an attribute value (quoted or not): a breakout that adds a handler or a style (`" onmouseover="...`);
//! - as a whole URL attribute (`href`, `src`): a script URI followed by code;
//! - inside a JavaScript string: a breakout followed by a harmful call or assignment (`';alert(1)//`);
//! - inside a template (`{{constructor.constructor('alert(1)')()}}`) or a style value (`x:expression(...)`).
//!
//! Text that only looks like markup passes: `a < b`, `<3`, `vector<int>`, `<a@b.c>`, `->`, `=>`, and plain
//! formatting tags without handlers or script URIs (see `rules` for why).
//!
//! Owns: XSS detection on one decoded value. Must not decode URL encodings (see `crate::decode`).
//!
//! ```
//! assert!(portcullis_detect::xss::detect(b"<img src=x onerror=alert(1)>").is_some());
//! assert!(portcullis_detect::xss::detect(b"I <3 <b>bold</b> text").is_none());
//! ```

mod entity;
mod html;
mod js;
mod rules;

use crate::{Class, Finding};
use std::ops::Range;

/// Detects XSS in one value.
pub fn detect(input: &[u8]) -> Option<Finding> {
    detect_with(input, true)
}

/// [`detect`] without the byte shortcuts of [`Shortcuts`], kept public so tests can check that they never
/// change an answer (`tests/prefilter_necessary.rs`).
#[doc(hidden)]
pub fn detect_exhaustive(input: &[u8]) -> Option<Finding> {
    detect_with(input, false)
}

/// Bytes each analysis cannot do without, found in one pass: a tag needs `<`, an attribute value `=`, and a
/// script URI's scheme a `:` (or a character reference `&colon;` standing for it). A `User-Agent`, a path or
/// prose without them skips those analyses instead of parsing for nothing.
struct Shortcuts {
    no_lt: bool,
    no_equals: bool,
    no_colon: bool,
}

impl Shortcuts {
    fn of(input: &[u8], enabled: bool) -> Shortcuts {
        let (mut lt, mut eq, mut colon) = (false, false, false);
        if enabled {
            for &b in input {
                match b {
                    b'<' => lt = true,
                    b'=' => eq = true,
                    b':' | b'&' => colon = true,
                    _ => {}
                }
            }
        }
        Shortcuts { no_lt: enabled && !lt, no_equals: enabled && !eq, no_colon: enabled && !colon }
    }
}

/// Every scheme [`rules::script_uri`] knows (`javascript:`, `livescript:`, `vbscript:`, `data:`) starts with
/// `j`, `l`, `v` or `d` in any case, read after leading spaces and control bytes and after character
/// references (`&#106;avascript:`): the first other byte of the value must be one of those or a `&`.
fn may_open_script_uri(v: &[u8], enabled: bool) -> bool {
    !enabled
        || v.iter().find(|&&b| b > 0x20).is_some_and(|&b| matches!(b | 0x20, b'j' | b'l' | b'v' | b'd') || b == b'&')
}

fn detect_with(input: &[u8], enabled: bool) -> Option<Finding> {
    if input.is_empty() {
        return None;
    }
    let skip = Shortcuts::of(input, enabled);
    (!skip.no_lt)
        .then(|| markup(input))
        .flatten()
        .or_else(|| (!skip.no_equals).then(|| attribute_breakout(input)).flatten())
        .or_else(|| (!skip.no_colon && may_open_script_uri(input, enabled)).then(|| script_uri_value(input)).flatten())
        // A script URI as one segment of a path or one query value of a URL (`/redirect/javascript:alert(1)`).
        .or_else(|| {
            (!skip.no_colon)
                .then(|| {
                    crate::sqli::url_parts(input)
                        .into_iter()
                        .filter(|r| may_open_script_uri(&input[r.clone()], enabled))
                        .find_map(|r| script_uri_value(&input[r]))
                })
                .flatten()
        })
        .or_else(|| js_string_breakout(input))
        .or_else(|| template_or_style(input))
}

fn finding(reason: impl Into<String>, span: Range<usize>, signature: &str) -> Option<Finding> {
    Some(Finding { class: Class::Xss, reason: reason.into(), span, signature: signature.to_string() })
}

fn lower(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).to_ascii_lowercase()
}

/// Lowercased name of a tag or attribute; no name that matters is longer than 64 bytes, and capping keeps
/// a megabyte-long "name" from being copied.
fn name_of(bytes: &[u8]) -> String {
    lower(&bytes[..bytes.len().min(64)])
}

/// Start tags anywhere in the value.
fn markup(input: &[u8]) -> Option<Finding> {
    if let Some(f) = executable_anywhere(input) {
        return Some(f);
    }
    let mut found = None;
    html::each_tag(input, |tag| {
        found = dangerous_tag(input, tag);
        found.is_some()
    });
    found
}

/// `<script` wherever it appears, also inside another tag's quoted value: the value may be pasted where that
/// quoting does not hold (`<img src="x` `<script>...`). Name check only, one linear pass.
fn executable_anywhere(input: &[u8]) -> Option<Finding> {
    let mut i = 0;
    while let Some(p) = input[i..].iter().position(|&b| b == b'<') {
        let lt = i + p;
        i = lt + 1;
        if !input.get(i).is_some_and(|c| c.is_ascii_alphabetic()) {
            continue;
        }
        let len = input[i..]
            .iter()
            .take(64)
            .take_while(|&&c| c.is_ascii_alphanumeric() || c == b':' || c == b'-' || c == b'_')
            .count();
        let full = lower(&input[i..i + len]);
        let name = full.rsplit(':').next().unwrap_or(&full);
        let boundary = input.get(i + len).is_none_or(|&c| c.is_ascii_whitespace() || matches!(c, b'/' | b'>'));
        if boundary && name == "script" && !inert_script(&input[i + len..]) {
            return finding("<script> element", lt..i + len, "tag:script");
        }
    }
    None
}

/// A bare `<script>` (no attributes) whose content is words and sentence punctuation only: prose that names the
/// tag (`Escape <script> tags in previews`). Script that does anything needs a call `(`, an assignment `=` or a
/// tagged template `` ` `` (JavaScript has no escapes for punctuators), so such content cannot act. Empty
/// content still counts: a lone `<script>` is the probe.
fn inert_script(after_name: &[u8]) -> bool {
    let Some(body) = after_name.strip_prefix(b">") else {
        return false;
    };
    // Stops at the first byte that is not prose (or at `</script`), so repeated `<script>` stays linear.
    let mut letters = false;
    for (k, &c) in body.iter().enumerate() {
        if c == b'<' {
            return letters && body.len() >= k + 8 && body[k + 1..k + 8].eq_ignore_ascii_case(b"/script");
        }
        let prose = c.is_ascii_alphanumeric()
            || c >= 0x80
            || matches!(c, b' ' | b'.' | b',' | b'!' | b'?' | b'\'' | b'-' | b':');
        if !prose {
            return false;
        }
        letters |= c.is_ascii_alphabetic();
    }
    letters
}

/// `name` or `prefix:name`, each a letter followed by letters, digits or `-`.
fn plausible_element(name: &str) -> bool {
    let part = |p: &str| {
        p.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
            && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    let mut parts = name.split(':');
    let first = parts.next().is_some_and(part);
    let rest: Vec<&str> = parts.collect();
    first && rest.len() <= 1 && rest.iter().all(|p| part(p))
}

fn dangerous_tag(input: &[u8], tag: &html::Tag) -> Option<Finding> {
    let full = name_of(&input[tag.name.clone()]);
    // `<x:script xmlns:x="http://www.w3.org/1999/xhtml">`: in XHTML a prefixed name is the same element.
    let name = full.rsplit(':').next().unwrap_or(&full);
    if let Some((why, loaders)) = rules::executable_element(name) {
        if name == "script" && inert_script(&input[tag.name.end..]) {
            return None;
        }
        let loads = loaders.is_empty()
            || tag
                .attrs
                .iter()
                .any(|a| a.value.is_some() && loaders.contains(&name_of(&input[a.name.clone()]).as_str()));
        if loads {
            return finding(why, tag.span.clone(), &format!("tag:{name}"));
        }
    }
    // Browsers accept any tag name, but `impl<D: OnDone>` is code: an invented event name only counts on a
    // name shaped like an element (`xss`, `x:script`, `my-widget`).
    let element_like = plausible_element(&full);
    let value = |a: &html::Attr| a.value.as_ref().map_or(&[][..], |v| &input[v.clone()]);
    for a in &tag.attrs {
        let an = name_of(&input[a.name.clone()]);
        let v = value(a);
        if a.value.is_some() && rules::event_handler(&an, element_like) {
            return finding(format!("event handler {an}= in <{name}>"), tag.span.clone(), &format!("attr:{an}"));
        }
        if an == "srcdoc" {
            return finding("srcdoc= embeds a document", tag.span.clone(), "attr:srcdoc");
        }
        if an == "style" {
            if let Some(why) = rules::css_runs_script(v) {
                return finding(format!("{why} in style="), tag.span.clone(), "attr:style");
            }
        }
        if an == "attributename" && lower(v).trim_start().starts_with("on") {
            return finding("SVG animation sets an event handler", tag.span.clone(), "attr:attributename");
        }
        if let Some(why) = rules::script_uri(&rules::uri_prefix(v)) {
            return finding(format!("{why} in {an}= of <{name}>"), tag.span.clone(), "uri");
        }
    }
    let attr = |n: &str| tag.attrs.iter().find(|a| name_of(&input[a.name.clone()]) == n).map(|a| lower(value(a)));
    match name {
        // `Content-Type` and friends are everyday e-mail template markup; refresh navigates (also to script
        // URIs) and set-cookie plants a session.
        "meta" if attr("http-equiv").is_some_and(|v| v.contains("refresh") || v.contains("cookie")) => {
            finding("<meta http-equiv> refresh/set-cookie", tag.span.clone(), "tag:meta")
        }
        "link" if attr("rel").is_some_and(|r| r.contains("import")) => {
            finding("<link rel=import> loads a document", tag.span.clone(), "tag:link")
        }
        // A stylesheet only matters when it runs script; read it up to the next `<` (its end tag), so each
        // byte is looked at once however many `<style>` tags there are.
        "style" => {
            let body = &input[tag.span.end..];
            let body = &body[..body.iter().position(|&b| b == b'<').unwrap_or(body.len())];
            rules::css_runs_script(body)
                .and_then(|why| finding(format!("{why} in <style>"), tag.span.clone(), "tag:style"))
        }
        _ => None,
    }
}

/// The value closes a quoted attribute (or ends an unquoted one at a space) and adds attributes of its own.
fn attribute_breakout(input: &[u8]) -> Option<Finding> {
    let quotes = html::Quotes::new(input);
    let starts = [
        input.iter().position(|&b| b == b'"').map(|p| p + 1),
        input.iter().position(|&b| b == b'\'').map(|p| p + 1),
        input.iter().position(|b| b.is_ascii_whitespace()),
    ];
    for from in starts.into_iter().flatten() {
        let (attrs, _) = html::attributes(input, from, &quotes, true);
        for a in attrs {
            let Some(v) = a.value.clone() else { continue };
            let an = name_of(&input[a.name.clone()]);
            let val = &input[v.clone()];
            // Prose after a quote can look like `name=value`: only real event names holding code count here
            // (`alert(1)`, not the word in `Use onclick=handler in your button`).
            if rules::event_handler(&an, false) && js::looks_like_code(val) {
                return finding(
                    format!("attribute breakout adds handler {an}="),
                    a.name.start..v.end,
                    "breakout:handler",
                );
            }
            if an == "style" {
                if let Some(why) = rules::css_runs_script(val) {
                    return finding(format!("attribute breakout adds {why}"), a.name.start..v.end, "breakout:style");
                }
            }
            if matches!(an.as_str(), "href" | "src" | "formaction" | "action" | "xlink:href" | "data") {
                if let Some(why) = rules::script_uri(&rules::uri_prefix(val)) {
                    return finding(format!("attribute breakout adds {why}"), a.name.start..v.end, "breakout:uri");
                }
            }
        }
    }
    None
}

/// The whole value used as a URL (`<a href="VALUE">`): a script scheme followed by code.
fn script_uri_value(input: &[u8]) -> Option<Finding> {
    let prefix = rules::uri_prefix(input);
    let why = rules::script_uri(&prefix)?;
    if why.starts_with("data:") {
        return finding(why, 0..input.len(), "uri:data");
    }
    let decoded = entity::decode(input);
    let after = decoded.iter().position(|&b| b == b':').map_or(&decoded[..], |p| &decoded[p + 1..]);
    if js::looks_like_code(after) {
        return finding(format!("{why} with code"), 0..input.len(), "uri:script");
    }
    None
}

/// The value closes a JavaScript string and continues with an operator and harmful code (`';alert(1)//`,
/// `"-alert(1)-"`, `');document.location='//x'//`).
fn js_string_breakout(input: &[u8]) -> Option<Finding> {
    for q in [b'\'', b'"', b'`'] {
        let Some(p) = input.iter().position(|&b| b == q) else { continue };
        let mut i = p + 1;
        let mut closers = 0;
        while i < input.len()
            && (input[i].is_ascii_whitespace() || (matches!(input[i], b')' | b']' | b'}') && closers < 8))
        {
            if !input[i].is_ascii_whitespace() {
                closers += 1;
            }
            i += 1;
        }
        let Some(&op) = input.get(i) else { continue };
        let operator = matches!(
            op,
            b';' | b'+'
                | b'-'
                | b'*'
                | b'/'
                | b','
                | b'|'
                | b'&'
                | b'^'
                | b'%'
                | b'?'
                | b':'
                | b'<'
                | b'>'
                | b'='
                | b'}'
        ) || closers > 0;
        if !operator || (op == b'/' && input.get(i + 1) == Some(&b'/')) {
            continue;
        }
        if let Some(r) = js::harmful_use(&input[i..]) {
            return finding("JavaScript string breakout runs code", p..i + r.end, "js:breakout");
        }
    }
    None
}

/// Client-side template expressions (`{{constructor.constructor('alert(1)')()}}`, `${alert(1)}`) and CSS
/// values that run script (`color:red;background:url(javascript:...)`).
fn template_or_style(input: &[u8]) -> Option<Finding> {
    // One pass over the `{` bytes: an expression opens at `{{`, `${` or `#{`.
    let mut from = 0;
    while let Some(p) = input[from..].iter().position(|&b| b == b'{') {
        let brace = from + p;
        from = brace + 1;
        let Some(start) = brace.checked_sub(1).filter(|&s| matches!(input[s], b'{' | b'$' | b'#')) else {
            continue;
        };
        let inner_start = brace + 1;
        let close: &[u8] = if input[start] == b'{' { b"}}" } else { b"}" };
        let end = find(&input[inner_start..], close).map_or(input.len(), |e| inner_start + e);
        let inner = &input[inner_start..end];
        let constructor = inner.windows(11).any(|w| w.eq_ignore_ascii_case(b"constructor"));
        if (constructor && inner.contains(&b'(')) || js::harmful_use(inner).is_some() {
            return finding("template expression runs code", start..end, "template");
        }
        from = end.max(from);
    }
    rules::css_runs_script(input).and_then(|why| finding(why, 0..input.len(), "css"))
}

/// Position of `needle` (one or two bytes) in `hay`, scanning for its first byte.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(p) = hay[from..].iter().position(|&b| b == needle[0]) {
        let at = from + p;
        if hay[at..].starts_with(needle) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(s: &str) -> bool {
        detect(s.as_bytes()).is_some()
    }

    #[test]
    fn contexts() {
        for a in [
            "<script>alert(1)</script>",
            "<svg/onload=alert()>",
            "\" onmouseover=\"alert(1)",
            "'><script>",
            "';alert(1)//",
            "javascript:alert(1)",
            "jav&#x09;ascript:alert(1)",
            "<a href=\"jav&#x09;ascript:alert(1)\">x</a>",
            "{{constructor.constructor('alert(1)')()}}",
            "x:expression(alert(1))",
            "<xss onbeforehellfreezes=alerw(1)>",
        ] {
            assert!(hit(a), "{a}");
        }
    }

    #[test]
    fn look_alikes_pass() {
        for b in [
            "a < b and c > d",
            "x<y",
            "<3",
            "I <3 this",
            "<b>bold</b>",
            "<p>para</p>",
            "<a@b.c>",
            "vector<int>",
            "->",
            "=>",
            "JavaScript: The Good Parts (2008)",
            "regular expression(s)",
            "online = yes",
            "{{name}}",
        ] {
            assert!(!hit(b), "{b}: {:?}", detect(b.as_bytes()));
        }
    }
}
