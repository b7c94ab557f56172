//! TLS termination: rustls with TLS 1.2 and 1.3 only, certificates chosen by SNI, ALPN `h2` + `http/1.1`, and
//! certificates swapped in place on reload (new handshakes use the new set; open connections are untouched).

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
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    cfg.alpn_protocols = if http2 { vec![b"h2".to_vec(), b"http/1.1".to_vec()] } else { vec![b"http/1.1".to_vec()] };
    Ok(Arc::new(cfg))
}
