//! Connects to upstream targets: TCP with a connect timeout and `TCP_NODELAY`, then optionally TLS with the
//! group's CA, SNI name and verification policy.
//!
//! Written here rather than with hyper-rustls because the SNI name and verified name must be configurable per
//! group independently of the target address (targets are usually IPs).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use portcullis_config::{Config, UpstreamSection};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::tls::crypto_provider;

#[derive(Clone)]
pub struct UpstreamConnector {
    connect_timeout: Duration,
    tls: Option<(TlsConnector, Option<ServerName<'static>>)>,
}

impl UpstreamConnector {
    pub fn new(cfg: &UpstreamSection, config: &Config) -> Result<Self, String> {
        let tls = match &cfg.tls {
            None => None,
            Some(t) => {
                let builder = ClientConfig::builder_with_provider(crypto_provider())
                    .with_protocol_versions(&[&rustls::version::TLS12, &rustls::version::TLS13])
                    .map_err(|e| e.to_string())?;
                let mut client = if t.insecure_skip_verify {
                    tracing::warn!(upstream = %cfg.name,
                        "INSECURE: TLS certificate verification is off for this upstream (tls.insecure_skip_verify)");
                    builder.dangerous().with_custom_certificate_verifier(Arc::new(NoVerify)).with_no_client_auth()
                } else {
                    let mut roots = RootCertStore::empty();
                    match &t.ca {
                        Some(ca) => {
                            let pem = std::fs::read(config.resolve(ca))
                                .map_err(|e| format!("upstreams.{}.tls.ca: {e}", cfg.name))?;
                            use rustls::pki_types::pem::PemObject;
                            for c in CertificateDer::pem_slice_iter(&pem) {
                                let c = c.map_err(|e| format!("upstreams.{}.tls.ca: {e}", cfg.name))?;
                                roots.add(c).map_err(|e| format!("upstreams.{}.tls.ca: {e}", cfg.name))?;
                            }
                        }
                        None => {
                            for c in rustls_native_certs::load_native_certs().certs {
                                let _ = roots.add(c);
                            }
                        }
                    }
                    builder.with_root_certificates(roots).with_no_client_auth()
                };
                client.alpn_protocols = vec![b"http/1.1".to_vec()];
                let sni = match &t.sni {
                    Some(s) => Some(ServerName::try_from(s.clone()).map_err(|e| e.to_string())?),
                    None => None,
                };
                Some((TlsConnector::from(Arc::new(client)), sni))
            }
        };
        Ok(UpstreamConnector { connect_timeout: cfg.timeouts.connect.0, tls })
    }
}

/// Accepts any certificate. Only used with the explicit, logged `insecure_skip_verify` opt-out.
#[derive(Debug)]
struct NoVerify;

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }
    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        crypto_provider().signature_verification_algorithms.supported_schemes()
    }
}

/// A connection to a target, plain or TLS.
pub enum UpStream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for UpStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            UpStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            UpStream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for UpStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            UpStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            UpStream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            UpStream::Plain(s) => Pin::new(s).poll_flush(cx),
            UpStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            UpStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            UpStream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            UpStream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            UpStream::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }
    fn is_write_vectored(&self) -> bool {
        match self {
            UpStream::Plain(s) => s.is_write_vectored(),
            UpStream::Tls(s) => s.is_write_vectored(),
        }
    }
}

impl UpstreamConnector {
    /// Opens a connection to `authority` (a target's `host:port`): TCP within the connect timeout, then the TLS
    /// handshake within the same timeout again.
    pub async fn connect(&self, authority: &http::uri::Authority) -> io::Result<UpStream> {
        let host = authority.host().trim_start_matches('[').trim_end_matches(']');
        let port = authority.port_u16().unwrap_or(if self.tls.is_some() { 443 } else { 80 });
        let tcp = tokio::time::timeout(self.connect_timeout, TcpStream::connect((host, port)))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
        let _ = tcp.set_nodelay(true);
        match &self.tls {
            None => Ok(UpStream::Plain(tcp)),
            Some((connector, sni)) => {
                let name = match sni {
                    Some(n) => n.clone(),
                    None => ServerName::try_from(host.to_string())
                        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?,
                };
                let tls = tokio::time::timeout(self.connect_timeout, connector.connect(name, tcp))
                    .await
                    .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out"))??;
                Ok(UpStream::Tls(Box::new(tls)))
            }
        }
    }
}
