//! End-to-end lifecycle tests against the real binary: hot reload (SIGHUP and file watch) with valid and
//! invalid configs, and graceful shutdown on SIGTERM (drain in-flight requests, bounded by the grace period).

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{Gw, Upstream};

/// Two upstreams and one catch-all route to `route_to` (which may name a missing upstream).
fn routing(server: &str, one: SocketAddr, two: SocketAddr, route_to: &str) -> String {
    common::config(&format!(
        r#"
[server]
{server}

[[upstreams]]
name = "one"
targets = ["{one}"]

[[upstreams]]
name = "two"
targets = ["{two}"]

[[routes]]
name = "all"
upstream = "{route_to}"
[routes.match]
path_prefix = "/"
"#
    ))
}

async fn upstream_of(client: &reqwest::Client, url: &str) -> String {
    let resp = client.get(url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let echo: serde_json::Value = resp.json().await.unwrap();
    echo["upstream"].as_str().unwrap().to_string()
}

/// Waits (bounded) until `up` has counted `n` hits, i.e. a request is in flight there.
async fn wait_hits(up: &Upstream, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while up.hits() < n {
        assert!(Instant::now() < deadline, "upstream never saw the request");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The value of a Prometheus sample line `name{labels} value` on the admin listener (0 if absent).
async fn metric(admin: SocketAddr, series: &str) -> f64 {
    let text = common::client().get(format!("http://{admin}/metrics")).send().await.unwrap().text().await.unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.trim().parse().ok()))
        .unwrap_or(0.0)
}

fn spawn_get(url: String) -> tokio::task::JoinHandle<Result<(u16, serde_json::Value), String>> {
    tokio::spawn(async move {
        let c = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap();
        let resp = c.get(url).send().await.map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let v = resp.json().await.map_err(|e| e.to_string())?;
        Ok((status, v))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reload_changes_routing_without_dropping_in_flight_requests() {
    let one = Upstream::start("one").await;
    let two = Upstream::start("two").await;
    let mut gw = Gw::start(&routing("watch = false", one.addr, two.addr, "one"));
    let pid = gw.child.id();
    let client = common::client();
    assert_eq!(upstream_of(&client, &gw.url("http", "/before")).await, "one");

    let slow = spawn_get(gw.url("http", "/slow?ms=1500"));
    wait_hits(&one, 2).await;

    gw.write_config(&routing("watch = false", one.addr, two.addr, "two"));
    gw.signal("HUP");
    gw.wait_stderr("config reloaded", Duration::from_secs(10));

    // New connections and the already open keep-alive connection both see the new routing.
    assert_eq!(upstream_of(&client, &gw.url("http", "/after")).await, "two");
    assert_eq!(upstream_of(&common::client(), &gw.url("http", "/after-new-conn")).await, "two");

    let (status, echo) = tokio::time::timeout(Duration::from_secs(10), slow).await.unwrap().unwrap().unwrap();
    assert_eq!(status, 200);
    assert_eq!(echo["upstream"], "one", "the in-flight request finishes where it started");
    assert_eq!(echo["uri"], "/slow?ms=1500");
    assert!(gw.is_running());
    assert_eq!(gw.child.id(), pid);
    assert_eq!(metric(gw.admin.unwrap(), r#"portcullis_config_reloads_total{result="success"}"#).await, 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_config_on_sighup_keeps_the_old_one() {
    let one = Upstream::start("one").await;
    let two = Upstream::start("two").await;
    let mut gw = Gw::start(&routing("watch = false", one.addr, two.addr, "one"));
    let client = common::client();
    assert_eq!(upstream_of(&client, &gw.url("http", "/")).await, "one");

    gw.write_config(&routing("watch = false", one.addr, two.addr, "missing"));
    gw.signal("HUP");
    let line = gw.wait_stderr("config reload rejected", Duration::from_secs(10));
    assert!(line.contains("routes[0].upstream"), "the error must name the key path: {line}");
    assert!(line.contains("missing"), "{line}");
    assert_eq!(gw.stderr_count("config reloaded"), 0);

    assert!(gw.is_running());
    assert_eq!(upstream_of(&client, &gw.url("http", "/still")).await, "one");
    assert_eq!(upstream_of(&common::client(), &gw.url("http", "/still-new-conn")).await, "one");
    let admin = gw.admin.unwrap();
    assert!(metric(admin, r#"portcullis_config_reloads_total{result="failure"}"#).await >= 1.0);
    assert_eq!(metric(admin, r#"portcullis_config_reloads_total{result="success"}"#).await, 0.0);

    // A syntax error is rejected the same way, with its key path / position.
    gw.write_config(&routing("watch = false\nshutdown_grace = 5", one.addr, two.addr, "two"));
    gw.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    while gw.stderr_count("config reload rejected") < 2 {
        assert!(Instant::now() < deadline, "{}", gw.stderr.lock().unwrap().join("\n"));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let lines = gw.stderr.lock().unwrap().clone();
    let second = lines.iter().filter(|l| l.contains("config reload rejected")).nth(1).unwrap();
    assert!(second.contains("server.shutdown_grace"), "{second}");
    assert_eq!(upstream_of(&client, &gw.url("http", "/still2")).await, "one");
    assert!(metric(admin, r#"portcullis_config_reloads_total{result="failure"}"#).await >= 2.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_watch_reloads_without_a_signal() {
    let one = Upstream::start("one").await;
    let two = Upstream::start("two").await;
    // `watch` defaults to true.
    let gw = Gw::start(&routing("", one.addr, two.addr, "one"));
    let client = common::client();
    assert_eq!(upstream_of(&client, &gw.url("http", "/")).await, "one");

    gw.write_config(&routing("", one.addr, two.addr, "missing"));
    let line = gw.wait_stderr("config reload rejected", Duration::from_secs(5));
    assert!(line.contains("routes[0].upstream"), "{line}");
    assert_eq!(upstream_of(&client, &gw.url("http", "/still")).await, "one");
    assert!(metric(gw.admin.unwrap(), r#"portcullis_config_reloads_total{result="failure"}"#).await >= 1.0);

    // Fixing the file is picked up too.
    gw.write_config(&routing("", one.addr, two.addr, "two"));
    gw.wait_stderr("config reloaded", Duration::from_secs(5));
    assert_eq!(upstream_of(&client, &gw.url("http", "/fixed")).await, "two");
    assert_eq!(metric(gw.admin.unwrap(), r#"portcullis_config_reloads_total{result="success"}"#).await, 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_in_flight_requests() {
    let one = Upstream::start("one").await;
    let two = Upstream::start("two").await;
    let mut gw = Gw::start(&routing("shutdown_grace = \"10s\"", one.addr, two.addr, "one"));
    let addr = gw.addr("http");

    let ready = common::client().get(format!("http://{}/readyz", gw.admin.unwrap())).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let slow = spawn_get(gw.url("http", "/slow?ms=1500"));
    wait_hits(&one, 1).await;
    let sent = Instant::now();
    gw.signal("TERM");
    gw.wait_stderr("shutting down", Duration::from_secs(5));

    // New connections are refused soon after (the listening socket is closed).
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        match tokio::time::timeout(Duration::from_secs(1), tokio::net::TcpStream::connect(addr)).await {
            Ok(Err(_)) => break,
            _ => {
                assert!(Instant::now() < deadline, "the listener still accepts connections after SIGTERM");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    assert!(gw.is_running(), "the process must wait for the in-flight request");
    // While draining, the admin listener reports not ready (so load balancers stop sending traffic).
    let ready = common::client().get(format!("http://{}/readyz", gw.admin.unwrap())).send().await.unwrap();
    assert_eq!(ready.status(), 503);

    let (status, echo) = tokio::time::timeout(Duration::from_secs(10), slow).await.unwrap().unwrap().unwrap();
    assert_eq!(status, 200);
    assert_eq!(echo["upstream"], "one");
    let code = gw.wait_exit(Duration::from_secs(10));
    assert_eq!(code, Some(0), "{}", gw.stderr.lock().unwrap().join("\n"));
    assert!(sent.elapsed() < Duration::from_secs(10), "exit took {:?}", sent.elapsed());
    gw.wait_stderr("abandoned_connections=0", Duration::from_secs(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_gives_up_after_the_grace_period() {
    let one = Upstream::start("one").await;
    let two = Upstream::start("two").await;
    let mut gw = Gw::start(&routing("shutdown_grace = \"300ms\"", one.addr, two.addr, "one"));

    let slow = spawn_get(gw.url("http", "/slow?ms=5000"));
    wait_hits(&one, 1).await;
    let sent = Instant::now();
    gw.signal("TERM");
    let code = gw.wait_exit(Duration::from_secs(4));
    let took = sent.elapsed();
    assert!(code.is_some(), "still running 4 s after SIGTERM with a 300 ms grace");
    assert_eq!(code, Some(0), "{}", gw.stderr.lock().unwrap().join("\n"));
    assert!(took >= Duration::from_millis(250), "exited before the grace period: {took:?}");
    assert!(took < Duration::from_millis(3000), "took {took:?}");
    gw.wait_stderr("abandoned_connections=1", Duration::from_secs(1));

    // The abandoned request fails rather than hanging or succeeding.
    let r = tokio::time::timeout(Duration::from_secs(10), slow).await.unwrap().unwrap();
    assert!(r.is_err(), "the request was cut off, yet it got {r:?}");
}

/// HTTP/2 streams in flight are drained too (GOAWAY, then the stream finishes), over h2c.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_http2_streams() {
    let one = Upstream::start("one").await;
    let two = Upstream::start("two").await;
    let mut gw = Gw::start(&routing("shutdown_grace = \"10s\"", one.addr, two.addr, "one"));
    let h2c = reqwest::Client::builder().timeout(Duration::from_secs(20)).http2_prior_knowledge().build().unwrap();
    let url = gw.url("http", "/slow?ms=1500");
    let slow = {
        let h2c = h2c.clone();
        tokio::spawn(async move {
            let r = h2c.get(url).send().await.map_err(|e| e.to_string())?;
            let version = r.version();
            let status = r.status().as_u16();
            let v: serde_json::Value = r.json().await.map_err(|e| e.to_string())?;
            Ok::<_, String>((version, status, v))
        })
    };
    wait_hits(&one, 1).await;
    gw.signal("TERM");
    let (version, status, echo) = tokio::time::timeout(Duration::from_secs(10), slow).await.unwrap().unwrap().unwrap();
    assert_eq!(version, reqwest::Version::HTTP_2);
    assert_eq!(status, 200);
    assert_eq!(echo["uri"], "/slow?ms=1500");
    assert_eq!(gw.wait_exit(Duration::from_secs(10)), Some(0));
}

/// Idle connections do not hold shutdown up: keep-alive HTTP/1.1, idle HTTP/2, and connections that never
/// sent a byte (plain and TLS) are closed at once, so the process exits well before the grace period.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_does_not_wait_for_idle_connections() {
    let one = Upstream::start("one").await;
    let two = Upstream::start("two").await;
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["a.test".to_string()]).unwrap().self_signed(&key).unwrap();
    let tls = "\n[[listeners]]\nname = \"https\"\naddress = \"127.0.0.1:0\"\n\
               tls = { certificates = [{ cert = \"{dir}/a.pem\", key = \"{dir}/a.key\" }] }\n";
    let cfg = routing("shutdown_grace = \"20s\"", one.addr, two.addr, "one")
        .replace("\n[server]", &format!("{tls}\n[server]"));
    let mut gw =
        Gw::start_with_files(&cfg, &[("a.pem", cert.pem().as_bytes()), ("a.key", key.serialize_pem().as_bytes())]);

    let h1 = common::client();
    assert_eq!(upstream_of(&h1, &gw.url("http", "/keepalive")).await, "one");
    let h2c = reqwest::Client::builder().timeout(Duration::from_secs(10)).http2_prior_knowledge().build().unwrap();
    assert_eq!(upstream_of(&h2c, &gw.url("http", "/h2c")).await, "one");
    let silent_plain = tokio::net::TcpStream::connect(gw.addr("http")).await.unwrap();
    let silent_tls = tokio::net::TcpStream::connect(gw.addr("https")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    let sent = Instant::now();
    gw.signal("TERM");
    let code = gw.wait_exit(Duration::from_secs(15));
    let took = sent.elapsed();
    assert_eq!(code, Some(0), "{}", gw.stderr.lock().unwrap().join("\n"));
    assert!(took < Duration::from_secs(3), "idle connections held shutdown up for {took:?}");
    drop((silent_plain, silent_tls));
}

/// A connection stuck in the middle of a request head holds shutdown up only until `header_read_timeout`
/// (hyper finishes reading a started head), not for the whole grace period.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_a_half_sent_request_head_is_bounded_by_the_header_timeout() {
    let one = Upstream::start("one").await;
    let two = Upstream::start("two").await;
    let cfg =
        routing("shutdown_grace = \"20s\"", one.addr, two.addr, "one") + "\n[limits]\nheader_read_timeout = \"1s\"\n";
    let mut gw = Gw::start(&cfg);
    let mut partial = tokio::net::TcpStream::connect(gw.addr("http")).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut partial, b"GET /partial HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n").await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let sent = Instant::now();
    gw.signal("TERM");
    let code = gw.wait_exit(Duration::from_secs(15));
    let took = sent.elapsed();
    assert_eq!(code, Some(0));
    assert!(took < Duration::from_secs(4), "took {took:?} with header_read_timeout = 1s");
    assert_eq!(one.hits(), 0);
    drop(partial);
}

/// The config file disappearing (a deploy that deletes, then writes) is a rejected reload, not a crash; when
/// the file comes back it is loaded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_file_removed_then_restored() {
    let one = Upstream::start("one").await;
    let two = Upstream::start("two").await;
    let mut gw = Gw::start(&routing("", one.addr, two.addr, "one"));
    let client = common::client();
    std::fs::remove_file(&gw.config_path).unwrap();
    gw.wait_stderr("config reload rejected", Duration::from_secs(5));
    assert!(gw.is_running());
    assert_eq!(upstream_of(&client, &gw.url("http", "/gone")).await, "one");

    gw.write_config(&routing("", one.addr, two.addr, "two"));
    gw.wait_stderr("config reloaded", Duration::from_secs(5));
    assert_eq!(upstream_of(&client, &gw.url("http", "/back")).await, "two");
}
