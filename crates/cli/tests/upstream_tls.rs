//! TLS to upstreams: verified against a configured CA with a configured SNI name; refused when the
//! certificate does not verify; the explicit insecure opt-out works and is logged.

mod common;

use std::sync::Arc;

use common::*;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

struct Pki {
    ca_pem: String,
    leaf_pem: String,
    leaf_key_pem: String,
}

fn pki(name: &str) -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_key = KeyPair::generate().unwrap();
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec![name.to_string()]).unwrap().signed_by(&leaf_key, &ca, &ca_key).unwrap();
    Pki { ca_pem: ca.pem(), leaf_pem: leaf.pem(), leaf_key_pem: leaf_key.serialize_pem() }
}

/// An HTTPS upstream on 127.0.0.1:0 answering "tls-upstream".
async fn tls_upstream(p: &Pki) -> std::net::SocketAddr {
    use rustls::pki_types::pem::PemObject;
    let certs: Vec<_> =
        rustls::pki_types::CertificateDer::pem_slice_iter(p.leaf_pem.as_bytes()).collect::<Result<_, _>>().unwrap();
    let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(p.leaf_key_pem.as_bytes()).unwrap();
    let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
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
                let svc = service_fn(|_req| async {
                    Ok::<_, std::convert::Infallible>(hyper::Response::new(http_body_util::Full::new(
                        bytes::Bytes::from_static(b"tls-upstream"),
                    )))
                });
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tls), svc).await;
            });
        }
    });
    addr
}

fn cfg(addr: std::net::SocketAddr, tls: &str) -> String {
    config(&format!(
        "[[upstreams]]\nname = \"secure\"\ntargets = [\"{addr}\"]\ntls = {{ {tls} }}\n[upstreams.passive]\nmax_failures = 0\n\
         [[routes]]\nname = \"r\"\nupstream = \"secure\"\n"
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_tls_verifies_ca_and_name() {
    let p = pki("upstream.test");
    let addr = tls_upstream(&p).await;
    let files: &[(&str, &[u8])] = &[("ca.pem", p.ca_pem.as_bytes())];

    let gw = Gw::start_with_files(&cfg(addr, "ca = \"ca.pem\", sni = \"upstream.test\""), files);
    let r = client().get(gw.url("http", "/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "tls-upstream");
    drop(gw);

    // The right CA but the wrong name: refused.
    let gw = Gw::start_with_files(&cfg(addr, "ca = \"ca.pem\", sni = \"other.test\""), files);
    assert_eq!(client().get(gw.url("http", "/")).send().await.unwrap().status(), 502);
    gw.wait_stderr("certificate not valid for name", std::time::Duration::from_secs(5));
    drop(gw);

    // System roots do not know our CA: refused.
    let gw = Gw::start(&cfg(addr, "sni = \"upstream.test\""));
    assert_eq!(client().get(gw.url("http", "/")).send().await.unwrap().status(), 502);
    gw.wait_stderr("invalid peer certificate", std::time::Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insecure_skip_verify_is_explicit_and_logged() {
    let p = pki("upstream.test");
    let addr = tls_upstream(&p).await;
    let gw = Gw::start(&cfg(addr, "insecure_skip_verify = true"));
    let r = client().get(gw.url("http", "/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    gw.wait_stderr("INSECURE: TLS certificate verification is off", std::time::Duration::from_secs(5));
}
