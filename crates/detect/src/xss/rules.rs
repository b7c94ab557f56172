//! What makes markup executable: elements that run or load code, event-handler attributes, URI schemes that
//! run script, CSS that runs script, and the JavaScript names an injected expression needs to do harm.
//!
//! Plain formatting elements (`<b>`, `<i>`, `<p>`, `<em>`, `<code>`, `<br>`, tables, lists...) are not here on
//! purpose: without an event handler, a script URI or a style that runs code they cannot execute anything,
//! and APIs carry them legitimately (rich-text fields, markdown rendered to HTML). Their attributes are still
//! examined like any other tag's.
//!
//! Owns: the classification tables and the checks on one tag, one attribute value or one URI. Must not scan
//! input for tags (that is `html`).

use super::entity;

/// Elements that execute or load active content, and the attributes through which they load it: `<script>`
/// runs its content, so it needs none; the others do nothing without their loading attribute (a `<frame>` or
/// `Vec<Frame>` without `src` loads nothing), which keeps generic types in code snippets out.
pub fn executable_element(name: &str) -> Option<(&'static str, &'static [&'static str])> {
    Some(match name {
        "script" => ("<script> element", &[]),
        "iframe" | "frame" => ("frame element loads a document", &["src", "srcdoc"]),
        "object" => ("<object> loads active content", &["data", "codebase", "classid"]),
        "embed" => ("<embed> loads active content", &["src", "code"]),
        "applet" => ("<applet> loads active content", &["code", "archive", "codebase", "object"]),
        "base" => ("<base> rewrites every relative URL of the page", &["href"]),
        "vmlframe" | "bgsound" => ("legacy element loads active content", &["src"]),
        _ => return None,
    })
}

/// Names the browser fires as events, used where the attribute could be prose (`online = yes` after a quote).
/// Inside a real tag every `on*` attribute counts, because browsers add events faster than lists follow.
const EVENTS: &[&str] = &[
    "onabort",
    "onactivate",
    "onafterprint",
    "onanimationend",
    "onanimationiteration",
    "onanimationstart",
    "onauxclick",
    "onbeforecopy",
    "onbeforecut",
    "onbeforeinput",
    "onbeforepaste",
    "onbeforeprint",
    "onbeforetoggle",
    "onbeforeunload",
    "onbegin",
    "onblur",
    "oncanplay",
    "oncanplaythrough",
    "onchange",
    "onclick",
    "onclose",
    "oncontextmenu",
    "oncopy",
    "oncuechange",
    "oncut",
    "ondblclick",
    "ondrag",
    "ondragend",
    "ondragenter",
    "ondragleave",
    "ondragover",
    "ondragstart",
    "ondrop",
    "ondurationchange",
    "onend",
    "onended",
    "onerror",
    "onfocus",
    "onfocusin",
    "onfocusout",
    "onformdata",
    "onfullscreenchange",
    "onhashchange",
    "oninput",
    "oninvalid",
    "onkeydown",
    "onkeypress",
    "onkeyup",
    "onload",
    "onloadeddata",
    "onloadedmetadata",
    "onloadstart",
    "onmessage",
    "onmousedown",
    "onmouseenter",
    "onmouseleave",
    "onmousemove",
    "onmouseout",
    "onmouseover",
    "onmouseup",
    "onmousewheel",
    "onoffline",
    "ononline",
    "onpagehide",
    "onpageshow",
    "onpaste",
    "onpause",
    "onplay",
    "onplaying",
    "onpointerdown",
    "onpointerenter",
    "onpointerleave",
    "onpointermove",
    "onpointerout",
    "onpointerover",
    "onpointerrawupdate",
    "onpointerup",
    "onpopstate",
    "onprogress",
    "onratechange",
    "onrepeat",
    "onreset",
    "onresize",
    "onscroll",
    "onscrollend",
    "onsearch",
    "onseeked",
    "onseeking",
    "onselect",
    "onselectionchange",
    "onselectstart",
    "onshow",
    "onstart",
    "onstalled",
    "onstorage",
    "onsubmit",
    "onsuspend",
    "ontimeupdate",
    "ontoggle",
    "ontouchend",
    "ontouchmove",
    "ontouchstart",
    "ontransitionend",
    "onunload",
    "onvolumechange",
    "onwaiting",
    "onwheel",
    "onfinish",
    "onbounce",
    "onreadystatechange",
    "onpropertychange",
    "onfilterchange",
    "onmove",
    "onzoom",
    "onwebkitanimationend",
    "onwebkittransitionend",
    "oncommand",
    "onsecuritypolicyviolation",
];

/// Is `name` (lowercase) an event-handler attribute? `any_on` accepts every `on` + letters name.
pub fn event_handler(name: &str, any_on: bool) -> bool {
    if any_on {
        name.len() >= 5 && name.starts_with("on") && name[2..].bytes().all(|b| b.is_ascii_alphabetic())
    } else {
        EVENTS.contains(&name)
    }
}

/// Normalises a URI the way a browser does before reading its scheme: references decoded, tab/CR/LF removed
/// anywhere, leading spaces and control characters trimmed, lowercased (only the first bytes matter).
pub fn uri_prefix(raw: &[u8]) -> Vec<u8> {
    // Only the scheme matters: decode a bounded head (room for padded references such as `&#0000106;` and
    // leading whitespace), so a megabyte-long value costs no more than a short one here.
    let decoded = entity::decode(&raw[..raw.len().min(URI_HEAD)]);
    let mut out = Vec::with_capacity(48);
    for &b in decoded.iter().skip_while(|&&b| b <= 0x20) {
        if matches!(b, b'\t' | b'\n' | b'\r') {
            continue;
        }
        out.push(b.to_ascii_lowercase());
        if out.len() == 48 {
            break;
        }
    }
    out
}

/// How many raw bytes of a URI are decoded to find its scheme.
const URI_HEAD: usize = 1024;

/// A URI scheme that runs script when the URI is followed, loaded or submitted.
pub fn script_uri(prefix: &[u8]) -> Option<&'static str> {
    if prefix.starts_with(b"javascript:") || prefix.starts_with(b"livescript:") {
        return Some("javascript: URI");
    }
    if prefix.starts_with(b"vbscript:") {
        return Some("vbscript: URI");
    }
    if let Some(rest) = prefix.strip_prefix(b"data:") {
        let active = [
            &b"text/html"[..],
            b"application/xhtml",
            b"text/javascript",
            b"application/javascript",
            b"image/svg+xml",
            b"text/xml",
            b"application/xml",
            b"application/x-shockwave",
        ];
        if active.iter().any(|t| rest.starts_with(t)) {
            return Some("data: URI with an active content type");
        }
    }
    None
}

/// CSS that runs script or loads a script URI (old IE `expression()`, `behavior`, Mozilla `-moz-binding`,
/// `url(javascript:...)`, `@import` of a script URI).
///
/// The value is read as a browser would after undoing the usual disguises (character references, CSS escapes,
/// comments, blanks, case: [`flatten`]), and the constructs are looked for around the `(` and `@` of that
/// text ([`construct`]). A value that cannot spell one skips the decoding ([`may_spell_construct`]), so a
/// 10 KB JSON body with a `:` and an e-mail address costs a few byte searches.
pub fn css_runs_script(css: &[u8]) -> Option<&'static str> {
    // Every construct below needs a `:` (a property, a scheme) or an `@` (`@import`), possibly as a reference.
    if memchr::memchr3(b':', b'@', b'&', css).is_none() || !may_spell_construct(css) {
        return None;
    }
    construct(&flatten(&entity::decode(css)))
}

/// Blanks CSS ignores between the letters of the constructs [`css_runs_script`] looks for.
fn css_blank(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0c)
}

/// `false` only when [`flatten`]`(entity::decode(css))` cannot hold a construct [`construct`] looks for: a
/// sound shortcut past the decoding and the flattening (`tests::shortcut_is_sound` checks it).
///
/// Why sound: every construct holds a `(` (`expression(`, `url(`) or starts with `@import`. Without `&` (a
/// character reference) and `\` (a CSS escape) decoding changes nothing, and the flattened text is the
/// value's own bytes outside comments, less blanks, ASCII-lowercased (only `(` becomes `(`, only `@` becomes
/// `@`, only `i` and `I` become `i`). So without a `(` in the value there is none in the text; and an `@` of
/// the text is an `@` of the value, followed in the text by the value's next non-blank byte lowercased, unless
/// that byte is a `/` (it may open a comment, which the text drops). With no `(`, `&` or `\`, and every `@`
/// followed by nothing or by a non-blank byte other than `i`, `I` and `/`, the text has no `(` and no `@i`: no
/// construct.
fn may_spell_construct(css: &[u8]) -> bool {
    if memchr::memchr3(b'(', b'&', b'\\', css).is_some() {
        return true;
    }
    memchr::memchr_iter(b'@', css)
        .any(|at| css[at + 1..].iter().find(|&&b| !css_blank(b)).is_some_and(|&b| matches!(b, b'i' | b'I' | b'/')))
}

/// The text a browser reads once character references are decoded (`decoded`): comments (`ex/**/pression`)
/// and blanks dropped, CSS escapes (`\65 xpression`) replaced by their character, ASCII lowercased. Dropping
/// backslashes keeps hex escapes of letters readable enough for these words.
fn flatten(decoded: &[u8]) -> Vec<u8> {
    let mut flat = Vec::with_capacity(decoded.len());
    let mut i = 0;
    while i < decoded.len() {
        if decoded[i] == b'/' && decoded.get(i + 1) == Some(&b'*') {
            match memchr::memmem::find(&decoded[i + 2..], b"*/") {
                Some(p) => i += p + 4,
                None => break,
            }
            continue;
        }
        let b = decoded[i];
        if b == b'\\' {
            // CSS escape: up to six hex digits and one optional space stand for a character (`\65` = `e`).
            let digits = decoded[i + 1..].iter().take(6).take_while(|c| c.is_ascii_hexdigit()).count();
            if digits > 0 {
                let hex = std::str::from_utf8(&decoded[i + 1..i + 1 + digits]).unwrap_or("0");
                let c = u32::from_str_radix(hex, 16).ok().and_then(char::from_u32).unwrap_or('\u{fffd}');
                let mut buf = [0u8; 4];
                flat.extend(c.encode_utf8(&mut buf).bytes().map(|x| x.to_ascii_lowercase()));
                i += 1 + digits;
                if decoded.get(i) == Some(&b' ') {
                    i += 1;
                }
                continue;
            }
            i += 1;
            continue;
        }
        if !css_blank(b) {
            flat.push(b.to_ascii_lowercase());
        }
        i += 1;
    }
    flat
}

/// Script URI schemes as a CSS `url(` or `@import` may hold them, bare or quoted.
const CSS_SCRIPT_URIS: [&[u8]; 4] = [b"javascript:", b"'javascript:", b"\"javascript:", b"vbscript:"];

/// The construct of highest rank in the flattened text `flat`: `expression(` after a `:` or `=`, then a
/// `behavior` or `-moz-binding` `url(`, then a script URI in `url(` or `@import` (which takes no `vbscript:`).
///
/// Every construct holds one anchor at a fixed place: a `(` (the last byte of the first two kinds, the
/// fourth of `url(…`) or the `@` of `@import`. So a construct occurs in `flat` exactly when, at one of the
/// anchors `memchr2` finds, the text before and after the anchor spells it: one pass instead of one substring
/// search per construct, with the same answer.
fn construct(flat: &[u8]) -> Option<&'static str> {
    let (mut binding, mut script_uri) = (false, false);
    for at in memchr::memchr2_iter(b'(', b'@', flat) {
        let after = &flat[at + 1..];
        if flat[at] == b'(' {
            let upto = &flat[..=at];
            if upto.ends_with(b":expression(") || upto.ends_with(b"=expression(") {
                return Some("CSS expression()");
            }
            if upto.ends_with(b"url(") {
                binding |= upto.ends_with(b"behavior:url(") || upto.ends_with(b"-moz-binding:url(");
                script_uri |= CSS_SCRIPT_URIS.iter().any(|s| after.starts_with(s));
            }
        } else if let Some(target) = after.strip_prefix(b"import") {
            script_uri |= CSS_SCRIPT_URIS[..3].iter().any(|s| target.starts_with(s));
        }
    }
    if binding {
        return Some("CSS behaviour/binding loads script");
    }
    script_uri.then_some("CSS loads a script URI")
}

/// JavaScript names an injected expression uses to do harm: dialogs (the proof of concept), code evaluation,
/// DOM and navigation sinks, exfiltration.
pub fn js_sink(word: &str) -> bool {
    matches!(
        word,
        "alert"
            | "prompt"
            | "confirm"
            | "eval"
            | "Function"
            | "setTimeout"
            | "setInterval"
            | "fetch"
            | "XMLHttpRequest"
            | "import"
            | "document"
            | "window"
            | "location"
            | "cookie"
            | "constructor"
            | "atob"
            | "fromCharCode"
            | "globalThis"
            | "top"
            | "self"
            | "parent"
            | "opener"
            | "frames"
            | "innerHTML"
            | "outerHTML"
            | "write"
            | "writeln"
            | "navigator"
            | "localStorage"
            | "sessionStorage"
            | "postMessage"
            | "createElement"
            | "appendChild"
            | "sendBeacon"
            | "execScript"
            | "msgbox"
            | "print"
            | "open"
            | "__proto__"
            | "prototype"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// `css_runs_script` as it was before the shortcut and the anchor search (its two byte tests, then one
    /// `windows()` search per construct in the flattened text): the reference the new one must agree with on
    /// every input. The flattening is the function's own [`flatten`], unchanged but for finding a comment's end
    /// with `memmem` instead of `windows(2)` (the same first `*/`).
    fn css_runs_script_reference(css: &[u8]) -> Option<&'static str> {
        if !css.iter().any(|&b| matches!(b, b':' | b'@' | b'&')) {
            return None;
        }
        if !css.iter().any(|&b| matches!(b, b'(' | b'@' | b'&' | b'\\')) {
            return None;
        }
        let flat = flatten(&entity::decode(css));
        let has = |w: &[u8]| flat.windows(w.len()).any(|x| x == w);
        if has(b":expression(") || has(b"=expression(") {
            return Some("CSS expression()");
        }
        if has(b"behavior:url(") || has(b"-moz-binding:url(") {
            return Some("CSS behaviour/binding loads script");
        }
        for scheme in [
            &b"url(javascript:"[..],
            b"url('javascript:",
            b"url(\"javascript:",
            b"url(vbscript:",
            b"@importjavascript:",
            b"@import'javascript:",
            b"@import\"javascript:",
        ] {
            if has(scheme) {
                return Some("CSS loads a script URI");
            }
        }
        None
    }

    /// The eleven constructs as the reference spells them in the flattened text.
    const CONSTRUCTS: [&str; 11] = [
        ":expression(",
        "=expression(",
        "behavior:url(",
        "-moz-binding:url(",
        "url(javascript:",
        "url('javascript:",
        "url(\"javascript:",
        "url(vbscript:",
        "@importjavascript:",
        "@import'javascript:",
        "@import\"javascript:",
    ];

    /// Pieces values are made of: constructs and their parts, anchors, the bytes that disguise them (references,
    /// escapes, comments, blanks) and everyday JSON and CSS.
    const PIECES: [&str; 40] = [
        ":expression(",
        "=expression(",
        "behavior:url(",
        "-moz-binding:url(",
        "url(",
        "javascript:",
        "'javascript:",
        "\"javascript:",
        "vbscript:",
        "@import",
        "@",
        "(",
        ":",
        "=",
        "'",
        "\"",
        "&",
        "\\",
        "/*",
        "*/",
        "/",
        " ",
        "\t",
        "\x0c",
        "I",
        "IMPORT",
        "&#40;",
        "&lpar;",
        "&#x40;",
        "&colon;",
        "&#64",
        "\\28 ",
        "\\40",
        "\\3a",
        "\\69",
        "\\0049 ",
        "expression",
        "jane.oneil@example.com",
        "{\"a\":\"b\"}",
        "color:red;",
    ];

    /// Both functions on `v`, and the shortcut's soundness: whenever it says no construct can be spelt, the
    /// reference finds none.
    fn agree(v: &[u8]) {
        let want = css_runs_script_reference(v);
        assert_eq!(css_runs_script(v), want, "{:?}", String::from_utf8_lossy(v));
        if !may_spell_construct(v) {
            assert_eq!(want, None, "shortcut skipped {:?}", String::from_utf8_lossy(v));
        }
    }

    /// `construct` in a disguise: per byte, `how` picks it as it is, upper case, after a blank or a comment, as a
    /// CSS escape (with or without its space) or as a character reference (decimal, hex, without `;`).
    fn disguise(construct: &str, how: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for (k, c) in construct.bytes().enumerate() {
            match how.get(k).copied().unwrap_or(0) % 9 {
                1 => out.push(c.to_ascii_uppercase()),
                2 => out.extend_from_slice(format!(" \n{}", c as char).as_bytes()),
                3 => out.extend_from_slice(format!("/* x */{}", c as char).as_bytes()),
                4 => out.extend_from_slice(format!("\\{:x} ", c).as_bytes()),
                5 => out.extend_from_slice(format!("\\{:06X}", c).as_bytes()),
                6 => out.extend_from_slice(format!("&#{};", c).as_bytes()),
                7 => out.extend_from_slice(format!("&#x{:x}", c).as_bytes()),
                8 => out.extend_from_slice(format!("/*{}", c as char).as_bytes()),
                _ => out.push(c),
            }
        }
        out
    }

    #[test]
    fn every_construct_alone_and_in_context() {
        for c in CONSTRUCTS {
            for v in [c.to_string(), format!("x{c}alert(1))"), format!("{{\"k\":\"{c}\"}}"), c.to_uppercase()] {
                // `=expression(` without a `:` or an `@` anywhere is cleared by the first test, in both
                assert_eq!(css_runs_script(v.as_bytes()).is_some(), v.contains([':', '@']), "{v}");
                agree(v.as_bytes());
            }
        }
        // the shortcut's edges: an `@` followed by `i`, `I` or a comment after blanks, at the very end, or never
        for v in [
            "@import'javascript:x'",
            "@ \t\n\x0cImport\"javascript:x\"",
            "@/**/import'javascript:x'",
            "@/* unterminated",
            "mail me: a@b.c, or @",
            "a@b.c:d",
            "@\\69mport'javascript:x'",
            "@&#105;mport'javascript:x'",
            "x:expression&#40;1)",
            "x:expression\\28 1)",
            "x:/*(*/expression",
        ] {
            agree(v.as_bytes());
        }
        assert!(css_runs_script(b"@ \t\n\x0cImport\"javascript:x\"").is_some());
        assert!(css_runs_script(b"@/**/import'javascript:x'").is_some());
        assert!(css_runs_script(b"x:expression&#40;1)").is_some());
        assert!(!may_spell_construct(b"{\"email\":\"jane.oneil@example.com\",\"note\":\"gift wrap\"}"));
    }

    /// Every sequence of two or three pieces: 65,600 values, each decided as the reference decides it.
    #[test]
    fn all_short_piece_sequences_agree() {
        let mut v = Vec::new();
        for a in PIECES {
            for b in PIECES {
                for c in std::iter::once("").chain(PIECES) {
                    v.clear();
                    v.extend_from_slice(a.as_bytes());
                    v.extend_from_slice(b.as_bytes());
                    v.extend_from_slice(c.as_bytes());
                    agree(&v);
                }
            }
        }
    }

    fn piece() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            3 => proptest::sample::select(&PIECES[..]).prop_map(|p| p.as_bytes().to_vec()),
            2 => (proptest::sample::select(&CONSTRUCTS[..]), proptest::collection::vec(any::<u8>(), 24))
                .prop_map(|(c, how)| disguise(c, &how)),
            2 => proptest::collection::vec(any::<u8>(), 1..6),
            1 => "[a-zA-Z0-9 ,.;:{}\"]{1,12}".prop_map(String::into_bytes),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        /// Generated and obfuscated values: the new function answers as the reference, and the shortcut only
        /// skips values the reference clears.
        #[test]
        fn generated_values_agree(pieces in proptest::collection::vec(piece(), 0..10)) {
            agree(&pieces.concat());
        }
    }
}
