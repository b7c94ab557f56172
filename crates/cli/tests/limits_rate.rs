//! Rate limits and load shedding against the real binary (in-memory store): exact at the boundary, the
//! RateLimit fields and `Retry-After` on refusals and allowed responses, per-route sets, keys by header, and
//! 503 load shedding with the in-flight caps.

mod common;

use std::time::{Duration, Instant};

use common::{Gw, Upstream};

fn gateway(upstream: std::net::SocketAddr, traffic: &str) -> Gw {
    Gw::start(&common::config(&format!(
        r#"
[server]
trusted_proxies = ["127.0.0.1/32"]

{traffic}

[[upstreams]]
name = "app"
targets = ["{upstream}"]

[[routes]]
name = "login"
upstream = "app"
rate_limits = ["login"]
[routes.match]
path = "/login"
methods = ["POST"]

[[routes]]
name = "tenant"
upstream = "app"
rate_limits = ["tenant"]
[routes.match]
path_prefix = "/tenant"

[[routes]]
name = "rest"
upstream = "app"
rate_limits = []
[routes.match]
path_prefix = "/"
"#
    )))
}

const TRAFFIC: &str = r#"
[traffic]
[[traffic.rate_limits]]
name = "login"
key = "ip"
rate = "5/min"
burst = 5
[[traffic.rate_limits]]
name = "tenant"
key = "header:X-Tenant"
rate = "3/h"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limit_is_exact_at_the_boundary_with_draft_fields() {
    let up = Upstream::start("app").await;
    let gw = gateway(up.addr, TRAFFIC);
    let c = common::client();
    let url = gw.url("http", "/login");
    for i in 0..5u64 {
        let r = c.post(&url).header("x-forwarded-for", "198.51.100.1").send().await.unwrap();
        assert_eq!(r.status(), 200, "request {i}");
        let h = r.headers();
        assert_eq!(h["ratelimit-policy"], r#""login";q=5;w=60"#);
        // 12 s per request at 5/min; after i+1 requests the key is fully rested (i+1)*12 s from now.
        let state = h["ratelimit"].to_str().unwrap();
        let want_r = format!(r#""login";r={};t="#, 4 - i);
        assert!(state.starts_with(&want_r), "{state} (want {want_r}…)");
        let t: u64 = state.rsplit("t=").next().unwrap().parse().unwrap();
        assert!((12 * (i + 1) - 1..=12 * (i + 1)).contains(&t), "t={t} after {} requests", i + 1);
    }
    let r = c.post(&url).header("x-forwarded-for", "198.51.100.1").send().await.unwrap();
    assert_eq!(r.status(), 429);
    let h = r.headers().clone();
    assert_eq!(h["content-type"], "application/problem+json");
    let retry: u64 = h["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((11..=12).contains(&retry), "Retry-After {retry}");
    assert_eq!(h["ratelimit-policy"], r#""login";q=5;w=60"#);
    assert_eq!(h["ratelimit"].to_str().unwrap(), format!(r#""login";r=0;t={retry}"#));
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["status"], 429);
    assert!(body["request_id"].is_string());
    // Another client is not affected; the refused requests did not reach the upstream.
    let r = c.post(&url).header("x-forwarded-for", "198.51.100.2").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(up.hits(), 6);
    // A route without limits carries no RateLimit fields.
    let r = c.get(gw.url("http", "/other")).header("x-forwarded-for", "198.51.100.1").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("ratelimit").is_none());
    // The access log says why the request was refused.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let log = gw.stdout.lock().unwrap().join("\n");
    assert!(log.contains(r#""refused_by":"limits""#), "{log}");
    assert!(log.contains("rate limit login: 5/min per ip"), "{log}");
    // And the metrics count each decision.
    let m = c.get(format!("http://{}/metrics", gw.admin.unwrap())).send().await.unwrap().text().await.unwrap();
    assert!(m.contains(r#"portcullis_rate_limit_decisions_total{limit="login",result="limited"} 1"#), "{m}");
    assert!(m.contains(r#"portcullis_rate_limit_decisions_total{limit="login",result="allowed"} 6"#), "{m}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sustained_rate_refills_one_interval_at_a_time() {
    let up = Upstream::start("app").await;
    let gw = gateway(
        up.addr,
        r#"
[traffic]
[[traffic.rate_limits]]
name = "login"
rate = "10/s"
burst = 2
[[traffic.rate_limits]]
name = "tenant"
key = "header:X-Tenant"
rate = "3/h"
"#,
    );
    let c = common::client();
    let url = gw.url("http", "/login");
    let send = || c.post(&url).send();
    assert_eq!(send().await.unwrap().status(), 200);
    assert_eq!(send().await.unwrap().status(), 200);
    let r = send().await.unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "1");
    // One emission interval (100 ms) later exactly one more passes.
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert_eq!(send().await.unwrap().status(), 200);
    assert_eq!(send().await.unwrap().status(), 429);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_keys_count_each_tenant_separately() {
    let up = Upstream::start("app").await;
    let gw = gateway(up.addr, TRAFFIC);
    let c = common::client();
    let url = gw.url("http", "/tenant/x");
    for tenant in ["a", "b"] {
        for _ in 0..3 {
            assert_eq!(c.get(&url).header("x-tenant", tenant).send().await.unwrap().status(), 200);
        }
        assert_eq!(c.get(&url).header("x-tenant", tenant).send().await.unwrap().status(), 429);
    }
    // Requests without the header share one bucket.
    for _ in 0..3 {
        assert_eq!(c.get(&url).send().await.unwrap().status(), 200);
    }
    assert_eq!(c.get(&url).send().await.unwrap().status(), 429);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_flight_caps_shed_with_503() {
    let up = Upstream::start("app").await;
    let gw = gateway(
        up.addr,
        r#"
[traffic]
max_in_flight = 4
max_in_flight_per_client = 2
[[traffic.rate_limits]]
name = "login"
rate = "10/s"
[[traffic.rate_limits]]
name = "tenant"
rate = "10/s"
"#,
    );
    let c = common::client();
    let slow = |ip: &'static str| {
        let c = c.clone();
        let url = gw.url("http", "/slow?ms=1500");
        tokio::spawn(async move { c.get(url).header("x-forwarded-for", ip).send().await.unwrap().status().as_u16() })
    };
    // Two slow requests from one client fill its cap; a third from it is shed at once.
    let a = [slow("203.0.113.1"), slow("203.0.113.1")];
    tokio::time::sleep(Duration::from_millis(300)).await;
    let t = Instant::now();
    let r = c.get(gw.url("http", "/x")).header("x-forwarded-for", "203.0.113.1").send().await.unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "1");
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    assert!(t.elapsed() < Duration::from_millis(500));
    // Two more from another client reach the global cap of 4; a fifth request from anyone is shed.
    let b = [slow("203.0.113.2"), slow("203.0.113.2")];
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = c.get(gw.url("http", "/x")).header("x-forwarded-for", "203.0.113.3").send().await.unwrap();
    assert_eq!(r.status(), 503);
    for h in a.into_iter().chain(b) {
        assert_eq!(h.await.unwrap(), 200);
    }
    // Slots are released in the logging phase: everyone is served again.
    let r = c.get(gw.url("http", "/x")).header("x-forwarded-for", "203.0.113.1").send().await.unwrap();
    assert_eq!(r.status(), 200);
    let m = c.get(format!("http://{}/metrics", gw.admin.unwrap())).send().await.unwrap().text().await.unwrap();
    assert!(m.contains(r#"portcullis_shed_requests_total{scope="client"} 1"#), "{m}");
    assert!(m.contains(r#"portcullis_shed_requests_total{scope="global"} 1"#), "{m}");
    assert!(m.contains("portcullis_limits_in_flight_requests 0"), "{m}");
}

#[test]
fn bad_traffic_config_names_key_paths() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        common::config(
            r#"
[traffic]
store = "redis"
[[traffic.rate_limits]]
name = "a"
key = "ip+cookie:x"
rate = "ten/min"
[[traffic.ban_policies]]
name = "b"
trigger = "status:9999"
count = 0
within = "1m"
ban_for = "10m"
[[upstreams]]
name = "app"
targets = ["127.0.0.1:1"]
[[routes]]
name = "r"
upstream = "app"
rate_limits = ["nope"]
"#,
        ),
    )
    .unwrap();
    let out = std::process::Command::new(common::BIN).args(["check-config"]).arg(&path).output().unwrap();
    assert!(!out.status.success());
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    for needle in [
        "traffic.redis_url",
        "traffic.rate_limits[0].key",
        "traffic.rate_limits[0].rate",
        "traffic.ban_policies[0].trigger",
        "traffic.ban_policies[0].count",
        "routes[0].rate_limits[0]",
    ] {
        assert!(text.contains(needle), "{needle} missing in:\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limiter_state_survives_a_reload_and_a_bad_reload_keeps_the_limits() {
    let up = Upstream::start("app").await;
    let gw = gateway(up.addr, TRAFFIC);
    let c = common::client();
    let url = gw.url("http", "/login");
    for _ in 0..5 {
        assert_eq!(c.post(&url).send().await.unwrap().status(), 200);
    }
    assert_eq!(c.post(&url).send().await.unwrap().status(), 429);
    // Same store settings, another limit added: the store (and the login key's state) is kept.
    let cfg = std::fs::read_to_string(&gw.config_path).unwrap();
    gw.write_config(&cfg.replace(
        "[[traffic.rate_limits]]\nname = \"tenant\"",
        "[[traffic.rate_limits]]\nname = \"extra\"\nrate = \"1/s\"\n[[traffic.rate_limits]]\nname = \"tenant\"",
    ));
    gw.signal("HUP");
    gw.wait_stderr("config reloaded", Duration::from_secs(10));
    assert_eq!(c.post(&url).send().await.unwrap().status(), 429, "state lost on reload");
    // A bad traffic section is rejected with its key path; the limits keep working.
    gw.write_config(&cfg.replace("rate = \"5/min\"", "rate = \"5 per minute\""));
    gw.signal("HUP");
    let line = gw.wait_stderr("config reload rejected", Duration::from_secs(10));
    assert!(line.contains("traffic.rate_limits[0].rate"), "{line}");
    assert_eq!(c.post(&url).send().await.unwrap().status(), 429);
}

/// `examples/demo.toml` as shipped (ports made free, the shop replaced by the echo upstream): a newcomer's
/// eleventh login try within a minute gets a 429 with `Retry-After` and the RateLimit fields; other API routes
/// are not limited by it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_config_limits_login_to_ten_per_minute() {
    let up = Upstream::start("shop").await;
    let demo = include_str!("../../../examples/demo.toml")
        .replace("127.0.0.1:8080", "127.0.0.1:0")
        .replace("127.0.0.1:9090", "127.0.0.1:0")
        .replace("127.0.0.1:3001", &up.addr.to_string())
        .replace("access = \"stdout\"", "access = \"off\"")
        .replace("secret_env = \"PORTCULLIS_KEYS_SECRET\"", "secret_file = \"keys.secret\"");
    let gw = Gw::start_with_files(&demo, &[("keys.secret", b"a-test-secret-of-at-least-32-bytes-long".as_slice())]);
    let c = common::client();
    let url = gw.url("http", "/api/login");
    for i in 0..10 {
        let r = c.post(&url).body("{}").send().await.unwrap();
        assert_eq!(r.status(), 200, "try {i}");
        assert_eq!(r.headers()["ratelimit-policy"], r#""login";q=10;w=60"#);
    }
    let r = c.post(&url).body("{}").send().await.unwrap();
    assert_eq!(r.status(), 429);
    // 6 s per try at 10/min (5 if the ten tries took over a second on a busy machine).
    let retry = r.headers()["retry-after"].to_str().unwrap().to_string();
    assert!(retry == "6" || retry == "5", "Retry-After {retry}");
    assert_eq!(r.headers()["ratelimit"].to_str().unwrap(), format!(r#""login";r=0;t={retry}"#));
    // GET on the login path and the rest of the API are other routes.
    assert_eq!(c.get(gw.url("http", "/api/items")).send().await.unwrap().status(), 200);
}
