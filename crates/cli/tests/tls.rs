//! End-to-end TLS tests against the real binary: certificates chosen by SNI, ALPN (h2 / http/1.1), old
//! protocol versions refused, certificates reloaded from disk without a restart, HSTS and the HTTPS
//! redirect, and h2c on plain listeners. Certificates are made at test time with rcgen.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use common::{Gw, Upstream};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore, SupportedProtocolVersion};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

/// A test CA that issues leaf certificates.
struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

/// One issued leaf: PEM files for the gateway and the DER to compare with what a client sees.
struct Leaf {
    cert_pem: String,
    key_pem: String,
    der: Vec<u8>,
}

impl Ca {
    fn new() -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, "Portcullis test CA");
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Ca { cert, key }
    }

    fn der(&self) -> CertificateDer<'static> {
        self.cert.der().clone()
    }

    fn pem(&self) -> String {
        self.cert.pem()
    }

    fn issue(&self, name: &str, serial: u64) -> Leaf {
        let mut params = CertificateParams::new(vec![name.to_string()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.serial_number = Some(rcgen::SerialNumber::from(serial));
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        Leaf { cert_pem: cert.pem(), key_pem: key.serialize_pem(), der: cert.der().to_vec() }
    }
}

fn tls_listener(name: &str, certs: &[&str], extra: &str) -> String {
    let list: Vec<String> =
        certs.iter().map(|c| format!(r#"{{ cert = "{{dir}}/{c}.pem", key = "{{dir}}/{c}.key" }}"#)).collect();
    format!(
        r#"
[[listeners]]
name = "{name}"
address = "127.0.0.1:0"
[listeners.tls]
certificates = [{}]
{extra}
"#,
        list.join(", ")
    )
}

fn echo_route(up: SocketAddr) -> String {
    format!(
        r#"
[[upstreams]]
name = "echo"
targets = ["{up}"]

[[routes]]
name = "all"
upstream = "echo"
[routes.match]
path_prefix = "/"
"#
    )
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A raw rustls handshake; the CA is the only root, so success also proves the leaf is valid for `sni`.
async fn tls_connect(
    addr: SocketAddr,
    sni: &str,
    ca: &CertificateDer<'static>,
    alpn: &[&[u8]],
    versions: &[&'static SupportedProtocolVersion],
) -> Result<TlsStream<TcpStream>, String> {
    let mut roots = RootCertStore::empty();
    roots.add(ca.clone()).unwrap();
    let mut cfg = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let connector = TlsConnector::from(Arc::new(cfg));
    let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let name = ServerName::try_from(sni.to_string()).unwrap();
    match tokio::time::timeout(Duration::from_secs(10), connector.connect(name, tcp)).await {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(_) => Err("handshake timed out".into()),
    }
}

fn all_versions() -> Vec<&'static SupportedProtocolVersion> {
    vec![&rustls::version::TLS13, &rustls::version::TLS12]
}

fn peer_leaf(s: &TlsStream<TcpStream>) -> Vec<u8> {
    s.get_ref().1.peer_certificates().expect("server sent no certificate")[0].to_vec()
}

/// Sends one HTTP/1.1 request over an established stream and returns the whole response as text.
async fn http1_over<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    s: &mut S,
    host: &str,
    path: &str,
) -> String {
    let req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf)).await.expect("response timed out");
    String::from_utf8_lossy(&buf).into_owned()
}

fn https_client(ca: &Ca, names: &[&str], addr: SocketAddr) -> reqwest::ClientBuilder {
    let mut b = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca.pem().as_bytes()).unwrap())
        .redirect(reqwest::redirect::Policy::none());
    for n in names {
        b = b.resolve(n, addr);
    }
    b
}

fn files<'a>(leaves: &'a [(&'a str, &'a Leaf)]) -> Vec<(String, &'a [u8])> {
    let mut v = Vec::new();
    for (name, l) in leaves {
        v.push((format!("{name}.pem"), l.cert_pem.as_bytes()));
        v.push((format!("{name}.key"), l.key_pem.as_bytes()));
    }
    v
}

fn start(config: &str, leaves: &[(&str, &Leaf)]) -> Gw {
    let owned = files(leaves);
    let refs: Vec<(&str, &[u8])> = owned.iter().map(|(n, d)| (n.as_str(), *d)).collect();
    Gw::start_with_files(config, &refs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sni_picks_the_certificate_for_each_name() {
    let up = Upstream::start("echo").await;
    let ca = Ca::new();
    let a = ca.issue("a.test", 1);
    let b = ca.issue("b.test", 2);
    let cfg = common::config(&format!("{}{}", tls_listener("https", &["a", "b"], ""), echo_route(up.addr)));
    let gw = start(&cfg, &[("a", &a), ("b", &b)]);
    let addr = gw.addr("https");

    for (sni, leaf, other) in [("a.test", &a, &b), ("b.test", &b, &a)] {
        let s = tls_connect(addr, sni, &ca.der(), &[b"http/1.1"], &all_versions())
            .await
            .unwrap_or_else(|e| panic!("{sni}: {e}"));
        let seen = peer_leaf(&s);
        assert_eq!(seen, leaf.der, "SNI {sni} got the wrong certificate");
        assert_ne!(seen, other.der);
    }
    // A name no certificate covers: the handshake cannot verify for it.
    let unknown = tls_connect(addr, "c.test", &ca.der(), &[], &all_versions()).await;
    assert!(unknown.is_err(), "c.test must not verify (the default certificate is for a.test)");

    let client = https_client(&ca, &["a.test", "b.test"], addr).build().unwrap();
    for host in ["a.test", "b.test"] {
        let resp = client.get(format!("https://{host}:{}/hello?x=1", addr.port())).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{host}");
        let echo: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(echo["upstream"], "echo");
        assert_eq!(echo["uri"], "/hello?x=1");
        assert_eq!(common::echoed_header(&echo, "x-forwarded-proto"), vec!["https".to_string()], "{echo}");
    }
    assert_eq!(up.hits(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alpn_negotiates_h2_and_http11() {
    let up = Upstream::start("echo").await;
    let ca = Ca::new();
    let a = ca.issue("a.test", 1);
    let cfg = common::config(&format!(
        "{}{}{}",
        tls_listener("https", &["a"], ""),
        tls_listener("h1only", &["a"], "http2 = false"),
        echo_route(up.addr)
    ));
    let gw = start(&cfg, &[("a", &a)]);
    let addr = gw.addr("https");

    // Raw handshakes: the server picks h2 when offered, http/1.1 otherwise.
    let s = tls_connect(addr, "a.test", &ca.der(), &[b"h2", b"http/1.1"], &all_versions()).await.unwrap();
    assert_eq!(s.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let mut s = tls_connect(addr, "a.test", &ca.der(), &[b"http/1.1"], &all_versions()).await.unwrap();
    assert_eq!(s.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    let text = http1_over(&mut s, "a.test", "/alpn").await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    // No ALPN at all: HTTP/1.1.
    let mut s = tls_connect(addr, "a.test", &ca.der(), &[], &all_versions()).await.unwrap();
    assert_eq!(s.get_ref().1.alpn_protocol(), None);
    let text = http1_over(&mut s, "a.test", "/noalpn").await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");

    // reqwest: h2 via ALPN by default, HTTP/1.1 when the client only speaks that.
    let h2 = https_client(&ca, &["a.test"], addr).build().unwrap();
    let resp = h2.get(format!("https://a.test:{}/h2", addr.port())).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.version(), reqwest::Version::HTTP_2);
    let echo: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(echo["uri"], "/h2");
    let h1 = https_client(&ca, &["a.test"], addr).http1_only().build().unwrap();
    let resp = h1.get(format!("https://a.test:{}/h1", addr.port())).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.version(), reqwest::Version::HTTP_11);

    // `http2 = false`: h2 is not offered, even to a client that asks for it.
    let h1only = gw.addr("h1only");
    let s = tls_connect(h1only, "a.test", &ca.der(), &[b"h2", b"http/1.1"], &all_versions()).await.unwrap();
    assert_eq!(s.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    let c = https_client(&ca, &["a.test"], h1only).build().unwrap();
    let resp = c.get(format!("https://a.test:{}/x", h1only.port())).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.version(), reqwest::Version::HTTP_11);
}

fn push_ext(out: &mut Vec<u8>, typ: u16, data: &[u8]) {
    out.extend(typ.to_be_bytes());
    out.extend((data.len() as u16).to_be_bytes());
    out.extend(data);
}

/// A TLS 1.1 ClientHello: record version 1.0, client_version 1.1, no supported_versions extension, and only
/// cipher suites that exist in TLS 1.0/1.1.
fn tls11_client_hello(sni: &str) -> Vec<u8> {
    let mut body = vec![0x03, 0x02];
    body.extend([0x5a; 32]);
    body.push(0);
    let suites: [u16; 5] = [0xc014, 0xc013, 0x0035, 0x002f, 0x000a];
    body.extend(((suites.len() * 2) as u16).to_be_bytes());
    for s in suites {
        body.extend(s.to_be_bytes());
    }
    body.extend([1, 0]);
    let mut ext = Vec::new();
    let mut entry = vec![0];
    entry.extend((sni.len() as u16).to_be_bytes());
    entry.extend(sni.as_bytes());
    let mut list = (entry.len() as u16).to_be_bytes().to_vec();
    list.extend(entry);
    push_ext(&mut ext, 0x0000, &list);
    push_ext(&mut ext, 0x000a, &[0, 4, 0, 0x17, 0, 0x18]);
    push_ext(&mut ext, 0x000b, &[1, 0]);
    push_ext(&mut ext, 0xff01, &[0]);
    body.extend((ext.len() as u16).to_be_bytes());
    body.extend(ext);
    let mut hs = vec![0x01];
    hs.extend(&(body.len() as u32).to_be_bytes()[1..]);
    hs.extend(body);
    let mut rec = vec![0x16, 0x03, 0x01];
    rec.extend((hs.len() as u16).to_be_bytes());
    rec.extend(hs);
    rec
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_tls_versions_are_refused_and_tls12_works() {
    let up = Upstream::start("echo").await;
    let ca = Ca::new();
    let a = ca.issue("a.test", 1);
    let cfg = common::config(&format!("{}{}", tls_listener("https", &["a"], ""), echo_route(up.addr)));
    let gw = start(&cfg, &[("a", &a)]);
    let addr = gw.addr("https");

    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(&tls11_client_hello("a.test")).await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while got.len() < 7 {
        match tokio::time::timeout_at(deadline, tcp.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => {
                panic!("the server neither answered nor closed a TLS 1.1 ClientHello: {got:02x?}")
            }
        }
    }
    if !got.is_empty() {
        assert_eq!(got[0], 0x15, "expected an alert record, not a handshake (ServerHello): {got:02x?}");
        assert!(got.len() >= 7, "truncated alert: {got:02x?}");
        assert_eq!(got[5], 2, "alert must be fatal: {got:02x?}");
        assert!(matches!(got[6], 0x46 | 0x28), "expected protocol_version or handshake_failure: {got:02x?}");
    }

    // A TLS 1.2-only client is fine, and so is TLS 1.3.
    let mut s = tls_connect(addr, "a.test", &ca.der(), &[b"http/1.1"], &[&rustls::version::TLS12]).await.unwrap();
    assert_eq!(s.get_ref().1.protocol_version(), Some(rustls::ProtocolVersion::TLSv1_2));
    let text = http1_over(&mut s, "a.test", "/tls12").await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    let s = tls_connect(addr, "a.test", &ca.der(), &[], &[&rustls::version::TLS13]).await.unwrap();
    assert_eq!(s.get_ref().1.protocol_version(), Some(rustls::ProtocolVersion::TLSv1_3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_reload_from_disk_without_restart() {
    let up = Upstream::start("echo").await;
    let ca = Ca::new();
    let old = ca.issue("a.test", 100);
    let new = ca.issue("a.test", 200);
    assert_ne!(old.der, new.der);
    let cfg = common::config(&format!("{}{}", tls_listener("https", &["a"], ""), echo_route(up.addr)));
    let mut gw = start(&cfg, &[("a", &old)]);
    let addr = gw.addr("https");
    let pid = gw.child.id();

    let mut before = tls_connect(addr, "a.test", &ca.der(), &[b"http/1.1"], &all_versions()).await.unwrap();
    assert_eq!(peer_leaf(&before), old.der);

    // Replace key and certificate the way deploy tools do: write aside, rename over.
    let dir = gw.dir.path().to_path_buf();
    std::fs::write(dir.join("a.key.new"), &new.key_pem).unwrap();
    std::fs::write(dir.join("a.pem.new"), &new.cert_pem).unwrap();
    std::fs::rename(dir.join("a.key.new"), dir.join("a.key")).unwrap();
    std::fs::rename(dir.join("a.pem.new"), dir.join("a.pem")).unwrap();
    gw.wait_stderr("config reloaded", Duration::from_secs(10));

    let s = tls_connect(addr, "a.test", &ca.der(), &[b"http/1.1"], &all_versions()).await.unwrap();
    assert_eq!(peer_leaf(&s), new.der, "a new handshake must see the new certificate");
    assert!(gw.is_running());
    assert_eq!(gw.child.id(), pid);
    assert_eq!(gw.stderr_count("config reload rejected"), 0, "{}", gw.stderr.lock().unwrap().join("\n"));

    // The connection made before the reload still works, with the certificate it started with.
    assert_eq!(peer_leaf(&before), old.der);
    let text = http1_over(&mut before, "a.test", "/after-reload").await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hsts_on_https_only_and_https_redirect() {
    let up = Upstream::start("echo").await;
    let ca = Ca::new();
    let a = ca.issue("a.test", 1);
    let cfg = common::config(&format!(
        "{}{}\n[[listeners]]\nname = \"redir\"\naddress = \"127.0.0.1:0\"\nredirect_https_port = 8443\n{}",
        tls_listener("https", &["a"], ""),
        "",
        echo_route(up.addr)
    ));
    let gw = start(&cfg, &[("a", &a)]);
    let addr = gw.addr("https");

    let client = https_client(&ca, &["a.test"], addr).build().unwrap();
    let resp = client.get(format!("https://a.test:{}/hsts", addr.port())).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let hsts = resp.headers().get("strict-transport-security").expect("HSTS missing on HTTPS").to_str().unwrap();
    assert!(hsts.contains("max-age=31536000"), "{hsts}");
    assert!(hsts.to_ascii_lowercase().contains("includesubdomains"), "{hsts}");
    // Also over HTTP/1.1 on TLS.
    let h1 = https_client(&ca, &["a.test"], addr).http1_only().build().unwrap();
    let resp = h1.get(format!("https://a.test:{}/hsts", addr.port())).send().await.unwrap();
    assert!(resp.headers().contains_key("strict-transport-security"));

    let plain = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = plain.get(gw.url("http", "/hsts")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(!resp.headers().contains_key("strict-transport-security"), "HSTS must not be sent over plain HTTP");

    // The redirect listener: 308 to https on the configured port, host (without its port), path and query kept.
    let r = gw.addr("redir");
    let resp = plain
        .get(format!("http://{r}/some/path?q=1&b=two"))
        .header("host", format!("shop.test:{}", r.port()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 308);
    assert_eq!(resp.headers()["location"], "https://shop.test:8443/some/path?q=1&b=two");
    assert!(!resp.headers().contains_key("strict-transport-security"));
    let resp = plain.post(format!("http://{r}/")).header("host", "shop.test").send().await.unwrap();
    assert_eq!(resp.status(), 308);
    assert_eq!(resp.headers()["location"], "https://shop.test:8443/");
    assert_eq!(up.hits(), 3, "redirects must not reach the upstream");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2c_prior_knowledge_on_plain_listeners() {
    let up = Upstream::start("echo").await;
    let cfg = common::config(&format!(
        "\n[[listeners]]\nname = \"noh2c\"\naddress = \"127.0.0.1:0\"\nh2c = false\n{}",
        echo_route(up.addr)
    ));
    let gw = Gw::start(&cfg);

    let h2c = reqwest::Client::builder().timeout(Duration::from_secs(10)).http2_prior_knowledge().build().unwrap();
    let resp = h2c.get(gw.url("http", "/h2c?y=2")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.version(), reqwest::Version::HTTP_2);
    let echo: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(echo["uri"], "/h2c?y=2");
    // HTTP/1.1 on the same listener still works.
    let resp = common::client().get(gw.url("http", "/h1")).send().await.unwrap();
    assert_eq!(resp.version(), reqwest::Version::HTTP_11);
    assert_eq!(resp.status(), 200);

    // `h2c = false`: the HTTP/2 preface is not accepted; HTTP/1.1 is.
    match h2c.get(gw.url("noh2c", "/h2c")).send().await {
        Err(_) => {}
        Ok(resp) => panic!("h2c accepted on an h2c = false listener: {:?} {}", resp.version(), resp.status()),
    }
    let resp = common::client().get(gw.url("noh2c", "/h1")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(up.hits(), 3);
}

/// Certificate rotation done in two steps (as tools that write cert and key separately do): the half-done
/// state is rejected with the key path and the old certificate keeps serving; the completed one is picked up.
/// A certificate file that disappears is rejected too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_rotation_in_two_steps_and_missing_files() {
    let up = Upstream::start("echo").await;
    let ca = Ca::new();
    let old = ca.issue("a.test", 100);
    let new = ca.issue("a.test", 200);
    let cfg = common::config(&format!("{}{}", tls_listener("https", &["a"], ""), echo_route(up.addr)));
    let gw = start(&cfg, &[("a", &old)]);
    let addr = gw.addr("https");
    let dir = gw.dir.path().to_path_buf();
    let handshake =
        || async { peer_leaf(&tls_connect(addr, "a.test", &ca.der(), &[], &all_versions()).await.unwrap()) };

    // Step 1: the new certificate, the old key.
    std::fs::write(dir.join("a.pem"), &new.cert_pem).unwrap();
    let line = gw.wait_stderr("config reload rejected", Duration::from_secs(10));
    assert!(line.contains("listeners[1].tls.certificates[0]"), "{line}");
    assert!(line.contains("does not match"), "{line}");
    assert_eq!(handshake().await, old.der, "a rejected reload must keep the old certificate");

    // Step 2: the new key.
    std::fs::write(dir.join("a.key"), &new.key_pem).unwrap();
    gw.wait_stderr("config reloaded", Duration::from_secs(10));
    assert_eq!(handshake().await, new.der);

    // The certificate file disappears: rejected, naming the key, and the loaded certificate keeps serving.
    std::fs::remove_file(dir.join("a.pem")).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while gw.stderr_count("config reload rejected") < 2 {
        assert!(std::time::Instant::now() < deadline, "{}", gw.stderr.lock().unwrap().join("\n"));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let lines = gw.stderr.lock().unwrap().clone();
    let second = lines.iter().filter(|l| l.contains("config reload rejected")).nth(1).unwrap();
    assert!(second.contains("listeners[1].tls.certificates[0].cert"), "{second}");
    assert_eq!(handshake().await, new.der);
    let client = https_client(&ca, &["a.test"], addr).build().unwrap();
    let resp = client.get(format!("https://a.test:{}/still", addr.port())).send().await.unwrap();
    assert_eq!(resp.status(), 200);
}

/// A client that opens a TCP connection to the TLS listener and never finishes the handshake is cut off
/// after `header_read_timeout`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_tls_handshakes_are_closed() {
    let up = Upstream::start("echo").await;
    let ca = Ca::new();
    let a = ca.issue("a.test", 1);
    let cfg = common::config(&format!(
        "{}{}\n[limits]\nheader_read_timeout = \"500ms\"\n",
        tls_listener("https", &["a"], ""),
        echo_route(up.addr)
    ));
    let gw = start(&cfg, &[("a", &a)]);
    let addr = gw.addr("https");

    let hello = tls11_client_hello("a.test");
    for partial in [&hello[..0], &hello[..3], &hello[..hello.len() / 2]] {
        let started = std::time::Instant::now();
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(partial).await.unwrap();
        let mut buf = [0u8; 64];
        let r = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("a stalled handshake ({} bytes sent) was kept open", partial.len()));
        assert!(matches!(r, Ok(0) | Err(_)), "expected the connection to be closed, got {r:?}");
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(400), "closed too early: {took:?}");
    }
    // The listener still serves complete handshakes.
    let s = tls_connect(addr, "a.test", &ca.der(), &[], &all_versions()).await.unwrap();
    assert_eq!(peer_leaf(&s), a.der);
}

/// The HTTPS redirect keeps IPv6 literals bracketed and answers 443 without a port.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_redirect_host_forms() {
    let cfg = common::config(
        "\n[[listeners]]\nname = \"r443\"\naddress = \"127.0.0.1:0\"\nredirect_https_port = 443\n\
         \n[[listeners]]\nname = \"r8443\"\naddress = \"[::1]:0\"\nredirect_https_port = 8443\n",
    );
    let gw = Gw::start(&cfg);
    let plain = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = gw.addr("r443");
    let resp = plain.get(format!("http://{r}/a/b?c=d")).header("host", "shop.test").send().await.unwrap();
    assert_eq!(resp.status(), 308);
    assert_eq!(resp.headers()["location"], "https://shop.test/a/b?c=d");

    let r6 = gw.addr("r8443");
    assert!(r6.is_ipv6());
    let resp = plain.get(format!("http://{r6}/v6?x=1")).send().await.unwrap();
    assert_eq!(resp.status(), 308);
    assert_eq!(resp.headers()["location"], "https://[::1]:8443/v6?x=1");
}

/// Accepts any server certificate and keeps it, to see which certificate the gateway picks when the client
/// sends no SNI or a name no certificate covers.
#[derive(Debug)]
struct AnyCert(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The leaf the gateway presents for `server_name` (an IP address sends no SNI), without verifying it.
async fn leaf_for(addr: SocketAddr, server_name: &str) -> Vec<u8> {
    let mut cfg = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCert(provider())))
        .with_no_client_auth();
    cfg.enable_sni = true;
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from(server_name.to_string()).unwrap();
    let s = tokio::time::timeout(Duration::from_secs(10), TlsConnector::from(Arc::new(cfg)).connect(name, tcp))
        .await
        .expect("handshake timed out")
        .unwrap_or_else(|e| panic!("{server_name}: {e}"));
    peer_leaf(&s)
}

/// Explicit `sni` names (exact and wildcard) win; no SNI or an unknown name gets the first certificate; names
/// match case-insensitively.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sni_explicit_names_wildcards_and_the_default() {
    let ca = Ca::new();
    let a = ca.issue("a.test", 1);
    let b = ca.issue("b.test", 2);
    let w = ca.issue("*.wild.test", 3);
    let cfg = common::config(
        r#"
[[listeners]]
name = "https"
address = "127.0.0.1:0"
[listeners.tls]
certificates = [
  { cert = "{dir}/a.pem", key = "{dir}/a.key" },
  { cert = "{dir}/b.pem", key = "{dir}/b.key", sni = ["api.example.org"] },
  { cert = "{dir}/w.pem", key = "{dir}/w.key" },
]
"#,
    );
    let gw = start(&cfg, &[("a", &a), ("b", &b), ("w", &w)]);
    let addr = gw.addr("https");

    assert_eq!(leaf_for(addr, "a.test").await, a.der);
    assert_eq!(leaf_for(addr, "A.TEST").await, a.der, "SNI is case-insensitive");
    assert_eq!(leaf_for(addr, "api.example.org").await, b.der, "explicit sni name");
    assert_eq!(leaf_for(addr, "x.wild.test").await, w.der, "wildcard certificate");
    assert_eq!(leaf_for(addr, "deep.x.wild.test").await, a.der, "a wildcard covers one label only");
    assert_eq!(leaf_for(addr, "unknown.test").await, a.der, "unknown name: the first certificate");
    assert_eq!(leaf_for(addr, "127.0.0.1").await, a.der, "no SNI: the first certificate");
}

/// Without a Host header there is no name to redirect to: the redirect listener answers 400 instead of a
/// `Location: https://:PORT/...` that no client can follow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_redirect_without_host_is_a_bad_request() {
    let gw = Gw::start(&common::config("redirect_https_port = 8443\n"));
    for req in [
        "GET /x?y=1 HTTP/1.0\r\n\r\n",
        "GET /x?y=1 HTTP/1.1\r\nConnection: close\r\n\r\n",
        "GET /x HTTP/1.1\r\nHost: user@evil.test\r\nConnection: close\r\n\r\n",
    ] {
        let mut tcp = TcpStream::connect(gw.addr("http")).await.unwrap();
        let text = http1_raw(&mut tcp, req).await;
        assert!(text.starts_with("HTTP/1.1 400") || text.starts_with("HTTP/1.0 400"), "{req:?} -> {text}");
        assert!(!text.to_ascii_lowercase().contains("location:"), "{text}");
    }
}

async fn http1_raw(s: &mut TcpStream, req: &str) -> String {
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf)).await.expect("response timed out");
    String::from_utf8_lossy(&buf).into_owned()
}

/// A config reload can add a certificate (and its SNI name) to a running TLS listener.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_reload_adds_a_certificate() {
    let up = Upstream::start("echo").await;
    let ca = Ca::new();
    let a = ca.issue("a.test", 1);
    let c = ca.issue("c.test", 3);
    let cfg = common::config(&format!("{}{}", tls_listener("https", &["a"], ""), echo_route(up.addr)));
    let gw = start(&cfg, &[("a", &a), ("c", &c)]);
    let addr = gw.addr("https");
    assert_eq!(leaf_for(addr, "c.test").await, a.der, "before the reload c.test gets the default");

    gw.write_config(&common::config(&format!("{}{}", tls_listener("https", &["a", "c"], ""), echo_route(up.addr))));
    gw.signal("HUP");
    gw.wait_stderr("config reloaded", Duration::from_secs(10));
    let s = tls_connect(addr, "c.test", &ca.der(), &[], &all_versions()).await.unwrap();
    assert_eq!(peer_leaf(&s), c.der);
    let s = tls_connect(addr, "a.test", &ca.der(), &[], &all_versions()).await.unwrap();
    assert_eq!(peer_leaf(&s), a.der);
}

/// An HTTPS upstream (HTTP/1.1 over rustls) answering `sni=<name the client sent>` to every request.
async fn https_upstream(leaf: &Leaf) -> SocketAddr {
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    let key = KeyPair::from_pem(&leaf.key_pem).unwrap();
    let cfg = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(leaf.der.clone())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else { return };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else { return };
                let sni = tls.get_ref().1.server_name().unwrap_or("-").to_string();
                let svc = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let body = format!("sni={sni} path={}", req.uri());
                    async move {
                        Ok::<_, std::convert::Infallible>(hyper::Response::new(http_body_util::Full::new(
                            bytes::Bytes::from(body),
                        )))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), svc)
                    .await;
            });
        }
    });
    addr
}

/// TLS to upstreams: verified against the configured CA with the configured SNI name; a name mismatch or an
/// unknown CA is a 502; `insecure_skip_verify` connects anyway.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_upstreams_are_verified() {
    let ca = Ca::new();
    let other_ca = Ca::new();
    let up_leaf = ca.issue("up.internal", 7);
    let up = https_upstream(&up_leaf).await;
    let group = |name: &str, tls: &str| {
        format!(
            "\n[[upstreams]]\nname = \"{name}\"\ntargets = [\"{up}\"]\nretries = {{ attempts = 0 }}\n\
             passive = {{ max_failures = 0 }}\ntls = {{ {tls} }}\n"
        )
    };
    let route = |name: &str| {
        format!(
            "\n[[routes]]\nname = \"{name}\"\nupstream = \"{name}\"\nstrip_prefix = \"/{name}\"\n\
             [routes.match]\npath_prefix = \"/{name}/\"\n"
        )
    };
    let mut extra = String::new();
    extra += &group("good", r#"ca = "{dir}/ca.pem", sni = "up.internal""#);
    extra += &group("noname", r#"ca = "{dir}/ca.pem""#);
    extra += &group("wrongca", r#"ca = "{dir}/other.pem", sni = "up.internal""#);
    extra += &group("insecure", "insecure_skip_verify = true");
    for n in ["good", "noname", "wrongca", "insecure"] {
        extra += &route(n);
    }
    let gw = Gw::start_with_files(
        &common::config(&extra),
        &[("ca.pem", ca.pem().as_bytes()), ("other.pem", other_ca.pem().as_bytes())],
    );
    gw.wait_stderr("INSECURE", Duration::from_secs(5));
    let client = common::client();

    let resp = client.get(gw.url("http", "/good/x?y=1")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "sni=up.internal path=/x?y=1");
    // Without `sni` the target's address is the name to verify; the certificate does not cover 127.0.0.1.
    let resp = client.get(gw.url("http", "/noname/x")).send().await.unwrap();
    assert_eq!(resp.status(), 502);
    let resp = client.get(gw.url("http", "/wrongca/x")).send().await.unwrap();
    assert_eq!(resp.status(), 502);
    let resp = client.get(gw.url("http", "/insecure/x")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().starts_with("sni="));
}

/// Host-based routing works the same over HTTP/2 (`:authority`) and HTTP/1.1 (`Host`) on TLS, the upstream
/// gets a Host header either way, and the gateway's own problem responses carry HSTS too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_routing_over_h2_and_h1_and_hsts_on_problems() {
    let up_a = Upstream::start("A").await;
    let up_b = Upstream::start("B").await;
    let ca = Ca::new();
    let a = ca.issue("a.test", 1);
    let b = ca.issue("b.test", 2);
    let cfg = common::config(&format!(
        r#"{}
[[upstreams]]
name = "A"
targets = ["{}"]
[[upstreams]]
name = "B"
targets = ["{}"]

[[routes]]
name = "a"
upstream = "A"
[routes.match]
hosts = ["a.test"]
path_prefix = "/api"

[[routes]]
name = "b"
upstream = "B"
[routes.match]
hosts = ["b.test"]
path_prefix = "/api"
"#,
        tls_listener("https", &["a", "b"], ""),
        up_a.addr,
        up_b.addr
    ));
    let gw = start(&cfg, &[("a", &a), ("b", &b)]);
    let addr = gw.addr("https");
    let h2 = https_client(&ca, &["a.test", "b.test"], addr).build().unwrap();
    let h1 = https_client(&ca, &["a.test", "b.test"], addr).http1_only().build().unwrap();
    for (client, version) in [(&h2, reqwest::Version::HTTP_2), (&h1, reqwest::Version::HTTP_11)] {
        for (host, want) in [("a.test", "A"), ("b.test", "B")] {
            let resp = client.get(format!("https://{host}:{}/api/x", addr.port())).send().await.unwrap();
            assert_eq!(resp.version(), version);
            assert_eq!(resp.status(), 200, "{host} over {version:?}");
            let echo: serde_json::Value = resp.json().await.unwrap();
            assert_eq!(echo["upstream"], want, "{host} over {version:?}");
            assert_eq!(
                common::echoed_header(&echo, "host"),
                vec![format!("{host}:{}", addr.port())],
                "{host} over {version:?}: {echo}"
            );
        }
        let resp = client.get(format!("https://a.test:{}/nope", addr.port())).send().await.unwrap();
        assert_eq!(resp.status(), 404);
        assert!(resp.headers().contains_key("strict-transport-security"), "{version:?}: HSTS missing on a 404");
    }
}

/// Listener settings that do not need a new socket follow a reload: `h2c`, `redirect_https_port` and
/// `tls.http2` apply to connections accepted after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listener_protocol_settings_follow_a_reload() {
    let up = Upstream::start("echo").await;
    let ca = Ca::new();
    let a = ca.issue("a.test", 1);
    let make = |plain: &str, tls: &str| {
        common::config(&format!(
            "{plain}\n[server]\nwatch = false\n{}{}",
            tls_listener("https", &["a"], tls),
            echo_route(up.addr)
        ))
    };
    let gw = start(&make("", ""), &[("a", &a)]);
    let (http, https) = (gw.addr("http"), gw.addr("https"));
    let h2c = || reqwest::Client::builder().timeout(Duration::from_secs(10)).http2_prior_knowledge().build().unwrap();
    let plain = || {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    };
    let alpn = || async {
        let s = tls_connect(https, "a.test", &ca.der(), &[b"h2", b"http/1.1"], &all_versions()).await.unwrap();
        s.get_ref().1.alpn_protocol().map(|p| p.to_vec())
    };

    assert_eq!(h2c().get(format!("http://{http}/")).send().await.unwrap().version(), reqwest::Version::HTTP_2);
    assert_eq!(plain().get(format!("http://{http}/")).send().await.unwrap().status(), 200);
    assert_eq!(alpn().await.as_deref(), Some(&b"h2"[..]));

    gw.write_config(&make("h2c = false\nredirect_https_port = 8443", "http2 = false"));
    gw.signal("HUP");
    gw.wait_stderr("config reloaded", Duration::from_secs(10));

    assert!(h2c().get(format!("http://{http}/")).send().await.is_err(), "h2c = false after the reload");
    let resp = plain().get(format!("http://{http}/p")).header("host", "shop.test").send().await.unwrap();
    assert_eq!(resp.status(), 308);
    assert_eq!(resp.headers()["location"], "https://shop.test:8443/p");
    assert_eq!(alpn().await.as_deref(), Some(&b"http/1.1"[..]), "http2 = false after the reload");

    // And back.
    gw.write_config(&make("", ""));
    gw.signal("HUP");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while gw.stderr_count("config reloaded") < 2 {
        assert!(std::time::Instant::now() < deadline, "second reload not logged");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(h2c().get(format!("http://{http}/")).send().await.unwrap().version(), reqwest::Version::HTTP_2);
    assert_eq!(plain().get(format!("http://{http}/")).send().await.unwrap().status(), 200);
    assert_eq!(alpn().await.as_deref(), Some(&b"h2"[..]));
}

/// A certificate file with the leaf and an intermediate: the gateway sends the whole chain, so a client
/// that trusts only the root verifies it. Leaves with P-384 and Ed25519 keys load and handshake too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chains_and_key_algorithms() {
    let root = Ca::new();
    let mut ip = CertificateParams::new(Vec::<String>::new()).unwrap();
    ip.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ip.distinguished_name.push(DnType::CommonName, "Portcullis test intermediate");
    let inter_key = KeyPair::generate().unwrap();
    let inter_cert = ip.signed_by(&inter_key, &root.cert, &root.key).unwrap();
    let inter = Ca { cert: inter_cert, key: inter_key };

    let issue_with = |ca: &Ca, name: &str, alg: &'static rcgen::SignatureAlgorithm| {
        let key = KeyPair::generate_for(alg).unwrap();
        let cert = CertificateParams::new(vec![name.to_string()]).unwrap().signed_by(&key, &ca.cert, &ca.key).unwrap();
        Leaf { cert_pem: cert.pem(), key_pem: key.serialize_pem(), der: cert.der().to_vec() }
    };
    let mut chained = issue_with(&inter, "chain.test", &rcgen::PKCS_ECDSA_P256_SHA256);
    chained.cert_pem.push_str(&inter.pem());
    let p384 = issue_with(&root, "p384.test", &rcgen::PKCS_ECDSA_P384_SHA384);
    let ed = issue_with(&root, "ed.test", &rcgen::PKCS_ED25519);
    let cfg = common::config(&tls_listener("https", &["chain", "p384", "ed"], ""));
    let gw = start(&cfg, &[("chain", &chained), ("p384", &p384), ("ed", &ed)]);
    let addr = gw.addr("https");

    let s = tls_connect(addr, "chain.test", &root.der(), &[], &all_versions()).await.unwrap();
    let certs = s.get_ref().1.peer_certificates().unwrap();
    assert_eq!(certs.len(), 2, "leaf + intermediate");
    assert_eq!(certs[0].to_vec(), chained.der);
    assert_eq!(certs[1].to_vec(), inter.cert.der().to_vec());
    for (name, leaf) in [("p384.test", &p384), ("ed.test", &ed)] {
        for versions in [vec![&rustls::version::TLS13], vec![&rustls::version::TLS12]] {
            let s =
                tls_connect(addr, name, &root.der(), &[], &versions).await.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(peer_leaf(&s), leaf.der);
        }
    }
}

/// Plain HTTP sent to the TLS port is refused promptly (no response that looks like HTTP, no hang), and the
/// listener keeps serving TLS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_on_the_tls_port_is_refused() {
    let up = Upstream::start("echo").await;
    let ca = Ca::new();
    let a = ca.issue("a.test", 1);
    let gw =
        start(&common::config(&format!("{}{}", tls_listener("https", &["a"], ""), echo_route(up.addr))), &[("a", &a)]);
    let addr = gw.addr("https");
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let text = http1_raw(&mut tcp, "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n").await;
    assert!(!text.starts_with("HTTP/"), "{text}");
    assert_eq!(up.hits(), 0);
    let s = tls_connect(addr, "a.test", &ca.der(), &[], &all_versions()).await.unwrap();
    assert_eq!(peer_leaf(&s), a.der);
}
