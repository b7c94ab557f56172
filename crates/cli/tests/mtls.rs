//! End-to-end mTLS against the real binary: a listener verifies client certificates against an rcgen CA
//! (with a CRL). A valid certificate gets through and its subject reaches the upstream in
//! `X-Portcullis-Client-Cert-Subject` (a client's own copy never does); a certificate from another CA, an
//! expired one or a revoked one cannot finish the handshake; with `required = false` a client without a
//! certificate proceeds without identity; a new CA bundle is picked up on reload.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{echoed_header, Gw, Upstream};
use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, CertificateRevocationListParams, DnType, IsCa, KeyIdMethod,
    KeyPair, KeyUsagePurpose, RevocationReason, RevokedCertParams, SerialNumber,
};

struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

struct Leaf {
    cert_pem: String,
    key_pem: String,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.distinguished_name.push(DnType::CommonName, name);
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Ca { cert, key }
    }

    fn issue(&self, cn: &str, serial: u64, expired: bool) -> Leaf {
        // A dotted name is used as is (the server), a bare one becomes a service name.
        let san = if cn.contains('.') { cn.to_string() } else { format!("{cn}.internal") };
        let mut params = CertificateParams::new(vec![san]).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(DnType::OrganizationName, "Example");
        params.distinguished_name.push(DnType::CommonName, cn);
        params.serial_number = Some(SerialNumber::from(serial));
        if expired {
            params.not_before = date_time_ymd(2019, 1, 1);
            params.not_after = date_time_ymd(2020, 1, 1);
        }
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        Leaf { cert_pem: cert.pem(), key_pem: key.serialize_pem() }
    }

    fn crl(&self, revoked: &[u64]) -> String {
        let params = CertificateRevocationListParams {
            this_update: date_time_ymd(2024, 1, 1),
            next_update: date_time_ymd(2099, 1, 1),
            crl_number: SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs: revoked
                .iter()
                .map(|s| RevokedCertParams {
                    serial_number: SerialNumber::from(*s),
                    revocation_time: date_time_ymd(2024, 1, 1),
                    reason_code: Some(RevocationReason::KeyCompromise),
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        };
        params.signed_by(&self.cert, &self.key).unwrap().pem().unwrap()
    }
}

fn config(up: SocketAddr) -> String {
    format!(
        r#"
[admin]
address = "127.0.0.1:0"
[server]
watch = false
[log]
access = "stdout"
[[listeners]]
name = "strict"
address = "127.0.0.1:0"
client_auth = {{ ca = "{{dir}}/client-ca.pem", required = true, crl = ["{{dir}}/revoked.crl"] }}
[listeners.tls]
certificates = [{{ cert = "{{dir}}/server.pem", key = "{{dir}}/server.key" }}]
[[listeners]]
name = "optional"
address = "127.0.0.1:0"
client_auth = {{ ca = "{{dir}}/client-ca.pem", required = false }}
[listeners.tls]
certificates = [{{ cert = "{{dir}}/server.pem", key = "{{dir}}/server.key" }}]
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

fn client(server_ca: &Ca, addr: SocketAddr, identity: Option<&Leaf>) -> reqwest::Client {
    let mut b = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(server_ca.cert.pem().as_bytes()).unwrap())
        .resolve("gw.test", addr)
        .pool_max_idle_per_host(0);
    if let Some(l) = identity {
        let pem = format!("{}{}", l.cert_pem, l.key_pem);
        b = b.identity(reqwest::Identity::from_pem(pem.as_bytes()).unwrap());
    }
    b.build().unwrap()
}

async fn get(c: &reqwest::Client, addr: SocketAddr) -> Result<serde_json::Value, String> {
    let r = c
        .get(format!("https://gw.test:{}/whoami", addr.port()))
        .header("X-Portcullis-Client-Cert-Subject", "CN=spoofed")
        .send()
        .await
        .map_err(|e| format!("{e:?}"))?;
    assert_eq!(r.status(), 200);
    r.json().await.map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificates_are_verified_per_listener() {
    let up = Upstream::start("echo").await;
    let server_ca = Ca::new("server CA");
    let server = server_ca.issue("gw.test", 1, false);
    let client_ca = Ca::new("client CA");
    let good = client_ca.issue("svc-a", 10, false);
    let expired = client_ca.issue("svc-old", 11, true);
    let revoked = client_ca.issue("svc-leaked", 12, false);
    let other_ca = Ca::new("some other CA");
    let stranger = other_ca.issue("svc-a", 10, false);
    let crl = client_ca.crl(&[12]);
    let ca_pem = client_ca.cert.pem();
    let gw = Gw::start_with_files(
        &config(up.addr),
        &[
            ("server.pem", server.cert_pem.as_bytes()),
            ("server.key", server.key_pem.as_bytes()),
            ("client-ca.pem", ca_pem.as_bytes()),
            ("revoked.crl", crl.as_bytes()),
        ],
    );
    let (strict, optional) = (gw.addr("strict"), gw.addr("optional"));

    // A valid certificate: through, and its subject (not the client's spoofed copy) reaches the upstream.
    let echo = get(&client(&server_ca, strict, Some(&good)), strict).await.expect("valid client certificate");
    assert_eq!(echoed_header(&echo, "x-portcullis-client-cert-subject"), vec!["CN=svc-a,O=Example"]);

    // Refused at the handshake: no certificate, another CA, expired, revoked.
    for (what, id) in
        [("none", None), ("wrong CA", Some(&stranger)), ("expired", Some(&expired)), ("revoked", Some(&revoked))]
    {
        let r = get(&client(&server_ca, strict, id), strict).await;
        assert!(r.is_err(), "{what}: the handshake must fail, got {r:?}");
    }
    let hits = up.hits();

    // Optional client auth: no certificate proceeds without identity (and the spoofed header is removed);
    // a presented certificate is still verified.
    let echo = get(&client(&server_ca, optional, None), optional).await.expect("anonymous on optional");
    assert!(echoed_header(&echo, "x-portcullis-client-cert-subject").is_empty(), "{echo}");
    let echo = get(&client(&server_ca, optional, Some(&good)), optional).await.unwrap();
    assert_eq!(echoed_header(&echo, "x-portcullis-client-cert-subject"), vec!["CN=svc-a,O=Example"]);
    assert!(get(&client(&server_ca, optional, Some(&stranger)), optional).await.is_err());
    assert_eq!(up.hits(), hits + 2, "refused handshakes never reached the upstream");

    // CA rotation on reload: the other CA's certificate is accepted, the old CA's refused.
    std::fs::write(gw.dir.path().join("client-ca.pem"), other_ca.cert.pem()).unwrap();
    std::fs::write(gw.dir.path().join("revoked.crl"), other_ca.crl(&[99])).unwrap();
    gw.signal("HUP");
    gw.wait_stderr("config reloaded", Duration::from_secs(10));
    assert!(get(&client(&server_ca, strict, Some(&stranger)), strict).await.is_ok(), "new CA accepted");
    assert!(get(&client(&server_ca, strict, Some(&good)), strict).await.is_err(), "old CA refused");

    // A broken CA file is a rejected reload: the current CA keeps working.
    std::fs::write(gw.dir.path().join("client-ca.pem"), "not a certificate").unwrap();
    gw.signal("HUP");
    gw.wait_stderr("config reload rejected", Duration::from_secs(10));
    assert!(get(&client(&server_ca, strict, Some(&stranger)), strict).await.is_ok());
}

#[test]
fn client_auth_config_errors_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("p.toml");
    std::fs::write(
        &p,
        r#"
[[listeners]]
name = "plain"
address = "127.0.0.1:0"
client_auth = { ca = "missing-ca.pem", crl = ["missing.crl"] }
"#,
    )
    .unwrap();
    let out = std::process::Command::new(common::BIN).arg("check-config").arg(&p).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success());
    assert!(text.contains("listeners[0].client_auth: needs a TLS listener"), "{text}");
    assert!(text.contains("listeners[0].client_auth.ca: cannot read"), "{text}");
    assert!(text.contains("listeners[0].client_auth.crl[0]: cannot read"), "{text}");
}
