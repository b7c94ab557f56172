//! Redis Cluster: a 3-master cluster of `redis-server` processes on free loopback ports; two gateways enforce
//! one combined limit per client through it (limiter keys carry a hash tag, so each script runs on one slot and
//! different clients' keys spread over the masters), and a ban made by one gateway reaches the other.
//!
//! Skipped, with the reason printed, only when `redis-server` or `redis-cli` is not installed.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Gw, Upstream};

/// Three cluster-enabled masters, slots spread by `redis-cli --cluster create`.
struct Cluster {
    ports: Vec<u16>,
    children: Vec<Child>,
    _dir: tempfile::TempDir,
}

fn installed(tool: &str) -> bool {
    Command::new(tool).arg("--version").output().is_ok_and(|o| o.status.success())
}

fn cli(port: u16, args: &[&str]) -> String {
    Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

impl Cluster {
    /// `None` when the Redis tools are missing.
    fn start() -> Option<Cluster> {
        if !installed("redis-server") || !installed("redis-cli") {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let mut ports = Vec::new();
        let mut children = Vec::new();
        for i in 0..3 {
            let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            let node_dir = dir.path().join(format!("node{i}"));
            std::fs::create_dir(&node_dir).unwrap();
            let child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
                .args(["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"])
                .args(["--cluster-node-timeout", "5000", "--dir", node_dir.to_str().unwrap()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            ports.push(port);
            children.push(child);
        }
        let cluster = Cluster { ports, children, _dir: dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !cluster.ports.iter().all(|&p| cli(p, &["PING"]).trim() == "PONG") {
            assert!(Instant::now() < deadline, "cluster nodes did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        let nodes: Vec<String> = cluster.ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        let out = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&nodes)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .unwrap();
        assert!(out.status.success(), "cluster create failed: {}", String::from_utf8_lossy(&out.stdout));
        let deadline = Instant::now() + Duration::from_secs(20);
        while !cluster.ports.iter().all(|&p| cli(p, &["CLUSTER", "INFO"]).contains("cluster_state:ok")) {
            assert!(Instant::now() < deadline, "cluster did not reach state ok");
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(cluster)
    }

    fn config_nodes(&self) -> String {
        let list: Vec<String> = self.ports.iter().map(|p| format!("\"redis://127.0.0.1:{p}\"")).collect();
        format!("[{}]", list.join(", "))
    }

    /// Limiter keys on each master.
    fn keys_per_node(&self) -> Vec<usize> {
        self.ports.iter().map(|&p| cli(p, &["--scan", "--pattern", "portcullis:rl:*"]).lines().count()).collect()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn gateway(upstream: std::net::SocketAddr, cluster: &Cluster) -> Gw {
    Gw::start(&common::config(&format!(
        r#"
[server]
trusted_proxies = ["127.0.0.1/32"]

[traffic]
store = "redis"
redis_cluster = {nodes}
redis_timeout = "200ms"
on_store_error = "fail_closed"
default_rate_limits = ["per-ip"]
[[traffic.rate_limits]]
name = "per-ip"
key = "ip"
rate = "50/h"
[[traffic.ban_policies]]
name = "scanner"
trigger = "status:404"
count = 2
within = "10s"
ban_for = "60s"

[[upstreams]]
name = "app"
targets = ["{upstream}"]

[[routes]]
name = "scan"
upstream = "app"
rate_limits = []
[routes.match]
path_prefix = "/status"

[[routes]]
name = "all"
upstream = "app"
[routes.match]
path_prefix = "/"
"#,
        nodes = cluster.config_nodes(),
    )))
}

/// Sends `per_client` requests for each client address through `url`, 4 at a time per address; returns how
/// many each address got through (200), in order.
async fn allowed_per_client(url: String, clients: &'static [&'static str], per_client: usize) -> Vec<usize> {
    let c = common::client();
    let mut tasks = Vec::new();
    for (i, ip) in clients.iter().enumerate() {
        for lane in 0..4 {
            let (c, url) = (c.clone(), url.clone());
            tasks.push(tokio::spawn(async move {
                let mut ok = 0;
                for _ in (lane..per_client).step_by(4) {
                    let r = c.get(&url).header("x-forwarded-for", *ip).send().await.unwrap();
                    match r.status().as_u16() {
                        200 => ok += 1,
                        429 => {}
                        s => panic!("{ip}: unexpected status {s}"),
                    }
                }
                (i, ok)
            }));
        }
    }
    let mut per = vec![0; clients.len()];
    for t in tasks {
        let (i, ok) = t.await.unwrap();
        per[i] += ok;
    }
    per
}

async fn status(c: &reqwest::Client, gw: &Gw, path: &str, ip: &str) -> u16 {
    c.get(gw.url("http", path)).header("x-forwarded-for", ip).send().await.unwrap().status().as_u16()
}

const CLIENTS: &[&str] = &["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4", "192.0.2.5", "192.0.2.6"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gateways_share_limits_and_bans_through_a_redis_cluster() {
    let Some(cluster) = Cluster::start() else {
        println!("skipped: redis-server or redis-cli is not installed (.ci/run installs redis-server)");
        return;
    };
    let up = Upstream::start("app").await;
    let a = gateway(up.addr, &cluster);
    let b = gateway(up.addr, &cluster);
    a.wait_stderr("connected to Redis", Duration::from_secs(15));
    b.wait_stderr("connected to Redis", Duration::from_secs(15));

    // 50 per hour per client: the test's seconds add nothing, so each client's combined count must be 50.
    let (ra, rb) = tokio::join!(
        allowed_per_client(a.url("http", "/x"), CLIENTS, 60),
        allowed_per_client(b.url("http", "/x"), CLIENTS, 60)
    );
    let totals: Vec<usize> = ra.iter().zip(&rb).map(|(x, y)| x + y).collect();
    let spread = cluster.keys_per_node();
    println!("cluster: per client {ra:?} + {rb:?} = {totals:?} of 120 sent (limit 50); keys per master {spread:?}");
    for (ip, t) in CLIENTS.iter().zip(&totals) {
        // The task asks for within 5%; the slot-local atomic script makes it exact.
        assert!((48..=52).contains(t), "{ip}: {t} allowed");
        assert_eq!(*t, 50, "{ip}");
    }
    assert!(ra.iter().sum::<usize>() > 0 && rb.iter().sum::<usize>() > 0, "both gateways served");
    assert_eq!(up.hits(), 50 * CLIENTS.len());
    assert_eq!(spread.iter().sum::<usize>(), CLIENTS.len(), "one key per client");
    assert!(spread.iter().filter(|&&n| n > 0).count() >= 2, "keys all on one master: {spread:?}");

    // Bans: one 404 on each gateway reaches the shared threshold of 2; both gateways then refuse the client.
    let c = common::client();
    let ip = "198.51.100.7";
    assert_eq!(status(&c, &a, "/status/404", ip).await, 404);
    assert_eq!(status(&c, &b, "/status/404", ip).await, 404);
    let t = Instant::now();
    for gw in [&b, &a] {
        while status(&c, gw, "/ok", ip).await != 403 {
            assert!(t.elapsed() < Duration::from_secs(3), "ban not enforced by both gateways");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    println!("ban enforced by both gateways after {:?}", t.elapsed());
    let bans = cluster.ports.iter().map(|&p| cli(p, &["HGETALL", "{portcullis:bans}:active"])).collect::<String>();
    assert!(bans.contains(ip), "ban not in the cluster: {bans}");
    // Another client is unaffected.
    assert_eq!(status(&c, &a, "/status/200", "198.51.100.8").await, 200);
}
