"""Corpus entries and the parts of requests every generator shares: client headers, multipart bodies."""

import json

USER_AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 "
    "Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 "
    "Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile "
    "Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 "
    "Safari/537.36 Edg/123.0.2420.81",
]
TOOL_AGENTS = [
    "curl/8.5.0", "python-requests/2.31.0", "okhttp/4.12.0", "Go-http-client/1.1", "axios/1.6.8",
    "PostmanRuntime/7.37.3", "Dart/3.3 (dart:io)", "ShopApp/5.12.1 (iOS 17.4; iPhone15,2)",
    "Java/17.0.10", "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
]
LANGS = ["en-US,en;q=0.9", "en-GB,en;q=0.8,de;q=0.6", "fr-FR,fr;q=0.9,en;q=0.7", "ja,en-US;q=0.8",
         "de-DE,de;q=0.9", "es-ES,es;q=0.9,en;q=0.5", "zh-CN,zh;q=0.9", "ar-SA,ar;q=0.9,en;q=0.6"]
REFERERS = ["https://shop.example.com/", "https://shop.example.com/products?page=2&sort=price_asc",
            "https://app.example.com/dashboard", "https://www.google.com/", "https://docs.example.com/guides/auth",
            "https://shop.example.com/cart", "https://app.example.com/settings/profile"]


def entry(eid, label, cls, placement, encoding, method, target, headers, body, note=""):
    return {"id": eid, "label": label, "class": cls, "placement": placement, "encoding": encoding,
            "method": method, "target": target, "headers": headers, "body": body, "note": note}


def browser_headers(rng):
    h = [["User-Agent", rng.choice(USER_AGENTS)],
         ["Accept", rng.choice(["application/json, text/plain, */*", "*/*",
                                "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"])],
         ["Accept-Language", rng.choice(LANGS)],
         ["Accept-Encoding", "gzip, deflate, br"]]
    if rng.random() < 0.6:
        h.append(["Referer", rng.choice(REFERERS)])
    if rng.random() < 0.7:
        h.append(["Cookie", cookie(rng)])
    if rng.random() < 0.3:
        h.append(["Authorization", "Bearer " + jwt(rng)])
    return h


def tool_headers(rng):
    h = [["User-Agent", rng.choice(TOOL_AGENTS)], ["Accept", rng.choice(["application/json", "*/*"])]]
    if rng.random() < 0.5:
        h.append(["Authorization", rng.choice(["Bearer " + jwt(rng), "ApiKey pk_live_%024x" % rng.getrandbits(96)])])
    if rng.random() < 0.3:
        h.append(["X-Request-Id", "%08x-%04x-4%03x-a%03x-%012x" % (rng.getrandbits(32), rng.getrandbits(16),
                                                                      rng.getrandbits(12), rng.getrandbits(12),
                                                                      rng.getrandbits(48))])
    return h


def cookie(rng):
    parts = ["session=%032x" % rng.getrandbits(128)]
    if rng.random() < 0.5:
        parts.append("_ga=GA1.2.%d.%d" % (rng.randint(10 ** 8, 10 ** 9), rng.randint(1.6e9, 1.72e9)))
    if rng.random() < 0.4:
        parts.append(rng.choice(["theme=dark", "theme=light", "lang=en-GB", "currency=EUR", "consent=analytics%3Dfalse",
                                 "cart_id=c_%x" % rng.getrandbits(40), "tz=Europe%2FBerlin"]))
    return "; ".join(parts)


def jwt(rng):
    import base64
    header = base64.urlsafe_b64encode(b'{"alg":"RS256","typ":"JWT","kid":"k1"}').decode().rstrip("=")
    claims = json.dumps({"sub": "user_%d" % rng.randint(1000, 99999), "iat": 1716000000 + rng.randint(0, 10 ** 6),
                         "scope": rng.choice(["read write", "orders:read", "profile"])}, separators=(",", ":"))
    payload = base64.urlsafe_b64encode(claims.encode()).decode().rstrip("=")
    sig = base64.urlsafe_b64encode(rng.getrandbits(256).to_bytes(32, "big")).decode().rstrip("=")
    return "%s.%s.%s" % (header, payload, sig)


def multipart(parts, rng):
    """parts: (name, filename or None, content type or None, text). Returns (content type, body)."""
    boundary = rng.choice(["----WebKitFormBoundary", "------------------------", "----geckoformboundary"]) + \
        "%016x" % rng.getrandbits(64)
    out = []
    for name, filename, ctype, text in parts:
        out.append("--" + boundary + "\r\n")
        if filename is None:
            out.append('Content-Disposition: form-data; name="%s"\r\n' % name)
        else:
            out.append('Content-Disposition: form-data; name="%s"; filename="%s"\r\n' % (name, filename))
        if ctype:
            out.append("Content-Type: %s\r\n" % ctype)
        out.append("\r\n" + text + "\r\n")
    out.append("--" + boundary + "--\r\n")
    return "multipart/form-data; boundary=" + boundary, "".join(out)


def json_body(obj):
    return json.dumps(obj, ensure_ascii=False)
