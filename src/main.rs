use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};

/// mimalloc instead of glibc malloc: cycles and request handling allocate and free many
/// small JSON values, and glibc's free-list consolidation showed up as a quarter of an
/// incremental cycle's profile (docs/perf.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use scimlab::auth::{mint_token, Claims};
use scimlab::clock::SystemClock;
use scimlab::commands;
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
    /// Run the Entra-style provisioning engine.
    Provision {
        #[command(subcommand)]
        action: ProvisionCommand,
    },
    /// Start a server and provision the fixtures into it end to end.
    Demo {
        /// Job file to run (its target is replaced by the demo server).
        #[arg(long, default_value = "fixtures/jobs/demo.json")]
        job: PathBuf,
        /// Hide progress bars.
        #[arg(long)]
        quiet: bool,
    },
    /// Check a SCIM endpoint for compliance (RFC 7643/7644 and Entra interop); exit 1 when a
    /// required check fails.
    Validate {
        /// The SCIM base URL, e.g. https://app.example.com/scim/v2
        url: String,
        /// Bearer token for the endpoint.
        #[arg(long, env = "SCIMLAB_VALIDATE_TOKEN")]
        token: Option<String>,
        /// Interoperability expectations on top of the RFCs.
        #[arg(long, value_enum, default_value = "entra")]
        profile: scimlab::validate::ValidateProfile,
        /// Only these check groups (discovery, auth, users, patch, groups, filters, paging, etag, errors, entra-flow).
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
        /// text, json or junit.
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
    },
    /// Measure performance over loopback HTTP and print a markdown table.
    Bench {
        #[command(subcommand)]
        which: BenchKind,
    },
}

#[derive(clap::Args, Debug)]
struct JobArgs {
    /// Job file (JSON, see fixtures/jobs/README.md).
    #[arg(long)]
    job: PathBuf,
    /// State directory (default: .scimlab/state/<job name>).
    #[arg(long)]
    state: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
struct RunArgs {
    #[command(flatten)]
    job: JobArgs,
    /// Keep cycling on the job's interval (or quarantine schedule) until Ctrl-C.
    #[arg(long)]
    watch: bool,
    /// Stop after this many cycles (with --watch).
    #[arg(long)]
    cycles: Option<usize>,
    /// Hide the progress bar.
    #[arg(long)]
    quiet: bool,
}

#[derive(Subcommand, Debug)]
enum ProvisionCommand {
    /// Run one cycle (initial or incremental), or keep cycling with --watch.
    Run(RunArgs),
    /// Resume a paused job, lift its quarantine, and run (as `run` does).
    Start(RunArgs),
    /// Provision one user now and show every step.
    OnDemand {
        #[command(flatten)]
        job: JobArgs,
        /// objectId, userPrincipalName or mail of the source user.
        #[arg(long)]
        user: String,
        /// Print the trace as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check that the target answers a filter query as Entra's Test Connection expects.
    TestConnection {
        #[arg(long)]
        job: PathBuf,
    },
    /// Export provisioning logs.
    Logs {
        #[command(flatten)]
        job: JobArgs,
        /// jsonl or csv.
        #[arg(long, default_value = "jsonl")]
        format: String,
        /// Only records with this status (success, failure, skipped, warning).
        #[arg(long)]
        status: Option<String>,
    },
    /// Restart: forget the watermark, escrows and quarantine so the next cycle is initial
    /// (--clear-state also drops links, so every object is matched again).
    Restart {
        #[command(flatten)]
        job: JobArgs,
        #[arg(long)]
        clear_state: bool,
    },
    /// Turn an Entra/Graph synchronizationSchema export into a job file.
    ImportEntra {
        /// The exported schema JSON (portal: Attribute mappings → Review your schema → Download).
        schema: PathBuf,
        /// Target SCIM base URL for the job.
        #[arg(long, default_value = "http://127.0.0.1:8080/scim/v2")]
        url: String,
        /// Bearer token for the target.
        #[arg(long, env = "SCIMLAB_TARGET_TOKEN", default_value = "dev-token")]
        token: String,
        /// Source directory (JSON file or CSV folder), relative to the job file.
        #[arg(long, default_value = "directory.json")]
        directory: PathBuf,
        /// Sync only assigned users and groups, or all of them (Entra's SyncAll secret).
        #[arg(long, value_enum, default_value = "assigned")]
        scope: ImportScope,
        /// Job name.
        #[arg(long, default_value = "imported")]
        name: String,
        /// Write the job here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Show the job's state: cycle counts, quarantine, escrows, steady state (JSON).
    Status {
        #[command(flatten)]
        job: JobArgs,
    },
    /// Pause the job: no cycle runs until `resume`.
    Pause {
        #[command(flatten)]
        job: JobArgs,
    },
    /// Resume a paused job.
    Resume {
        #[command(flatten)]
        job: JobArgs,
    },
    /// Let the next cycle carry out disables/deletes held by the deletion threshold.
    AllowDeletions {
        #[command(flatten)]
        job: JobArgs,
    },
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum ReportFormat {
    Text,
    Json,
    Junit,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum ImportScope {
    Assigned,
    All,
}

#[derive(Subcommand, Debug)]
enum BenchKind {
    /// Main SCIM operations over HTTP (req/s, p50/p99) with a plain actix-web baseline.
    Http {
        /// User counts to measure at, in increasing order.
        #[arg(long, value_delimiter = ',', default_value = "1000,10000,100000")]
        sizes: Vec<usize>,
        /// Requests per read operation (writes get half, paging and member adds a quarter).
        #[arg(long, default_value_t = 4000)]
        requests: usize,
        /// Requests in flight.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
    },
    /// Provisioning engine: initial and incremental cycles into a local scimlab.
    Provision {
        /// Generated user counts.
        #[arg(long, value_delimiter = ',', default_value = "10000,100000")]
        sizes: Vec<usize>,
        /// Users changed before the incremental cycle.
        #[arg(long, default_value_t = 100)]
        changes: usize,
        /// The job's concurrency towards the target.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// Share of SCIM requests the server answers with 503 (e.g. 0.1).
        #[arg(long, default_value_t = 0.0)]
        fault_rate: f64,
    },
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
        Command::Provision { action } => {
            telemetry::init(cli.log_format, "warn");
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            runtime.block_on(async move {
                match action {
                    ProvisionCommand::Run(RunArgs { job, watch, cycles, quiet }) => {
                        commands::provision_run(&job.job, job.state.as_deref(), watch, cycles, !quiet).await
                    }
                    ProvisionCommand::Start(RunArgs { job, watch, cycles, quiet }) => {
                        commands::open_engine(&job.job, job.state.as_deref(), Arc::new(SystemClock))?.start()?;
                        commands::provision_run(&job.job, job.state.as_deref(), watch, cycles, !quiet).await
                    }
                    ProvisionCommand::OnDemand { job, user, json } => {
                        commands::provision_on_demand(&job.job, job.state.as_deref(), &user, json).await
                    }
                    ProvisionCommand::TestConnection { job } => commands::provision_test_connection(&job).await,
                    ProvisionCommand::Logs { job, format, status } => {
                        print!(
                            "{}",
                            commands::provision_logs(&job.job, job.state.as_deref(), &format, status.as_deref())?
                        );
                        Ok(())
                    }
                    ProvisionCommand::Restart { job, clear_state } => {
                        let engine = commands::open_engine(&job.job, job.state.as_deref(), Arc::new(SystemClock))?;
                        engine.restart(clear_state)?;
                        println!(
                            "restarted: the next cycle is an initial cycle{}",
                            if clear_state { " with no links" } else { "" }
                        );
                        Ok(())
                    }
                    ProvisionCommand::ImportEntra { schema, url, token, directory, scope, name, out } => {
                        let scope = match scope {
                            ImportScope::Assigned => scimlab::provision::job::ScopeMode::Assigned,
                            ImportScope::All => scimlab::provision::job::ScopeMode::All,
                        };
                        let settings =
                            scimlab::provision::import::ImportSettings { name, url, token, directory, scope };
                        commands::provision_import_entra(&schema, &settings, out.as_deref())
                    }
                    ProvisionCommand::Status { job } => {
                        print!("{}", commands::provision_status(&job.job, job.state.as_deref())?);
                        Ok(())
                    }
                    ProvisionCommand::Pause { job } => {
                        commands::open_engine(&job.job, job.state.as_deref(), Arc::new(SystemClock))?.pause()?;
                        println!("paused: no cycle runs until `provision resume`");
                        Ok(())
                    }
                    ProvisionCommand::Resume { job } => {
                        commands::open_engine(&job.job, job.state.as_deref(), Arc::new(SystemClock))?.resume()?;
                        println!("resumed");
                        Ok(())
                    }
                    ProvisionCommand::AllowDeletions { job } => {
                        let engine = commands::open_engine(&job.job, job.state.as_deref(), Arc::new(SystemClock))?;
                        engine.allow_deletions()?;
                        println!("deletions allowed for the next cycle");
                        Ok(())
                    }
                }
            })
        }
        Command::Validate { url, token, profile, only, format, out, keep, timeout } => {
            telemetry::init(cli.log_format, "error");
            let options = scimlab::validate::ValidateOptions {
                base: url,
                token,
                profile,
                only,
                keep,
                timeout: std::time::Duration::from_secs(timeout.max(1)),
            };
            let report = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?
                .block_on(scimlab::validate::validate(options))?;
            use std::io::IsTerminal;
            let text = match format {
                ReportFormat::Text => report.to_text(out.is_none() && std::io::stdout().is_terminal()),
                ReportFormat::Json => report.to_json(),
                ReportFormat::Junit => report.to_junit(),
            };
            match &out {
                Some(path) => {
                    std::fs::write(path, &text).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
                    eprintln!("{} — report written to {}", report.summary_line(), path.display());
                }
                None => print!("{text}"),
            }
            if report.success() {
                Ok(())
            } else {
                Err(anyhow::anyhow!("required checks failed ({})", report.summary_line()))
            }
        }
        Command::Demo { job, quiet } => {
            telemetry::init(cli.log_format, "warn");
            actix_web::rt::System::new().block_on(commands::demo(&job, !quiet))
        }
        Command::Bench { which } => {
            // The benches provoke errors on purpose (injected 503s); RUST_LOG shows them.
            telemetry::init(cli.log_format, "off");
            match which {
                BenchKind::Http { sizes, requests, concurrency } => actix_web::rt::System::new().block_on(async move {
                    let rows = scimlab::bench::http_bench(&sizes, requests, concurrency).await?;
                    scimlab::bench::print_http_table(&rows);
                    Ok(())
                }),
                BenchKind::Provision { sizes, changes, concurrency, fault_rate } => actix_web::rt::System::new()
                    .block_on(async move {
                        let rows = scimlab::bench::provision_bench(&sizes, changes, concurrency, fault_rate).await?;
                        scimlab::bench::print_cycle_table(&rows);
                        Ok(())
                    }),
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
