//! `portcullis demo` as a newcomer runs it: fixed ports 8080 (gateway), 9090 (admin), 3001 (demo API).

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::BIN;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_serves_the_shop_behind_the_gateway_and_stops_on_ctrl_c() {
    let mut child = Command::new(BIN).arg("demo").stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let c = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(r) = c.get("http://127.0.0.1:8080/api/items").send().await {
            if r.status() == 200 {
                break;
            }
        }
        assert!(Instant::now() < deadline, "demo did not come up");
        if let Ok(Some(s)) = child.try_wait() {
            panic!("demo exited: {s}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // User records need the API key the demo printed at start, on a line of its own.
    let demo_key = {
        let mut line = String::new();
        let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
        loop {
            line.clear();
            assert!(std::io::BufRead::read_line(&mut err, &mut line).unwrap() > 0, "no demo API key line");
            if let Some(k) = line.trim_end().strip_prefix("demo API key: ") {
                break (k.to_string(), err);
            }
        }
    };
    let (demo_key, mut demo_err) = demo_key;
    let r = c.get("http://127.0.0.1:8080/api/users/1").send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers()["www-authenticate"].to_str().unwrap().starts_with("ApiKey realm="));
    let r = c.get("http://127.0.0.1:8080/api/users/1").header("x-api-key", &demo_key).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("server").is_none() && r.headers().get("x-powered-by").is_none());
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    let r = c
        .post("http://127.0.0.1:8080/api/login")
        .json(&serde_json::json!({"username": "alice", "password": "wonderland"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = c.get("http://127.0.0.1:8080/api/search?q=O%27Reilly%20books").send().await.unwrap();
    assert_eq!(r.status(), 200);
    // The built-in WAF pack is on in the demo: a textbook SQL injection gets a problem+json 403.
    let r = c.get("http://127.0.0.1:8080/api/search?q=1%27%20OR%20%271%27%3D%271").send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let r = c.get("http://127.0.0.1:8080/nowhere").send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let m = c.get("http://127.0.0.1:9090/metrics").send().await.unwrap().text().await.unwrap();
    assert!(m.contains("portcullis_requests_total{route=\"api\",status=\"2xx\"}"));
    assert!(m.contains("portcullis_requests_total{route=\"users\",status=\"2xx\"}"));

    assert!(Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap().success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "demo did not stop on SIGINT");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
    let mut err = String::new();
    std::io::Read::read_to_string(&mut demo_err, &mut err).unwrap();
    assert!(err.contains("Portcullis demo is running"), "{err}");
}
