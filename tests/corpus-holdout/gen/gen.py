#!/usr/bin/env python3
"""Generates the held-out corpus (`attacks.jsonl`, `benign.jsonl`) from `payloads.py` and `benign.py`.

Seeded, so the output is identical on every run. Run from the repository root:
    python3 tests/corpus-holdout/gen/gen.py
Written independently of `tests/corpus/gen/` (its own encoders, endpoints and placements).
"""

import base64
import json
import os
import random
from urllib.parse import quote, quote_plus

import benign as B
import payloads as P

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
rng = random.Random(20261128)

AGENTS = ["Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 Safari/537.36",
          "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4",
          "curl/7.88.1", "python-httpx/0.27.0", "Apollo-iOS/1.9.0", "insomnia/2023.5.8", "GitHub-Hookshot/8a3c1f2",
          "Slackbot 1.0 (+https://api.slack.com/robots)", "Jenkins/2.440.3", "k6/0.50.0 (https://k6.io/)"]


def headers(ctype=None):
    h = [["User-Agent", rng.choice(AGENTS)], ["Accept", rng.choice(["application/json", "*/*"])]]
    if rng.random() < 0.4:
        h.append(["Authorization", "Bearer tok_%030x" % rng.getrandbits(120)])
    if ctype:
        h.append(["Content-Type", ctype])
    return h


# ---- transport and evasion encodings -------------------------------------------------------------------------

def q_plain(s):
    """What a client must escape in a query value (space, &, #, +, =, quotes, non-ASCII); `'` and `(` stay raw."""
    return quote(s, safe="/:,;@!$'()*~[]|^`{}\\-._")


def q_url(s):
    return quote(s, safe="")


def form_plain(s):
    return quote_plus(s, safe="*")


def b64(s):
    return base64.b64encode(s.encode()).decode()


def json_escape(s):
    """JSON \\u escapes for syntax characters; the JSON parser decodes them."""
    return "".join("\\u%04x" % ord(c) if c in "<>'\"()&;|$`{}/.=_" else c for c in s)


def jdump(obj):
    return json.dumps(obj, ensure_ascii=False)


def multipart(parts):
    boundary = "----hold%012x" % rng.getrandbits(48)
    out = []
    for name, filename, ctype, text in parts:
        disp = 'form-data; name="%s"' % name + ('; filename="%s"' % filename if filename else "")
        out.append("--%s\r\nContent-Disposition: %s\r\n" % (boundary, disp))
        if ctype:
            out.append("Content-Type: %s\r\n" % ctype)
        out.append("\r\n%s\r\n" % text)
    out.append("--%s--\r\n" % boundary)
    return "multipart/form-data; boundary=" + boundary, "".join(out)


def xml_text(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def entry(eid, label, cls, placement, encoding, method, target, hdrs, body="", note=""):
    return {"id": eid, "label": label, "class": cls, "placement": placement, "encoding": encoding,
            "method": method, "target": target, "headers": hdrs, "body": body, "note": note}


# ---- attacks -------------------------------------------------------------------------------------------------

ENDPOINTS = {"query": ["/v2/lookup", "/api/catalog/search", "/svc/report", "/api/v1/geo"],
             "json": ["/api/v1/profile", "/api/tickets", "/rpc/update", "/api/v3/settings"],
             "form": ["/account/update", "/contact", "/api/legacy/save"]}
PARAMS = ["q", "term", "id", "sort", "callback", "redirect", "file", "host", "name", "url", "cmd", "lang"]


def place(cls, n, payload, placement, encoding):
    """One attack request carrying `payload` in `placement` with `encoding`."""
    eid = "%s-%s-%s-h%03d" % (cls, placement, encoding, n)
    p = rng.choice(PARAMS)
    if placement == "query":
        v = {"plain": q_plain, "url": q_url, "double_url": lambda s: q_url(q_url(s)),
             "base64": lambda s: q_url(b64(s))}[encoding](payload)
        if encoding == "base64":
            p = "data_b64"
        return entry(eid, "attack", cls, placement, encoding, "GET",
                     "%s?%s=%s&v=2" % (rng.choice(ENDPOINTS["query"]), p, v), headers())
    if placement == "path":
        v = {"plain": lambda s: quote(s, safe="/:,;@!$'()*=&+~-._"), "url": q_url}[encoding](payload)
        return entry(eid, "attack", cls, placement, encoding, "GET", "/api/v1/files/" + v, headers())
    if placement in ("json", "json_nested"):
        if encoding == "json_escape":
            inner = '"' + json_escape(payload.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")) + '"'
        elif encoding == "base64":
            inner = jdump(b64(payload))
            p = "attachment_b64"
        else:
            inner = jdump(payload)
        if placement == "json":
            body = '{"%s": %s, "client": "web"}' % (p, inner)
        else:
            body = '{"data": {"attributes": {"items": [{"kind": "note", "%s": %s}]}}}' % (p, inner)
        return entry(eid, "attack", cls, placement, encoding, rng.choice(["POST", "PUT", "PATCH"]),
                     rng.choice(ENDPOINTS["json"]), headers("application/json"), body)
    if placement == "form":
        v = {"plain": form_plain, "url": lambda s: q_url(q_url(s)) if False else q_url(s)}[encoding](payload)
        body = "%s=%s&csrf=%016x" % (p, v, rng.getrandbits(64))
        return entry(eid, "attack", cls, placement, encoding, "POST", rng.choice(ENDPOINTS["form"]),
                     headers("application/x-www-form-urlencoded"), body)
    if placement == "multipart":
        v = payload if encoding == "plain" else b64(payload)
        name = p if encoding == "plain" else "blob_b64"
        ct, body = multipart([("title", None, None, "upload %d" % n), (name, None, None, v)])
        return entry(eid, "attack", cls, placement, encoding, "POST", "/api/uploads", headers(ct), body)
    if placement == "header":
        v = payload if encoding == "plain" else b64(payload)
        h = headers()
        h.append([rng.choice(["X-Client-Context", "X-Trace-Tag", "X-Forwarded-Host", "X-Api-Filter"]), v])
        return entry(eid, "attack", cls, placement, encoding, "GET", "/api/v1/status", h)
    if placement == "cookie":
        v = q_url(payload) if encoding == "url" else b64(payload)
        h = headers()
        h.append(["Cookie", "sid=%024x; prefs=%s" % (rng.getrandbits(96), v)])
        return entry(eid, "attack", cls, placement, encoding, "GET", "/api/v1/me", h)
    if placement == "user_agent":
        h = [["User-Agent", payload], ["Accept", "*/*"]]
        return entry(eid, "attack", cls, placement, encoding, "GET", "/", h)
    if placement == "xml":
        body = '<?xml version="1.0"?><request><%s>%s</%s><page>1</page></request>' % (p, xml_text(payload), p)
        return entry(eid, "attack", cls, placement, encoding, "POST", "/soap/lookup", headers("application/xml"), body)
    raise ValueError(placement)


# Per class: the (placement, encoding) pairs taken in turn, payload by payload, twice over.
PLAN = {
    "sqli": [("query", "plain"), ("json", "plain"), ("form", "plain"), ("query", "url"), ("cookie", "base64"),
             ("header", "plain"), ("json_nested", "json_escape"), ("multipart", "plain"), ("path", "url"),
             ("xml", "plain"), ("query", "double_url"), ("query", "base64")],
    "xss": [("query", "plain"), ("json", "plain"), ("form", "plain"), ("query", "url"), ("multipart", "plain"),
            ("json_nested", "json_escape"), ("cookie", "url"), ("xml", "plain"), ("query", "double_url"),
            ("json", "base64")],
    "cmdi": [("query", "plain"), ("json", "plain"), ("form", "plain"), ("query", "url"), ("header", "plain"),
             ("multipart", "plain"), ("json_nested", "json_escape"), ("cookie", "base64"), ("user_agent", "plain")],
    "traversal": [("query", "plain"), ("json", "plain"), ("form", "plain"), ("path", "plain"), ("query", "url"),
                  ("multipart", "plain"), ("json_nested", "json_escape"), ("cookie", "url")],
    "ssrf": [("query", "plain"), ("json", "plain"), ("form", "plain"), ("query", "url"), ("json_nested", "plain"),
             ("multipart", "plain"), ("xml", "plain"), ("query", "double_url")],
    "ssti": [("query", "plain"), ("json", "plain"), ("form", "plain"), ("query", "url"), ("multipart", "plain"),
             ("json_nested", "json_escape"), ("header", "plain")],
    "log4shell": [("header", "plain"), ("user_agent", "plain"), ("query", "plain"), ("json", "plain"),
                  ("form", "plain"), ("query", "url"), ("cookie", "url")],
}
CLASS_PAYLOADS = {"sqli": P.SQLI, "xss": P.XSS, "cmdi": P.CMDI, "traversal": P.TRAVERSAL, "ssrf": P.SSRF,
                  "ssti": P.SSTI, "log4shell": P.JNDI}


def attacks():
    out = []
    for cls, plan in PLAN.items():
        k = 0
        for rnd in range(2):
            for i, payload in enumerate(CLASS_PAYLOADS[cls]):
                placement, enc = plan[(i + rnd * 5) % len(plan)]
                out.append(place(cls, k, payload, placement, enc))
                k += 1
    k = 0
    for doc in P.NOSQL_JSON:
        for enc in ("plain", "json_escape"):
            body = doc if enc == "plain" else doc.replace("$", "\\u0024")
            out.append(entry("nosql-json-%s-h%03d" % (enc, k), "attack", "nosql", "json", enc, "POST",
                             rng.choice(["/api/login", "/api/users/find", "/api/session"]),
                             headers("application/json"), body))
            k += 1
    for q in P.NOSQL_FORM:
        out.append(entry("nosql-query-plain-h%03d" % k, "attack", "nosql", "query", "plain", "GET",
                         "/api/users?" + q, headers()))
        out.append(entry("nosql-form-plain-h%03d" % (k + 1), "attack", "nosql", "form", "plain", "POST",
                         "/api/login", headers("application/x-www-form-urlencoded"), q))
        k += 2
    k = 0
    for doc in P.XXE:
        out.append(entry("xxe-xml-plain-h%03d" % k, "attack", "xxe", "xml", "plain", "POST",
                         rng.choice(["/api/import", "/soap/orders", "/feeds/ingest"]),
                         headers(rng.choice(["application/xml", "text/xml"])), doc))
        fname = "import.svg" if "<svg" in doc else "data.xml"
        ctype = "image/svg+xml" if "<svg" in doc else rng.choice(["application/xml", "text/xml"])
        ct, body = multipart([("note", None, None, "nightly import"), ("file", fname, ctype, doc)])
        out.append(entry("xxe-multipart-plain-h%03d" % (k + 1), "attack", "xxe", "multipart", "plain", "POST",
                         "/api/uploads", headers(ct), body))
        k += 2
    k = 0
    for doc in P.PROTO_JSON:
        out.append(entry("proto-json-plain-h%03d" % k, "attack", "proto", "json", "plain", "POST", "/api/v1/settings",
                         headers("application/json"), doc))
        esc = doc.replace("__proto__", "\\u005f\\u005fproto\\u005f\\u005f").replace(
            '"prototype"', '"\\u0070rototype"')
        out.append(entry("proto-json-json_escape-h%03d" % (k + 1), "attack", "proto", "json", "json_escape", "PATCH",
                         "/api/v1/settings", headers("application/json"), esc))
        k += 2
    for q in P.PROTO_QUERY:
        key, val = q.split("=", 1)
        out.append(entry("proto-query-plain-h%03d" % k, "attack", "proto", "query", "plain", "GET",
                         "/api/items?" + q, headers()))
        out.append(entry("proto-query-url-h%03d" % (k + 1), "attack", "proto", "query", "url", "GET",
                         "/api/items?%s=%s" % (q_url(key), val), headers()))
        out.append(entry("proto-form-plain-h%03d" % (k + 2), "attack", "proto", "form", "plain", "POST",
                         "/api/items", headers("application/x-www-form-urlencoded"), q + "&x=1"))
        k += 3
    return out


# ---- benign --------------------------------------------------------------------------------------------------

BENIGN = {"graphql": B.GRAPHQL, "analytics_filters": B.ANALYTICS_FILTERS, "tickets": B.TICKETS,
          "email_templates": B.EMAIL_TEMPLATES, "ci_paths": B.CI_PATHS, "math": B.MATH, "non_latin": B.NON_LATIN,
          "blobs": B.BLOBS, "public_urls": B.PUBLIC_URLS, "code": B.CODE_SNIPPETS, "chat": B.CHAT,
          "configs": B.CONFIGS}
FIELDS = {"graphql": "query", "analytics_filters": "filter", "tickets": "description", "email_templates": "html",
          "ci_paths": "path", "math": "expression", "non_latin": "comment", "blobs": "token",
          "public_urls": "url", "code": "snippet", "chat": "message", "configs": "content"}


def benign_one(cat, n, text, placement):
    eid = "benign-%s-%s-h%04d" % (cat, placement, n)
    field = FIELDS[cat]
    if placement == "json":
        if cat == "graphql":
            body = jdump({"query": text, "variables": {"first": 20, "id": "VXNlcjox"}, "operationName": None})
            return entry(eid, "benign", cat, placement, "plain", "POST", "/graphql", headers("application/json"), body)
        body = jdump({field: text, "meta": {"source": "app", "version": "%d.%d" % (rng.randint(1, 9),
                                                                                   rng.randint(0, 20))}})
        return entry(eid, "benign", cat, placement, "plain", rng.choice(["POST", "PUT"]), "/api/v1/%s" % cat,
                     headers("application/json"), body)
    if placement == "json_nested":
        body = jdump({"events": [{"type": cat, "ts": 1716000000 + n, "payload": {field: text, "tags": ["a", "b"]}}]})
        return entry(eid, "benign", cat, placement, "plain", "POST", "/api/v1/events/batch",
                     headers("application/json"), body)
    if placement == "form":
        body = "%s=%s&lang=en&submit=Save" % (field, form_plain(text))
        return entry(eid, "benign", cat, placement, "plain", "POST", "/forms/%s" % cat,
                     headers("application/x-www-form-urlencoded"), body)
    if placement == "query":
        return entry(eid, "benign", cat, placement, "plain", "GET", "/api/v1/%s?%s=%s&page=%d" % (
            cat, field, q_url(text), rng.randint(1, 9)), headers())
    if placement == "multipart":
        ct, body = multipart([("kind", None, None, cat), (field, None, None, text),
                              ("attachment", "%s-%d.txt" % (cat, n), "text/plain", text)])
        return entry(eid, "benign", cat, placement, "plain", "POST", "/api/v1/attachments", headers(ct), body)
    raise ValueError(placement)


def benign():
    out = []
    n = 0
    for cat, texts in BENIGN.items():
        for text in texts:
            for placement in ("json", "json_nested", "form", "query", "multipart"):
                out.append(benign_one(cat, n, text, placement))
                n += 1
    # Multipart XML and SVG uploads without any DTD, and XML API bodies (the look-alikes of XXE).
    xml_docs = [
        '<?xml version="1.0" encoding="UTF-8"?><invoice><id>INV-7</id><total currency="EUR">12.50</total></invoice>',
        '<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16"><circle cx="8" cy="8" r="7" fill="#0a7"/></svg>',
        '<?xml version="1.0"?><rss version="2.0"><channel><title>News &amp; notes</title><item><title>Q&amp;A'
        '</title></item></channel></rss>',
        '<?xml version="1.0"?><!-- exported --><catalog><book id="b1"><title>SQL for O&apos;Reilly fans</title>'
        '</book></catalog>',
        '<?xml version="1.0"?><!DOCTYPE html><html><body><p>Plain HTML5 doctype</p></body></html>',
        '<?xml version="1.0"?><project xmlns="http://maven.apache.org/POM/4.0.0"><groupId>com.example</groupId>'
        '<artifactId>app</artifactId><version>1.0.0</version></project>',
    ]
    for i, doc in enumerate(xml_docs * 4):
        if i % 2 == 0:
            fname = "logo.svg" if doc.startswith("<svg") else "export-%d.xml" % i
            ctype = "image/svg+xml" if doc.startswith("<svg") else "application/xml"
            ct, body = multipart([("file", fname, ctype, doc)])
            out.append(entry("benign-xml_upload-multipart-h%04d" % n, "benign", "xml_upload", "multipart", "plain",
                             "POST", "/api/uploads", headers(ct), body))
        else:
            out.append(entry("benign-xml_upload-xml-h%04d" % n, "benign", "xml_upload", "xml", "plain", "POST",
                             "/api/import", headers("application/xml"), doc))
        n += 1
    # Repeated parameters the way APIs legitimately use them (the look-alikes of parameter pollution).
    repeats = ["tag=red&tag=blue&tag=green", "ids[]=1&ids[]=2&ids[]=3", "sort=name&sort=-created",
               "fields=id&fields=title", "color=red&size=m&color=blue", "filter=a&filter=b&page=2"]
    for i, q in enumerate(repeats * 3):
        if i % 2 == 0:
            out.append(entry("benign-repeated_params-query-h%04d" % n, "benign", "repeated_params", "query", "plain",
                             "GET", "/api/v1/products?" + q, headers()))
        else:
            out.append(entry("benign-repeated_params-form-h%04d" % n, "benign", "repeated_params", "form", "plain",
                             "POST", "/api/v1/products/filter", headers("application/x-www-form-urlencoded"), q))
        n += 1
    return out


def write(name, rows):
    with open(os.path.join(OUT, name), "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=True) + "\n")


if __name__ == "__main__":
    a, b = attacks(), benign()
    ids = [r["id"] for r in a + b]
    assert len(ids) == len(set(ids)), "ids must be unique"
    write("attacks.jsonl", a)
    write("benign.jsonl", b)
    print("attacks: %d, benign: %d" % (len(a), len(b)))
