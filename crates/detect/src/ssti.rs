//! Server-side template injection: template expressions are located by their delimiters (`{{ }}`,
//! `{% %}`, `${ }`, `#{ }`, `*{ }`, `@{ }`, `<%= %>`, `@( )`, `<# ...>`, `#set(`, `__${ }__`), and the expression
//! inside is read as code: arithmetic probes (`7*7`), Python dunders (`__class__`), introspection roots
//! (`config`, `self`, `request`...), dangerous calls (`popen`, `exec`, `getRuntime`, `T(java.lang...)`),
//! and template directives that import or instantiate (`{% import %}`, `?new()`). A plain placeholder
//! (`{{ name }}`, `${user.email}`, `{{ title | upper }}`) is what templates are for and passes.
//!
//! Owns: the template view of a value. Must not touch: `${jndi:...}` lookups (`jndi`), shell `${IFS}`
//! (`cmdi`).

use crate::{decode, Class, Finding};

/// Longest expression body examined; longer runs between delimiters are prose, not an expression.
const MAX_EXPR: usize = 2048;

/// Expression delimiters: (open, close, engine).
const DELIMS: &[(&[u8], &[u8], &str)] = &[
    (b"{{", b"}}", "Jinja/Twig/Handlebars"),
    (b"{%", b"%}", "Jinja/Twig statement"),
    (b"${", b"}", "EL/Freemarker/Mako"),
    (b"#{", b"}", "EL/Ruby/Pug"),
    (b"*{", b"}", "Thymeleaf"),
    (b"@{", b"}", "Thymeleaf link"),
    (b"<%", b"%>", "ERB/JSP/Mako"),
    (b"{php}", b"{/php}", "Smarty"),
    (b"@(", b")", "Razor"),
    (b"%{", b"}", "OGNL/Struts"),
];

/// Identifiers that reach the interpreter from a template.
const DANGEROUS: &[&str] = &[
    "__import__",
    "__builtins__",
    "__globals__",
    "__subclasses__",
    "__mro__",
    "__class__",
    "__base__",
    "__bases__",
    "__init__",
    "__dict__",
    "__getattribute__",
    "popen",
    "subprocess",
    "system",
    "exec",
    "eval",
    "passthru",
    "shell_exec",
    "proc_open",
    "getruntime",
    "processbuilder",
    "forname",
    "getclass",
    "getmethod",
    "getdeclaredmethod",
    "newinstance",
    "invoke",
    "classloader",
    "child_process",
    "mainmodule",
    "require",
    "execsync",
    "spawnsync",
    "registerundefinedfiltercallback",
    "getfilter",
    "setattribute",
    "freemarker",
    "objectconstructor",
    "jythonruntime",
    "execute",
    "constructor",
    "getruntime",
    "file_get_contents",
    "readfile",
    "include",
    "import",
    "lipsum",
    "cycler",
    "joiner",
    "url_for",
    "get_flashed_messages",
    "_self",
    "application",
    "ognl",
    "memberaccess",
    "dump",
];

/// Roots that expose server internals when a template prints them (`{{config}}`, `{{self}}`).
const INTROSPECTION: &[&str] = &["config", "self", "settings", "request", "_self", "env", "app", "namespace"];

/// Analyses `input` for template expressions carrying code.
///
/// ```
/// use portcullis_detect::ssti::detect;
/// assert!(detect(b"{{''.__class__.__mro__[1].__subclasses__()}}").is_some());
/// assert!(detect(b"Hello {{ user.name }}!").is_none());
/// ```
pub fn detect(input: &[u8]) -> Option<Finding> {
    crate::decode::or_base64(input, detect_plain)
}

/// [`detect`] without the base64 layer.
fn detect_plain(input: &[u8]) -> Option<Finding> {
    decode::or_deep(input, analyse)
}

/// [`detect`] on a value that is its own only form (see the crate docs, "Own-form entry points").
#[doc(hidden)]
pub fn detect_own_form(input: &[u8]) -> Option<Finding> {
    analyse(input)
}

fn analyse(b: &[u8]) -> Option<Finding> {
    if let Some(f) = directives(b) {
        return Some(f);
    }
    for (open, close, engine) in DELIMS {
        // Memoised close search keeps this linear: the next close after an opener is reused for every
        // opener before it.
        let mut close_at: Option<usize> = None;
        let mut from = 0;
        while let Some(k) = find(&b[from..], open) {
            let o = from + k;
            let body_start = o + open.len();
            from = o + 1;
            let c = match close_at {
                Some(c) if c >= body_start => Some(c),
                _ => {
                    close_at = find(&b[body_start..], close).map(|p| body_start + p);
                    close_at
                }
            };
            let Some(c) = c else { break };
            if c - body_start > MAX_EXPR {
                continue;
            }
            let body = &b[body_start..c];
            // `${jndi:...}` is Log4Shell, `${IFS}` is shell; not templates.
            if *open == b"${" && (body.to_ascii_lowercase().starts_with(b"jndi:") || body == b"IFS") {
                continue;
            }
            if let Some(why) = judge_expr(body, open) {
                let shown = String::from_utf8_lossy(&b[o..(c + close.len()).min(b.len())]).into_owned();
                return Some(Finding {
                    class: Class::Ssti,
                    reason: format!("{engine} expression {shown:.80} with {why}"),
                    span: o..c + close.len(),
                    signature: String::from_utf8_lossy(open).into_owned(),
                });
            }
        }
    }
    None
}

/// Directive forms that are code by themselves.
fn directives(b: &[u8]) -> Option<Finding> {
    let lower = b.to_ascii_lowercase();
    let hit = |reason: &str, at: usize, sig: &str| Finding {
        class: Class::Ssti,
        reason: reason.to_string(),
        span: at..at + sig.len(),
        signature: sig.to_string(),
    };
    // Thymeleaf pre-processing `__${...}__`.
    if let Some(at) = find(&lower, b"__${") {
        if find(&lower[at..], b"}__").is_some() {
            return Some(hit("Thymeleaf pre-processed expression __${...}__", at, "__${"));
        }
    }
    // Freemarker built-ins that instantiate classes.
    for pat in [&b"?new("[..], b"?api.", b"?eval"] {
        if let Some(at) = find(&lower, pat) {
            if find(&lower, b"<#").is_some() || find(&lower, b"${").is_some() || find(&lower, b"[#").is_some() {
                return Some(hit("Freemarker built-in instantiating or evaluating code", at, "?new()"));
            }
        }
    }
    for pat in [&b"<#assign"[..], b"<#include", b"<#import", b"[#assign"] {
        if let Some(at) = find(&lower, pat) {
            return Some(hit("Freemarker directive", at, "<#"));
        }
    }
    // Velocity `#set($x = ...)` and `#foreach`.
    for pat in [&b"#set($"[..], b"#set ($", b"#foreach($", b"#evaluate("] {
        if let Some(at) = find(&lower, pat) {
            return Some(hit("Velocity directive", at, "#set"));
        }
    }
    if let Some(at) = find(&lower, b"$class.inspect").or_else(|| find(&lower, b"$class.type")) {
        return Some(hit("Velocity class tool", at, "$class"));
    }
    // Polyglot probes that break several template syntaxes at once (`${{<%[%'"}}%\.`).
    for pat in [&b"{{<%"[..], b"<%[%", b"[%'\"}}"] {
        if let Some(at) = find(&lower, pat) {
            return Some(hit("template syntax polyglot probe", at, "polyglot"));
        }
    }
    // Smarty.
    for pat in [&b"{php}"[..], b"{$smarty.", b"{system(", b"{self::", b"{smarty_internal"] {
        if let Some(at) = find(&lower, pat) {
            return Some(hit("Smarty code tag", at, "{php}"));
        }
    }
    None
}

/// Why an expression body is code, or `None` for a placeholder.
fn judge_expr(body: &[u8], open: &[u8]) -> Option<String> {
    let t = body.trim_ascii();
    let t =
        if open == b"<%" { t.strip_prefix(b"=").or_else(|| t.strip_prefix(b"-")).unwrap_or(t).trim_ascii() } else { t };
    let t = if open == b"{{" { t.strip_prefix(b"=").unwrap_or(t).trim_ascii() } else { t };
    if t.is_empty() {
        return None;
    }
    if let Some(a) = arithmetic(t) {
        return Some(format!("arithmetic probe {a}"));
    }
    let lower = t.to_ascii_lowercase();
    let idents = identifiers(&lower);
    for id in &idents {
        if DANGEROUS.contains(&id.as_str()) {
            // `include`/`import`/`execute` are words too: in `{{ }}` bodies they need call or dot syntax.
            let plain_word = matches!(
                id.as_str(),
                "dump" | "include" | "import" | "execute" | "system" | "invoke" | "application" | "require"
            );
            if !plain_word || lower.contains(&b'(') {
                return Some(id.to_string());
            }
        }
    }
    if let Some(first) = idents.first() {
        let is_first_token = lower.starts_with(first.as_bytes());
        if is_first_token && INTROSPECTION.contains(&first.as_str()) {
            let after = lower[first.len()..].trim_ascii_start();
            let bare = after.is_empty();
            let deref = after.first().is_some_and(|&c| matches!(c, b'.' | b'[' | b'|'));
            // `{{ request.path }}` is a placeholder, `{{ config }}` and `{{ request.application }}` are not.
            if bare
                || deref
                    && (after.contains(&b'(')
                        || after.contains(&b'[')
                        || after.starts_with(b"|")
                        || after.contains(&b'_'))
            {
                return Some(format!("introspection of {first}"));
            }
        }
    }
    // Spring EL type reference `T(java.lang.Runtime)`.
    if let Some(p) = find(&lower, b"t(") {
        if (p == 0 || !lower[p - 1].is_ascii_alphanumeric()) && find(&lower[p..], b"java").is_some() {
            return Some("Spring EL type reference T(...)".into());
        }
    }
    if find(&lower, b"java.lang").is_some() || find(&lower, b"java.io").is_some() {
        return Some("Java class reference".into());
    }
    // ERB backticks run shell commands.
    if open == b"<%" && t.contains(&b'`') {
        return Some("backtick command".into());
    }
    // Statements that are code in `{% %}` / `<% %>`.
    if open == b"{%" || open == b"<%" {
        let kw = idents.first().map(String::as_str).unwrap_or("");
        let after_kw = lower.get(kw.len()..).unwrap_or(b"").trim_ascii_start();
        let quoted_arg = matches!(after_kw.first(), Some(b'\'' | b'"'));
        match kw {
            // `{% import os %}` is Python; `{% import 'macros.html' as m %}` is a template.
            "import" | "from" if !quoted_arg => return Some(format!("{kw} statement")),
            "debug" => return Some("debug statement".into()),
            // `{% include 'header.html' %}` is normal; an absolute or climbing path is not.
            "include" | "extends"
                if find(after_kw, b"'/").is_some()
                    || find(after_kw, b"\"/").is_some()
                    || find(after_kw, b"..").is_some() =>
            {
                return Some(format!("{kw} of a file path"))
            }
            _ => {}
        }
        // ERB/JSP scriptlets reaching files, processes or the kernel.
        if open == b"<%" {
            if let Some(id) = idents
                .iter()
                .find(|i| matches!(i.as_str(), "file" | "io" | "dir" | "kernel" | "open3" | "process" | "runtime"))
            {
                return Some(format!("scriptlet using {id}"));
            }
        }
    }
    // Sandbox escapes through string filters: `|attr(...)`, `|map('system')`.
    if find(&lower, b"|attr(").is_some()
        || find(&lower, b"|map(").is_some()
        || find(&lower, b"|filter(").is_some()
        || find(&lower, b"|reduce(").is_some()
    {
        return Some("filter reaching attributes or functions".into());
    }
    None
}

/// `7*7`, `7*'7'`, `1337 * 1337`, `3-1`: two numeric literals around an operator, nothing else.
fn arithmetic(t: &[u8]) -> Option<String> {
    let num = |s: &[u8]| -> bool {
        let s = s.trim_ascii();
        let s = s
            .strip_prefix(b"'")
            .and_then(|x| x.strip_suffix(b"'"))
            .or_else(|| s.strip_prefix(b"\"").and_then(|x| x.strip_suffix(b"\"")))
            .unwrap_or(s);
        !s.is_empty() && s.len() <= 12 && s.iter().all(u8::is_ascii_digit)
    };
    if t.len() > 40 {
        return None;
    }
    for (k, &c) in t.iter().enumerate() {
        if matches!(c, b'*' | b'+' | b'-' | b'/' | b'%') && k > 0 {
            let (l, r) = (&t[..k], &t[k + 1..]);
            let r = r.strip_prefix(b"*").unwrap_or(r);
            if num(l) && num(r) {
                return Some(String::from_utf8_lossy(t).into_owned());
            }
        }
    }
    None
}

/// Lowercase identifiers (letters, digits, `_`) in order.
fn identifiers(t: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < t.len() && out.len() < 64 {
        if t[i].is_ascii_alphabetic() || t[i] == b'_' {
            let s = i;
            while i < t.len() && (t[i].is_ascii_alphanumeric() || t[i] == b'_') {
                i += 1;
            }
            out.push(String::from_utf8_lossy(&t[s..i]).into_owned());
        } else {
            i += 1;
        }
    }
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    crate::traversal::find(hay, needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_code() {
        for a in [
            "{{7*7}}",
            "${7*7}",
            "#{7*7}",
            "*{7*7}",
            "<%= 7*7 %>",
            "{{7*'7'}}",
            "{{config}}",
            "{{config.items()}}",
            "{{''.__class__.__mro__[2].__subclasses__()}}",
            "{% import os %}",
            "${T(java.lang.Runtime).getRuntime().exec('id')}",
            "<#assign ex=\"freemarker.template.utility.Execute\"?new()>${ex(\"id\")}",
            "#set($x = $class.inspect(\"java.lang.Runtime\"))",
            "__${T(java.lang.Runtime).getRuntime().exec('id')}__::.x",
            "{{self._TemplateReference__context.cycler.__init__.__globals__.os.popen('id').read()}}",
            "<%= `id` %>",
            "{{constructor.constructor('alert(1)')()}}",
            "{{request|attr('application')}}",
            "%7B%7B7*7%7D%7D",
        ] {
            assert!(detect(a.as_bytes()).is_some(), "{a}");
        }
    }

    #[test]
    fn placeholders() {
        for b in [
            "Hello {{ user.name }}!",
            "{{name}}",
            "Total: ${price}",
            "{{ title | upper }}",
            "{% if user %}hi{% endif %}",
            "#{id}",
            "Use ${HOME}/bin",
            "x = {a: 1, b: 2}",
            "Save 20% on {{ product }} today",
            "Dates 2024-01-02",
            "{{ request.path }}",
        ] {
            assert!(detect(b.as_bytes()).is_none(), "{b}: {:?}", detect(b.as_bytes()));
        }
    }
}
