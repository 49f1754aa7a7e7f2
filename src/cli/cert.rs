//! `scimlab cert`: a throwaway CA and a server certificate it signed, so `serve --tls-cert`
//! can be tried locally and clients can trust it with `--ca-cert` / `target.caCert` instead
//! of turning verification off (docs/https.md).

use std::path::{Path, PathBuf};

use anyhow::Context;
use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose};
use time::{Duration, OffsetDateTime};

use super::{emit, Exit};

#[derive(clap::Args, Debug)]
pub struct CertArgs {
    /// Directory to write ca.pem, cert.pem and key.pem into.
    #[arg(long, default_value = ".")]
    pub out: PathBuf,
    /// Host names and IP addresses the server certificate is valid for (repeatable).
    #[arg(long = "name", default_values = ["localhost", "127.0.0.1"])]
    pub names: Vec<String>,
    /// Days the certificates are valid.
    #[arg(long, default_value_t = 365)]
    pub days: i64,
    /// Replace files that already exist.
    #[arg(long)]
    pub force: bool,
}

/// A development CA and a server certificate signed by it, as PEM.
pub struct DevCertificates {
    /// The CA certificate clients trust.
    pub ca_pem: String,
    /// The server's certificate (`--tls-cert`).
    pub cert_pem: String,
    /// The server's private key (`--tls-key`).
    pub key_pem: String,
}

impl DevCertificates {
    /// Certificates valid for `names` from `not_before` for `days` days (a negative or
    /// past window makes expired certificates, for tests of expiry handling).
    pub fn generate(names: &[String], not_before: OffsetDateTime, days: i64) -> Result<Self, rcgen::Error> {
        let not_after = not_before + Duration::days(days);
        let ca_key = KeyPair::generate()?;
        let mut ca = CertificateParams::new(Vec::<String>::new())?;
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name.push(DnType::CommonName, "scimlab development CA");
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        (ca.not_before, ca.not_after) = (not_before, not_after);
        let ca_cert = ca.self_signed(&ca_key)?;

        let key = KeyPair::generate()?;
        let mut server = CertificateParams::new(names.to_vec())?;
        server.distinguished_name.push(DnType::CommonName, names.first().map(String::as_str).unwrap_or("localhost"));
        server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        server.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        (server.not_before, server.not_after) = (not_before, not_after);
        let cert = server.signed_by(&key, &ca_cert, &ca_key)?;
        Ok(DevCertificates { ca_pem: ca_cert.pem(), cert_pem: cert.pem(), key_pem: key.serialize_pem() })
    }

    /// Writes `ca.pem`, `cert.pem` and `key.pem` into `dir`.
    pub fn write(&self, dir: &Path, force: bool) -> anyhow::Result<[PathBuf; 3]> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let files = [dir.join("ca.pem"), dir.join("cert.pem"), dir.join("key.pem")];
        if !force {
            if let Some(existing) = files.iter().find(|f| f.exists()) {
                anyhow::bail!(
                    "{} already exists: pass --force to replace it, or --out another directory",
                    existing.display()
                );
            }
        }
        for (path, pem) in files.iter().zip([&self.ca_pem, &self.cert_pem, &self.key_pem]) {
            std::fs::write(path, pem).with_context(|| format!("cannot write {}", path.display()))?;
        }
        Ok(files)
    }
}

pub fn run(args: &CertArgs) -> anyhow::Result<Exit> {
    if args.days < 1 {
        anyhow::bail!("--days must be at least 1, not {}", args.days);
    }
    let certs = DevCertificates::generate(&args.names, OffsetDateTime::now_utc() - Duration::minutes(5), args.days)
        .context("cannot generate the certificates")?;
    let [ca, cert, key] = certs.write(&args.out, args.force)?;
    emit(&format!(
        "wrote {ca} (the CA to trust), {cert} and {key} (valid for {names})\n\
         serve:    scimlab serve --tls-cert {cert} --tls-key {key} --token dev-token\n\
         validate: scimlab validate https://{host}:8080/scim/v2 --ca-cert {ca} --token dev-token\n",
        ca = ca.display(),
        cert = cert.display(),
        key = key.display(),
        names = args.names.join(", "),
        host = args.names.first().map(String::as_str).unwrap_or("localhost"),
    ))?;
    Ok(Exit::Clean)
}
