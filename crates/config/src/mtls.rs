//! Per-listener client-certificate verification (mTLS): `client_auth = { ca = "ca.pem", required = true,
//! crl = ["revoked.crl"] }` on a TLS listener, and its validation.
//!
//! Owns: the shape and file checks of these keys. Must not touch: the handshake (that is the proxy's `tls.rs`).

use std::path::PathBuf;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer};
use serde::Deserialize;

use crate::{Config, ConfigError};

/// `[[listeners]] client_auth`: clients present a certificate signed by `ca`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientAuthSection {
    /// PEM bundle of the CA certificates client certificates must chain to.
    pub ca: PathBuf,
    /// `true`: a client without a valid certificate cannot finish the handshake. `false`: a certificate is
    /// verified if presented, and routes decide what an anonymous client may do.
    #[serde(default = "d_true")]
    pub required: bool,
    /// Certificate revocation lists (PEM or DER), relative to the config file.
    #[serde(default)]
    pub crl: Vec<PathBuf>,
}

fn d_true() -> bool {
    true
}

/// Checks every listener's `client_auth`, appending each problem with its key path.
pub(crate) fn validate(config: &Config, errors: &mut Vec<ConfigError>) {
    for (i, l) in config.file.listeners.iter().enumerate() {
        let Some(ca) = &l.client_auth else { continue };
        let p = format!("listeners[{i}].client_auth");
        if l.tls.is_none() {
            errors.push(ConfigError::new(&p, "needs a TLS listener (tls = ...)"));
        }
        let full = config.resolve(&ca.ca);
        match std::fs::read(&full) {
            Err(e) => errors.push(ConfigError::new(format!("{p}.ca"), format!("cannot read {}: {e}", full.display()))),
            Ok(pem) => match CertificateDer::pem_slice_iter(&pem).collect::<Result<Vec<_>, _>>() {
                Ok(c) if !c.is_empty() => {}
                Ok(_) => errors
                    .push(ConfigError::new(format!("{p}.ca"), format!("{} holds no PEM certificate", full.display()))),
                Err(e) => errors.push(ConfigError::new(format!("{p}.ca"), format!("{}: {e}", full.display()))),
            },
        }
        for (k, crl) in ca.crl.iter().enumerate() {
            let full = config.resolve(crl);
            if let Err(e) = read_crls(&full) {
                errors.push(ConfigError::new(format!("{p}.crl[{k}]"), e));
            }
        }
    }
}

/// Reads the CRLs in a file: PEM (`-----BEGIN X509 CRL-----`, one or more) or a single DER CRL.
pub fn read_crls(path: &std::path::Path) -> Result<Vec<CertificateRevocationListDer<'static>>, String> {
    let data = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if data.starts_with(b"-----") || data.iter().take(64).all(|b| b.is_ascii()) {
        let crls = CertificateRevocationListDer::pem_slice_iter(&data)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if crls.is_empty() {
            return Err(format!("{} holds no PEM CRL", path.display()));
        }
        Ok(crls)
    } else {
        Ok(vec![CertificateRevocationListDer::from(data)])
    }
}
