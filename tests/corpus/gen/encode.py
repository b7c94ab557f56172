"""Encodings: how a value travels in each placement, and the evasions attackers layer on top.

Transport encodings (what any client must do for the request to be well formed) are separate from the *corpus
encoding* named in an entry: `plain` still percent-encodes a space in a query string, because a real client has
to; `url` percent-encodes everything but unreserved characters, as encodeURIComponent does.
"""

import base64
import random
import re

UNRESERVED = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
HEX = set("0123456789abcdefABCDEF")

# What curl / a browser must escape in a query value: space, controls, non-ASCII, the delimiters that would
# change the structure (#, &, +), and the characters browsers always escape (" < > `). A `%` stays as typed
# when it already starts an escape (the attacker pre-encoded it), else it is escaped.
_QUERY_ESCAPE = set(' "<>`#&+\\^{}|')
_PATH_ESCAPE = set(' "<>`#?\\^{}|;')


def _pct(b: int) -> str:
    return "%%%02X" % b


def _escape_with(s: str, escape: set, keep_pct: bool = True) -> str:
    out = []
    raw = s.encode("utf-8")
    i = 0
    while i < len(raw):
        b = raw[i]
        c = chr(b)
        if b == 0x25:  # '%'
            if keep_pct and i + 2 < len(raw) + 0 and chr(raw[i + 1]) in HEX and chr(raw[i + 2]) in HEX:
                out.append("%")
            elif keep_pct and i + 5 < len(raw) + 1 and chr(raw[i + 1]) in "uU" and all(
                    chr(x) in HEX for x in raw[i + 2:i + 6]):
                out.append("%")
            else:
                out.append("%25")
        elif b < 0x21 or b >= 0x7F or c in escape:
            out.append(_pct(b))
        else:
            out.append(c)
        i += 1
    return "".join(out)


def query_plain(s: str) -> str:
    return _escape_with(s, _QUERY_ESCAPE)


def form_plain(s: str) -> str:
    """As a browser submits a form: spaces become '+'."""
    return query_plain(s).replace("%20", "+")


def path_plain(s: str) -> str:
    return _escape_with(s, _PATH_ESCAPE)


def url(s: str) -> str:
    """encodeURIComponent, plus the few characters it leaves alone that servers treat specially."""
    return "".join(chr(b) if chr(b) in UNRESERVED else _pct(b) for b in s.encode("utf-8"))


def double_url(s: str) -> str:
    return url(url(s))


def b64(s: str) -> str:
    return base64.b64encode(s.encode("utf-8")).decode("ascii")


def b64url(s: str) -> str:
    return base64.urlsafe_b64encode(s.encode("utf-8")).decode("ascii").rstrip("=")


def mixed_case(s: str, rng: random.Random) -> str:
    out = []
    flip = rng.random() < 0.5
    for c in s:
        if c.isalpha() and c.isascii():
            out.append(c.upper() if flip else c.lower())
            flip = not flip if rng.random() < 0.8 else flip
        else:
            out.append(c)
    return "".join(out)


def xml_text(s: str) -> str:
    """Minimal escaping any XML serializer does for element text."""
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def xml_charrefs(s: str, rng: random.Random) -> str:
    """Numeric character references for the syntax characters and some letters: the XML parser hands the
    application the plain payload."""
    out = []
    for c in s:
        if c in "<>&\"'();=/:.$`|{}" or (c.isalpha() and rng.random() < 0.3):
            out.append("&#x%x;" % ord(c) if rng.random() < 0.5 else "&#%d;" % ord(c))
        else:
            out.append(c)
    return "".join(out)


def html_entities_in_attr(s: str, rng: random.Random) -> str:
    """Entity-encodes letters and punctuation of a value that a browser decodes before use (attribute values,
    href): `javascript:` becomes `&#106;av&#x61;script&colon;` and so on."""
    named = {":": "&colon;", "(": "&lpar;", ")": "&rpar;", "'": "&apos;", "\"": "&quot;", "/": "&sol;"}
    out = []
    for c in s:
        r = rng.random()
        if c in named and r < 0.5:
            out.append(named[c])
        elif (c.isalnum() or c in named) and r < 0.6:
            out.append("&#x%x;" % ord(c) if r < 0.3 else "&#%d;" % ord(c))
        else:
            out.append(c)
    return "".join(out)


def json_unicode(s: str, rng: random.Random) -> str:
    """A JSON string literal body with syntax characters and some letters as \\uXXXX escapes (the JSON parser
    decodes them). Returned already escaped: the generator writes it into the body text verbatim."""
    out = []
    for c in s:
        if c in "<>'\"()&;|$`{}=/:\\" or (c.isalpha() and rng.random() < 0.25):
            out.append("\\u%04x" % ord(c))
        elif c == "\n":
            out.append("\\n")
        elif ord(c) < 0x20:
            out.append("\\u%04x" % ord(c))
        else:
            out.append(c)
    return "".join(out)


def js_unicode(s: str, rng: random.Random) -> str:
    """JavaScript escapes inside identifiers and strings (`\\u0061lert`, `\\x3c`), which a JS engine decodes."""
    out = []
    for c in s:
        if c.isalpha() and rng.random() < 0.35:
            out.append("\\u%04x" % ord(c) if rng.random() < 0.7 else "\\u{%x}" % ord(c))
        else:
            out.append(c)
    return "".join(out)


_XSS_MARKUP = re.compile(r"(?i)(</?)([a-z]+)|\b(on[a-z]+|src|href|style|autofocus|attributename|data)(?=\s*=)|javascript(?=:|&)")
_JS_NAMES = re.compile(r"\b(alert|confirm|prompt|fetch|eval|atob|document|cookie|domain|origin|fromCharCode)\b")
_ATTR_VALUE = re.compile(r"(=\s*\"?)([^\"\s>]+)")


def xss_mixed_case(s: str, rng: random.Random) -> str:
    """Mixed case where HTML ignores case (tag names, attribute names, the javascript: scheme), never in the
    JavaScript itself, which is case-sensitive."""
    return _XSS_MARKUP.sub(lambda m: (m.group(1) or "") + mixed_case(m.group(2) or m.group(3) or m.group(0), rng)
                           if (m.group(1) is not None or m.group(3) is not None) else mixed_case(m.group(0), rng), s)


def xss_js_unicode(s: str, rng: random.Random):
    """Unicode escapes in JavaScript identifiers (`\\u0061lert`), which JS decodes; None if the payload has none."""
    if not _JS_NAMES.search(s):
        return None

    def esc(m):
        w = m.group(0)
        k = rng.randrange(len(w))
        return w[:k] + "\\u%04x" % ord(w[k]) + w[k + 1:]
    return _JS_NAMES.sub(esc, s)


def xss_entities(s: str, rng: random.Random):
    """HTML character references where the browser decodes them before use: attribute values (event handlers,
    href) and a bare javascript: URI that the application puts into an href. None if the payload has neither."""
    if _ATTR_VALUE.search(s):
        return _ATTR_VALUE.sub(lambda m: m.group(1) + html_entities_in_attr(m.group(2), rng), s)
    if s.lower().startswith("javascript"):
        return html_entities_in_attr(s, rng)
    return None
