//! The MFA-protected admin API end to end: users created with the real `portcullis admin` CLI (password on
//! stdin, TOTP secret parsed from the printed `otpauth://` URI), the real gateway serving `/api/*` on its
//! loopback admin listener, logins over real sockets with codes computed here from that secret.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{base32_decode, Gw, BIN};
use portcullis_admin::auth::totp;
use serde_json::{json, Value};

const PASSWORD: &str = "Tr0ub4dor&3-horse-staple";

/// A config whose admin listener uses `users_db` (when given) and `auth` as `[admin.auth]`.
fn config(users_db: Option<&Path>, auth: &str) -> String {
    let db = users_db.map(|p| format!("users_db = {:?}", p.to_str().unwrap())).unwrap_or_default();
    format!(
        r#"
[admin]
address = "127.0.0.1:0"
{db}
[admin.auth]
{auth}
[log]
access = "stdout"
level = "info"
[[listeners]]
name = "http"
address = "127.0.0.1:0"
"#
    )
}

/// Runs `portcullis admin ARGS…` with `stdin` piped in; returns (success, stdout, stderr).
fn admin_cli(args: &[&str], stdin: &str) -> (bool, String, String) {
    use std::io::Write;
    let mut child = Command::new(BIN)
        .arg("admin")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

/// Creates user `name` through the CLI; returns the TOTP secret from the printed provisioning URI.
fn add_user(db: &Path, name: &str) -> Vec<u8> {
    let (ok, out, err) =
        admin_cli(&["add-user", name, "--db", db.to_str().unwrap(), "--password-stdin"], &format!("{PASSWORD}\n"));
    assert!(ok, "add-user failed:\n{out}\n{err}");
    let uri = out.lines().find(|l| l.starts_with("otpauth://")).unwrap_or_else(|| panic!("no URI in:\n{out}"));
    let prefix = format!("otpauth://totp/Portcullis:{name}?secret=");
    assert!(uri.starts_with(&prefix), "{uri}");
    assert!(uri.ends_with("&issuer=Portcullis&algorithm=SHA1&digits=6&period=30"), "{uri}");
    let b32 = uri[prefix.len()..].split('&').next().unwrap();
    let secret = base32_decode(b32);
    assert_eq!(secret.len(), 20, "160-bit secret");
    assert!(out.contains('█') || out.contains('▀') || out.contains('▄'), "a unicode QR code is printed:\n{out}");
    secret
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// The code for the current time step plus `offset` steps.
fn code(secret: &[u8], offset: i64) -> String {
    let step = (totp::step_at(unix_now()) as i64 + offset) as u64;
    format!("{:06}", totp::code_at_step(secret, step, 6))
}

/// A 6-digit code valid for none of the steps the server accepts now.
fn wrong_code(secret: &[u8]) -> String {
    let valid: Vec<String> = (-2..=2).map(|o| code(secret, o)).collect();
    (0..1000).map(|n| format!("{:06}", 123_457 + n * 7)).find(|c| !valid.contains(c)).unwrap()
}

struct Admin {
    base: String,
    http: reqwest::Client,
}

impl Admin {
    fn new(gw: &Gw) -> Admin {
        Admin { base: format!("http://{}", gw.admin.unwrap()), http: common::client() }
    }

    async fn login(&self, body: Value) -> reqwest::Response {
        self.http.post(format!("{}/api/login", self.base)).json(&body).send().await.unwrap()
    }

    async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap()
    }
}

async fn problem(resp: reqwest::Response, status: u16) -> Value {
    let got = resp.status();
    let ctype = resp.headers().get("content-type").cloned();
    let body = resp.text().await.unwrap();
    assert_eq!(got, status, "{body}");
    assert_eq!(ctype.unwrap(), "application/problem+json");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["status"], status);
    v
}

fn assert_challenge(resp: &reqwest::Response) {
    let h = resp.headers().get("www-authenticate").expect("401 carries WWW-Authenticate");
    assert!(h.to_str().unwrap().starts_with("Bearer realm=\"portcullis-admin\""), "{h:?}");
}

/// Every log line of the gateway with its timestamp cut off (its microseconds are 6 digits too).
fn logs(gw: &Gw) -> Vec<String> {
    let err = gw
        .stderr
        .lock()
        .unwrap()
        .iter()
        .map(|l| l.split_once(' ').map_or("", |(_, r)| r).to_string())
        .collect::<Vec<_>>();
    let out = gw.stdout.lock().unwrap().clone();
    err.into_iter().chain(out).collect()
}

/// `needle` occurs in `hay` not as part of a longer run of digits.
fn contains_code(hay: &str, needle: &str) -> bool {
    hay.match_indices(needle).any(|(i, _)| {
        let before = hay[..i].chars().next_back().is_some_and(|c| c.is_ascii_digit());
        let after = hay[i + needle.len()..].chars().next().is_some_and(|c| c.is_ascii_digit());
        !before && !after
    })
}

fn wait_log(gw: &Gw, needle: &str) -> String {
    gw.wait_stderr(needle, Duration::from_secs(5))
}

#[test]
fn cli_manages_users_and_prints_the_provisioning_uri_and_qr_code() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("admins.db");
    let secret = add_user(&db, "alice");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&db).unwrap().permissions().mode() & 0o777, 0o600, "users db is 0600");
    // The TOTP secret is sealed at rest: the database file never holds it; the sealing key's file is 0600.
    let file = std::fs::read(&db).unwrap();
    assert!(!file.windows(secret.len()).any(|w| w == secret), "the TOTP secret is in the users database");
    let key_file = dir.path().join("admins.db.key");
    assert_eq!(std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777, 0o600, "key file is 0600");

    let dbs = db.to_str().unwrap();
    let (ok, _, err) = admin_cli(&["add-user", "alice", "--db", dbs, "--password-stdin"], &format!("{PASSWORD}\n"));
    assert!(!ok && err.contains("already exists"), "{err}");
    let (ok, _, err) = admin_cli(&["add-user", "bob", "--db", dbs, "--password-stdin"], "short\n");
    assert!(!ok && err.contains("password must be"), "{err}");
    let (ok, _, err) = admin_cli(&["add-user", "bad name", "--db", dbs, "--password-stdin"], &format!("{PASSWORD}\n"));
    assert!(!ok && err.contains("invalid user name"), "{err}");
    // Without --password-stdin, a non-terminal stdin is refused rather than read silently.
    let (ok, _, err) = admin_cli(&["add-user", "bob", "--db", dbs], &format!("{PASSWORD}\n"));
    assert!(!ok && err.contains("--password-stdin"), "{err}");

    // --config: the database named by [admin] users_db, relative to the config's directory.
    let cfg = dir.path().join("portcullis.toml");
    let text = "[admin]\nusers_db = \"admins.db\"\n[[listeners]]\nname = \"http\"\naddress = \"127.0.0.1:0\"\n";
    std::fs::write(&cfg, text).unwrap();
    let cfgs = cfg.to_str().unwrap();
    add_user(&db, "bob");
    let (ok, out, err) = admin_cli(&["list-users", "--config", cfgs], "");
    assert!(ok, "{err}");
    assert!(out.contains("alice") && out.contains("bob") && out.contains("enabled"), "{out}");
    assert!(!out.contains(&totp::secret_base32(&secret)) && !out.contains("argon2"), "no secrets listed:\n{out}");

    let (ok, out, _) = admin_cli(&["disable-user", "bob", "--config", cfgs], "");
    assert!(ok, "{out}");
    let (_, out, _) = admin_cli(&["list-users", "--db", dbs], "");
    assert!(out.lines().any(|l| l.starts_with("bob") && l.contains("disabled")), "{out}");
    let (ok, _, err) = admin_cli(&["disable-user", "nobody", "--db", dbs], "");
    assert!(!ok && err.contains("no admin user"), "{err}");

    let (ok, out, err) = admin_cli(&["reset-totp", "alice", "--db", dbs], "");
    assert!(ok, "{err}");
    let uri = out.lines().find(|l| l.starts_with("otpauth://totp/Portcullis:alice?secret=")).expect(&out);
    assert!(!uri.contains(&totp::secret_base32(&secret)), "a new secret");
    let reset = base32_decode(uri.split("secret=").nth(1).unwrap().split('&').next().unwrap());
    let file = std::fs::read(&db).unwrap();
    for s in [&secret, &reset] {
        assert!(!file.windows(s.len()).any(|w| w == &s[..]), "a TOTP secret is in the users database");
    }

    // --config without users_db says what to add.
    let bare = dir.path().join("bare.toml");
    std::fs::write(&bare, config(None, "")).unwrap();
    let (ok, _, err) = admin_cli(&["list-users", "--config", bare.to_str().unwrap()], "");
    assert!(!ok && err.contains("admin.users_db is not set"), "{err}");
}

#[tokio::test]
async fn the_admin_api_is_closed_until_an_admin_user_exists() {
    // No users database configured at all.
    let gw = Gw::start(&config(None, ""));
    let a = Admin::new(&gw);
    let v = problem(a.get("/api/whoami", None).await, 503).await;
    assert!(v["detail"].as_str().unwrap().contains("portcullis admin add-user"), "{v}");
    problem(a.login(json!({"username": "x", "password": PASSWORD, "totp": "123456"})).await, 503).await;
    problem(a.get("/api/status", Some("some-token")).await, 503).await;
    // Probes and metrics stay open.
    assert_eq!(a.get("/healthz", None).await.status(), 200);
    assert_eq!(a.get("/metrics", None).await.status(), 200);
    drop(gw);

    // A users database with nobody in it: still closed, never open.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("users.db");
    let gw = Gw::start(&config(Some(&db), ""));
    let a = Admin::new(&gw);
    assert!(db.exists(), "created on first use");
    let v = problem(a.get("/api/whoami", None).await, 503).await;
    assert!(v["detail"].as_str().unwrap().contains("add-user"), "{v}");
    let r = a.login(json!({"username": "x", "password": PASSWORD, "totp": "123456"})).await;
    problem(r, 401).await;
}

#[tokio::test]
async fn login_needs_password_and_a_fresh_totp_code_and_gives_a_working_session() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("users.db");
    let secret = add_user(&db, "alice");
    let gw = Gw::start(&config(Some(&db), "max_failures = 20"));
    let a = Admin::new(&gw);

    // No session: 401 with a challenge, on known and unknown /api paths alike.
    for path in ["/api/whoami", "/api/status", "/api/keys", "/api/nothing/here"] {
        let r = a.get(path, None).await;
        assert_challenge(&r);
        problem(r, 401).await;
    }
    let r = a.get("/api/whoami", Some("forged-token")).await;
    assert!(r.headers()["www-authenticate"].to_str().unwrap().contains("invalid_token"));
    problem(r, 401).await;

    let good = code(&secret, 0);
    let wrong = wrong_code(&secret);
    let refusals = [
        ("no TOTP code", json!({"username": "alice", "password": PASSWORD})),
        ("no TOTP code", json!({"username": "alice", "password": PASSWORD, "totp": ""})),
        ("wrong TOTP code", json!({"username": "alice", "password": PASSWORD, "totp": wrong})),
        ("wrong password", json!({"username": "alice", "password": "Tr0ub4dor&3-horse-stapl", "totp": good})),
        ("unknown user", json!({"username": "mallory", "password": PASSWORD, "totp": good})),
    ];
    let mut bodies = Vec::new();
    for (why, body) in &refusals {
        let r = a.login(body.clone()).await;
        assert_challenge(&r);
        let v = problem(r, 401).await;
        bodies.push(v["detail"].clone());
        wait_log(&gw, &format!("reason=\"{why}\""));
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "one generic refusal body: {bodies:?}");
    problem(a.login(json!({"username": "alice"})).await, 400).await;
    let r = a.http.post(format!("{}/api/login", a.base)).body("not json").send().await.unwrap();
    problem(r, 400).await;

    // Success: the session works on the guarded endpoints.
    let r = a.login(json!({"username": "alice", "password": PASSWORD, "totp": good})).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let v: Value = r.json().await.unwrap();
    let token = v["token"].as_str().unwrap().to_string();
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(token.len(), 43, "256 bits, base64url");
    let who: Value = a.get("/api/whoami", Some(&token)).await.json().await.unwrap();
    assert_eq!(who["username"], "alice");
    let status: Value = a.get("/api/status", Some(&token)).await.json().await.unwrap();
    assert_eq!(status["listeners"][0]["name"], "http");
    assert_eq!(status["routes"], 0);
    assert!(status["config_source"].as_str().unwrap().ends_with("portcullis.toml"), "{status}");
    problem(a.get("/api/nothing/here", Some(&token)).await, 404).await;

    // The same code again: refused even with the right password (single use), as is the previous step's.
    let r = a.login(json!({"username": "alice", "password": PASSWORD, "totp": good})).await;
    problem(r, 401).await;
    wait_log(&gw, "reason=\"TOTP code already used\"");
    let r = a.login(json!({"username": "alice", "password": PASSWORD, "totp": code(&secret, -1)})).await;
    problem(r, 401).await;

    // Logout ends the session.
    let r = a.http.post(format!("{}/api/logout", a.base)).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 204);
    problem(a.get("/api/whoami", Some(&token)).await, 401).await;
    wait_log(&gw, "admin_logout");

    // The security log has every event, and never a password, a code or a token.
    wait_log(&gw, "event=\"admin_login\"");
    let lines = logs(&gw);
    assert!(lines.iter().any(|l| l.contains("admin_login_failed") && l.contains("client_ip=127.0.0.1")));
    for l in &lines {
        assert!(!l.contains(PASSWORD) && !l.contains("Tr0ub4dor"), "password in log: {l}");
        assert!(!l.contains(&token) && !l.contains(&token[..16]), "token in log: {l}");
        for c in [&good, &wrong] {
            assert!(!contains_code(l, c), "TOTP code {c} in log: {l}");
        }
    }
}

#[tokio::test]
async fn failed_logins_lock_out_the_user_name_and_the_client_address() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("users.db");
    let secret = add_user(&db, "carol");
    add_user(&db, "dave");
    let gw = Gw::start(&config(Some(&db), "max_failures = 3\nlockout = \"2s\"\nlockout_max = \"10s\""));
    let a = Admin::new(&gw);

    for _ in 0..3 {
        let r = a.login(json!({"username": "carol", "password": "wrong password!!", "totp": code(&secret, 0)})).await;
        problem(r, 401).await;
    }
    // Locked: even the right credentials are refused, for the user and for any user from this address.
    let r = a.login(json!({"username": "carol", "password": PASSWORD, "totp": code(&secret, 0)})).await;
    let retry: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry), "Retry-After {retry}");
    problem(r, 429).await;
    let r = a.login(json!({"username": "dave", "password": PASSWORD, "totp": "000000"})).await;
    problem(r, 429).await;
    wait_log(&gw, "reason=\"locked out\"");

    // Once the lockout is over, the right credentials work again (and the code was not burnt while locked).
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let r = a.login(json!({"username": "carol", "password": PASSWORD, "totp": code(&secret, 0)})).await;
    assert_eq!(r.status(), 200, "{:?}", r.text().await);

    // Another failure from this address doubles the lockout (4 s).
    let r = a.login(json!({"username": "dave", "password": "wrong password!!", "totp": "000000"})).await;
    problem(r, 401).await;
    let r = a.login(json!({"username": "dave", "password": PASSWORD, "totp": "000000"})).await;
    let retry: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((3..=4).contains(&retry), "Retry-After {retry}");
    let lines = logs(&gw);
    assert!(lines.iter().all(|l| !l.contains(PASSWORD) && !l.contains("wrong password!!")));
}

#[tokio::test]
async fn disabling_a_user_ends_their_live_session() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("users.db");
    let secret = add_user(&db, "erin");
    let gw = Gw::start(&config(Some(&db), ""));
    let a = Admin::new(&gw);
    let r = a.login(json!({"username": "erin", "password": PASSWORD, "totp": code(&secret, 0)})).await;
    let token = r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_string();
    assert_eq!(a.get("/api/whoami", Some(&token)).await.status(), 200);
    let (ok, _, err) = admin_cli(&["disable-user", "erin", "--db", db.to_str().unwrap()], "");
    assert!(ok, "{err}");
    problem(a.get("/api/whoami", Some(&token)).await, 401).await;
    wait_log(&gw, "admin_session_ended");
}

#[tokio::test]
async fn metrics_can_be_put_behind_the_admin_session() {
    let dir = tempfile::tempdir().unwrap();
    let db: PathBuf = dir.path().join("users.db");
    let secret = add_user(&db, "frank");
    let gw = Gw::start(&config(Some(&db), "protect_metrics = true"));
    let a = Admin::new(&gw);
    problem(a.get("/metrics", None).await, 401).await;
    assert_eq!(a.get("/healthz", None).await.status(), 200, "probes stay open");
    let r = a.login(json!({"username": "frank", "password": PASSWORD, "totp": code(&secret, 0)})).await;
    let token = r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_string();
    let r = a.get("/metrics", Some(&token)).await;
    assert_eq!(r.status(), 200);
}

/// A test CA (rcgen) issuing server and client certificates.
struct TestCa {
    cert: rcgen::Certificate,
    key: rcgen::KeyPair,
}

impl TestCa {
    fn new(name: &str) -> TestCa {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.distinguished_name.push(rcgen::DnType::CommonName, name);
        let key = rcgen::KeyPair::generate().unwrap();
        TestCa { cert: params.self_signed(&key).unwrap(), key }
    }

    /// (certificate PEM, key PEM) for `name` (CN and DNS SAN).
    fn issue(&self, name: &str, usage: rcgen::ExtendedKeyUsagePurpose) -> (String, String) {
        let mut params = rcgen::CertificateParams::new(vec![name.to_string()]).unwrap();
        params.distinguished_name.push(rcgen::DnType::CommonName, name);
        params.extended_key_usages = vec![usage];
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

#[tokio::test]
async fn a_client_certificate_from_the_admin_ca_naming_an_admin_is_a_login() {
    use rcgen::ExtendedKeyUsagePurpose::{ClientAuth, ServerAuth};
    let users = tempfile::tempdir().unwrap();
    let db = users.path().join("users.db");
    let secret = add_user(&db, "grace");
    // A second admin, so that disabling grace below leaves the API set up (401, not 503).
    add_user(&db, "heidi");
    let ca = TestCa::new("Portcullis admin CA");
    let other = TestCa::new("Some other CA");
    let (srv_cert, srv_key) = ca.issue("localhost", ServerAuth);
    let tls = "\n[admin.tls]\ncert = \"{dir}/admin.pem\"\nkey = \"{dir}/admin.key\"\nclient_ca = \"{dir}/ca.pem\"\n";
    let ca_pem = ca.cert.pem();
    let gw = Gw::start_with_files(
        &config(Some(&db), tls),
        &[("admin.pem", srv_cert.as_bytes()), ("admin.key", srv_key.as_bytes()), ("ca.pem", ca_pem.as_bytes())],
    );
    let addr = gw.admin.unwrap();
    let client = |identity: Option<(String, String)>| {
        let mut b = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap())
            .resolve("localhost", addr);
        if let Some((cert, key)) = identity {
            b = b.identity(reqwest::Identity::from_pem(format!("{cert}{key}").as_bytes()).unwrap());
        }
        b.build().unwrap()
    };
    let url = |path: &str| format!("https://localhost:{}{path}", addr.port());

    // No certificate: HTTPS works, the API wants a session; password + TOTP still log in.
    let anon = client(None);
    let r = anon.get(url("/api/whoami")).send().await.unwrap();
    assert_challenge(&r);
    problem(r, 401).await;
    let r = anon
        .post(url("/api/login"))
        .json(&json!({"username": "grace", "password": PASSWORD, "totp": code(&secret, 0)}))
        .send()
        .await
        .unwrap();
    let token = r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_string();
    let who: Value = anon.get(url("/api/whoami")).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    assert_eq!((who["username"].as_str(), who["auth"].as_str()), (Some("grace"), Some("session")));

    // A certificate from the admin CA whose CN is an enabled admin: logged in, no password, no code.
    let grace = client(Some(ca.issue("grace", ClientAuth)));
    let who: Value = grace.get(url("/api/whoami")).send().await.unwrap().json().await.unwrap();
    assert_eq!((who["username"].as_str(), who["auth"].as_str()), (Some("grace"), Some("mtls")));

    // A valid certificate naming nobody: no login.
    let mallory = client(Some(ca.issue("mallory", ClientAuth)));
    problem(mallory.get(url("/api/whoami")).send().await.unwrap(), 401).await;
    wait_log(&gw, "admin_cert_refused");

    // "grace" from another CA: the handshake fails.
    let forged = client(Some(other.issue("grace", ClientAuth)));
    assert!(forged.get(url("/api/whoami")).send().await.is_err(), "a certificate from another CA is refused");

    // Disabling the user ends certificate access too.
    let (ok, _, err) = admin_cli(&["disable-user", "grace", "--db", db.to_str().unwrap()], "");
    assert!(ok, "{err}");
    problem(grace.get(url("/api/whoami")).send().await.unwrap(), 401).await;
}
