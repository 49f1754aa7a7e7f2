//! The server side of HTTPS: a rustls configuration from PEM files, TLS 1.2 and 1.3 only
//! (Entra refuses anything older; docs/https.md).

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

#[derive(Debug, thiserror::Error)]
pub enum ServerTlsError {
    #[error("cannot read the TLS certificate {path}: {message}")]
    Certificate { path: String, message: String },
    #[error("{path} holds no certificate: it must contain '-----BEGIN CERTIFICATE-----' blocks")]
    NoCertificate { path: String },
    #[error("cannot read the TLS private key {path}: {message} (a PEM PKCS#8, PKCS#1 or SEC1 key is expected)")]
    Key { path: String, message: String },
    #[error("the TLS certificate and key do not work together: {0}")]
    Config(#[from] rustls::Error),
}

/// A rustls server configuration for the certificate chain and key in these PEM files.
pub fn server_config(cert: &Path, key: &Path) -> Result<rustls::ServerConfig, ServerTlsError> {
    let shown = |p: &Path| p.display().to_string();
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| ServerTlsError::Certificate { path: shown(cert), message: pem_message(&e) })?;
    if chain.is_empty() {
        return Err(ServerTlsError::NoCertificate { path: shown(cert) });
    }
    let key_der = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| ServerTlsError::Key { path: shown(key), message: pem_message(&e) })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)?;
    Ok(config)
}

fn pem_message(e: &rustls::pki_types::pem::Error) -> String {
    match e {
        rustls::pki_types::pem::Error::Io(io) => io.to_string(),
        rustls::pki_types::pem::Error::NoItemsFound => "no PEM block of that kind in the file".into(),
        other => format!("not valid PEM ({other:?})"),
    }
}
