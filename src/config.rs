//! Server settings: defaults < TOML config file < environment < command line.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;

use crate::service::profile::Profile;

/// `scimlab serve` options. Every flag also reads an environment variable, and any of
/// them can come from the TOML file given with `--config`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "SCIMLAB_ADDR")]
    pub addr: Option<String>,
    /// Directory of the sled database.
    #[arg(long, env = "SCIMLAB_DATA")]
    pub data: Option<PathBuf>,
    /// Keep data in memory only (nothing is written to disk).
    #[arg(long)]
    pub in_memory: bool,
    /// Static bearer token clients must send; repeat or separate with commas for several.
    #[arg(long = "token", env = "SCIMLAB_TOKEN", value_delimiter = ',')]
    pub tokens: Vec<String>,
    /// Shared secret for HS256 JWTs.
    #[arg(long, env = "SCIMLAB_JWT_SECRET")]
    pub jwt_secret: Option<String>,
    /// PEM public key file for RS256/ES256 JWTs.
    #[arg(long, env = "SCIMLAB_JWT_PUBLIC_KEY")]
    pub jwt_public_key: Option<String>,
    /// Algorithm of --jwt-public-key: RS256 or ES256.
    #[arg(long, env = "SCIMLAB_JWT_ALGORITHM")]
    pub jwt_algorithm: Option<String>,
    /// Required JWT issuer (`iss`).
    #[arg(long, env = "SCIMLAB_JWT_ISSUER")]
    pub jwt_issuer: Option<String>,
    /// Required JWT audience (`aud`).
    #[arg(long, env = "SCIMLAB_JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,
    /// Accept every request without credentials (local experiments only).
    #[arg(long)]
    pub no_auth: bool,
    /// Let discovery endpoints (/ServiceProviderConfig, /Schemas, /ResourceTypes) be read without a token.
    #[arg(long)]
    pub public_discovery: bool,
    /// Quirk profile: strict (RFC only), entra (default) or okta.
    #[arg(long, env = "SCIMLAB_PROFILE")]
    pub profile: Option<Profile>,
    /// Largest page a list returns (ServiceProviderConfig filter.maxResults).
    #[arg(long, env = "SCIMLAB_MAX_RESULTS")]
    pub max_results: Option<usize>,
    /// Largest request body in bytes.
    #[arg(long, env = "SCIMLAB_MAX_PAYLOAD_BYTES")]
    pub max_payload_bytes: Option<usize>,
    /// Longest filter in characters.
    #[arg(long, env = "SCIMLAB_FILTER_MAX_LENGTH")]
    pub filter_max_length: Option<usize>,
    /// Deepest filter nesting.
    #[arg(long, env = "SCIMLAB_FILTER_MAX_DEPTH")]
    pub filter_max_depth: Option<usize>,
    /// External base URL when behind a proxy (e.g. https://scim.example.com).
    #[arg(long, env = "SCIMLAB_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "SCIMLAB_WORKERS")]
    pub workers: Option<usize>,
    /// Requests kept by the request recorder (0 turns recording off).
    #[arg(long, env = "SCIMLAB_RECORD_CAPACITY")]
    pub record_capacity: Option<usize>,
    /// Most operations in one /Bulk request (ServiceProviderConfig bulk.maxOperations).
    #[arg(long, env = "SCIMLAB_BULK_MAX_OPERATIONS")]
    pub bulk_max_operations: Option<usize>,
    /// Bearer token of the /admin API (fault injection, hosted jobs); off when absent.
    #[arg(long, env = "SCIMLAB_ADMIN_TOKEN")]
    pub admin_token: Option<String>,
    /// Provisioning job to host: cycles run in the background, controlled at /admin/jobs
    /// (repeat for several).
    #[arg(long = "job")]
    pub jobs: Vec<PathBuf>,
    /// documentationUri in ServiceProviderConfig (absent unless set).
    #[arg(long, env = "SCIMLAB_DOCUMENTATION_URI")]
    pub documentation_uri: Option<String>,
    /// PEM certificate chain: serve HTTPS (TLS 1.2 and 1.3) instead of HTTP; needs --tls-key.
    #[arg(long, env = "SCIMLAB_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, env = "SCIMLAB_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// TOML configuration file.
    #[arg(long, env = "SCIMLAB_CONFIG")]
    pub config: Option<PathBuf>,
}

/// The same settings as a TOML file (`addr = "127.0.0.1:8080"`, `tokens = ["…"]`, …).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    addr: Option<String>,
    data: Option<PathBuf>,
    in_memory: Option<bool>,
    tokens: Option<Vec<String>>,
    jwt_secret: Option<String>,
    jwt_public_key: Option<String>,
    jwt_algorithm: Option<String>,
    jwt_issuer: Option<String>,
    jwt_audience: Option<String>,
    no_auth: Option<bool>,
    public_discovery: Option<bool>,
    profile: Option<String>,
    max_results: Option<usize>,
    max_payload_bytes: Option<usize>,
    filter_max_length: Option<usize>,
    filter_max_depth: Option<usize>,
    public_url: Option<String>,
    workers: Option<usize>,
    admin_token: Option<String>,
    bulk_max_operations: Option<usize>,
    record_capacity: Option<usize>,
    jobs: Option<Vec<PathBuf>>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    documentation_uri: Option<String>,
    /// `[[tenants]]` with `name`, `tokens`, `profile` and `faults`.
    tenants: Option<Vec<crate::tenants::TenantSpec>>,
    /// `[faults]` with `seed` and `[[faults.rules]]` (see `crate::faults`).
    faults: Option<crate::faults::FaultPlan>,
}

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("config file {path}: {message}")]
    Parse { path: String, message: String },
    #[error("HTTPS needs both a certificate and its key: {0} is set, but not {1}")]
    HalfTls(&'static str, &'static str),
    #[error("no credentials configured: pass --token <secret> (or --jwt-secret / --jwt-public-key), or --no-auth for an open local server")]
    NoCredentials,
}

/// Fully resolved server settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub addr: String,
    pub data: Option<PathBuf>,
    pub tokens: Vec<String>,
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
    pub admin_token: Option<String>,
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
}

/// PEM files of the server's certificate chain and private key.
#[derive(Debug, Clone, PartialEq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            addr: "127.0.0.1:8080".into(),
            data: Some(PathBuf::from("./data")),
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
        }
    }
}

impl Settings {
    pub fn from_args(args: &ServeArgs) -> Result<Settings, ConfigError> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let d = Settings::default();
        let profile = match (args.profile, &file.profile) {
            (Some(p), _) => p,
            (None, Some(p)) => p.parse().map_err(|message| ConfigError::Parse {
                path: args.config.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
                message,
            })?,
            (None, None) => d.profile,
        };
        let in_memory = args.in_memory || file.in_memory.unwrap_or(false);
        let settings = Settings {
            addr: args.addr.clone().or(file.addr).unwrap_or(d.addr),
            data: if in_memory { None } else { args.data.clone().or(file.data).or(d.data) },
            tokens: if args.tokens.is_empty() { file.tokens.unwrap_or_default() } else { args.tokens.clone() },
            jwt: crate::auth::JwtSettings {
                secret: args.jwt_secret.clone().or(file.jwt_secret),
                public_key_path: args.jwt_public_key.clone().or(file.jwt_public_key),
                algorithm: args.jwt_algorithm.clone().or(file.jwt_algorithm),
                issuer: args.jwt_issuer.clone().or(file.jwt_issuer),
                audience: args.jwt_audience.clone().or(file.jwt_audience),
            },
            no_auth: args.no_auth || file.no_auth.unwrap_or(false),
            public_discovery: args.public_discovery || file.public_discovery.unwrap_or(false),
            profile,
            max_results: args.max_results.or(file.max_results).unwrap_or(d.max_results).max(1),
            max_payload_bytes: args.max_payload_bytes.or(file.max_payload_bytes).unwrap_or(d.max_payload_bytes),
            filter_max_length: args.filter_max_length.or(file.filter_max_length).unwrap_or(d.filter_max_length),
            filter_max_depth: args.filter_max_depth.or(file.filter_max_depth).unwrap_or(d.filter_max_depth),
            public_url: args.public_url.clone().or(file.public_url),
            workers: args.workers.or(file.workers),
            admin_token: args.admin_token.clone().or(file.admin_token),
            bulk_max_operations: args
                .bulk_max_operations
                .or(file.bulk_max_operations)
                .unwrap_or(d.bulk_max_operations)
                .max(1),
            record_capacity: args.record_capacity.or(file.record_capacity).unwrap_or(d.record_capacity),
            jobs: if args.jobs.is_empty() { file.jobs.unwrap_or_default() } else { args.jobs.clone() },
            faults: file.faults.unwrap_or_default(),
            tenants: file.tenants.unwrap_or_default(),
            documentation_uri: args.documentation_uri.clone().or(file.documentation_uri),
            tls: match (args.tls_cert.clone().or(file.tls_cert), args.tls_key.clone().or(file.tls_key)) {
                (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
                (None, None) => None,
                (Some(_), None) => return Err(ConfigError::HalfTls("--tls-cert (tls_cert)", "--tls-key (tls_key)")),
                (None, Some(_)) => return Err(ConfigError::HalfTls("--tls-key (tls_key)", "--tls-cert (tls_cert)")),
            },
        };
        settings.faults.check().map_err(|message| ConfigError::Parse {
            path: args.config.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
            message: format!("faults: {message}"),
        })?;
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

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| ConfigError::Read { path: path.display().to_string(), source })?;
    toml::from_str(&text).map_err(|e| ConfigError::Parse { path: path.display().to_string(), message: e.to_string() })
}
