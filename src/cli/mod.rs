//! The command line: clap types and one file per command group. `main.rs` only calls
//! [`main`]. Every command ends with an [`Exit`] code from one table (README "Exit codes").

pub mod bench;
pub mod cert;
pub mod demo;
mod entra_files;
pub mod output;
pub mod provision;
pub mod serve;
pub mod validate;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use output::{emit, emit_line, Exit, Format};

use crate::telemetry::{self, LogFormat};

/// SCIM 2.0 service provider, Entra-style provisioning engine and SCIM validator.
#[derive(Parser)]
#[command(name = "scimlab", version, about)]
pub struct Cli {
    /// Log output format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Pretty, env = "SCIMLAB_LOG_FORMAT")]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the SCIM 2.0 server (HTTP, or HTTPS with --tls-cert and --tls-key).
    Serve(Box<crate::config::ServeArgs>),
    /// Mint an HS256 JWT for testing a server started with --jwt-secret.
    Token(serve::TokenArgs),
    /// Write a development CA and a server certificate signed by it (for `serve --tls-cert`).
    Cert(cert::CertArgs),
    /// Run the Entra-style provisioning engine.
    Provision {
        #[command(subcommand)]
        action: provision::ProvisionCommand,
    },
    /// Start a server and provision the built-in 200-user directory into it end to end.
    Demo(demo::DemoArgs),
    /// Check a SCIM endpoint for compliance (RFC 7643/7644 and Entra interop); exit 2 when a
    /// required check fails.
    Validate(Box<validate::ValidateArgs>),
    /// Measure performance over loopback HTTP and print a markdown table.
    Bench {
        #[command(subcommand)]
        which: bench::BenchKind,
    },
}

/// Parses the command line, runs the command, and turns its result into an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(exit) => exit.into(),
        Err(e) if e.is::<output::PipeClosed>() => Exit::Clean.into(),
        Err(e) => {
            eprintln!("error: {}", error_chain(&e));
            Exit::Error.into()
        }
    }
}

/// The error and its causes, each said once (a cause whose text the outer message already
/// contains is not repeated).
pub fn error_chain(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let part = cause.to_string();
        if !text.contains(&part) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&part);
        }
    }
    text
}

fn run(cli: Cli) -> anyhow::Result<Exit> {
    match cli.command {
        Command::Serve(args) => {
            let _logs = telemetry::init(cli.log_format, "info");
            serve::serve(&args)
        }
        Command::Token(args) => serve::token(&args),
        Command::Cert(args) => cert::run(&args),
        Command::Provision { action } => {
            let _logs = telemetry::init(cli.log_format, "warn");
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            runtime.block_on(provision::run(action))
        }
        Command::Validate(args) => {
            let _logs = telemetry::init(cli.log_format, "error");
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            runtime.block_on(validate::run(*args))
        }
        Command::Demo(args) => {
            let _logs = telemetry::init(cli.log_format, "warn");
            actix_web::rt::System::new().block_on(demo::run(&args))
        }
        Command::Bench { which } => {
            // The benches provoke errors on purpose (injected 503s); RUST_LOG shows them.
            let _logs = telemetry::init(cli.log_format, "off");
            actix_web::rt::System::new().block_on(bench::run(which))
        }
    }
}
