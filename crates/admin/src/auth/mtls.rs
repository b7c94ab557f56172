//! HTTPS for the admin listener, and client certificates as an admin login (mTLS).
//!
//! With `[admin.tls] client_ca`, rustls verifies any client certificate offered against that CA bundle
//! (`WebPkiClientVerifier`; offering none is allowed, so password + TOTP logins still work). A verified
//! certificate's subject CN travels into each request of the connection as [`ClientCertUser`]; the guard
//! accepts it when it names an enabled admin user — so `admin disable-user` ends certificate access too.
//!
//! Owns: the admin listener's TLS and accept loop. Must not touch: the data-path listeners (`proxy`).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tower::ServiceExt;

/// A handshake that takes longer than this is dropped (a slow-loris on the admin port holds nothing long).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The CN of a client certificate the TLS handshake verified against `[admin.tls] client_ca`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCertUser(pub String);

fn read(what: &str, p: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(p).map_err(|e| format!("admin.tls.{what}: cannot read {}: {e}", p.display()))
}

fn certs(what: &str, p: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let pem = read(what, p)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("admin.tls.{what}: {}: {e}", p.display()))?;
    if certs.is_empty() {
        return Err(format!("admin.tls.{what}: {} holds no PEM certificate", p.display()));
    }
    Ok(certs)
}

/// The admin listener's rustls config from resolved file paths.
pub fn server_config(cert: &Path, key: &Path, client_ca: Option<&Path>) -> Result<Arc<ServerConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = certs("cert", cert)?;
    let key = PrivateKeyDer::from_pem_slice(&read("key", key)?)
        .map_err(|e| format!("admin.tls.key: {}: {e}", key.display()))?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("admin.tls: {e}"))?;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for c in certs("client_ca", ca)? {
                roots.add(c).map_err(|e| format!("admin.tls.client_ca: {}: {e}", ca.display()))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .allow_unauthenticated()
                .build()
                .map_err(|e| format!("admin.tls.client_ca: {e}"))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_single_cert(chain, key).map_err(|e| format!("admin.tls: {e}"))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The subject CN of a DER certificate, if it has a readable one.
pub fn common_name(der: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let cn = cert.subject().iter_common_name().next()?.as_str().ok()?;
    Some(cn.to_string())
}

/// Serves `app` over TLS on `listener` until the task is dropped.
pub async fn serve_tls(listener: tokio::net::TcpListener, config: Arc<ServerConfig>, app: Router) {
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // Out of file descriptors and the like: pause instead of spinning.
                tracing::warn!(error = %e, "admin listener: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let (acceptor, app) = (acceptor.clone(), app.clone());
        tokio::spawn(async move {
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "admin listener: TLS handshake failed");
                    return;
                }
                Err(_) => return,
            };
            // rustls only exposes peer certificates it verified against client_ca.
            let cert_user = tls.get_ref().1.peer_certificates().and_then(|c| c.first()).and_then(|c| common_name(c));
            let svc = tower::service_fn(move |mut req: axum::http::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                if let Some(u) = &cert_user {
                    req.extensions_mut().insert(ClientCertUser(u.clone()));
                }
                app.clone().oneshot(req)
            });
            let conn = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            if let Err(e) = conn.serve_connection(TokioIo::new(tls), TowerToHyperService::new(svc)).await {
                tracing::debug!(%peer, error = %e, "admin listener: connection ended with an error");
            }
        });
    }
}
