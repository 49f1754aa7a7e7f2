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
    /// Measure performance over loopback HTTP and print a markdown table.
    Bench {
        #[command(subcommand)]
        which: BenchKind,
    },
}

#[derive(Subcommand, Debug)]
enum BenchKind {
    /// Filter latency and throughput at growing user counts.
    Filters {
        /// User counts to measure at, in increasing order.
        #[arg(long, value_delimiter = ',', default_value = "1000,10000,100000")]
        sizes: Vec<usize>,
        /// Requests per indexed query (scans get 1/50 of it).
        #[arg(long, default_value_t = 2000)]
        requests: usize,
        /// Requests in flight.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
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
        Command::Bench { which } => {
            telemetry::init(cli.log_format, "warn");
            match which {
                BenchKind::Filters { sizes, requests, concurrency } => {
                    actix_web::rt::System::new().block_on(async move {
                        let rows = scimlab::bench::filter_bench(&sizes, requests, concurrency).await?;
                        scimlab::bench::print_filter_table(&rows);
                        Ok(())
                    })
                }
            }
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
