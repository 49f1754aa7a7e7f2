//! Server settings, declared once in [`ServeArgs`]: every key is a flag, an environment
//! variable and a key of the TOML file given with `--config` (unknown keys are refused).
//! Layers, lowest first: defaults < config file < environment < command line (clap gives
//! a flag precedence over its variable). [`Settings`] is the resolved result; secrets in
//! it are `secrecy` strings that never print.

use std::path::{Path, PathBuf};

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::service::profile::Profile;

fn is_false(b: &bool) -> bool {
    !*b
}

/// `scimlab serve` options.
#[derive(clap::Args, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "SCIMLAB_ADDR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub addr: Option<String>,
    /// Directory of the sled database [default: ./data].
    #[arg(long, env = "SCIMLAB_DATA")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<PathBuf>,
    /// Keep SCIM resources and tenants in this PostgreSQL database instead of sled, so
    /// several replicas can serve one data set (docs/deploy.md). Example:
    /// postgres://scimlab:secret@db:5432/scimlab
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    /// Schema of --database-url that holds scimlab's tables, created when missing: several
    /// scimlab deployments (or CI pipelines) can share one database [default: the user's
    /// search_path, usually public].
    #[arg(long, env = "SCIMLAB_DATABASE_SCHEMA")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_schema: Option<String>,
    /// Keep data in memory only (nothing is written to disk).
    #[arg(long)]
    #[serde(skip_serializing_if = "is_false")]
    pub in_memory: bool,
    /// Static bearer token clients must send; repeat or separate with commas for several.
    #[arg(long = "token", env = "SCIMLAB_TOKEN", value_delimiter = ',', hide_env_values = true)]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tokens: Vec<String>,
    /// Shared secret for HS256 JWTs.
    #[arg(long, env = "SCIMLAB_JWT_SECRET", hide_env_values = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwt_secret: Option<String>,
    /// PEM public key file for RS256/ES256 JWTs.
    #[arg(long, env = "SCIMLAB_JWT_PUBLIC_KEY")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwt_public_key: Option<String>,
    /// Algorithm of --jwt-public-key: RS256 or ES256 [default: RS256].
    #[arg(long, env = "SCIMLAB_JWT_ALGORITHM")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwt_algorithm: Option<String>,
    /// Required JWT issuer (`iss`).
    #[arg(long, env = "SCIMLAB_JWT_ISSUER")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwt_issuer: Option<String>,
    /// Required JWT audience (`aud`).
    #[arg(long, env = "SCIMLAB_JWT_AUDIENCE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwt_audience: Option<String>,
    /// Accept every request without credentials (local experiments only).
    #[arg(long)]
    #[serde(skip_serializing_if = "is_false")]
    pub no_auth: bool,
    /// Let discovery endpoints (/ServiceProviderConfig, /Schemas, /ResourceTypes) be read without a token.
    #[arg(long)]
    #[serde(skip_serializing_if = "is_false")]
    pub public_discovery: bool,
    /// Quirk profile: strict (RFC only), entra or okta [default: entra].
    #[arg(long, env = "SCIMLAB_PROFILE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<Profile>,
    /// Largest page a list returns (ServiceProviderConfig filter.maxResults) [default: 200].
    #[arg(long, env = "SCIMLAB_MAX_RESULTS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_results: Option<usize>,
    /// Largest request body in bytes [default: 1048576].
    #[arg(long, env = "SCIMLAB_MAX_PAYLOAD_BYTES")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_payload_bytes: Option<usize>,
    /// Longest filter in characters [default: 4096].
    #[arg(long, env = "SCIMLAB_FILTER_MAX_LENGTH")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter_max_length: Option<usize>,
    /// Deepest filter nesting [default: 32].
    #[arg(long, env = "SCIMLAB_FILTER_MAX_DEPTH")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter_max_depth: Option<usize>,
    /// External base URL when behind a proxy or tunnel (e.g. https://scim.example.com).
    #[arg(long, env = "SCIMLAB_PUBLIC_URL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    /// HTTP worker threads [default: one per core].
    #[arg(long, env = "SCIMLAB_WORKERS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workers: Option<usize>,
    /// Requests kept by the request recorder; 0 turns recording off [default: 10000].
    #[arg(long, env = "SCIMLAB_RECORD_CAPACITY")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_capacity: Option<usize>,
    /// Most operations in one /Bulk request (ServiceProviderConfig bulk.maxOperations) [default: 1000].
    #[arg(long, env = "SCIMLAB_BULK_MAX_OPERATIONS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bulk_max_operations: Option<usize>,
    /// Bearer token of the /admin API (fault injection, hosted jobs); off when absent.
    #[arg(long, env = "SCIMLAB_ADMIN_TOKEN", hide_env_values = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_token: Option<String>,
    /// Provisioning job to host: cycles run in the background, controlled at /admin/jobs
    /// (repeat for several).
    #[arg(long = "job")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub jobs: Vec<PathBuf>,
    /// documentationUri in ServiceProviderConfig (absent unless set).
    #[arg(long, env = "SCIMLAB_DOCUMENTATION_URI")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub documentation_uri: Option<String>,
    /// PEM certificate chain: serve HTTPS (TLS 1.2 and 1.3) instead of HTTP; needs --tls-key.
    #[arg(long, env = "SCIMLAB_TLS_CERT")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, env = "SCIMLAB_TLS_KEY")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<PathBuf>,
    /// Seed file loaded into the default tenant at start (repeatable): a SCIM ListResponse, an
    /// array of resources, a Bulk request or a directory file; given ids are kept.
    #[arg(long = "seed")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub seeds: Vec<PathBuf>,
    /// Also write the ready line to this file once the server listens.
    #[arg(long, env = "SCIMLAB_READY_FILE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ready_file: Option<PathBuf>,
    /// Tenants besides the default one (config file only: `[[tenants]]` with `name`,
    /// `tokens`, `profile`, `faults`).
    #[arg(skip)]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tenants: Vec<crate::tenants::TenantSpec>,
    /// Faults injected from the start (config file only: `[faults]`, see `crate::faults`).
    #[arg(skip)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub faults: Option<crate::faults::FaultPlan>,
    /// TOML configuration file with these keys.
    #[arg(long, env = "SCIMLAB_CONFIG")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("config file {path}: {message}")]
    Parse { path: String, message: String },
    #[error("{key}: {message}")]
    Invalid { key: &'static str, message: String },
    #[error("HTTPS needs both a certificate and its key: {0} is set, but not {1}")]
    HalfTls(&'static str, &'static str),
    #[error("no credentials configured: pass --token <secret> (or --jwt-secret / --jwt-public-key), or --no-auth for an open local server")]
    NoCredentials,
}

/// PEM files of the server's certificate chain and private key.
#[derive(Debug, Clone, PartialEq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Fully resolved server settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub addr: String,
    pub data: Option<PathBuf>,
    /// PostgreSQL holding resources and tenants (sled in `data` when unset).
    pub database_url: Option<SecretString>,
    /// Schema of `database_url` for scimlab's tables.
    pub database_schema: Option<String>,
    pub tokens: Vec<SecretString>,
    pub jwt: crate::auth::JwtSettings,
    pub no_auth: bool,
    pub public_discovery: bool,
    pub profile: Profile,
    pub max_results: usize,
    pub max_payload_bytes: usize,
    pub filter_max_length: usize,
    pub filter_max_depth: usize,
    pub public_url: Option<String>,
    pub workers: Option<usize>,
    pub admin_token: Option<SecretString>,
    pub bulk_max_operations: usize,
    /// Requests kept by the recorder (0: off).
    pub record_capacity: usize,
    /// Provisioning jobs hosted by the server.
    pub jobs: Vec<PathBuf>,
    /// Tenants besides the default one (served at /tenants/{name}/scim/v2).
    pub tenants: Vec<crate::tenants::TenantSpec>,
    /// Faults injected from the start (replaceable over /admin/faults).
    pub faults: crate::faults::FaultPlan,
    /// Serve HTTPS with this certificate and key.
    pub tls: Option<TlsFiles>,
    /// documentationUri in ServiceProviderConfig.
    pub documentation_uri: Option<String>,
    /// Seed files of the default tenant (loaded at start, and again by reset?seed=true).
    pub seeds: Vec<PathBuf>,
    /// Where to write the ready line besides standard output.
    pub ready_file: Option<PathBuf>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            addr: "127.0.0.1:8080".into(),
            data: Some(PathBuf::from("./data")),
            database_url: None,
            database_schema: None,
            tokens: Vec::new(),
            jwt: Default::default(),
            no_auth: false,
            public_discovery: false,
            profile: Profile::default(),
            max_results: 200,
            max_payload_bytes: 1024 * 1024,
            filter_max_length: 4096,
            filter_max_depth: 32,
            public_url: None,
            workers: None,
            admin_token: None,
            bulk_max_operations: 1000,
            record_capacity: 10_000,
            jobs: Vec::new(),
            tenants: Vec::new(),
            faults: Default::default(),
            tls: None,
            documentation_uri: None,
            seeds: Vec::new(),
            ready_file: None,
        }
    }
}

impl ServeArgs {
    /// These values over `lower`'s: a key set here wins, every other key keeps `lower`'s.
    fn over(&self, lower: &ServeArgs) -> Result<ServeArgs, serde_json::Error> {
        let mut merged = serde_json::to_value(lower)?;
        if let (Some(into), serde_json::Value::Object(upper)) = (merged.as_object_mut(), serde_json::to_value(self)?) {
            into.extend(upper);
        }
        serde_json::from_value(merged)
    }
}

/// Checks the form of a database URL early, so a typo is named before anything starts.
fn database_url(url: Option<String>) -> Result<Option<SecretString>, ConfigError> {
    match url {
        Some(url) if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) => {
            Err(ConfigError::Invalid {
                key: "--database-url",
                message: "must be a PostgreSQL URL such as postgres://user:password@host:5432/dbname".into(),
            })
        }
        other => Ok(other.map(SecretString::from)),
    }
}

/// A schema name is put into SQL as an identifier, so only plain names are taken.
fn database_schema(schema: Option<String>) -> Result<Option<String>, ConfigError> {
    match schema {
        Some(name)
            if name.is_empty()
                || name.len() > 63
                || !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                || name.as_bytes()[0].is_ascii_digit() =>
        {
            Err(ConfigError::Invalid {
                key: "--database-schema",
                message: format!(
                    "'{name}' is not a plain schema name: use lower-case letters, digits and _ (at most 63, not starting with a digit)"
                ),
            })
        }
        other => Ok(other),
    }
}

impl Settings {
    pub fn from_args(args: &ServeArgs) -> Result<Settings, ConfigError> {
        let merged = match &args.config {
            Some(path) => {
                let file = read_file(path)?;
                args.over(&file)
                    .map_err(|e| ConfigError::Parse { path: path.display().to_string(), message: e.to_string() })?
            }
            None => args.clone(),
        };
        Settings::resolve(merged)
    }

    /// Defaults for every key the layers left unset, then the checks.
    fn resolve(a: ServeArgs) -> Result<Settings, ConfigError> {
        let d = Settings::default();
        let non_empty = |key: &'static str, value: Option<String>| match value {
            Some(v) if v.trim().is_empty() => Err(ConfigError::Invalid {
                key,
                message: "is set but empty (an unset environment variable?): give it a value or leave it out".into(),
            }),
            other => Ok(other),
        };
        if a.tokens.iter().any(|t| t.trim().is_empty()) {
            return Err(ConfigError::Invalid { key: "--token", message: "an empty token is not a credential".into() });
        }
        let settings = Settings {
            addr: a.addr.unwrap_or(d.addr),
            data: if a.in_memory { None } else { a.data.or(d.data) },
            database_url: database_url(non_empty("--database-url", a.database_url)?)?,
            database_schema: database_schema(non_empty("--database-schema", a.database_schema)?)?,
            tokens: a.tokens.into_iter().map(SecretString::from).collect(),
            jwt: crate::auth::JwtSettings {
                secret: non_empty("--jwt-secret", a.jwt_secret)?.map(SecretString::from),
                public_key_path: a.jwt_public_key,
                algorithm: a.jwt_algorithm,
                issuer: a.jwt_issuer,
                audience: a.jwt_audience,
            },
            no_auth: a.no_auth,
            public_discovery: a.public_discovery,
            profile: a.profile.unwrap_or(d.profile),
            max_results: a.max_results.unwrap_or(d.max_results).max(1),
            max_payload_bytes: a.max_payload_bytes.unwrap_or(d.max_payload_bytes),
            filter_max_length: a.filter_max_length.unwrap_or(d.filter_max_length),
            filter_max_depth: a.filter_max_depth.unwrap_or(d.filter_max_depth),
            public_url: a.public_url,
            workers: a.workers,
            admin_token: non_empty("--admin-token", a.admin_token)?.map(SecretString::from),
            bulk_max_operations: a.bulk_max_operations.unwrap_or(d.bulk_max_operations).max(1),
            record_capacity: a.record_capacity.unwrap_or(d.record_capacity),
            jobs: a.jobs,
            faults: a.faults.unwrap_or_default(),
            tenants: a.tenants,
            documentation_uri: a.documentation_uri,
            seeds: a.seeds,
            ready_file: a.ready_file,
            tls: match (a.tls_cert, a.tls_key) {
                (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
                (None, None) => None,
                (Some(_), None) => return Err(ConfigError::HalfTls("--tls-cert (tls_cert)", "--tls-key (tls_key)")),
                (None, Some(_)) => return Err(ConfigError::HalfTls("--tls-key (tls_key)", "--tls-cert (tls_cert)")),
            },
        };
        settings.faults.check().map_err(|message| ConfigError::Invalid { key: "faults", message })?;
        if !settings.no_auth
            && settings.tokens.is_empty()
            && settings.jwt.secret.is_none()
            && settings.jwt.public_key_path.is_none()
        {
            return Err(ConfigError::NoCredentials);
        }
        Ok(settings)
    }
}

/// The config file, parsed with the same keys as the flags (positions in errors).
fn read_file(path: &Path) -> Result<ServeArgs, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| ConfigError::Read { path: path.display().to_string(), source })?;
    toml::from_str(&text).map_err(|e| ConfigError::Parse { path: path.display().to_string(), message: e.to_string() })
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    fn file(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("scimlab.toml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn flags_win_over_the_file_and_the_file_over_defaults() {
        let (_dir, path) =
            file("addr = \"0.0.0.0:9000\"\ntokens = [\"from-file\"]\nmax_results = 50\nprofile = \"okta\"\n");
        let args = ServeArgs { config: Some(path), max_results: Some(7), ..ServeArgs::default() };
        let s = Settings::from_args(&args).unwrap();
        assert_eq!(s.addr, "0.0.0.0:9000");
        assert_eq!(s.max_results, 7);
        assert_eq!(s.profile, Profile::Okta);
        assert_eq!(s.tokens[0].expose_secret(), "from-file");
        assert_eq!(s.filter_max_depth, 32, "a default");
        assert!(!format!("{s:?}").contains("from-file"), "secrets never print");
    }

    #[test]
    fn unknown_keys_and_empty_secrets_are_refused() {
        let (_dir, path) = file("tokns = [\"x\"]\n");
        let err = Settings::from_args(&ServeArgs { config: Some(path), ..ServeArgs::default() }).unwrap_err();
        assert!(err.to_string().contains("tokns"), "{err}");
        let empty = ServeArgs { jwt_secret: Some(String::new()), ..ServeArgs::default() };
        assert!(Settings::from_args(&empty).unwrap_err().to_string().contains("--jwt-secret"));
        let blank = ServeArgs { tokens: vec![" ".into()], ..ServeArgs::default() };
        assert!(Settings::from_args(&blank).is_err());
    }
}
