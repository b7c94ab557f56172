//! OWASP CRS at paranoia level 1 in blocking mode must let ordinary API traffic through: a few hundred
//! realistic requests (JSON APIs, forms, uploads, browser headers, prose with apostrophes and SQL-ish words)
//! see zero blocks, while attacks of the same shapes are blocked.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::*;

/// CRS as shipped plus the one setting its setup file documents for REST APIs (rule 900200): CRS allows only
/// GET, HEAD, POST and OPTIONS by default, and an API also takes PUT, PATCH and DELETE.
const API_SETUP: &str = "SecAction \"id:900200,phase:1,pass,t:none,nolog,\
    setvar:'tx.allowed_methods=GET HEAD POST OPTIONS PUT PATCH DELETE'\"\n";

fn crs_config(upstream: std::net::SocketAddr) -> String {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/crs").canonicalize().unwrap();
    config(&format!(
        "[waf]\nmode = \"on\"\nrules = [\"{}\", \"api-setup.conf\", \"{}\"]\n[[upstreams]]\nname = \"app\"\n\
         targets = [\"{upstream}\"]\n[[routes]]\nname = \"all\"\nupstream = \"app\"\n",
        d.join("crs-setup.conf.example").display(),
        d.join("rules/*.conf").display()
    ))
}

fn browser(rq: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    rq.header(
        "User-Agent",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
    )
    .header("Accept", "application/json, text/plain, */*")
    .header("Accept-Language", "en-GB,en;q=0.9,de;q=0.8")
    .header("Accept-Encoding", "gzip, deflate, br")
    .header("Referer", "https://shop.example.com/products?page=2")
    .header("Cookie", "session=4f9c2a1be07d4c55; theme=dark; consent=analytics%3Dfalse")
}

const WORDS: &[&str] = &[
    "O'Reilly books",
    "rock 'n' roll",
    "select a size",
    "union jack mug",
    "drop-down menu",
    "where is my order?",
    "café crème",
    "naïve résumé",
    "東京 ラーメン",
    "Привет мир",
    "100% cotton",
    "size: 10-12",
    "50% off & free delivery",
    "What's new?",
    "don't panic",
    "order by price",
    "delete my account please",
    "C'est la vie",
    "script writing course",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundreds_of_benign_api_requests_pass_and_attacks_are_blocked() {
    let up = Upstream::start("app").await;
    let gw = Gw::start_with_files(&crs_config(up.addr), &[("api-setup.conf", API_SETUP.as_bytes())]);
    gw.wait_stderr("WAF rule set loaded", Duration::from_secs(60));
    let c = client();
    let mut sent = 0;
    let mut blocked = Vec::new();
    let mut check = |what: String, status: u16| {
        sent += 1;
        if status == 403 {
            blocked.push(what);
        }
    };
    for (i, w) in WORDS.iter().enumerate() {
        let q: String = url_encode(w);
        let r =
            browser(c.get(gw.url("http", &format!("/api/search?q={q}&page={i}&sort=price_asc")))).send().await.unwrap();
        check(format!("search {w}"), r.status().as_u16());
        let body = serde_json::json!({
            "title": w, "description": format!("{w} — a review: it's great, I'd buy it again. 5/5"),
            "tags": ["gift", "summer-2026"], "price": 19.99, "quantity": i, "gift": i % 2 == 0,
            "address": {"line1": "1 Castle Road", "city": "Gateham", "postcode": "GT1 2AB"},
        });
        let r = browser(c.post(gw.url("http", "/api/reviews"))).json(&body).send().await.unwrap();
        check(format!("json review {w}"), r.status().as_u16());
        let r = browser(c.put(gw.url("http", &format!("/api/items/{i}")))).json(&body).send().await.unwrap();
        check(format!("json put {w}"), r.status().as_u16());
        let r = browser(c.post(gw.url("http", "/account/profile")))
            .form(&[("name", "Alice Liddell"), ("bio", w), ("email", "alice@example.com"), ("newsletter", "on")])
            .send()
            .await
            .unwrap();
        check(format!("form {w}"), r.status().as_u16());
    }
    for i in 0..70 {
        let r = browser(c.get(gw.url("http", &format!("/api/items/{i}?include=reviews,price&currency=EUR"))))
            .send()
            .await
            .unwrap();
        check(format!("item {i}"), r.status().as_u16());
        let r =
            browser(c.get(gw.url("http", &format!("/api/users/{i}/orders?from=2026-01-01&to=2026-11-28&limit=20"))))
                .header("Authorization", "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJl")
                .send()
                .await
                .unwrap();
        check(format!("orders {i}"), r.status().as_u16());
        let r = browser(c.delete(gw.url("http", &format!("/api/cart/items/{i}")))).send().await.unwrap();
        check(format!("delete {i}"), r.status().as_u16());
    }
    // A file upload with an image and a text note.
    for i in 0..20 {
        let form = reqwest::multipart::Form::new().text("caption", format!("Holiday photo #{i} — don't share")).part(
            "file",
            reqwest::multipart::Part::bytes(vec![0x89, b'P', b'N', b'G', 13, 10, 26, 10, i as u8, 0, 0, 13])
                .file_name(format!("photo-{i}.png"))
                .mime_str("image/png")
                .unwrap(),
        );
        let r = browser(c.post(gw.url("http", "/api/uploads"))).multipart(form).send().await.unwrap();
        check(format!("upload {i}"), r.status().as_u16());
    }
    assert!(blocked.is_empty(), "{} of {sent} benign requests blocked: {blocked:#?}", blocked.len());
    assert!(sent >= 300, "{sent}");

    for attack in [
        "/api/search?q=1%27%20UNION%20SELECT%20password%20FROM%20users--",
        "/api/search?q=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E",
        "/api/files?path=..%2F..%2F..%2Fetc%2Fpasswd",
        "/api/ping?host=127.0.0.1%3Bcat%20%2Fetc%2Fpasswd",
    ] {
        let r = browser(c.get(gw.url("http", attack))).send().await.unwrap();
        assert_eq!(r.status(), 403, "{attack}");
    }
    let r = browser(c.post(gw.url("http", "/api/reviews")))
        .json(
            &serde_json::json!({"title": "x' OR 1=1 --", "description": "<script>document.location='//evil'</script>"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
