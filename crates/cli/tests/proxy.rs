//! The proxy path through the real binary: HTTP/1.1 and h2c, header policy, forwarding headers, request ids,
//! routing precedence and rewrites, direct responses, limits and problem+json errors.

mod common;

use common::*;
use serde_json::Value;

fn upstream_cfg(name: &str, addr: std::net::SocketAddr) -> String {
    format!("[[upstreams]]\nname = \"{name}\"\ntargets = [\"{addr}\"]\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http1_and_h2c_reach_the_upstream_with_header_policy_applied() {
    let up = Upstream::start("one").await;
    let gw = Gw::start(&config(&format!(
        "{}\n[[routes]]\nname = \"api\"\nupstream = \"one\"\n",
        upstream_cfg("one", up.addr)
    )));
    let c = client();
    let r = c.get(gw.url("http", "/api/items?x=1")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.version(), reqwest::Version::HTTP_11);
    assert!(r.headers().get("server").is_none(), "Server header must be stripped");
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert!(r.headers().get("strict-transport-security").is_none());
    let rid = r.headers()["x-request-id"].to_str().unwrap().to_string();
    let echo: Value = r.json().await.unwrap();
    assert_eq!(echo["upstream"], "one");
    assert_eq!(echo["uri"], "/api/items?x=1");
    assert_eq!(echoed_header(&echo, "x-request-id"), vec![rid]);

    let h2 = reqwest::Client::builder().http2_prior_knowledge().build().unwrap();
    let r = h2.post(gw.url("http", "/api/login")).body("{\"a\":1}").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.version(), reqwest::Version::HTTP_2);
    let echo: Value = r.json().await.unwrap();
    assert_eq!(echo["method"], "POST");
    assert_eq!(echo["body_len"], 7);
    // The upstream is spoken to in HTTP/1.1 with a Host header even for h2 clients.
    assert_eq!(echoed_header(&echo, "host"), vec![gw.addr("http").to_string()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarding_headers_are_set_and_spoofing_and_hop_by_hop_are_dropped() {
    let up = Upstream::start("one").await;
    let gw = Gw::start(&config(&format!(
        "{}\n[[routes]]\nname = \"api\"\nupstream = \"one\"\n",
        upstream_cfg("one", up.addr)
    )));
    let r = client()
        .get(gw.url("http", "/x"))
        .header("X-Forwarded-For", "6.6.6.6")
        .header("Forwarded", "for=6.6.6.6")
        .header("X-Forwarded-Proto", "https")
        .header("X-Request-Id", "client-chosen-42")
        .header("Connection", "X-Internal-Token")
        .header("X-Internal-Token", "secret")
        .header("Keep-Alive", "timeout=5")
        .header("TE", "trailers")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "client-chosen-42");
    let echo: Value = r.json().await.unwrap();
    assert_eq!(echoed_header(&echo, "x-forwarded-for"), vec!["127.0.0.1"]);
    assert_eq!(echoed_header(&echo, "forwarded"), vec![format!("for=127.0.0.1;proto=http;host={}", gw.addr("http"))]);
    assert_eq!(echoed_header(&echo, "x-forwarded-proto"), vec!["http"]);
    assert_eq!(echoed_header(&echo, "x-forwarded-host"), vec![gw.addr("http").to_string()]);
    assert_eq!(echoed_header(&echo, "x-request-id"), vec!["client-chosen-42"]);
    for h in ["x-internal-token", "keep-alive", "te"] {
        assert!(echoed_header(&echo, h).is_empty(), "{h} must not reach the upstream");
    }

    // From a trusted proxy the chain is kept and extended.
    drop(gw);
    let gw = Gw::start(&format!(
        "[server]\ntrusted_proxies = [\"127.0.0.0/8\"]\n{}",
        config(&format!("{}\n[[routes]]\nname = \"api\"\nupstream = \"one\"\n", upstream_cfg("one", up.addr)))
    ));
    let r = client().get(gw.url("http", "/x")).header("X-Forwarded-For", "198.51.100.7").send().await.unwrap();
    let echo: Value = r.json().await.unwrap();
    assert_eq!(echoed_header(&echo, "x-forwarded-for"), vec!["198.51.100.7, 127.0.0.1"]);
    // And the access log names the real client.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let log = gw.stdout.lock().unwrap().join("\n");
    assert!(log.contains("\"client_ip\":\"198.51.100.7\""), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routing_precedence_rewrites_and_direct_actions() {
    let a = Upstream::start("a").await;
    let b = Upstream::start("b").await;
    let c = Upstream::start("c").await;
    let gw = Gw::start(&config(&format!(
        r#"{}{}{}
[[routes]]
name = "catch-all"
upstream = "a"

[[routes]]
name = "regex"
upstream = "c"
[routes.match]
path_regex = "^/v[0-9]+/"

[[routes]]
name = "api-prefix"
upstream = "b"
strip_prefix = "/api"
add_prefix = "/internal"
[routes.match]
path_prefix = "/api"

[[routes]]
name = "api-exact"
respond = {{ status = 418, body = "exact wins" }}
[routes.match]
path = "/api/teapot"

[[routes]]
name = "api-host"
upstream = "c"
[routes.match]
hosts = ["admin.example"]
path_prefix = "/api"

[[routes]]
name = "wild-host"
upstream = "a"
[routes.match]
hosts = ["*.example"]
path_prefix = "/api"

[[routes]]
name = "deletes"
redirect = {{ to = "https://example.com/gone", status = 301 }}
[routes.match]
path_prefix = "/api"
methods = ["DELETE"]
"#,
        upstream_cfg("a", a.addr),
        upstream_cfg("b", b.addr),
        upstream_cfg("c", c.addr)
    )));
    let cl = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let get = |path: &str, host: Option<&str>| {
        let mut rq = cl.get(gw.url("http", path));
        if let Some(h) = host {
            rq = rq.header("Host", h);
        }
        rq.send()
    };
    let echo: Value = get("/api/items?q=1", None).await.unwrap().json().await.unwrap();
    assert_eq!(echo["upstream"], "b");
    assert_eq!(echo["uri"], "/internal/items?q=1");
    let r = get("/api/teapot", None).await.unwrap();
    assert_eq!(r.status(), 418);
    assert_eq!(r.text().await.unwrap(), "exact wins");
    let echo: Value = get("/api/x", Some("admin.example")).await.unwrap().json().await.unwrap();
    assert_eq!(echo["upstream"], "c", "exact host beats wildcard host and no host");
    let echo: Value = get("/api/x", Some("shop.example")).await.unwrap().json().await.unwrap();
    assert_eq!(echo["upstream"], "a", "wildcard host beats no host");
    let echo: Value = get("/v2/things", None).await.unwrap().json().await.unwrap();
    assert_eq!(echo["upstream"], "c");
    let echo: Value = get("/apis", None).await.unwrap().json().await.unwrap();
    assert_eq!(echo["upstream"], "a", "/apis is not under the /api prefix");
    let r = cl.delete(gw.url("http", "/api/items/1")).send().await.unwrap();
    assert_eq!(r.status(), 301);
    assert_eq!(r.headers()["location"], "https://example.com/gone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_and_errors_are_problem_json() {
    let up = Upstream::start("one").await;
    let gw = Gw::start(&config(&format!(
        r#"{}
[limits]
max_header_bytes = 2048
max_headers = 20
max_uri_bytes = 256
max_body_bytes = 1000

[[routes]]
name = "api"
upstream = "one"

[[routes]]
name = "small"
upstream = "one"
max_body_bytes = 10
[routes.match]
path = "/small"
"#,
        upstream_cfg("one", up.addr)
    )));
    let c = client();
    let check = |r: reqwest::Response, status: u16| async move {
        assert_eq!(r.status(), status);
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        let p: Value = r.json().await.unwrap();
        assert_eq!(p["status"], status);
        assert!(p["request_id"].is_string());
        assert!(p["title"].is_string());
        p
    };
    check(c.get(gw.url("http", &format!("/{}", "a".repeat(300)))).send().await.unwrap(), 414).await;
    check(c.get(gw.url("http", "/")).header("X-Big", "b".repeat(3000)).send().await.unwrap(), 431).await;
    let mut rq = c.get(gw.url("http", "/"));
    for i in 0..30 {
        rq = rq.header(format!("X-H{i}"), "v");
    }
    check(rq.send().await.unwrap(), 431).await;
    check(c.post(gw.url("http", "/")).body(vec![b'x'; 2000]).send().await.unwrap(), 413).await;
    check(c.post(gw.url("http", "/small")).body("12345678901").send().await.unwrap(), 413).await;
    // A chunked body with no length is cut off while streaming.
    let stream = futures_util::stream::iter((0..20).map(|_| Ok::<_, std::io::Error>(vec![b'y'; 100])));
    let r = c.post(gw.url("http", "/")).body(reqwest::Body::wrap_stream(stream)).send().await.unwrap();
    check(r, 413).await;
    // Within limits all is well.
    assert_eq!(c.post(gw.url("http", "/small")).body("1234567890").send().await.unwrap().status(), 200);
    let before = up.hits();
    assert_eq!(c.post(gw.url("http", "/")).body(vec![b'x'; 999]).send().await.unwrap().status(), 200);
    assert_eq!(up.hits(), before + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_route_is_404_and_dead_upstream_is_502_without_internals() {
    let (dead, _held) = dead_addr();
    let gw = Gw::start(&config(&format!(
        "{}\n[[routes]]\nname = \"api\"\nupstream = \"dead\"\n[routes.match]\npath_prefix = \"/api\"\n",
        upstream_cfg("dead", dead)
    )));
    let c = client();
    let r = c.get(gw.url("http", "/nope")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let r = c.get(gw.url("http", "/api/x")).send().await.unwrap();
    assert_eq!(r.status(), 502);
    let body = r.text().await.unwrap();
    assert!(!body.contains("127.0.0.1") && !body.contains(&dead.port().to_string()), "leaks internals: {body}");
    // The log has the detail.
    gw.wait_stderr("Connection refused", std::time::Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_by_route_and_status_class() {
    let up = Upstream::start("one").await;
    let gw = Gw::start(&config(&format!(
        "{}\n[[routes]]\nname = \"api\"\nupstream = \"one\"\n",
        upstream_cfg("one", up.addr)
    )));
    let c = client();
    for _ in 0..3 {
        c.get(gw.url("http", "/ok")).send().await.unwrap();
    }
    c.get(gw.url("http", "/status/500")).send().await.unwrap();
    let m = c.get(format!("http://{}/metrics", gw.admin.unwrap())).send().await.unwrap().text().await.unwrap();
    assert!(m.contains("portcullis_requests_total{route=\"api\",status=\"2xx\"} 3"), "{m}");
    assert!(m.contains("portcullis_requests_total{route=\"api\",status=\"5xx\"} 1"), "{m}");
    assert!(m.contains("portcullis_request_duration_seconds_count{route=\"api\"} 4"), "{m}");
    assert!(m.contains("portcullis_upstream_healthy_targets{upstream=\"one\"} 1"), "{m}");
    assert!(!m.contains("127.0.0.1"), "no addresses as labels");
    let h = c.get(format!("http://{}/readyz", gw.admin.unwrap())).send().await.unwrap();
    assert_eq!(h.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_log_to_a_file_is_one_json_line_per_request() {
    let up = Upstream::start("one").await;
    let cfg = config(&format!("{}\n[[routes]]\nname = \"api\"\nupstream = \"one\"\n", upstream_cfg("one", up.addr)))
        .replace("access = \"stdout\"", "access = \"{dir}/access.log\"");
    let gw = Gw::start(&cfg);
    let c = client();
    c.get(gw.url("http", "/a?secret=1")).header("X-Request-Id", "log-test-1").send().await.unwrap();
    c.get(gw.url("http", "/nowhere-but-routed")).send().await.unwrap();
    let path = gw.dir.path().join("access.log");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let lines: Vec<Value> = loop {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        if lines.len() >= 2 || std::time::Instant::now() > deadline {
            break lines;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(lines.len(), 2, "{lines:?}");
    let first = &lines[0];
    assert_eq!(first["request_id"], "log-test-1");
    assert_eq!(first["method"], "GET");
    assert_eq!(first["path"], "/a", "the query string is not logged");
    assert_eq!(first["route"], "api");
    assert_eq!(first["status"], 200);
    assert_eq!(first["upstream"], "one");
    assert_eq!(first["client_ip"], "127.0.0.1");
    assert!(first["bytes"].as_u64().unwrap() > 0);
    assert!(first["duration_ms"].as_f64().unwrap() > 0.0);
    assert!(gw.stdout.lock().unwrap().is_empty(), "nothing on stdout when the log goes to a file");
}
