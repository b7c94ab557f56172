"""Attack requests: every class in every placement it makes sense in, in every encoding that fits there."""

import json
import re
import random

import attacks as A
import encode as E
from common import entry, multipart, browser_headers, tool_headers, json_body

# Endpoints and parameter names an attacker would aim a class at (real-looking API routes).
TARGETS = {
    "sqli": [("/api/v1/products", "id"), ("/api/search", "q"), ("/api/orders", "sort"), ("/api/users", "name"),
             ("/v2/reports/sales", "region"), ("/api/items", "category")],
    "xss": [("/api/search", "q"), ("/api/v1/comments", "text"), ("/profile/update", "display_name"),
            ("/api/redirect", "next"), ("/api/v1/reviews", "title"), ("/feedback", "message")],
    "cmdi": [("/api/tools/ping", "host"), ("/api/v1/convert", "filename"), ("/admin/diagnostics", "target"),
             ("/api/export", "format"), ("/api/v1/dns/lookup", "domain")],
    "traversal": [("/api/files", "path"), ("/download", "file"), ("/api/v1/templates", "name"),
                  ("/static/view", "page"), ("/api/i18n", "lang"), ("/api/v1/attachments", "doc")],
    "ssrf": [("/api/v1/webhooks/test", "url"), ("/api/fetch", "src"), ("/api/preview", "link"),
             ("/api/v1/images/import", "image_url"), ("/api/feeds/subscribe", "feed"), ("/oauth/callback", "redirect_uri")],
    "ssti": [("/api/v1/greeting", "name"), ("/api/emails/preview", "subject"), ("/api/v1/invoices/render", "note"),
             ("/api/notify", "template"), ("/profile", "bio")],
    "log4shell": [("/api/v1/login", "username"), ("/api/search", "q"), ("/api/v2/events", "source"),
                  ("/api/v1/support/tickets", "subject"), ("/api/track", "ref")],
}

# Where each class is tried, and which encodings fit each placement for it.
Q_ENC = ["plain", "url", "double_url", "mixed_case", "base64"]
JSON_ENC = ["plain", "json_escape", "mixed_case", "base64"]
FORM_ENC = ["plain", "url", "mixed_case"]
MP_ENC = ["plain", "mixed_case", "base64"]
XML_ENC = ["plain", "xml_charrefs", "cdata"]
HDR_ENC = ["plain", "url", "base64"]
COOKIE_ENC = ["url", "base64", "plain"]

PLACEMENTS = {
    "sqli": {"query": Q_ENC, "path": ["plain", "url", "double_url"], "json": JSON_ENC, "json_nested": JSON_ENC[:2],
             "form": FORM_ENC, "multipart": MP_ENC, "xml": XML_ENC, "header": HDR_ENC, "cookie": COOKIE_ENC,
             "user_agent": ["plain"], "referer": ["url"], "json_key": ["plain", "json_escape"]},
    "xss": {"query": Q_ENC + ["html_entities", "js_unicode"], "path": ["plain", "url"],
            "json": JSON_ENC + ["html_entities", "js_unicode"], "json_nested": JSON_ENC[:2], "form": FORM_ENC +
            ["html_entities"], "multipart": MP_ENC + ["html_entities"], "xml": XML_ENC, "header": ["plain", "url"],
            "referer": ["url"], "cookie": COOKIE_ENC, "user_agent": ["plain"], "multipart_filename": ["plain"],
            "json_key": ["plain", "json_escape"]},
    "cmdi": {"query": ["plain", "url", "double_url", "base64"], "path": ["plain", "url"], "json": JSON_ENC[:2] +
             ["base64"], "json_nested": JSON_ENC[:2], "form": FORM_ENC[:2], "multipart": ["plain", "base64"],
             "xml": XML_ENC, "header": HDR_ENC, "cookie": COOKIE_ENC,
             "user_agent": ["plain"]},
    "traversal": {"query": ["plain", "url", "double_url", "mixed_case", "base64"], "path": ["plain", "url",
                  "double_url"], "json": JSON_ENC[:2] + ["base64"], "json_nested": ["plain"], "form": FORM_ENC[:2],
                  "multipart": ["plain"], "multipart_filename": ["plain"], "xml": XML_ENC[:2], "header": ["plain", "url"],
                  "cookie": COOKIE_ENC},
    "ssrf": {"query": ["plain", "url", "double_url", "mixed_case", "base64"], "path": ["url"], "json": JSON_ENC,
             "json_nested": JSON_ENC[:2], "form": FORM_ENC, "multipart": ["plain", "mixed_case"],
             "xml": XML_ENC[:2], "header": ["plain"], "cookie": ["url", "base64"]},
    "ssti": {"query": ["plain", "url", "double_url", "base64"], "path": ["url"], "json": JSON_ENC[:2] + ["base64"],
             "json_nested": ["plain"], "form": FORM_ENC[:2], "multipart": ["plain", "base64"], "xml": XML_ENC,
             "header": ["plain", "url"], "cookie": COOKIE_ENC},
    "log4shell": {"query": ["plain", "url", "double_url", "mixed_case", "base64"], "path": ["url"],
                  "json": JSON_ENC, "json_nested": JSON_ENC[:2], "form": FORM_ENC, "multipart": ["plain"],
                  "xml": XML_ENC[:2], "header": ["plain", "mixed_case"], "user_agent": ["plain", "mixed_case"],
                  "referer": ["url"], "cookie": COOKIE_ENC},
}

PER_COMBO = 8

HEADER_NAMES = ["X-Api-Version", "X-Request-Note", "X-Forwarded-Host", "X-Client-Ref", "X-Tenant"]


def apply_evasion(cls, payload, enc, rng):
    """The payload as the application receives it, after evasions that live in the value itself; None when the
    evasion does not apply to this payload (it would change what the payload does)."""
    if enc == "mixed_case":
        return E.xss_mixed_case(payload, rng) if cls == "xss" else E.mixed_case(payload, rng)
    if enc == "html_entities":
        return E.xss_entities(payload, rng)
    if enc == "js_unicode":
        return E.xss_js_unicode(payload, rng)
    return payload


def query_value(v, enc):
    if enc == "url":
        return E.url(v)
    if enc == "double_url":
        return E.double_url(v)
    if enc == "base64":
        return E.url(E.b64(v))
    return E.query_plain(v)


def base64_param(param):
    return {"q": "data", "url": "url_b64", "path": "path_b64"}.get(param, param + "_b64")


def build(cls, placement, enc, payload, note, rng, idx):
    """One attack request; returns an entry or None when this combination does not apply to the payload."""
    path, param = rng.choice(TARGETS[cls])
    value = apply_evasion(cls, payload, enc, rng)
    if value is None:
        return None
    hdrs = (browser_headers if rng.random() < 0.6 else tool_headers)(rng)
    eid = "%s-%s-%s-%03d" % (cls, placement, enc, idx)
    if placement == "query":
        p = base64_param(param) if enc == "base64" else param
        extra = rng.choice(["", "&page=1", "&limit=20", "&lang=en", "&v=2"])
        return entry(eid, "attack", cls, placement, enc, "GET", "%s?%s=%s%s" % (path, p, query_value(value, enc), extra),
                     hdrs, "", note)
    if placement == "path":
        seg = {"plain": E.path_plain(value), "url": E.url(value), "double_url": E.double_url(value)}[enc]
        base = rng.choice(["/api/v1/files/%s", "/api/users/%s/profile", "/api/v1/products/%s", "/docs/%s",
                           "/api/reports/%s/export"])
        if cls == "ssrf":
            # URL-in-path APIs: image proxies, link previews.
            base = rng.choice(["/image-proxy/%s", "/api/v1/preview/%s", "/api/fetch/%s/meta"])
        return entry(eid, "attack", cls, placement, enc, "GET", base % seg, hdrs, "", note)
    if placement == "json_key":
        # The payload as an object key: filter/sort maps, dynamic form builders and i18n bundles take keys from
        # the client.
        key = E.json_unicode(value, rng) if enc == "json_escape" else json.dumps(value, ensure_ascii=False)[1:-1]
        doc = rng.choice(['{"filter": {"%s": "1"}, "page": 1}', '{"sort": {"%s": "asc"}}',
                          '{"fields": {"%s": true}, "format": "json"}']) % key
        return entry(eid, "attack", cls, placement, enc, "POST", path, json_headers(hdrs), doc, note)
    if placement in ("json", "json_nested"):
        field = param
        if enc == "base64":
            field = base64_param(param)
            text = json.dumps(E.b64(value))
        elif enc == "json_escape":
            text = '"%s"' % E.json_unicode(value, rng)
        else:
            text = json.dumps(value, ensure_ascii=False)
        if placement == "json":
            doc = '{"%s": %s, "client": "web", "request_id": "%08x"}' % (field, text, rng.getrandbits(32))
        else:
            doc = ('{"order": {"customer": {"id": %d, "tier": "gold"}, "items": [{"sku": "A-%d", "qty": 1, '
                   '"options": {"%s": %s}}]}, "source": "checkout"}') % (rng.randint(100, 9999), rng.randint(1, 999),
                                                                       field, text)
        return entry(eid, "attack", cls, placement, enc, rng.choice(["POST", "PUT", "PATCH"]), path,
                     json_headers(hdrs), doc, note)
    if placement == "form":
        v = {"plain": E.form_plain(value), "url": E.url(value), "mixed_case": E.form_plain(value),
             "html_entities": E.form_plain(value)}[enc]
        body = "%s=%s&csrf_token=%s&submit=Save" % (param, v, "%032x" % rng.getrandbits(128))
        h = hdrs + [["Content-Type", "application/x-www-form-urlencoded"]]
        return entry(eid, "attack", cls, placement, enc, "POST", path, h, body, note)
    if placement in ("multipart", "multipart_filename"):
        if placement == "multipart_filename":
            parts = [("title", None, None, "quarterly report"),
                     # Quotes in a file name are sent as %22, as browsers do (WHATWG multipart encoding).
                     ("file", value.replace('"', "%22"), "application/pdf", "%PDF-1.4\n1 0 obj\n<<>>\nendobj\n")]
        else:
            v = E.b64(value) if enc == "base64" else value
            name = base64_param(param) if enc == "base64" else param
            parts = [(name, None, None, v), ("visibility", None, None, "private")]
        ct, body = multipart(parts, rng)
        return entry(eid, "attack", cls, placement, enc, "POST", path, hdrs + [["Content-Type", ct]], body, note)
    if placement == "xml":
        if enc == "xml_charrefs":
            text = E.xml_charrefs(value, rng)
        elif enc == "cdata":
            if "]]>" in value:
                return None
            text = "<![CDATA[%s]]>" % value
        else:
            text = E.xml_text(value)
        root = rng.choice(["request", "order", "customer", "ticket"])
        body = '<?xml version="1.0" encoding="UTF-8"?>\n<%s>\n  <id>%d</id>\n  <%s>%s</%s>\n</%s>' % (
            root, rng.randint(1, 5000), param, text, param, root)
        return entry(eid, "attack", cls, placement, enc, "POST", path,
                     hdrs + [["Content-Type", rng.choice(["application/xml", "text/xml; charset=utf-8"])]], body, note)
    if placement == "header":
        name = rng.choice(HEADER_NAMES)
        v = {"plain": value, "url": E.url(value), "base64": E.b64(value), "mixed_case": value}[enc]
        return entry(eid, "attack", cls, placement, enc, "GET", path, hdrs + [[name, v]], "", note)
    if placement == "user_agent":
        hdrs = [h for h in hdrs if h[0] != "User-Agent"]
        return entry(eid, "attack", cls, placement, enc, "GET", path, hdrs + [["User-Agent", value]], "", note)
    if placement == "referer":
        hdrs = [h for h in hdrs if h[0] != "Referer"]
        ref = "https://shop.example.com/search?q=%s" % E.url(value)
        return entry(eid, "attack", cls, placement, enc, "GET", path, hdrs + [["Referer", ref]], "", note)
    if placement == "cookie":
        if enc == "plain" and (";" in value or "\n" in value):
            return None
        v = {"plain": value, "url": E.url(value), "base64": E.b64(value)}[enc]
        cname = rng.choice(["prefs", "last_search", "cart", "tracking", "remember_me"])
        hdrs = [h for h in hdrs if h[0] != "Cookie"]
        cookie = "session=%032x; %s=%s; theme=dark" % (rng.getrandbits(128), cname, v)
        return entry(eid, "attack", cls, placement, enc, "GET", path, hdrs + [["Cookie", cookie]], "", note)
    raise ValueError(placement)


def json_headers(hdrs):
    return [h for h in hdrs if h[0] != "Accept"] + [["Accept", "application/json"],
                                                     ["Content-Type", "application/json"]]


def string_classes(rng):
    classes = {"sqli": A.SQLI, "xss": A.XSS, "cmdi": A.CMDI, "traversal": A.TRAVERSAL, "ssrf": A.SSRF,
               "ssti": A.SSTI, "log4shell": A.LOG4SHELL}
    out = []
    for cls, payloads in classes.items():
        cursor = 0
        idx = 0
        for placement, encs in PLACEMENTS[cls].items():
            for enc in encs:
                made = 0
                tries = 0
                while made < PER_COMBO and tries < 3 * PER_COMBO:
                    payload, note = payloads[cursor % len(payloads)]
                    cursor += 1
                    tries += 1
                    e = build(cls, placement, enc, payload, note, rng, idx)
                    if e is not None:
                        out.append(e)
                        idx += 1
                        made += 1
    return out


def nosql(rng):
    out = []
    paths = ["/api/v1/login", "/api/users/search", "/api/v1/accounts/lookup", "/api/orders/find"]
    for i, (doc, note) in enumerate(A.NOSQL_JSON * 3):
        variant = i // len(A.NOSQL_JSON)
        hdrs = json_headers(browser_headers(rng) if variant != 1 else tool_headers(rng))
        if variant == 0:
            body, enc, placement = json.dumps(doc), "plain", "json"
        elif variant == 1:
            body, enc, placement = json.dumps({"data": {"filter": doc, "page": 1}}), "plain", "json_nested"
        else:
            body = json.dumps(doc).replace("$", "\\u0024")
            enc, placement = "json_escape", "json"
        out.append(entry("nosql-%s-%s-%03d" % (placement, enc, i), "attack", "nosql", placement, enc, "POST",
                         rng.choice(paths), hdrs, body, note))
    for i, (q, note) in enumerate(A.NOSQL_BRACKET * 4):
        variant = i // len(A.NOSQL_BRACKET)
        path = rng.choice(paths)
        hdrs = browser_headers(rng)
        if variant == 0:
            out.append(entry("nosql-query-plain-%03d" % i, "attack", "nosql", "query", "plain", "GET",
                             path + "?" + q, hdrs, "", note))
        elif variant == 1:
            enc_q = q.replace("[", "%5B").replace("]", "%5D").replace("$", "%24")
            out.append(entry("nosql-query-url-%03d" % i, "attack", "nosql", "query", "url", "GET", path + "?" + enc_q,
                             hdrs, "", note))
        elif variant == 2:
            out.append(entry("nosql-form-plain-%03d" % i, "attack", "nosql", "form", "plain", "POST", path,
                             hdrs + [["Content-Type", "application/x-www-form-urlencoded"]], q, note))
        else:
            enc_q = q.replace("[", "%5B").replace("]", "%5D")
            out.append(entry("nosql-form-url-%03d" % i, "attack", "nosql", "form", "url", "POST", path,
                             hdrs + [["Content-Type", "application/x-www-form-urlencoded"]], enc_q, note))
    return out


def xxe(rng):
    out = []
    paths = ["/api/v1/orders/import", "/soap/UserService", "/api/feeds", "/api/v1/upload/svg", "/xmlrpc"]
    for i, (doc, note) in enumerate(A.XXE):
        for variant, (placement, enc) in enumerate([("xml", "plain"), ("xml", "plain"), ("multipart", "plain"),
                                                    ("json", "json_escape"), ("json", "base64"),
                                                    ("xml", "utf16")]):
            hdrs = browser_headers(rng) if variant % 2 else tool_headers(rng)
            eid = "xxe-%s-%s-%03d" % (placement, enc, i * 10 + variant)
            if placement == "xml" and enc == "plain":
                ct = ["application/xml", "text/xml"][variant]
                out.append(entry(eid, "attack", "xxe", placement, enc, "POST", rng.choice(paths),
                                 hdrs + [["Content-Type", ct]], doc, note))
            elif placement == "xml" and enc == "utf16":
                # Declared and sent as UTF-16 would need binary bodies; the corpus is text, so this variant
                # instead hides the DOCTYPE behind a leading comment and whitespace, as evasion tools do.
                body = "<!-- generated by exporter v3 -->\n\n" + re.sub(r"<\?xml[^>]*\?>\s*", "", doc)
                out.append(entry(eid.replace("utf16", "comment_prefix"), "attack", "xxe", placement, "comment_prefix",
                                 "POST", rng.choice(paths), hdrs + [["Content-Type", "application/xml"]], body, note))
            elif placement == "multipart":
                ct, body = multipart([("description", None, None, "import batch"),
                                      ("file", "orders.xml", "application/xml", doc)], rng)
                out.append(entry(eid, "attack", "xxe", placement, enc, "POST", "/api/v1/import",
                                 hdrs + [["Content-Type", ct]], body, note))
            elif enc == "json_escape":
                body = '{"format": "xml", "document": "%s"}' % E.json_unicode(doc, rng)
                out.append(entry(eid, "attack", "xxe", placement, enc, "POST", "/api/v1/documents",
                                 json_headers(hdrs), body, note))
            else:
                body = json.dumps({"format": "xml", "document_b64": E.b64(doc)})
                out.append(entry(eid, "attack", "xxe", placement, enc, "POST", "/api/v1/documents",
                                 json_headers(hdrs), body, note))
    return out


def proto(rng):
    out = []
    paths = ["/api/v1/settings", "/api/users/me", "/api/v1/merge", "/api/cart/update"]
    for i, (doc, note) in enumerate(A.PROTO_JSON * 3):
        variant = i // len(A.PROTO_JSON)
        hdrs = json_headers(browser_headers(rng))
        if variant == 0:
            body, enc, placement = json.dumps(doc), "plain", "json"
        elif variant == 1:
            body, enc, placement = json.dumps({"profile": {"prefs": doc}}), "plain", "json_nested"
        else:
            body = json.dumps(doc).replace("__proto__", "\\u005f\\u005fproto\\u005f\\u005f").replace(
                "constructor", "constr\\u0075ctor")
            enc, placement = "json_escape", "json"
        out.append(entry("proto-%s-%s-%03d" % (placement, enc, i), "attack", "proto", placement, enc,
                         rng.choice(["POST", "PATCH", "PUT"]), rng.choice(paths), hdrs, body, note))
    for i, (q, note) in enumerate(A.PROTO_QUERY * 4):
        variant = i // len(A.PROTO_QUERY)
        path = rng.choice(paths)
        hdrs = browser_headers(rng)
        if variant == 0:
            out.append(entry("proto-query-plain-%03d" % i, "attack", "proto", "query", "plain", "GET",
                             path + "?" + q + "&v=1", hdrs, "", note))
        elif variant == 1:
            enc_q = q.replace("[", "%5B").replace("]", "%5D").replace("_", "%5F")
            out.append(entry("proto-query-url-%03d" % i, "attack", "proto", "query", "url", "GET", path + "?" + enc_q,
                             hdrs, "", note))
        elif variant == 2:
            out.append(entry("proto-form-plain-%03d" % i, "attack", "proto", "form", "plain", "POST", path,
                             hdrs + [["Content-Type", "application/x-www-form-urlencoded"]], q + "&save=1", note))
        else:
            ct, body = multipart([(q.split("=")[0], None, None, q.split("=")[1])], rng)
            out.append(entry("proto-multipart-plain-%03d" % i, "attack", "proto", "multipart", "plain", "POST", path,
                             hdrs + [["Content-Type", ct]], body, note))
    return out


def generate(seed=4):
    rng = random.Random(seed)
    return string_classes(rng) + nosql(rng) + xxe(rng) + proto(rng)
