//! The Redis key store for fleets, end to end: two gateway processes and the CLI share one real
//! `redis-server` on a free loopback port. A key created through one node's admin API works on the other; a
//! revocation made on one is refused by the other within a second; the CLI sees the same store; a key's rate
//! limit, counted in the traffic store (Redis too), is one budget across the fleet.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{client, config, Gw, RedisServer, Upstream, BIN};

const SECRET: &str = "0123456789abcdef0123456789abcdef-redis-secret";

fn fleet_config(up: std::net::SocketAddr, redis: &str, secret: &std::path::Path) -> String {
    config(&format!(
        r#"
[traffic]
store = "redis"
redis_url = "{redis}"
redis_timeout = "1s"

[keys]
store = "{redis}"
redis_prefix = "fleet-test"
secret_file = "{secret}"

[[upstreams]]
name = "echo"
targets = ["{up}"]

[[routes]]
name = "users"
upstream = "echo"
auth = {{ methods = ["api_key"], scopes = ["users:read"] }}
[routes.match]
path_prefix = "/users/"
"#,
        secret = secret.display(),
    ))
}

async fn status(url: &str, key: &str) -> u16 {
    client().get(url).header("x-api-key", key).send().await.unwrap().status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gateways_share_keys_and_revocations_through_redis() {
    let redis = RedisServer::start();
    let up = Upstream::start("echo").await;
    let state = tempfile::tempdir().unwrap();
    let secret = state.path().join("keys.secret");
    std::fs::write(&secret, SECRET).unwrap();
    let cfg = fleet_config(up.addr, &redis.url(), &secret);
    let a = Gw::start(&cfg);
    let b = Gw::start(&cfg);
    let (url_a, url_b) = (a.url("http", "/users/1"), b.url("http", "/users/1"));

    // Created through node A's admin API...
    let admin_a = format!("http://{}", a.admin.unwrap());
    let c = a.admin_client().await;
    let r = c
        .post(format!("{admin_a}/api/keys"))
        .json(&serde_json::json!({"name": "fleet", "scopes": ["users:read"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let v: serde_json::Value = r.json().await.unwrap();
    let key = v["key"].as_str().unwrap().to_string();
    let id = v["id"].as_str().unwrap().to_string();

    // ...works on node B, and on A.
    assert_eq!(status(&url_b, &key).await, 200);
    assert_eq!(status(&url_a, &key).await, 200);
    // Only the keyed hash is in Redis, never the key.
    let record = redis.cli(&["HGETALL", &format!("fleet-test:key:{id}")]);
    assert!(record.contains("users:read"), "{record}");
    let secret_part = key.split('_').nth(3).unwrap();
    assert!(!record.contains(secret_part) && !record.contains(&key), "{record}");

    // The CLI reads the same store through the config.
    let out = Command::new(BIN)
        .args(["keys", "list", "--config"])
        .arg(a.dir.path().join("portcullis.toml"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains(&id));

    // Rotated on A with an overlap: on B the new secret works (within a poll interval) and the old one still does.
    let r = c
        .post(format!("{admin_a}/api/keys/{id}/rotate"))
        .json(&serde_json::json!({"overlap": "1h"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let rotated = r.json::<serde_json::Value>().await.unwrap()["key"].as_str().unwrap().to_string();
    let t = Instant::now();
    while status(&url_b, &rotated).await != 200 {
        assert!(t.elapsed() < Duration::from_secs(1), "node B does not accept the rotated key");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(status(&url_b, &key).await, 200, "the old secret works during the overlap");

    // Revoked on A: B refuses it within a second (B has the key cached; the change counter tells it).
    let r = c.post(format!("{admin_a}/api/keys/{id}/revoke")).send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let t = Instant::now();
    let mut revoked_after = None;
    for (node, url) in [("B", &url_b), ("A", &url_a)] {
        loop {
            let st = status(url, &key).await;
            if st == 401 {
                break;
            }
            assert_eq!(st, 200);
            assert!(t.elapsed() < Duration::from_secs(1), "node {node} still accepts a key revoked on node A");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        revoked_after.get_or_insert(t.elapsed());
    }
    let revoked_after = revoked_after.unwrap();
    assert!(b.stdout.lock().unwrap().iter().any(|l| l.contains(&format!("api key {id} revoked"))));
    // The audit trail is shared too.
    let audit = redis.cli(&["LRANGE", &format!("fleet-test:audit:{id}"), "0", "-1"]);
    for action in ["create", "rotate", "revoke"] {
        assert!(audit.contains(&format!("\"action\":\"{action}\"")), "{action} missing: {audit}");
    }
    // Revocation ends the overlap too.
    assert_eq!(status(&url_b, &rotated).await, 401);
    eprintln!("revocation seen by the other node after {revoked_after:?}");
}

#[test]
fn an_unreachable_redis_key_store_fails_the_load_with_its_key() {
    let state = tempfile::tempdir().unwrap();
    let secret = state.path().join("keys.secret");
    std::fs::write(&secret, SECRET).unwrap();
    // A port nobody listens on.
    let (dead, _held) = common::dead_addr();
    let port = dead.port();
    let file = state.path().join("p.toml");
    let up: std::net::SocketAddr = "127.0.0.1:9".parse().unwrap();
    std::fs::write(&file, fleet_config(up, &format!("redis://127.0.0.1:{port}"), &secret)).unwrap();
    let out = Command::new(BIN).args(["keys", "list", "--config"]).arg(&file).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("keys.store:") && err.contains(&format!("127.0.0.1:{port}")), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_per_key_rate_limit_is_one_budget_across_the_fleet() {
    let redis = RedisServer::start();
    let up = Upstream::start("echo").await;
    let state = tempfile::tempdir().unwrap();
    let secret = state.path().join("keys.secret");
    std::fs::write(&secret, SECRET).unwrap();
    let cfg = fleet_config(up.addr, &redis.url(), &secret);
    let a = Gw::start(&cfg);
    let b = Gw::start(&cfg);
    let out = Command::new(BIN)
        .args(["keys", "create", "--name", "shared", "--scopes", "users:read", "--rate-limit", "4/min", "--config"])
        .arg(a.dir.path().join("portcullis.toml"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let key = String::from_utf8_lossy(&out.stdout).trim().to_string();
    // Two on each node use up the budget of four; the fifth is refused wherever it lands.
    for gw in [&a, &b, &a, &b] {
        assert_eq!(status(&gw.url("http", "/users/1"), &key).await, 200);
    }
    let r = client().get(b.url("http", "/users/1")).header("x-api-key", &key).send().await.unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["ratelimit-policy"], r#""api_key_rate";q=4;w=60"#);
    assert_eq!(status(&a.url("http", "/users/1"), &key).await, 429);
}
