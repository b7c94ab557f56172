//! API keys end to end: the real binary's `keys` commands on a real SQLite store, and real requests through
//! a gateway (or two) reading that store.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{client, config, echoed_header, Gw, Upstream, BIN};

const SECRET: &str = "0123456789abcdef0123456789abcdef-test-secret";

fn keys_config(up: std::net::SocketAddr, state: &Path) -> String {
    config(&format!(
        r#"
[keys]
db = "{db}"
secret_file = "{secret}"
poll_interval = "100ms"
usage_flush = "200ms"

[[upstreams]]
name = "echo"
targets = ["{up}"]

[[routes]]
name = "users"
upstream = "echo"
auth = {{ methods = ["api_key"], scopes = ["users:read"], method_scopes = {{ DELETE = ["users:admin"] }} }}
[routes.match]
path_prefix = "/users/"

[[routes]]
name = "open"
upstream = "echo"
"#,
        db = state.join("keys.db").display(),
        secret = state.join("keys.secret").display(),
    ))
}

fn state_dir() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("keys.secret"), SECRET).unwrap();
    d
}

/// Runs `portcullis keys --db … ARGS`; returns (success, stdout, stderr).
fn keys(state: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN)
        .arg("keys")
        .arg("--db")
        .arg(state.join("keys.db"))
        .arg("--secret-file")
        .arg(state.join("keys.secret"))
        .args(args)
        .env("USER", "tester")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn create(state: &Path, args: &[&str]) -> (String, String) {
    let mut a = vec!["create"];
    a.extend_from_slice(args);
    let (ok, out, err) = keys(state, &a);
    assert!(ok, "{err}");
    let key = out.trim().to_string();
    assert!(key.starts_with("pcl_"), "{out}");
    let id = key.split('_').nth(2).unwrap().to_string();
    (key, id)
}

async fn get(url: &str, headers: &[(&str, &str)]) -> (u16, reqwest::header::HeaderMap, String) {
    let mut r = client().get(url);
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    let resp = r.send().await.unwrap();
    let status = resp.status().as_u16();
    let h = resp.headers().clone();
    (status, h, resp.text().await.unwrap())
}

fn logs(gw: &Gw) -> String {
    let mut s = gw.stdout.lock().unwrap().join("\n");
    s.push('\n');
    s.push_str(&gw.stderr.lock().unwrap().join("\n"));
    s
}

fn wait_log(gw: &Gw, needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !logs(gw).contains(needle) {
        assert!(Instant::now() < deadline, "no log with {needle:?}:\n{}", logs(gw));
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_lifecycle_through_the_cli_and_real_requests() {
    let up = Upstream::start("echo").await;
    let state = state_dir();
    let s = state.path();
    let gw = Gw::start(&keys_config(up.addr, s));
    let url = gw.url("http", "/users/1");
    let (key, id) =
        create(s, &["--name", "ci", "--scopes", "users:read,orders:*", "--expires", "30d", "--rate-limit", "100/min"]);

    // No key: 401 problem+json with the challenge.
    let (st, h, body) = get(&url, &[]).await;
    assert_eq!(st, 401, "{body}");
    assert_eq!(h["content-type"], "application/problem+json");
    let challenges: Vec<_> = h.get_all("www-authenticate").iter().map(|v| v.to_str().unwrap().to_string()).collect();
    assert!(challenges.contains(&r#"ApiKey realm="portcullis", header="x-api-key""#.to_string()), "{challenges:?}");
    assert!(challenges.iter().any(|c| c.starts_with("Bearer realm=")), "{challenges:?}");
    wait_log(&gw, "credential missing");

    // The key in its header: 200, the identity upstream, the key itself not, spoofed identity replaced.
    let (st, _, body) =
        get(&url, &[("x-api-key", &key), ("x-portcullis-key-id", "admin"), ("X-Portcullis-Scopes", "*")]).await;
    assert_eq!(st, 200, "{body}");
    let echo: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(echoed_header(&echo, "x-portcullis-key-id"), vec![id.clone()]);
    assert_eq!(echoed_header(&echo, "x-portcullis-scopes"), vec!["users:read orders:*".to_string()]);
    assert_eq!(echoed_header(&echo, "x-portcullis-auth-method"), vec!["api_key".to_string()]);
    assert!(echoed_header(&echo, "x-api-key").is_empty(), "the key must not travel upstream");
    // Also as a bearer token.
    let (st, _, _) = get(&url, &[("authorization", &format!("Bearer {key}"))]).await;
    assert_eq!(st, 200);
    // On a route without a policy, client-supplied identity headers are stripped too.
    let (st, _, body) =
        get(&gw.url("http", "/other"), &[("x-portcullis-key-id", "admin"), ("x-portcullis-subject", "root")]).await;
    assert_eq!(st, 200);
    let echo: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(
        echoed_header(&echo, "x-portcullis-key-id").is_empty()
            && echoed_header(&echo, "x-portcullis-subject").is_empty()
    );

    // A key in the query string is refused by default, with a clear answer.
    let (st, _, body) = get(&format!("{url}?api_key={key}"), &[]).await;
    assert_eq!(st, 401);
    assert!(body.contains("not accepted in the URL"), "{body}");
    wait_log(&gw, "api key in query string refused");

    // Malformed (one character changed: the checksum catches it before any lookup).
    let mut bad = key.clone().into_bytes();
    let i = key.len() - 12;
    bad[i] = if bad[i] == b'A' { b'B' } else { b'A' };
    let bad = String::from_utf8(bad).unwrap();
    assert_eq!(get(&url, &[("x-api-key", &bad)]).await.0, 401);
    wait_log(&gw, "api key malformed: bad checksum");

    // Scopes: a key without users:read → 403; DELETE needs users:admin too.
    let (other, _) = create(s, &["--name", "orders-only", "--scopes", "orders:read"]);
    let (st, h, _) = get(&url, &[("x-api-key", &other)]).await;
    assert_eq!(st, 403);
    assert!(h.get("www-authenticate").is_none());
    wait_log(&gw, "scope missing: users:read");
    let r = client().delete(&url).header("x-api-key", &key).send().await.unwrap();
    assert_eq!(r.status(), 403);

    // Rotation with a 4 s overlap: both secrets work, then only the new one.
    let (ok, out, err) = keys(s, &["rotate", &id, "--overlap", "4s"]);
    assert!(ok, "{err}");
    let new_key = out.trim().to_string();
    assert!(new_key.starts_with(&format!("pcl_live_{id}_")) && new_key != key);
    let deadline = Instant::now() + Duration::from_secs(5);
    while get(&url, &[("x-api-key", &new_key)]).await.0 != 200 {
        assert!(Instant::now() < deadline, "new secret not accepted");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(get(&url, &[("x-api-key", &key)]).await.0, 200, "old secret works during the overlap");
    tokio::time::sleep(Duration::from_millis(4200)).await;
    assert_eq!(get(&url, &[("x-api-key", &key)]).await.0, 401, "old secret stops after the overlap");
    wait_log(&gw, "rotated out");
    assert_eq!(get(&url, &[("x-api-key", &new_key)]).await.0, 200);

    // Last use is recorded (batched), and list/show never print a secret.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (ok, shown, err) = keys(s, &["show", &id, "--json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(v["last_ip"], "127.0.0.1");
    assert_eq!(v["rate_limit"], "100/min");
    let actions: Vec<_> = v["audit"].as_array().unwrap().iter().map(|a| a["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["rotate", "create"]);
    assert_eq!(v["audit"][0]["actor"], "cli:tester");
    let (ok, list, _) = keys(s, &["list"]);
    assert!(ok && list.contains(&id));

    // Revocation: refused within a second or two.
    let (ok, _, err) = keys(s, &["revoke", &id]);
    assert!(ok, "{err}");
    let t = Instant::now();
    while get(&url, &[("x-api-key", &new_key)]).await.0 != 401 {
        assert!(t.elapsed() < Duration::from_secs(3), "revocation not effective");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    wait_log(&gw, &format!("api key {id} revoked"));

    // Expiry.
    let (third, third_id) = create(s, &["--name", "short", "--scopes", "users:read"]);
    assert_eq!(get(&url, &[("x-api-key", &third)]).await.0, 200);
    assert!(keys(s, &["expire", &third_id]).0);
    let t = Instant::now();
    while get(&url, &[("x-api-key", &third)]).await.0 != 401 {
        assert!(t.elapsed() < Duration::from_secs(3), "expiry not effective");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    wait_log(&gw, &format!("api key {third_id} expired"));

    // No secret anywhere in the gateway's output or the CLI's listings.
    let all = logs(&gw);
    for k in [&key, &new_key, &other, &third, &bad] {
        let secret = k.split('_').nth(3).unwrap();
        assert!(!all.contains(secret), "a secret leaked into the logs");
        assert!(!list.contains(secret) && !shown.contains(secret));
    }
    // The access log carries the key id as the identity.
    assert!(all.contains(&format!("\"identity\":\"{id}\"")) || all.contains(&format!("identity={id}")), "{all}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gateways_see_a_revocation_and_keys_survive_a_restart() {
    let up = Upstream::start("echo").await;
    let state = state_dir();
    let s = state.path();
    let cfg = keys_config(up.addr, s);
    let a = Gw::start(&cfg);
    let b = Gw::start(&cfg);
    let (k1, id1) = create(s, &["--name", "one", "--scopes", "users:read"]);
    let (k2, _) = create(s, &["--name", "two", "--scopes", "users:read"]);
    for gw in [&a, &b] {
        assert_eq!(get(&gw.url("http", "/users/7"), &[("x-api-key", &k1)]).await.0, 200);
        assert_eq!(get(&gw.url("http", "/users/7"), &[("x-api-key", &k2)]).await.0, 200);
    }
    assert!(keys(s, &["revoke", &id1]).0);
    let t = Instant::now();
    for gw in [&a, &b] {
        while get(&gw.url("http", "/users/7"), &[("x-api-key", &k1)]).await.0 != 401 {
            assert!(t.elapsed() < Duration::from_secs(3), "a gateway still accepts a revoked key");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    eprintln!("revocation effective on both gateways after {:?}", t.elapsed());

    // Restart: the store (and the revocation) survive.
    drop(a);
    drop(b);
    let c = Gw::start(&cfg);
    assert_eq!(get(&c.url("http", "/users/7"), &[("x-api-key", &k2)]).await.0, 200);
    assert_eq!(get(&c.url("http", "/users/7"), &[("x-api-key", &k1)]).await.0, 401);
}

#[test]
fn cli_errors_are_precise() {
    let state = state_dir();
    let s = state.path();
    let (ok, _, err) = keys(s, &["revoke", "nosuchkey123"]);
    assert!(!ok && err.contains("no key with id"), "{err}");
    let (ok, _, err) = keys(s, &["create", "--name", "x", "--scopes", "bad scope"]);
    assert!(!ok && err.contains("scope"), "{err}");
    let (ok, _, err) = keys(s, &["create", "--name", "x", "--expires", "soon"]);
    assert!(!ok && err.contains("soon"), "{err}");
    // A different server secret than the store was created with is refused by name.
    create(s, &["--name", "first"]);
    std::fs::write(s.join("keys.secret"), "another-secret-another-secret-another-secret").unwrap();
    let (ok, _, err) = keys(s, &["create", "--name", "x"]);
    assert!(!ok && err.contains("does not match"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_api_manages_keys() {
    let up = Upstream::start("echo").await;
    let state = state_dir();
    let s = state.path();
    let gw = Gw::start(&keys_config(up.addr, s));
    let admin = format!("http://{}", gw.admin.unwrap());
    // The key API is behind the admin session (password + TOTP login): closed while no admin user exists,
    // 401 without a session once one does.
    assert_eq!(client().get(format!("{admin}/api/keys")).send().await.unwrap().status(), 503);
    let c = gw.admin_client().await;
    assert_eq!(client().get(format!("{admin}/api/keys")).send().await.unwrap().status(), 401);
    let url = gw.url("http", "/users/1");

    let r = c
        .post(format!("{admin}/api/keys"))
        .json(&serde_json::json!({"name": "svc", "scopes": ["users:read"], "expires": "1h", "rate_limit": "10/s"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let v: serde_json::Value = r.json().await.unwrap();
    let key = v["key"].as_str().unwrap().to_string();
    let id = v["id"].as_str().unwrap().to_string();
    assert_eq!(v["rate_limit"], "10/s");
    assert_eq!(get(&url, &[("x-api-key", &key)]).await.0, 200);

    // Listing and showing never carry a secret.
    let list = c.get(format!("{admin}/api/keys")).send().await.unwrap().text().await.unwrap();
    let secret = key.split('_').nth(3).unwrap();
    assert!(list.contains(&id) && !list.contains(secret));
    let r = c.get(format!("{admin}/api/keys/nosuchkey123")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let r = c
        .post(format!("{admin}/api/keys"))
        .json(&serde_json::json!({"name": "x", "expires": "soon"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    // Rotate (no overlap): the old secret stops, the new one works.
    let r = c
        .post(format!("{admin}/api/keys/{id}/rotate"))
        .json(&serde_json::json!({"overlap": "0s"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let new_key = r.json::<serde_json::Value>().await.unwrap()["key"].as_str().unwrap().to_string();
    let t = Instant::now();
    while get(&url, &[("x-api-key", &key)]).await.0 != 401 {
        assert!(t.elapsed() < Duration::from_secs(3));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(get(&url, &[("x-api-key", &new_key)]).await.0, 200);

    // Revoke, and the audit trail names the admin actor.
    assert_eq!(c.post(format!("{admin}/api/keys/{id}/revoke")).send().await.unwrap().status(), 200);
    let t = Instant::now();
    while get(&url, &[("x-api-key", &new_key)]).await.0 != 401 {
        assert!(t.elapsed() < Duration::from_secs(3));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(c.post(format!("{admin}/api/keys/{id}/rotate")).send().await.unwrap().status(), 409);
    let v: serde_json::Value = c.get(format!("{admin}/api/keys/{id}")).send().await.unwrap().json().await.unwrap();
    assert_eq!(v["state"], "revoked");
    let audit: Vec<_> = v["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["action"].as_str().unwrap(), a["actor"].as_str().unwrap()))
        .collect();
    assert_eq!(audit, [("revoke", "admin:tester"), ("rotate", "admin:tester"), ("create", "admin:tester")]);
    let all = logs(&gw);
    assert!(!all.contains(secret) && !all.contains(new_key.split('_').nth(3).unwrap()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_with_a_wrong_keys_secret_is_rejected_and_keys_keep_working() {
    let up = Upstream::start("echo").await;
    let state = state_dir();
    let s = state.path();
    let cfg = keys_config(up.addr, s).replace("[keys]", "[server]\nwatch = false\n[keys]");
    let gw = Gw::start(&cfg);
    let (key, _) = create(s, &["--name", "one", "--scopes", "users:read"]);
    let url = gw.url("http", "/users/1");
    assert_eq!(get(&url, &[("x-api-key", &key)]).await.0, 200);

    // Another secret than the store was created with: the new runtime cannot be built; the old one stays.
    let other = s.join("other.secret");
    std::fs::write(&other, "a-completely-different-secret-of-enough-length").unwrap();
    gw.write_config(&cfg.replace(&s.join("keys.secret").display().to_string(), &other.display().to_string()));
    gw.signal("HUP");
    let line = gw.wait_stderr("config reload rejected", Duration::from_secs(10));
    assert!(line.contains("does not match"), "{line}");
    assert_eq!(get(&url, &[("x-api-key", &key)]).await.0, 200);

    // A missing secret file is a validation error naming its key path.
    gw.write_config(&cfg.replace(&s.join("keys.secret").display().to_string(), &s.join("nope").display().to_string()));
    gw.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    while gw.stderr_count("config reload rejected") < 2 {
        assert!(Instant::now() < deadline, "{}", logs(&gw));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(logs(&gw).contains("keys.secret_file"), "{}", logs(&gw));
    assert_eq!(get(&url, &[("x-api-key", &key)]).await.0, 200);
    assert!(!logs(&gw).contains(key.split('_').nth(3).unwrap()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_key_rate_limit_and_quota_are_enforced() {
    let up = Upstream::start("echo").await;
    let state = state_dir();
    let s = state.path();
    let gw = Gw::start(&keys_config(up.addr, s));
    let url = gw.url("http", "/users/1");
    let (rated, rated_id) = create(s, &["--name", "rated", "--scopes", "users:read", "--rate-limit", "3/min"]);
    let (quota, quota_id) = create(s, &["--name", "quota", "--scopes", "users:read", "--quota", "2/day"]);
    let (free, _) = create(s, &["--name", "free", "--scopes", "users:read"]);

    // GCRA with the whole count as burst: 3 at once, then refused for about 20 s (60 s / 3).
    for i in 0..3 {
        let (st, h, body) = get(&url, &[("x-api-key", &rated)]).await;
        assert_eq!(st, 200, "request {i}: {body}");
        assert_eq!(h["ratelimit-policy"], r#""api_key_rate";q=3;w=60"#);
        assert!(h["ratelimit"].to_str().unwrap().starts_with(&format!(r#""api_key_rate";r={};t="#, 2 - i)), "{h:?}");
    }
    let hits = up.hits();
    let (st, h, body) = get(&url, &[("x-api-key", &rated)]).await;
    assert_eq!(st, 429, "{body}");
    assert_eq!(h["content-type"], "application/problem+json");
    let retry: u64 = h["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((15..=20).contains(&retry), "{retry}");
    assert_eq!(h["ratelimit"].to_str().unwrap(), format!(r#""api_key_rate";r=0;t={retry}"#));
    let problem: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(problem["status"], 429);
    assert!(!body.contains(&rated) && !body.contains(&rated_id), "{body}");
    assert_eq!(up.hits(), hits, "a refused request never reaches the upstream");

    // A fixed daily quota: the third request of the day is refused until the window ends.
    for _ in 0..2 {
        assert_eq!(get(&url, &[("x-api-key", &quota)]).await.0, 200);
    }
    let (st, h, _) = get(&url, &[("x-api-key", &quota)]).await;
    assert_eq!(st, 429);
    let retry: u64 = h["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=86_400).contains(&retry), "{retry}");
    assert_eq!(h["ratelimit-policy"], r#""api_key_quota";q=2;w=86400"#);

    // Other keys, and the keys' other limits, are untouched.
    for _ in 0..5 {
        assert_eq!(get(&url, &[("x-api-key", &free)]).await.0, 200);
    }

    wait_log(&gw, &format!("api key {rated_id} rate limit 3/min exceeded"));
    wait_log(&gw, &format!("api key {quota_id} quota 2/day exceeded"));
    let log = logs(&gw);
    let line = log.lines().find(|l| l.contains(&format!("api key {quota_id} quota"))).unwrap();
    assert!(line.contains(r#""refused_by":"key_limits""#) && line.contains(r#""status":429"#), "{line}");
    let m = gw.metrics().await;
    assert!(m.contains(r#"portcullis_rate_limit_decisions_total{limit="api_key_rate",result="limited"} 1"#), "{m}");
    assert!(m.contains(r#"portcullis_rate_limit_decisions_total{limit="api_key_rate",result="allowed"} 3"#), "{m}");
    assert!(m.contains(r#"portcullis_rate_limit_decisions_total{limit="api_key_quota",result="limited"} 1"#), "{m}");
    assert!(!logs(&gw).contains(&rated) && !logs(&gw).contains(&quota), "a key secret reached the logs");
}
