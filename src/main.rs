use std::process::ExitCode;

use clap::{Parser, Subcommand};

use scimlab::auth::{mint_token, Claims};
use scimlab::config::{ServeArgs, Settings};
use scimlab::startup::Application;
use scimlab::telemetry::{self, LogFormat};

/// SCIM 2.0 service provider, Entra-style provisioning engine and SCIM validator.
#[derive(Parser, Debug)]
#[command(name = "scimlab", version, about)]
struct Cli {
    /// Log output format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Pretty, env = "SCIMLAB_LOG_FORMAT")]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the SCIM 2.0 server.
    Serve(Box<ServeArgs>),
    /// Mint an HS256 JWT for testing a server started with --jwt-secret.
    Token {
        /// The server's --jwt-secret.
        #[arg(long)]
        secret: String,
        /// Audience claim (`aud`).
        #[arg(long)]
        aud: Option<String>,
        /// Issuer claim (`iss`).
        #[arg(long)]
        iss: Option<String>,
        /// Subject claim (`sub`).
        #[arg(long, default_value = "scimlab-test")]
        sub: String,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 3600)]
        ttl: u64,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => {
            telemetry::init(cli.log_format, "info");
            let settings = Settings::from_args(&args)?;
            actix_web::rt::System::new().block_on(async move {
                let app = Application::build(settings.clone())?;
                tracing::info!(addr = %settings.addr, port = app.port(), profile = %settings.profile, "scimlab serving SCIM at /scim/v2");
                app.run_until_stopped().await
            })
        }
        Command::Token { secret, aud, iss, sub, ttl } => {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
            let mut claims = Claims::new(now, ttl);
            claims.aud = aud;
            claims.iss = iss;
            claims.sub = Some(sub);
            println!("{}", mint_token(&secret, &claims)?);
            Ok(())
        }
    }
}
