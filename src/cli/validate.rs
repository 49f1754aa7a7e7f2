//! `scimlab validate URL`: runs the checks and writes the report.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Context;

use super::{emit, Exit};
use crate::client::OAuthClient;
use crate::validate::{validate, Suite, ValidateOptions, ValidateProfile};

#[derive(clap::Args, Debug)]
pub struct ValidateArgs {
    /// The SCIM base URL, e.g. https://app.example.com/scim/v2
    #[arg(required_unless_present = "coverage")]
    url: Option<String>,
    /// Print docs/validator-coverage.md (which vendor tests each check covers) and exit.
    #[arg(long, conflicts_with_all = ["suite", "only"])]
    coverage: bool,
    /// Run exactly a vendor's submission suite, reported test by test under its own names:
    /// entra-gallery (Microsoft's 25 gallery tests, in the entra profile) or okta-oin (Okta's
    /// spec and CRUD tests, in the okta profile).
    #[arg(long, value_enum, conflicts_with = "only")]
    suite: Option<Suite>,
    /// Bearer token for the endpoint.
    #[arg(long, env = "SCIMLAB_TARGET_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Interoperability expectations on top of the RFCs (the same names as `serve --profile`).
    #[arg(long, value_enum, default_value = "entra")]
    profile: ValidateProfile,
    /// Only these check groups or check ids (discovery, auth, users, patch, groups, filters,
    /// paging, etag, bulk, errors, okta, entra-flow; or e.g. users.create).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Report format.
    #[arg(long, value_enum, default_value = "text")]
    format: ReportFormat,
    /// Write the report here (standard output otherwise).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Leave the test objects in place for inspection.
    #[arg(long)]
    keep: bool,
    /// Per-request timeout in seconds.
    #[arg(long, default_value_t = 15)]
    timeout: u64,
    /// PEM file of a CA to trust besides the platform's (else SSL_CERT_FILE when set).
    #[arg(long)]
    ca_cert: Option<PathBuf>,
    /// Do not verify the server's certificate (self-signed development servers only).
    #[arg(long)]
    insecure: bool,
    /// Get the bearer token from this OAuth 2.0 token endpoint (client credentials), as
    /// Microsoft's gallery validation prefers; needs --client-id and --client-secret.
    #[arg(long, requires_all = ["client_id", "client_secret"])]
    oauth_token_url: Option<String>,
    /// OAuth client id (with --oauth-token-url).
    #[arg(long, requires = "oauth_token_url")]
    client_id: Option<String>,
    /// OAuth client secret (with --oauth-token-url).
    #[arg(long, env = "SCIMLAB_CLIENT_SECRET", hide_env_values = true, requires = "oauth_token_url")]
    client_secret: Option<String>,
    /// OAuth scope to ask for (with --oauth-token-url).
    #[arg(long, requires = "oauth_token_url")]
    scope: Option<String>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum ReportFormat {
    Text,
    Json,
    Junit,
}

pub async fn run(args: ValidateArgs) -> anyhow::Result<Exit> {
    if args.insecure {
        eprintln!(
            "warning: --insecure: the server's certificate is not verified; use it only against development servers"
        );
    }
    let url = match args.url {
        Some(url) if !args.coverage => url,
        _ => {
            emit(&crate::validate::suites::coverage_markdown())?;
            return Ok(Exit::Clean);
        }
    };
    let oauth = match (args.oauth_token_url, args.client_id, args.client_secret) {
        (Some(token_url), Some(client_id), Some(client_secret)) => {
            Some(OAuthClient { token_url, client_id, client_secret, scope: args.scope })
        }
        _ => None,
    };
    let options = ValidateOptions {
        base: url,
        token: args.token,
        profile: args.profile,
        only: args.only,
        keep: args.keep,
        timeout: std::time::Duration::from_secs(args.timeout.max(1)),
        ca_cert: args.ca_cert,
        insecure: args.insecure,
        suite: args.suite,
        oauth,
    };
    let report = validate(options).await?;
    let text = match args.format {
        ReportFormat::Text => report.to_text(args.out.is_none() && std::io::stdout().is_terminal()),
        ReportFormat::Json => report.to_json(),
        ReportFormat::Junit => report.to_junit().context("cannot write the JUnit report")?,
    };
    match &args.out {
        Some(path) => {
            std::fs::write(path, &text).with_context(|| format!("cannot write the report to {}", path.display()))?;
            eprintln!("{} — report written to {}", report.summary_line(), path.display());
        }
        None => emit(&text)?,
    }
    if report.success() {
        Ok(Exit::Clean)
    } else {
        if report.passed() + report.failed() == 0 {
            eprintln!("nothing ran: every selected check was skipped");
        }
        Ok(Exit::Failures)
    }
}
