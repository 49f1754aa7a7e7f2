//! Which servers a client trusts: the platform's roots (the operating system's store and
//! Mozilla's bundle), plus CA files the user names, or nothing at all when asked to skip
//! verification for a development server. See docs/https.md.

use std::path::{Path, PathBuf};

use super::ClientError;

/// The environment variable OpenSSL-based tools read for an extra CA bundle.
pub const SSL_CERT_FILE: &str = "SSL_CERT_FILE";

#[derive(Debug, Clone, Default, PartialEq)]
pub struct TlsOptions {
    /// PEM files with extra trusted CA certificates (`--ca-cert`, `target.caCert`).
    pub ca_certs: Vec<PathBuf>,
    /// Accept any certificate: for self-signed development servers only.
    pub insecure_skip_verify: bool,
}

impl TlsOptions {
    /// Trust `ca_cert` when given, else `SSL_CERT_FILE` when set.
    pub fn with_ca(ca_cert: Option<PathBuf>, insecure_skip_verify: bool) -> TlsOptions {
        let ca_certs = match ca_cert {
            Some(path) => vec![path],
            None => std::env::var_os(SSL_CERT_FILE).filter(|v| !v.is_empty()).map(PathBuf::from).into_iter().collect(),
        };
        TlsOptions { ca_certs, insecure_skip_verify }
    }

    pub(crate) fn apply(&self, mut builder: reqwest::ClientBuilder) -> Result<reqwest::ClientBuilder, ClientError> {
        for path in &self.ca_certs {
            for cert in read_ca_file(path)? {
                builder = builder.add_root_certificate(cert);
            }
        }
        if self.insecure_skip_verify {
            builder = builder.danger_accept_invalid_certs(true);
        }
        Ok(builder)
    }
}

fn read_ca_file(path: &Path) -> Result<Vec<reqwest::Certificate>, ClientError> {
    let pem = std::fs::read(path)
        .map_err(|e| ClientError::Setup(format!("cannot read the CA certificate file {}: {e}", path.display())))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
        ClientError::Setup(format!(
            "{} is not a PEM certificate bundle: {}",
            path.display(),
            super::error::root_cause(&e)
        ))
    })?;
    if certs.is_empty() {
        return Err(ClientError::Setup(format!(
            "{} holds no certificate: it must contain '-----BEGIN CERTIFICATE-----' blocks",
            path.display()
        )));
    }
    Ok(certs)
}
