//! Test harness: runs the real `portcullis` binary with a config written to a temp dir, on loopback ports
//! chosen by the OS (port 0; the bound addresses are read from the binary's log), plus small upstream
//! servers that tell which target answered and echo what they received.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::any;
use axum::Router;

pub const BIN: &str = env!("CARGO_BIN_EXE_portcullis");

/// A running gateway process.
pub struct Gw {
    pub child: Child,
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
    pub listeners: HashMap<String, SocketAddr>,
    pub admin: Option<SocketAddr>,
    pub stdout: Arc<Mutex<Vec<String>>>,
    pub stderr: Arc<Mutex<Vec<String>>>,
    /// The admin API session, once [`Gw::admin_token`] has logged in.
    pub admin_session: Mutex<Option<String>>,
}

fn collect(r: impl std::io::Read + Send + 'static) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let l2 = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines().map_while(Result::ok) {
            l2.lock().unwrap().push(line);
        }
    });
    lines
}

/// Pulls `key=value` out of a diagnostic log line.
pub fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let start = line.find(&format!("{key}="))? + key.len() + 1;
    Some(line[start..].split_whitespace().next().unwrap_or(""))
}

impl Gw {
    /// Writes `config` (with `{dir}` replaced by the temp dir) and starts `portcullis serve`. Waits until every
    /// listener has logged its address.
    pub fn start(config: &str) -> Gw {
        Self::start_with_files(config, &[])
    }

    pub fn start_with_files(config: &str, files: &[(&str, &[u8])]) -> Gw {
        let dir = tempfile::tempdir().unwrap();
        for (name, data) in files {
            std::fs::write(dir.path().join(name), data).unwrap();
        }
        let config_path = dir.path().join("portcullis.toml");
        std::fs::write(&config_path, config.replace("{dir}", dir.path().to_str().unwrap())).unwrap();
        let expected = config.matches("[[listeners]]").count();
        let mut child = Command::new(BIN)
            .args(["serve", "--config"])
            .arg(&config_path)
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = collect(child.stdout.take().unwrap());
        let stderr = collect(child.stderr.take().unwrap());
        let deadline = Instant::now() + Duration::from_secs(20);
        let admin_expected = !config.contains("enabled = false");
        loop {
            let lines = stderr.lock().unwrap().clone();
            let listeners: HashMap<String, SocketAddr> = lines
                .iter()
                .filter(|l| l.contains(" listening "))
                .filter_map(|l| Some((field(l, "listener")?.to_string(), field(l, "addr")?.parse().ok()?)))
                .collect();
            let admin =
                lines.iter().find(|l| l.contains("admin listener")).and_then(|l| field(l, "addr")?.parse().ok());
            if listeners.len() == expected && (admin.is_some() || !admin_expected) {
                return Gw {
                    child,
                    dir,
                    config_path,
                    listeners,
                    admin,
                    stdout,
                    stderr,
                    admin_session: Mutex::new(None),
                };
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("portcullis exited early ({status}):\n{}", lines.join("\n"));
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("portcullis did not start in time:\n{}", lines.join("\n"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn addr(&self, listener: &str) -> SocketAddr {
        self.listeners[listener]
    }

    pub fn url(&self, listener: &str, path: &str) -> String {
        format!("http://{}{}", self.addr(listener), path)
    }

    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill").args([&format!("-{sig}"), &self.child.id().to_string()]).status().unwrap();
        assert!(ok.success());
    }

    /// Rewrites the config file (same `{dir}` substitution).
    pub fn write_config(&self, config: &str) {
        let tmp = self.dir.path().join("portcullis.toml.new");
        std::fs::write(&tmp, config.replace("{dir}", self.dir.path().to_str().unwrap())).unwrap();
        std::fs::rename(&tmp, &self.config_path).unwrap();
    }

    /// Waits until a diagnostic line containing `needle` appears (after `skip` lines).
    pub fn wait_stderr(&self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(l) = self.stderr.lock().unwrap().iter().find(|l| l.contains(needle)) {
                return l.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no log line with {needle:?}:\n{}",
                self.stderr.lock().unwrap().join("\n")
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn stderr_count(&self, needle: &str) -> usize {
        self.stderr.lock().unwrap().iter().filter(|l| l.contains(needle)).count()
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits for the process to exit; returns its exit code.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(s)) = self.child.try_wait() {
                return s.code();
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Gw {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A test upstream: answers every request with JSON naming itself and echoing method, path, headers and
/// body. `/slow?ms=N` waits N ms first; `/status/N` answers status N; `/healthz` answers 200 unless
/// `set_healthy(false)`.
pub struct Upstream {
    pub addr: SocketAddr,
    pub hits: Arc<AtomicUsize>,
    pub healthy: Arc<std::sync::atomic::AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Clone)]
struct UpState {
    name: String,
    hits: Arc<AtomicUsize>,
    healthy: Arc<std::sync::atomic::AtomicBool>,
}

impl Upstream {
    pub async fn start(name: &str) -> Upstream {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::serve(name, listener)
    }

    pub fn serve(name: &str, listener: tokio::net::TcpListener) -> Upstream {
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let healthy = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let state = UpState { name: name.to_string(), hits: hits.clone(), healthy: healthy.clone() };
        let app = Router::new().fallback(any(echo)).with_state(state);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Upstream { addr, hits, healthy, task }
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    pub fn stop(&self) {
        self.task.abort();
    }
}

async fn echo(State(s): State<UpState>, req: Request) -> impl IntoResponse {
    let path = req.uri().path().to_string();
    if path == "/healthz" {
        return if s.healthy.load(Ordering::SeqCst) {
            (StatusCode::OK, "ok".to_string()).into_response()
        } else {
            (StatusCode::SERVICE_UNAVAILABLE, "down".to_string()).into_response()
        };
    }
    s.hits.fetch_add(1, Ordering::SeqCst);
    if path == "/slow" {
        let ms: u64 =
            req.uri().query().and_then(|q| q.strip_prefix("ms=")).and_then(|v| v.parse().ok()).unwrap_or(1000);
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    if let Some(code) = path.strip_prefix("/status/").and_then(|c| c.parse::<u16>().ok()) {
        return (StatusCode::from_u16(code).unwrap(), format!("status {code}")).into_response();
    }
    let method = req.method().to_string();
    let uri = req.uri().to_string();
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    let body = axum::body::to_bytes(req.into_body(), 16 << 20).await.unwrap_or_default();
    let mut resp = axum::Json(serde_json::json!({
        "upstream": s.name,
        "method": method,
        "uri": uri,
        "headers": headers,
        "body_len": body.len(),
    }))
    .into_response();
    resp.headers_mut().insert("server", "test-upstream".parse().unwrap());
    resp
}

/// The value of header `name` as the upstream saw it, from an echo body.
pub fn echoed_header(echo: &serde_json::Value, name: &str) -> Vec<String> {
    echo["headers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h[0].as_str().unwrap().eq_ignore_ascii_case(name))
        .map(|h| h[1].as_str().unwrap().to_string())
        .collect()
}

/// A config with one plain listener (port 0), admin on port 0, and the given extra TOML.
/// The admin API's users live in `admin-users.db` beside the config (see [`Gw::admin_token`]).
pub fn config(extra: &str) -> String {
    format!(
        r#"
[admin]
address = "127.0.0.1:0"
users_db = "admin-users.db"
[log]
access = "stdout"
level = "info"
[[listeners]]
name = "http"
address = "127.0.0.1:0"
{extra}
"#
    )
}

/// A loopback address where nothing listens, held for as long as the returned socket lives: a socket bound
/// there and never set to listen, so a connection to it is refused and no parallel test can be handed the port.
/// (Binding a listener, noting its port and dropping it frees the port for the next `127.0.0.1:0` bind of
/// another test, which then answers in the dead address's place.)
pub fn dead_addr() -> (SocketAddr, tokio::net::TcpSocket) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    (socket.local_addr().unwrap(), socket)
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(15)).build().unwrap()
}

/// Resident set size of a process in KiB, from `/proc/<pid>/status` (`VmRSS`).
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

/// The value of one sample in Prometheus text (`name{labels}` exactly as exposed), 0 when absent.
pub fn metric(text: &str, sample: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(sample).and_then(|rest| rest.strip_prefix(' ')))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

impl Gw {
    /// The admin listener's `/metrics` text.
    pub async fn metrics(&self) -> String {
        let url = format!("http://{}/metrics", self.admin.expect("admin listener"));
        client().get(url).send().await.unwrap().text().await.unwrap()
    }
}

/// The password of the admin user [`Gw::admin_token`] creates.
pub const ADMIN_PASSWORD: &str = "correct-horse-battery-staple-42";

/// RFC 4648 base32 without padding (the TOTP secret in an `otpauth://` URI), decoded here rather than by the
/// code under test.
pub fn base32_decode(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let (mut buf, mut bits) = (0u64, 0u32);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'2'..=b'7' => c - b'2' + 26,
            _ => panic!("not base32: {s:?}"),
        };
        buf = (buf << 5) | u64::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
        }
    }
    out
}

impl Gw {
    /// A session for the admin API (`/api/*`): the first call creates an admin user with the real CLI in the
    /// config's `admin.users_db` (`admin-users.db` beside the config in [`config`]), logs in with password and a TOTP code
    /// computed from the printed provisioning URI, and keeps the token.
    pub async fn admin_token(&self) -> String {
        if let Some(t) = self.admin_session.lock().unwrap().clone() {
            return t;
        }
        use std::io::Write;
        let db = self.dir.path().join("admin-users.db");
        let mut child = Command::new(BIN)
            .args(["admin", "add-user", "tester", "--db"])
            .arg(&db)
            .arg("--password-stdin")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(format!("{ADMIN_PASSWORD}\n").as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "admin add-user failed: {stdout} {}", String::from_utf8_lossy(&out.stderr));
        let uri = stdout.lines().find(|l| l.starts_with("otpauth://")).expect("provisioning URI");
        let b32 = uri.split("secret=").nth(1).and_then(|r| r.split('&').next()).expect("secret in URI");
        let secret = base32_decode(b32);
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        let code = portcullis_admin::auth::totp::code_at(&secret, now);
        let url = format!("http://{}/api/login", self.admin.expect("admin listener"));
        let body = serde_json::json!({"username": "tester", "password": ADMIN_PASSWORD, "totp": code});
        let r = client().post(url).json(&body).send().await.unwrap();
        assert_eq!(r.status(), 200, "admin login");
        let v: serde_json::Value = r.json().await.unwrap();
        let token = v["token"].as_str().expect("token").to_string();
        *self.admin_session.lock().unwrap() = Some(token.clone());
        token
    }

    /// A client that sends the session of [`Gw::admin_token`] on every request.
    pub async fn admin_client(&self) -> reqwest::Client {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(reqwest::header::AUTHORIZATION, format!("Bearer {}", self.admin_token().await).parse().unwrap());
        reqwest::Client::builder().timeout(Duration::from_secs(15)).default_headers(h).build().unwrap()
    }

    /// A request to the admin API with the session of [`Gw::admin_token`].
    pub async fn admin_request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let token = self.admin_token().await;
        let url = format!("http://{}{path}", self.admin.expect("admin listener"));
        client().request(method, url).bearer_auth(token)
    }
}

/// A private `redis-server` on a free loopback port, no persistence; killed on drop. Tests that need Redis
/// start their own, so no state is shared between tests.
pub struct RedisServer {
    pub port: u16,
    child: Option<Child>,
    dir: tempfile::TempDir,
}

impl RedisServer {
    pub fn start() -> RedisServer {
        assert!(
            std::path::Path::new("/usr/bin/redis-server").exists(),
            "redis-server is not installed (.ci/run installs it: apt-get install -y redis-server)"
        );
        let mut dir = tempfile::tempdir().unwrap();
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            let mut r = RedisServer { port, child: None, dir };
            if r.spawn() {
                return r;
            }
            dir = std::mem::replace(&mut r.dir, tempfile::tempdir().unwrap());
        }
        panic!("could not start redis-server on a free port");
    }

    /// Starts (or restarts) the server on `self.port`; true once it answers PING.
    fn spawn(&mut self) -> bool {
        let child = Command::new("/usr/bin/redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--dir", self.dir.path().to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.cli(&["PING"]).trim() == "PONG" {
                return true;
            }
            if let Some(Ok(Some(_))) = self.child.as_mut().map(|c| c.try_wait()) {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Runs `redis-cli` against this server; returns its output ("" if it failed).
    pub fn cli(&self, args: &[&str]) -> String {
        Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(args)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    /// Kills the server (SIGKILL: no goodbye to clients).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port, empty.
    pub fn restart(&mut self) {
        self.kill();
        assert!(self.spawn(), "redis-server did not come back on port {}", self.port);
    }

    /// SIGSTOP / SIGCONT: a server that accepts but never answers, then resumes.
    pub fn pause(&self, paused: bool) {
        let pid = self.child.as_ref().unwrap().id().to_string();
        let sig = if paused { "-STOP" } else { "-CONT" };
        assert!(Command::new("kill").args([sig, &pid]).status().unwrap().success());
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_ref() {
            let _ = Command::new("kill").args(["-CONT", &c.id().to_string()]).status();
        }
        self.kill();
    }
}
