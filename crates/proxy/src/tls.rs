//! TLS termination: rustls with TLS 1.2 and 1.3 only, certificates chosen by SNI, ALPN `h2` + `http/1.1`, and
//! certificates swapped in place on reload (new handshakes use the new set; open connections are untouched).
//! Client certificates (mTLS) are verified per listener against its `client_auth` CA bundle and CRLs; the
//! verifier lives in the listener's [`CertSet`], so it reloads with the certificates.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use arc_swap::ArcSwap;
use portcullis_config::{Config, ListenerTls};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};

/// The one crypto provider (ring) used for server and client TLS, chosen explicitly so no process-wide
/// default is needed.
pub fn crypto_provider() -> Arc<CryptoProvider> {
    static P: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    P.get_or_init(|| Arc::new(rustls::crypto::ring::default_provider())).clone()
}

struct Cert {
    key: Arc<CertifiedKey>,
    /// The leaf, to check names against when no explicit `sni` list was given.
    leaf: CertificateDer<'static>,
}

/// The certificates of one listener.
#[derive(Default)]
pub struct CertSet {
    /// Explicit names (lower case; wildcards stored as `*.example.com`).
    by_name: HashMap<String, usize>,
    certs: Vec<Cert>,
    /// mTLS: the listener's client-certificate verifier (`None`: no client certificates asked for).
    client_verifier: Option<Arc<dyn ClientCertVerifier>>,
}

impl CertSet {
    /// Loads every certificate of a listener; errors name the config key, starting with `key` (the listener's
    /// path, `listeners[N]`, as in the config validator's messages).
    pub fn load(tls: &ListenerTls, config: &Config, key: &str) -> Result<CertSet, String> {
        let provider = crypto_provider();
        let mut set = CertSet::default();
        for (i, c) in tls.certificates.iter().enumerate() {
            let at = format!("{key}.tls.certificates[{i}]");
            let chain_pem = std::fs::read(config.resolve(&c.cert)).map_err(|e| format!("{at}.cert: {e}"))?;
            let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&chain_pem)
                .collect::<Result<_, _>>()
                .map_err(|e| format!("{at}.cert: {e}"))?;
            let leaf = chain.first().cloned().ok_or_else(|| format!("{at}.cert: no certificate in file"))?;
            let key_pem = std::fs::read(config.resolve(&c.key)).map_err(|e| format!("{at}.key: {e}"))?;
            let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| format!("{at}.key: {e}"))?;
            let signing = provider.key_provider.load_private_key(key).map_err(|e| format!("{at}.key: {e}"))?;
            let certified = CertifiedKey::new(chain, signing);
            certified.keys_match().map_err(|e| format!("{at}: key does not match certificate: {e}"))?;
            for name in &c.sni {
                set.by_name.entry(name.to_ascii_lowercase()).or_insert(set.certs.len());
            }
            set.certs.push(Cert { key: Arc::new(certified), leaf });
        }
        Ok(set)
    }

    fn pick(&self, sni: Option<&str>) -> Option<Arc<CertifiedKey>> {
        let Some(name) = sni.map(str::to_ascii_lowercase) else {
            return self.certs.first().map(|c| c.key.clone());
        };
        let explicit = self.by_name.get(&name).or_else(|| {
            let (_, parent) = name.split_once('.')?;
            self.by_name.get(&format!("*.{parent}"))
        });
        if let Some(&i) = explicit {
            return Some(self.certs[i].key.clone());
        }
        if let Ok(server_name) = ServerName::try_from(name.as_str()) {
            for c in &self.certs {
                let Ok(ee) = webpki::EndEntityCert::try_from(&c.leaf) else {
                    continue;
                };
                if ee.verify_is_valid_for_subject_name(&server_name).is_ok() {
                    return Some(c.key.clone());
                }
            }
        }
        self.certs.first().map(|c| c.key.clone())
    }
}

/// SNI-based certificate choice with hot swap.
pub struct SniResolver {
    set: ArcSwap<CertSet>,
}

impl std::fmt::Debug for SniResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SniResolver")
    }
}

impl SniResolver {
    pub fn new(set: CertSet) -> Arc<Self> {
        Arc::new(SniResolver { set: ArcSwap::from_pointee(set) })
    }

    /// Replaces the certificates for new handshakes.
    pub fn replace(&self, set: CertSet) {
        self.set.store(Arc::new(set));
    }
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.set.load().pick(hello.server_name())
    }
}

/// A rustls server config for one listener: TLS 1.2+ only, ALPN as configured.
pub fn server_config(resolver: Arc<SniResolver>, http2: bool) -> Result<Arc<ServerConfig>, String> {
    let mut cfg = ServerConfig::builder_with_provider(crypto_provider())
        .with_protocol_versions(&[&rustls::version::TLS12, &rustls::version::TLS13])
        .map_err(|e| e.to_string())?
        .with_client_cert_verifier(Arc::new(ListenerClientVerifier { resolver: resolver.clone() }))
        .with_cert_resolver(resolver);
    cfg.alpn_protocols = if http2 { vec![b"h2".to_vec(), b"http/1.1".to_vec()] } else { vec![b"http/1.1".to_vec()] };
    Ok(Arc::new(cfg))
}

impl CertSet {
    /// Adds the listener's client-certificate verification (`client_auth`), if configured: CA bundle, CRLs,
    /// and whether a certificate is required. Errors name the config key under `key` (`listeners[N]`).
    pub fn with_client_auth(
        mut self,
        auth: Option<&portcullis_config::ClientAuthSection>,
        config: &Config,
        key: &str,
    ) -> Result<CertSet, String> {
        let Some(auth) = auth else { return Ok(self) };
        let at = format!("{key}.client_auth");
        let ca_pem = std::fs::read(config.resolve(&auth.ca)).map_err(|e| format!("{at}.ca: {e}"))?;
        let mut roots = RootCertStore::empty();
        for c in CertificateDer::pem_slice_iter(&ca_pem) {
            roots.add(c.map_err(|e| format!("{at}.ca: {e}"))?).map_err(|e| format!("{at}.ca: {e}"))?;
        }
        if roots.is_empty() {
            return Err(format!("{at}.ca: no CA certificate in file"));
        }
        let mut crls = Vec::new();
        for (i, f) in auth.crl.iter().enumerate() {
            crls.extend(portcullis_config::read_crls(&config.resolve(f)).map_err(|e| format!("{at}.crl[{i}]: {e}"))?);
        }
        let mut builder =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), crypto_provider()).with_crls(crls);
        if !auth.required {
            builder = builder.allow_unauthenticated();
        }
        self.client_verifier = Some(builder.build().map_err(|e| format!("{at}: {e}"))?);
        Ok(self)
    }
}

/// The client-certificate verifier of one listener, read from its current [`CertSet`] at each handshake, so
/// a reload can change the CA, the CRLs or `required` (or turn mTLS on or off) without rebinding.
#[derive(Debug)]
struct ListenerClientVerifier {
    resolver: Arc<SniResolver>,
}

impl ListenerClientVerifier {
    fn current(&self) -> Option<Arc<dyn ClientCertVerifier>> {
        self.resolver.set.load().client_verifier.clone()
    }
}

impl ClientCertVerifier for ListenerClientVerifier {
    fn offer_client_auth(&self) -> bool {
        self.current().is_some_and(|v| v.offer_client_auth())
    }

    fn client_auth_mandatory(&self) -> bool {
        self.current().is_some_and(|v| v.client_auth_mandatory())
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        // The hints would have to outlive a swap; clients then offer whatever certificate they have.
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: rustls::pki_types::UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        match self.current() {
            Some(v) => v.verify_client_cert(end_entity, intermediates, now),
            None => Err(rustls::Error::General("client certificates are not accepted on this listener".into())),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &crypto_provider().signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &crypto_provider().signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        crypto_provider().signature_verification_algorithms.supported_schemes()
    }
}

/// What a verified client certificate says, for `ConnInfo::client_cert`: subject DN (RFC 4514 order and
/// escaping), subject alternative names as text, and the SHA-256 of the DER. `None` if it does not parse
/// (it was verified, so that does not happen in practice).
pub fn client_cert_info(der: &CertificateDer<'_>) -> Option<portcullis_pipeline::ClientCert> {
    use std::fmt::Write;
    use x509_parser::extensions::GeneralName;
    let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref()).ok()?;
    let registry = x509_parser::objects::oid_registry();
    let mut subject = String::new();
    for rdn in cert.subject().iter_rdn().collect::<Vec<_>>().into_iter().rev() {
        for (i, atv) in rdn.iter().enumerate() {
            if !subject.is_empty() {
                subject.push(if i == 0 { ',' } else { '+' });
            }
            let name = x509_parser::objects::oid2abbrev(atv.attr_type(), registry)
                .map(str::to_string)
                .unwrap_or_else(|_| atv.attr_type().to_id_string());
            let value = atv.as_str().map(rfc4514_escape).unwrap_or_else(|_| {
                let mut hex = String::from("#");
                for b in atv.attr_value().data {
                    let _ = write!(hex, "{b:02x}");
                }
                hex
            });
            let _ = write!(subject, "{name}={value}");
        }
    }
    let mut sans = Vec::new();
    if let Ok(Some(ext)) = cert.subject_alternative_name() {
        for gn in &ext.value.general_names {
            match gn {
                GeneralName::DNSName(s) => sans.push(format!("DNS:{s}")),
                GeneralName::URI(s) => sans.push(format!("URI:{s}")),
                GeneralName::RFC822Name(s) => sans.push(format!("email:{s}")),
                GeneralName::IPAddress(b) => match b.len() {
                    4 => sans.push(format!("IP:{}", std::net::Ipv4Addr::from(<[u8; 4]>::try_from(*b).ok()?))),
                    16 => sans.push(format!("IP:{}", std::net::Ipv6Addr::from(<[u8; 16]>::try_from(*b).ok()?))),
                    _ => {}
                },
                _ => {}
            }
        }
    }
    let mut sha256 = String::with_capacity(64);
    for b in ring::digest::digest(&ring::digest::SHA256, der.as_ref()).as_ref() {
        let _ = write!(sha256, "{b:02x}");
    }
    Some(portcullis_pipeline::ClientCert { subject, sans, sha256 })
}

fn rfc4514_escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let last = v.chars().count().saturating_sub(1);
    for (i, c) in v.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && (c == '#' || c == ' '))
            || (i == last && c == ' ');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod client_cert_tests {
    use super::*;

    #[test]
    fn client_cert_info_reads_subject_sans_and_fingerprint() {
        let mut params = rcgen::CertificateParams::new(vec!["svc-a.internal".to_string()]).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(rcgen::DnType::OrganizationName, "Example, Inc");
        params.distinguished_name.push(rcgen::DnType::CommonName, "svc-a");
        params.subject_alt_names.push(rcgen::SanType::IpAddress("127.0.0.1".parse().unwrap()));
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let info = client_cert_info(cert.der()).unwrap();
        assert_eq!(info.subject, "CN=svc-a,O=Example\\, Inc");
        assert_eq!(info.sans, vec!["DNS:svc-a.internal", "IP:127.0.0.1"]);
        assert_eq!(info.sha256.len(), 64);
        assert!(client_cert_info(&CertificateDer::from(vec![1, 2, 3])).is_none());
    }
}
