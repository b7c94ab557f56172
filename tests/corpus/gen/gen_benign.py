"""Benign API traffic: realistic endpoints, bodies and headers, rich in what trips WAFs.

Each category function makes the i-th request of its category, cycling through the placements that category
naturally travels in; the class field of a benign entry is its category.
"""

import base64
import json
import random

import benign_text as T
import encode as E
from common import entry, multipart, browser_headers, tool_headers, jwt, cookie


def jh(h):
    return [x for x in h if x[0] != "Accept"] + [["Accept", "application/json"], ["Content-Type", "application/json"]]


def hdrs(rng):
    return browser_headers(rng) if rng.random() < 0.65 else tool_headers(rng)


def send_text(cat, i, rng, text, field, path, placements):
    """The text in one of the placements; returns an entry."""
    placement = placements[i % len(placements)]
    h = hdrs(rng)
    eid = "benign-%s-%s-%04d" % (cat, placement, i)
    if placement == "query":
        extra = rng.choice(["", "&page=%d" % rng.randint(1, 9), "&sort=relevance", "&lang=en", "&limit=24"])
        enc = "url" if rng.random() < 0.5 else "plain"
        v = E.url(text) if enc == "url" else E.query_plain(text)
        return entry(eid, "benign", cat, placement, enc, "GET", "%s?%s=%s%s" % (path, field, v, extra), h, "")
    if placement == "json":
        body = {field: text, "locale": rng.choice(["en-GB", "en-US", "de-DE", "ja-JP"]),
                "client_ts": "2024-05-%02dT%02d:%02d:00Z" % (rng.randint(1, 28), rng.randint(0, 23), rng.randint(0, 59))}
        if rng.random() < 0.4:
            body = {"data": {"type": cat, "attributes": body}}
        return entry(eid, "benign", cat, placement, "plain", rng.choice(["POST", "PUT", "PATCH"]), path, jh(h),
                     json.dumps(body, ensure_ascii=rng.random() < 0.3))
    if placement == "form":
        body = "%s=%s&csrf_token=%032x&submit=Send" % (field, E.form_plain(text), rng.getrandbits(128))
        return entry(eid, "benign", cat, placement, "plain", "POST", path,
                     h + [["Content-Type", "application/x-www-form-urlencoded"]], body)
    if placement == "multipart":
        ct, body = multipart([(field, None, None, text), ("category", None, None, rng.choice(["billing", "delivery",
                                                                                               "product", "other"]))],
                             rng)
        return entry(eid, "benign", cat, placement, "plain", "POST", path, h + [["Content-Type", ct]], body)
    if placement == "xml":
        body = '<?xml version="1.0" encoding="UTF-8"?>\n<message>\n  <%s>%s</%s>\n  <priority>normal</priority>\n' \
               '</message>' % (field, E.xml_text(text), field)
        return entry(eid, "benign", cat, placement, "plain", "POST", path, h + [["Content-Type", "application/xml"]],
                     body)
    if placement == "header":
        v = E.url(text) if any(ord(c) > 127 for c in text) else text
        return entry(eid, "benign", cat, placement, "url" if v != text else "plain", "GET", path,
                     h + [[rng.choice(["X-Search-Context", "X-Client-Note", "X-Display-Name"]), v]], "")
    if placement == "cookie":
        h = [x for x in h if x[0] != "Cookie"] + [["Cookie", cookie(rng) + "; last_search=" + E.url(text)]]
        return entry(eid, "benign", cat, placement, "url", "GET", path, h, "")
    if placement == "path":
        return entry(eid, "benign", cat, placement, "url", "GET", path % E.url(text), h, "")
    raise ValueError(placement)


def prose(i, rng):
    text = T.PROSE[i % len(T.PROSE)]
    if rng.random() < 0.3:
        text += " " + rng.choice(T.PROSE)
    path, field = rng.choice([("/api/v1/reviews", "text"), ("/api/support/tickets", "message"),
                              ("/api/v1/comments", "body"), ("/api/orders/4471/notes", "note"), ("/contact", "message")])
    return send_text("prose", i, rng, text, field, path, ["json", "form", "multipart", "json", "query", "xml"])


def sql_words(i, rng):
    text = T.SQL_WORDS[i % len(T.SQL_WORDS)]
    path, field = rng.choice([("/api/search", "q"), ("/api/v1/products", "search"), ("/api/help/articles", "query"),
                              ("/api/v1/forum/posts", "title")])
    return send_text("sql_words", i, rng, text, field, path, ["query", "json", "form", "query", "cookie", "header"])


def code(i, rng):
    lang, snippet = T.CODE[i % len(T.CODE)]
    placement = ["json", "json", "multipart", "form", "xml"][i % 5]
    h = hdrs(rng)
    eid = "benign-code-%s-%04d" % (placement, i)
    title = rng.choice(["Example", "How to sum a list", "Snippet", "Fix for issue #%d" % rng.randint(10, 999),
                        "Tutorial step %d" % rng.randint(1, 12)])
    if placement == "json":
        body = {"title": title, "language": lang, "content": snippet, "tags": [lang, "example"],
                "visibility": rng.choice(["public", "unlisted"])}
        if rng.random() < 0.5:
            body = {"page": {"slug": "guides/%s-basics" % lang, "blocks": [{"type": "paragraph", "text": "Try this:"},
                                                                           {"type": "code", "lang": lang,
                                                                            "source": snippet}]}}
        return entry(eid, "benign", "code", placement, "plain", rng.choice(["POST", "PUT"]),
                     rng.choice(["/api/v1/snippets", "/api/docs/pages", "/api/v2/answers"]), jh(h), json.dumps(body))
    if placement == "multipart":
        ext = {"javascript": "js", "python": "py", "sql": "sql", "shell": "sh", "rust": "rs", "go": "go"}.get(lang, "txt")
        ct, body = multipart([("title", None, None, title), ("file", "example.%s" % ext, "text/plain", snippet)], rng)
        return entry(eid, "benign", "code", placement, "plain", "POST", "/api/v1/gists", h + [["Content-Type", ct]],
                     body)
    if placement == "form":
        body = "title=%s&lang=%s&code=%s" % (E.form_plain(title), lang, E.form_plain(snippet))
        return entry(eid, "benign", "code", placement, "plain", "POST", "/paste",
                     h + [["Content-Type", "application/x-www-form-urlencoded"]], body)
    body = '<?xml version="1.0"?>\n<snippet lang="%s">\n  <title>%s</title>\n  <code><![CDATA[%s]]></code>\n' \
           '</snippet>' % (lang, E.xml_text(title), snippet)
    return entry(eid, "benign", "code", placement, "cdata", "POST", "/api/v1/snippets/import",
                 h + [["Content-Type", "application/xml"]], body)


def markdown(i, rng):
    text = T.MARKDOWN[i % len(T.MARKDOWN)]
    path, field = rng.choice([("/api/v1/issues", "body"), ("/api/wiki/pages/setup", "content"),
                              ("/api/v1/releases", "notes")])
    return send_text("markdown", i, rng, text, field, path, ["json", "json", "form", "multipart"])


def html_text(i, rng):
    text = T.HTML_TEXT[i % len(T.HTML_TEXT)]
    path, field = rng.choice([("/api/cms/posts", "html"), ("/api/v1/newsletters", "body_html"),
                              ("/api/products/P-19/description", "description")])
    return send_text("html_text", i, rng, text, field, path, ["json", "json", "form", "multipart", "xml"])


def base64_image(i, rng):
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(rng.getrandbits(8) for _ in range(rng.randint(300, 3000)))
    data = base64.b64encode(png).decode()
    h = hdrs(rng)
    if i % 3 == 2:
        ct, body = multipart([("caption", None, None, rng.choice(["Me & my dog", "Sunset", "Receipt"])),
                              ("image_base64", None, None, data)], rng)
        return entry("benign-base64_image-multipart-%04d" % i, "benign", "base64_image", "multipart", "base64", "POST",
                     "/api/v1/uploads", h + [["Content-Type", ct]], body)
    value = "data:image/png;base64," + data if i % 3 == 0 else data
    body = {"avatar": value, "filename": "avatar-%d.png" % i} if i % 2 else \
        {"attachments": [{"name": "scan.png", "mime": "image/png", "content": value}], "ticket": "T-%d" % i}
    return entry("benign-base64_image-json-%04d" % i, "benign", "base64_image", "json", "base64", "POST",
                 rng.choice(["/api/users/me/avatar", "/api/support/tickets"]), jh(h), json.dumps(body))


def urls(i, rng):
    u = T.URLS[i % len(T.URLS)]
    placement = ["query", "json", "form", "query", "header"][i % 5]
    h = hdrs(rng)
    eid = "benign-urls-%s-%04d" % (placement, i)
    if placement == "query":
        param = rng.choice(["url", "redirect_uri", "next", "return_to", "image_url", "link"])
        return entry(eid, "benign", "urls", placement, "url", "GET",
                     rng.choice(["/api/v1/link-preview", "/oauth/authorize", "/api/bookmarks"]) + "?%s=%s&client_id=web"
                     % (param, E.url(u)), h, "")
    if placement == "json":
        body = rng.choice([{"url": u, "events": ["order.created", "order.paid"], "secret_hint": "whsec_...%04x" % i},
                           {"bookmark": {"href": u, "title": "Read later", "tags": ["news"]}},
                           {"image": {"src": u, "alt": "product photo"}}])
        return entry(eid, "benign", "urls", placement, "plain", "POST",
                     rng.choice(["/api/v1/webhooks", "/api/bookmarks", "/api/cms/media"]), jh(h), json.dumps(body))
    if placement == "form":
        return entry(eid, "benign", "urls", placement, "plain", "POST", "/settings/website",
                     h + [["Content-Type", "application/x-www-form-urlencoded"]], "website=%s&save=1" % E.url(u))
    h = [x for x in h if x[0] != "Referer"] + [["Referer", u]]
    return entry(eid, "benign", "urls", "header", "plain", "GET", "/api/v1/products?page=%d" % rng.randint(1, 5), h, "")


def filenames(i, rng):
    f = T.FILENAMES[i % len(T.FILENAMES)]
    placement = ["multipart", "query", "path", "json"][i % 4]
    h = hdrs(rng)
    eid = "benign-filenames-%s-%04d" % (placement, i)
    if placement == "multipart":
        ct, body = multipart([("folder", None, None, rng.choice(["Documents", "Photos/2024", "Shared/Finance"])),
                              ("file", f, "application/octet-stream", "sample file contents %d\n" % i)], rng)
        return entry(eid, "benign", "filenames", placement, "plain", "POST", "/api/v1/files",
                     h + [["Content-Type", ct]], body)
    if placement == "query":
        return entry(eid, "benign", "filenames", placement, "url", "GET",
                     "/api/v1/files/download?name=%s&disposition=attachment" % E.url(f), h, "")
    if placement == "path":
        return entry(eid, "benign", "filenames", placement, "url", "GET", "/api/v1/storage/objects/%s" % E.url(f), h,
                     "")
    body = {"name": f, "parent": "folder_%d" % rng.randint(1, 99), "size": rng.randint(100, 10 ** 7),
            "path": "/Users/jane/" + f if rng.random() < 0.5 else "C:\\Users\\Jane\\Documents\\" + f}
    return entry(eid, "benign", "filenames", placement, "plain", "POST", "/api/v1/sync/manifest", jh(h),
                 json.dumps(body, ensure_ascii=False))


def non_latin(i, rng):
    text = T.NON_LATIN[i % len(T.NON_LATIN)]
    path, field = rng.choice([("/api/search", "q"), ("/api/v1/messages", "text"), ("/api/users/me", "display_name")])
    return send_text("non_latin", i, rng, text, field, path, ["query", "json", "form", "multipart", "cookie", "path"]
                     if "%s" in path else ["query", "json", "form", "multipart", "cookie", "header"])


def dollar_json(i, rng):
    h = jh(hdrs(rng))
    eid = "benign-dollar_json-json-%04d" % i
    k = i % 5
    if k == 0:
        schema = dict(T.JSON_SCHEMA)
        schema["title"] = "Order %d" % i
        return entry(eid, "benign", "dollar_json", "json", "plain", "PUT", "/api/v1/schemas/order", h,
                     json.dumps(schema))
    if k == 1:
        body = {"sku": "P-%d" % i, "price": rng.choice(T.PRICES), "note": "Was $%d, now $%d!" % (rng.randint(30, 90),
                                                                                                rng.randint(5, 29))}
        return entry(eid, "benign", "dollar_json", "json", "plain", "POST", "/api/v1/products", h, json.dumps(body,
                                                                                                               ensure_ascii=False))
    if k == 2:
        body = {"template": rng.choice(T.TEMPLATES), "channel": rng.choice(["email", "sms", "push"]),
                "variables": {"first_name": "Jane", "order_id": "A-%d" % i}}
        return entry(eid, "benign", "dollar_json", "json", "plain", "POST", "/api/v1/notifications/templates", h,
                     json.dumps(body))
    if k == 3:
        body = {"openapi": "3.1.0", "paths": {"/orders/{id}": {"get": {"responses": {"200": {"content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/Order"}}}}}}}}}
        return entry(eid, "benign", "dollar_json", "json", "plain", "PUT", "/api/v1/specs/shop", h, json.dumps(body))
    body = {"expression": "price * qty", "env": {"HOME": "/home/app", "PS1": "\\u@\\h:\\w\\$ "},
            "shell_hint": "echo $HOME", "amount": "$%d.%02d" % (rng.randint(1, 500), rng.randint(0, 99))}
    return entry(eid, "benign", "dollar_json", "json", "plain", "POST", "/api/v1/jobs/preview", h, json.dumps(body))


def commerce(i, rng):
    """Checkout, login and profile forms: prices, e-mails, passwords, names with apostrophes, addresses."""
    placement = ["json", "form", "json", "query"][i % 4]
    h = hdrs(rng)
    eid = "benign-commerce-%s-%04d" % (placement, i)
    name = rng.choice(T.NAMES)
    email = rng.choice(T.EMAILS)
    if placement == "json" and i % 8 == 0:
        body = {"email": email, "password": rng.choice(T.PASSWORDS), "remember": True}
        return entry(eid, "benign", "commerce", placement, "plain", "POST", "/api/v1/login", jh(h), json.dumps(body))
    if placement == "json":
        body = {"customer": {"name": name, "email": email, "phone": "+44 20 7946 0%03d" % rng.randint(0, 999)},
                "shipping": {"line1": "%d King's Road" % rng.randint(1, 200), "line2": "Flat 2/B", "city": "London",
                             "postcode": "SW3 4RP", "country": "GB"},
                "items": [{"sku": "MUG-%d" % rng.randint(1, 99), "qty": rng.randint(1, 4), "price": "19.99"}],
                "coupon": rng.choice(["", "SPRING24", "WELCOME-10"]), "total": "£%d.%02d" % (rng.randint(5, 300),
                                                                                           rng.randint(0, 99)),
                "gift_message": rng.choice(["Happy b'day!", "With love <3", "", "For you & yours"])}
        return entry(eid, "benign", "commerce", placement, "plain", "POST", "/api/v1/checkout", jh(h),
                     json.dumps(body, ensure_ascii=False))
    if placement == "form":
        if i % 3 == 0:
            body = "email=%s&password=%s&remember_me=on" % (E.url(email), E.url(rng.choice(T.PASSWORDS)))
            path = "/login"
        else:
            body = "full_name=%s&email=%s&company=%s&message=%s" % (E.form_plain(name), E.url(email),
                                                                    E.form_plain("Smith & Sons Ltd."),
                                                                    E.form_plain(rng.choice(T.PROSE)))
            path = "/contact"
        return entry(eid, "benign", "commerce", placement, "plain", "POST", path,
                     h + [["Content-Type", "application/x-www-form-urlencoded"]], body)
    q = rng.choice(["filter[status]=active&sort=-created_at&page[size]=25",
                    "fields[articles]=title,body&include=author", "min_price=10&max_price=99.99&currency=USD",
                    "email=%s" % E.url(email), "ids[]=12&ids[]=15&ids[]=19", "from=2024-05-01&to=2024-05-31&tz=%s"
                    % E.url("Europe/London"), "q=%s&in_stock=true" % E.url(name)])
    return entry(eid, "benign", "commerce", placement, "url", "GET", rng.choice(["/api/v1/orders", "/api/v1/articles",
                                                                                 "/api/products", "/api/v1/customers"])
                 + "?" + q, h, "")


def search(i, rng):
    text = T.SEARCH[i % len(T.SEARCH)]
    path, field = rng.choice([("/api/search", "q"), ("/api/v1/products", "query"), ("/search", "term"),
                              ("/api/v1/help", "q")])
    return send_text("search", i, rng, text, field, path, ["query", "query", "json", "cookie", "form"])


def graphql(i, rng):
    q, variables = T.GRAPHQL[i % len(T.GRAPHQL)]
    h = jh(hdrs(rng))
    if i % 4 == 3:
        target = "/graphql?query=%s" % E.url(q) + ("&variables=%s" % E.url(json.dumps(variables)) if variables else "")
        return entry("benign-graphql-query-%04d" % i, "benign", "graphql", "query", "url", "GET", target, h, "")
    body = {"operationName": None, "query": q, "variables": variables}
    return entry("benign-graphql-json-%04d" % i, "benign", "graphql", "json", "plain", "POST", "/graphql", h,
                 json.dumps(body, ensure_ascii=False))


def tokens(i, rng):
    """JWTs, API keys, OAuth codes and signed URLs in headers, cookies, JSON and forms."""
    placement = ["header", "cookie", "json", "form", "query"][i % 5]
    h = hdrs(rng)
    t = jwt(rng)
    eid = "benign-tokens-%s-%04d" % (placement, i)
    if placement == "header":
        h = [x for x in h if x[0] != "Authorization"] + [["Authorization", "Bearer " + t],
                                                          ["X-Api-Key", "sk_test_%032x" % rng.getrandbits(128)]]
        return entry(eid, "benign", "tokens", placement, "plain", "GET", "/api/v1/me", h, "")
    if placement == "cookie":
        h = [x for x in h if x[0] != "Cookie"] + [["Cookie", "access_token=%s; refresh=%s; %s" % (
            t, base64.b64encode(rng.getrandbits(256).to_bytes(32, "big")).decode(), cookie(rng))]]
        return entry(eid, "benign", "tokens", placement, "plain", "GET", "/api/v1/orders?page=1", h, "")
    if placement == "json":
        body = {"grant_type": "refresh_token", "refresh_token": t, "client_id": "web-%d" % rng.randint(1, 9)}
        return entry(eid, "benign", "tokens", placement, "plain", "POST", "/oauth/token", jh(h), json.dumps(body))
    if placement == "form":
        body = "grant_type=authorization_code&code=%s&redirect_uri=%s&code_verifier=%s" % (
            E.b64url("c%d" % rng.getrandbits(64)), E.url("https://app.example.com/callback"),
            E.b64url("%x" % rng.getrandbits(256)))
        return entry(eid, "benign", "tokens", placement, "plain", "POST", "/oauth/token",
                     h + [["Content-Type", "application/x-www-form-urlencoded"]], body)
    sig = base64.b64encode(rng.getrandbits(160).to_bytes(20, "big")).decode()
    return entry(eid, "benign", "tokens", placement, "url", "GET",
                 "/media/invoice-%d.pdf?X-Amz-Expires=300&X-Amz-Signature=%s&state=%s" % (i, E.url(sig),
                                                                                         E.url(E.b64('{"r":"/cart"}'))),
                 h, "")


def xml_docs(i, rng):
    h = hdrs(rng)
    k = i % 4
    eid = "benign-xml-xml-%04d" % i
    if k == 0:
        body = ('<?xml version="1.0" encoding="UTF-8"?>\n<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/'
                'envelope/">\n  <soap:Body>\n    <GetOrderStatus xmlns="urn:shop">\n      <OrderId>A-%d</OrderId>\n'
                '      <Customer>%s</Customer>\n    </GetOrderStatus>\n  </soap:Body>\n</soap:Envelope>') % (
            i, E.xml_text(rng.choice(T.NAMES)))
        h = h + [["Content-Type", "text/xml; charset=utf-8"], ["SOAPAction", "\"urn:shop#GetOrderStatus\""]]
        return entry(eid, "benign", "xml", "xml", "plain", "POST", "/soap/OrderService", h, body)
    if k == 1:
        items = "".join("<item><title>%s</title><link>https://blog.example.com/p/%d</link></item>" % (
            E.xml_text(rng.choice(T.PROSE)[:60]), rng.randint(1, 999)) for _ in range(3))
        body = '<?xml version="1.0"?>\n<rss version="2.0"><channel><title>Shop news</title>%s</channel></rss>' % items
        return entry(eid, "benign", "xml", "xml", "plain", "POST", "/api/v1/feeds/import",
                     h + [["Content-Type", "application/rss+xml"]], body)
    if k == 2:
        ct, body = multipart([("name", None, None, "icon-%d" % i), ("file", "icon.svg", "image/svg+xml", T.SVG)], rng)
        return entry("benign-xml-multipart-%04d" % i, "benign", "xml", "multipart", "plain", "POST",
                     "/api/v1/icons", h + [["Content-Type", ct]], body)
    body = ('<?xml version="1.0" encoding="UTF-8"?>\n<order id="%d">\n  <note>%s</note>\n  <sql-hint>select the '
            'blue one</sql-hint>\n  <price currency="USD">19.99</price>\n</order>') % (i, E.xml_text(rng.choice(T.PROSE)))
    return entry(eid, "benign", "xml", "xml", "plain", "POST", "/api/v1/orders", h + [["Content-Type",
                                                                                       "application/xml"]], body)


def plain_api(i, rng):
    """Ordinary REST calls: GETs with ids, pagination, filters; DELETEs; HEAD/OPTIONS; browser-heavy headers."""
    h = hdrs(rng)
    k = i % 6
    eid = "benign-plain_api-%d-%04d" % (k, i)
    uid = "%08x-%04x-4%03x-8%03x-%012x" % (rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(12),
                                           rng.getrandbits(12), rng.getrandbits(48))
    if k == 0:
        return entry(eid, "benign", "plain_api", "path", "plain", "GET", "/api/v1/users/%s/orders?limit=%d" % (
            uid, rng.choice([10, 25, 50])), h, "")
    if k == 1:
        return entry(eid, "benign", "plain_api", "path", "plain", "DELETE", "/api/v1/cart/items/%d" % rng.randint(1, 999),
                     h, "")
    if k == 2:
        h = h + [["If-None-Match", "W/\"%x\"" % rng.getrandbits(64)], ["Cache-Control", "no-cache"],
                 ["Sec-Fetch-Mode", "cors"], ["Sec-Fetch-Site", "same-origin"], ["Origin", "https://shop.example.com"]]
        return entry(eid, "benign", "plain_api", "header", "plain", "GET", "/api/v1/products?category=kitchen&page=%d"
                     % rng.randint(1, 20), h, "")
    if k == 3:
        body = json.dumps({"status": rng.choice(["shipped", "cancelled", "refunded"]), "reason": rng.choice(
            ["customer request", "out of stock", "address couldn't be verified", ""])})
        return entry(eid, "benign", "plain_api", "json", "plain", "PATCH", "/api/v1/orders/%d" % rng.randint(1000, 9999),
                     jh(h), body)
    if k == 4:
        h = h + [["X-Forwarded-Proto", "https"], ["X-Amzn-Trace-Id", "Root=1-%08x-%024x" % (rng.getrandbits(32),
                                                                                           rng.getrandbits(96))]]
        return entry(eid, "benign", "plain_api", "header", "plain", "GET", "/api/v1/health?verbose=false", h, "")
    optanon = "isGpcEnabled=0&datestamp=%s&version=202401.1.0&groups=C0001%%3A1%%2CC0002%%3A0" % E.url(
        "Tue May 14 2024 10:12:01 GMT+0200 (Central European Summer Time)")
    h = [x for x in h if x[0] != "Cookie"] + [["Cookie", "OptanonConsent=%s; %s" % (optanon, cookie(rng))]]
    return entry(eid, "benign", "plain_api", "cookie", "url", "GET", "/api/v1/recommendations?for=home", h, "")


def analytics(i, rng):
    """Analytics and telemetry beacons: long query strings full of URLs, titles, screen sizes and ids."""
    h = browser_headers(rng)
    page = rng.choice(T.URLS)
    title = rng.choice(["Blue mug 350ml | Shop", "Checkout – Step 2 of 3", "Search results for \"union jack\"",
                        "My account", "Don't miss our spring sale!", "東京ラーメン特集", "Order #A-20931 confirmed"])
    if i % 3 == 0:
        q = "v=1&_v=j101&a=%d&t=pageview&_s=%d&dl=%s&dr=%s&dt=%s&sd=24-bit&sr=%s&vp=%s&je=0&_u=QACAAEABAAAAACAAI~&" \
            "jid=&gjid=&cid=%d.%d&tid=UA-%d-1&_gid=%d.%d&z=%d" % (
                rng.randint(1, 10 ** 9), rng.randint(1, 20), E.url(page), E.url(rng.choice(T.URLS)), E.url(title),
                rng.choice(["1920x1080", "390x844", "2560x1440"]), rng.choice(["1903x969", "390x664"]),
                rng.randint(10 ** 8, 10 ** 9), rng.randint(1.6e9, 1.72e9), rng.randint(10 ** 6, 10 ** 8),
                rng.randint(10 ** 8, 10 ** 9), rng.randint(1.6e9, 1.72e9), rng.randint(10 ** 8, 10 ** 9))
        return entry("benign-analytics-query-%04d" % i, "benign", "analytics", "query", "url", "GET", "/collect?" + q,
                     h, "")
    if i % 3 == 1:
        body = {"events": [{"name": rng.choice(["page_view", "add_to_cart", "search", "purchase"]),
                            "ts": 1716000000000 + rng.randint(0, 10 ** 9),
                            "props": {"url": page, "title": title, "referrer": rng.choice(T.URLS),
                                      "query": rng.choice(T.SEARCH), "value": round(rng.uniform(1, 500), 2),
                                      "currency": rng.choice(["EUR", "USD", "GBP"])}}],
                "context": {"userAgent": h[0][1], "locale": "en-GB",
                            "screen": {"w": 1920, "h": 1080}, "library": {"name": "analytics.js", "version": "4.1.0"}}}
        return entry("benign-analytics-json-%04d" % i, "benign", "analytics", "json", "plain", "POST",
                     "/v1/batch", jh(h), json.dumps(body, ensure_ascii=False))
    body = "data=%s&ver=2.4&sid=%x" % (E.url(E.b64(json.dumps({"e": "click", "el": "button#buy-now", "path": "/p/%d"
                                                                  % rng.randint(1, 999), "t": title}))),
                                     rng.getrandbits(48))
    return entry("benign-analytics-form-%04d" % i, "benign", "analytics", "form", "plain", "POST", "/rum/beacon",
                 h + [["Content-Type", "application/x-www-form-urlencoded"]], body)


def webhooks(i, rng):
    """Provider webhooks (payments, git hosting, chat): big JSON events carrying user-written text."""
    h = [["User-Agent", rng.choice(["Stripe/1.0 (+https://stripe.com/docs/webhooks)", "GitHub-Hookshot/7f3a2c1",
                                    "Slackbot 1.0 (+https://api.slack.com/robots)", "Shopify-Captain-Hook"])],
         ["Accept", "*/*"], ["Content-Type", "application/json"],
         ["X-Signature", "t=%d,v1=%064x" % (1716000000 + rng.randint(0, 10 ** 6), rng.getrandbits(256))]]
    k = i % 3
    if k == 0:
        body = {"id": "evt_%024x" % rng.getrandbits(96), "type": "charge.succeeded", "livemode": False,
                "data": {"object": {"amount": rng.randint(100, 99999), "currency": "eur",
                                    "description": rng.choice(T.PROSE), "billing_details": {
                                        "name": rng.choice(T.NAMES), "email": rng.choice(T.EMAILS),
                                        "address": {"line1": "12 King's Road", "city": "London"}},
                                    "metadata": {"order_id": "A-%d" % i, "note": rng.choice(T.SQL_WORDS)}}}}
    elif k == 1:
        lang, snippet = rng.choice(T.CODE)
        body = {"action": "opened", "number": rng.randint(1, 5000),
                "pull_request": {"title": rng.choice(["Fix SELECT in report query", "Drop unused union types",
                                                      "Escape <script> tags in previews", "Bump lodash to 4.17.21"]),
                                 "body": "## Summary\n\n```%s\n%s\n```\n\nCloses #%d" % (lang, snippet,
                                                                                          rng.randint(1, 999)),
                                 "user": {"login": "dev-%d" % rng.randint(1, 99)}},
                "repository": {"full_name": "example/shop", "html_url": "https://github.com/example/shop"}}
    else:
        body = {"type": "event_callback", "event": {"type": "message", "user": "U%08X" % rng.getrandbits(32),
                                                    "text": rng.choice(T.PROSE + T.NON_LATIN + T.MARKDOWN),
                                                    "channel": "C%08X" % rng.getrandbits(32)},
                "team_id": "T%08X" % rng.getrandbits(32)}
    return entry("benign-webhooks-json-%04d" % i, "benign", "webhooks", "json", "plain", "POST",
                 rng.choice(["/webhooks/stripe", "/webhooks/github", "/webhooks/slack", "/api/v1/hooks/incoming"]), h,
                 json.dumps(body, ensure_ascii=False))


CATEGORIES = [
    (prose, 240), (sql_words, 240), (code, 224), (markdown, 120), (html_text, 144), (base64_image, 90), (urls, 168),
    (filenames, 160), (non_latin, 176), (dollar_json, 150), (commerce, 240), (search, 200), (graphql, 112),
    (tokens, 150), (xml_docs, 120), (plain_api, 180), (analytics, 150), (webhooks, 150),
]


def generate(seed=5):
    rng = random.Random(seed)
    out = []
    for fn, n in CATEGORIES:
        for i in range(n):
            out.append(fn(i, rng))
    return out
