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
pub fn css_runs_script(css: &[u8]) -> Option<&'static str> {
    // Every construct below needs a `:` (a property, a scheme) or an `@` (`@import`), possibly as a reference.
    if !css.iter().any(|&b| matches!(b, b':' | b'@' | b'&')) {
        return None;
    }
    // ... and a `(` (`expression(`, `url(`) or an `@` (`@import`), possibly as a reference or a CSS escape.
    if !css.iter().any(|&b| matches!(b, b'(' | b'@' | b'&' | b'\\')) {
        return None;
    }
    let decoded = entity::decode(css);
    // CSS escapes (`\65 xpression`) and comments (`ex/**/pression`) are used to hide the words; drop comments
    // and backslashes, which keeps hex escapes of letters readable enough for these words.
    let mut flat = Vec::with_capacity(decoded.len());
    let mut i = 0;
    while i < decoded.len() {
        if decoded[i] == b'/' && decoded.get(i + 1) == Some(&b'*') {
            match decoded[i + 2..].windows(2).position(|w| w == b"*/") {
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
        if !matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0c) {
            flat.push(b.to_ascii_lowercase());
        }
        i += 1;
    }
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
