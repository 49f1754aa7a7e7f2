//! `scimlab provision …`: run, watch, on-demand, test connection, logs, control and import.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;

use super::{emit, emit_line, Exit, Format};
use crate::clock::{Clock, SystemClock};
use crate::provision::engine::summary;
use crate::provision::health::JobStatus;
use crate::provision::import::ImportSettings;
use crate::provision::job::ScopeMode;
use crate::provision::log::Status;
use crate::provision::log_query::{LogFilterText, LogFormat};
use crate::provision::{Engine, EngineError, Job, JobState, OnDemandTrace, Progress};

#[derive(clap::Args, Debug)]
pub struct JobArgs {
    /// Job file (JSON, see fixtures/jobs/README.md).
    #[arg(long)]
    job: PathBuf,
    /// State directory (default: .scimlab/state/<job name> next to the job file).
    #[arg(long)]
    state: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct RunArgs {
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
pub enum ProvisionCommand {
    /// Run one cycle (initial or incremental), or keep cycling with --watch.
    /// Exit 0 clean, 2 some objects failed, 3 quarantined/paused/disabled, 1 could not run.
    Run(RunArgs),
    /// Resume a paused job, lift its quarantine, and run (as `run` does).
    Start(RunArgs),
    /// Provision one user (or a group and up to five of its members) now and show every step.
    OnDemand {
        #[command(flatten)]
        job: JobArgs,
        /// objectId, userPrincipalName or mail of the source user.
        #[arg(long, required_unless_present = "group", conflicts_with = "group")]
        user: Option<String>,
        /// objectId or displayName of a source group: the group and up to five of its members.
        #[arg(long)]
        group: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Evaluate a mapping expression against one source object, as Entra's expression
    /// builder does; nothing is sent to the target.
    Expr {
        /// The expression, e.g. 'Join(" ", [givenName], [surname])'.
        expression: String,
        /// A JSON file with one source object's attributes.
        #[arg(long, conflicts_with_all = ["job", "user"])]
        source: Option<PathBuf>,
        /// A job file whose directory holds the user (with --user).
        #[arg(long, requires = "user")]
        job: Option<PathBuf>,
        /// objectId, userPrincipalName or mail of a user of the job's directory.
        #[arg(long, requires = "job")]
        user: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Check that the target answers a filter query as Entra's Test Connection expects.
    TestConnection {
        /// Job file (JSON, see fixtures/jobs/README.md).
        #[arg(long)]
        job: PathBuf,
    },
    /// Export provisioning logs.
    Logs {
        #[command(flatten)]
        job: JobArgs,
        /// jsonl (Graph's provisioningObjectSummary), csv (the summary), csv-steps or
        /// csv-properties (the portal download's other two tables, joined by changeId).
        #[arg(long, default_value = "jsonl")]
        format: String,
        /// Only records with this status (success, failure, skipped, warning).
        #[arg(long)]
        status: Option<String>,
        /// Only records of this action (create, update, delete, disable, stagedDelete, other).
        #[arg(long)]
        action: Option<String>,
        /// Only records whose source or target id or display name contains this text.
        #[arg(long)]
        identity: Option<String>,
        /// Only records at or after this RFC 3339 time.
        #[arg(long)]
        since: Option<String>,
        /// Only records before this RFC 3339 time.
        #[arg(long)]
        until: Option<String>,
        /// Only records of this cycle id.
        #[arg(long)]
        cycle: Option<String>,
    },
    /// Restart: forget the watermark, escrows and quarantine so the next cycle is initial.
    Restart {
        #[command(flatten)]
        job: JobArgs,
        /// Also drop links, so every object is matched again.
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
        #[arg(long, env = "SCIMLAB_TARGET_TOKEN", hide_env_values = true, default_value = "dev-token")]
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
        /// Graph secrets to apply ({"value": [{"key": "BaseAddress", …}]}, as export-entra
        /// writes them): BaseAddress, SecretToken, SyncAll, SkipOutOfScopeDeletions and the
        /// deletion threshold win over --url, --token and --scope.
        #[arg(long)]
        secrets: Option<PathBuf>,
    },
    /// Write the job as Graph's synchronizationSchema (what Entra's "Download schema" and
    /// GET …/jobs/{id}/schema give), and its secrets (BaseAddress, SyncAll, …) separately.
    ExportEntra {
        /// Job file (JSON, see fixtures/jobs/README.md).
        #[arg(long)]
        job: PathBuf,
        /// Write the schema here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Write the secrets here (default with --out: next to it, as NAME.secrets.json).
        #[arg(long)]
        secrets_out: Option<PathBuf>,
        /// Put the target's token into the secrets file (masked as "*" otherwise).
        #[arg(long)]
        include_secrets: bool,
    },
    /// Show the job's state: cycle counts, quarantine, escrows, steady state.
    Status {
        #[command(flatten)]
        job: JobArgs,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
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
pub enum ImportScope {
    Assigned,
    All,
}

/// A terminal progress bar for cycles: processed / total, rate, ETA.
pub struct BarProgress {
    bar: ProgressBar,
}

impl BarProgress {
    pub fn new(visible: bool) -> Self {
        let bar = if visible { ProgressBar::new(0) } else { ProgressBar::hidden() };
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{bar:32}] {percent:>3}% {pos}/{len} objects {per_sec} eta {eta} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        BarProgress { bar }
    }
}

impl Progress for BarProgress {
    fn start(&self, total: usize) {
        self.bar.set_length(total as u64);
        self.bar.set_position(0);
    }
    fn advance(&self, label: &str) {
        self.bar.set_message(label.chars().take(40).collect::<String>());
        self.bar.inc(1);
    }
    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// Where a job keeps its state unless `--state` says otherwise: `.scimlab/state/<job>`
/// next to the job file, so every command finds it whatever the working directory.
pub fn default_state_dir(job: &Job) -> PathBuf {
    job.base_dir.join(".scimlab").join("state").join(&job.spec.name)
}

pub fn seed() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(7)
}

pub(super) fn load_job(path: &Path) -> anyhow::Result<Job> {
    let job = Job::load(path)?;
    for warning in job.warnings() {
        eprintln!("warning: {warning}");
    }
    Ok(job)
}

fn open_state(job: &Job, state_dir: Option<&Path>) -> anyhow::Result<JobState> {
    let dir = state_dir.map(Path::to_path_buf).unwrap_or_else(|| default_state_dir(job));
    Ok(JobState::open(&dir)?)
}

pub fn open_engine(args: &JobArgs, clock: Arc<dyn Clock>) -> anyhow::Result<Engine> {
    let job = load_job(&args.job)?;
    let state = open_state(&job, args.state.as_deref())?;
    Ok(Engine::new(job, state, clock, seed())?)
}

pub async fn run(command: ProvisionCommand) -> anyhow::Result<Exit> {
    match command {
        ProvisionCommand::Run(args) => run_cycles(&args).await,
        ProvisionCommand::Start(args) => {
            open_engine(&args.job, Arc::new(SystemClock))?.start()?;
            run_cycles(&args).await
        }
        ProvisionCommand::OnDemand { job, user, group, format } => match (user, group) {
            (Some(user), _) => on_demand(&job, &user, format).await,
            (None, Some(group)) => group_on_demand(&job, &group, format).await,
            (None, None) => Err(anyhow::anyhow!("give --user KEY or --group KEY")),
        },
        ProvisionCommand::TestConnection { job } => test_connection(&job).await,
        ProvisionCommand::Expr { expression, source, job, user, format } => {
            evaluate_expression(&expression, source.as_deref(), job.as_deref().zip(user.as_deref()), format)
        }
        ProvisionCommand::Logs { job, format, status, action, identity, since, until, cycle } => {
            let filter = LogFilterText { status, action, identity, since, until, cycle_id: cycle };
            emit(&logs(&job, &format, &filter)?)?;
            Ok(Exit::Clean)
        }
        ProvisionCommand::Restart { job, clear_state } => {
            open_engine(&job, Arc::new(SystemClock))?.restart(clear_state)?;
            let links = if clear_state { " with no links" } else { "" };
            emit_line(&format!("restarted: the next cycle is an initial cycle{links}"))?;
            Ok(Exit::Clean)
        }
        ProvisionCommand::ImportEntra { schema, url, token, directory, scope, name, out, secrets } => {
            let scope = match scope {
                ImportScope::Assigned => ScopeMode::Assigned,
                ImportScope::All => ScopeMode::All,
            };
            let settings = ImportSettings { name, url, token, directory, scope };
            super::entra_files::import(&schema, &settings, secrets.as_deref(), out.as_deref())
        }
        ProvisionCommand::ExportEntra { job, out, secrets_out, include_secrets } => {
            super::entra_files::export_entra(&job, out.as_deref(), secrets_out.as_deref(), include_secrets)
        }
        ProvisionCommand::Status { job, format } => {
            let status = open_engine(&job, Arc::new(SystemClock))?.status()?;
            match format {
                Format::Json => emit(&(serde_json::to_string_pretty(&status)? + "\n"))?,
                Format::Text => emit(&status_text(&status))?,
            }
            Ok(Exit::Clean)
        }
        ProvisionCommand::Pause { job } => {
            open_engine(&job, Arc::new(SystemClock))?.pause()?;
            emit_line("paused: no cycle runs until `provision resume`")?;
            Ok(Exit::Clean)
        }
        ProvisionCommand::Resume { job } => {
            open_engine(&job, Arc::new(SystemClock))?.resume()?;
            emit_line("resumed")?;
            Ok(Exit::Clean)
        }
        ProvisionCommand::AllowDeletions { job } => {
            open_engine(&job, Arc::new(SystemClock))?.allow_deletions()?;
            emit_line("deletions allowed for the next cycle")?;
            Ok(Exit::Clean)
        }
    }
}

/// `provision run`: one cycle, or `--watch` cycles on the job's interval. The exit code
/// says how the last cycle went.
async fn run_cycles(args: &RunArgs) -> anyhow::Result<Exit> {
    let mut engine = open_engine(&args.job, Arc::new(SystemClock))?;
    let mut cycles = 0;
    loop {
        let bar = BarProgress::new(!args.quiet);
        let mut exit = match engine.run_cycle(&bar).await {
            Ok(report) => {
                emit_line(&summary(&report))?;
                if report.all_failures() > 0 {
                    Exit::Failures
                } else {
                    Exit::Clean
                }
            }
            Err(e @ (EngineError::Disabled(_) | EngineError::Paused)) => {
                eprintln!("{e}");
                Exit::Held
            }
            // A watching run outlives one failed cycle; the next one retries.
            Err(e) if args.watch => {
                eprintln!("cycle failed: {e}");
                Exit::Error
            }
            Err(e) => return Err(e.into()),
        };
        let status = engine.status()?;
        if let Some(q) = &status.quarantine {
            eprintln!("quarantine ({:?}): {}; next attempt at {}", q.reason, q.detail, q.next_attempt);
            exit = Exit::Held;
        }
        cycles += 1;
        if !args.watch || args.cycles.is_some_and(|m| cycles >= m) {
            return Ok(exit);
        }
        let wait = engine.next_delay()?.max(Duration::from_millis(100));
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = tokio::signal::ctrl_c() => return Ok(exit),
        }
    }
}

fn status_text(s: &JobStatus) -> String {
    let mut out = format!("job {}: {}\n", s.job, s.state);
    let _ = writeln!(out, "  initial cycle complete: {}  steady state: {}", s.initial_cycle_complete, s.steady_state);
    let _ = writeln!(out, "  linked: {} users, {} groups; escrowed: {}", s.users, s.groups, s.escrowed);
    if let Some(p) = &s.progress {
        let _ = writeln!(out, "  running: {}% ({} of {} objects)", p.percent, p.processed, p.total);
    }
    if let Some(c) = &s.last_cycle {
        let _ = writeln!(out, "  last cycle: {}", summary(c));
    }
    let t = &s.statistics;
    let _ = writeln!(
        out,
        "  to date ({} cycles): {} created, {} updated, {} disabled, {} deleted, {} skipped, {} failed",
        t.cycles, t.created, t.updated, t.disabled, t.deleted, t.skipped, t.failed
    );
    if let Some(at) = &s.steady_state_at {
        let _ = writeln!(out, "  steady state reached at {at}");
    }
    if let Some(q) = &s.quarantine {
        let _ = writeln!(out, "  quarantine ({:?}): {}; next attempt at {}", q.reason, q.detail, q.next_attempt);
    }
    if let Some(e) = &s.last_error {
        let _ = writeln!(out, "  last error: {e}");
    }
    let _ = writeln!(
        out,
        "  Graph ids (serve --job): servicePrincipal {}, job {}",
        s.graph.service_principal_id, s.graph.job_id
    );
    out
}

/// `provision on-demand`: one user through the cycle's code path, every step shown.
async fn on_demand(args: &JobArgs, user: &str, format: Format) -> anyhow::Result<Exit> {
    let mut engine = open_engine(args, Arc::new(SystemClock))?;
    let trace = engine.provision_on_demand(user).await?;
    match format {
        Format::Json => emit(&(serde_json::to_string_pretty(&trace.to_graph())? + "\n"))?,
        Format::Text => emit(&on_demand_text(&trace, &engine.job().source().to_string()))?,
    }
    Ok(if trace.result == Status::Failure { Exit::Failures } else { Exit::Clean })
}

/// `provision on-demand --group`: the members' traces, then the group's.
async fn group_on_demand(args: &JobArgs, group: &str, format: Format) -> anyhow::Result<Exit> {
    let mut engine = open_engine(args, Arc::new(SystemClock))?;
    let traces = engine.provision_group_on_demand(group).await?;
    match format {
        Format::Json => {
            let pairs: Vec<Value> = traces.iter().map(OnDemandTrace::to_graph).collect();
            emit(&(serde_json::to_string_pretty(&pairs)? + "\n"))?
        }
        Format::Text => {
            let source = engine.job().source().to_string();
            emit(&traces.iter().map(|t| on_demand_text(t, &source)).collect::<Vec<_>>().join("\n"))?
        }
    }
    let failed = traces.iter().any(|t| t.result == Status::Failure);
    Ok(if failed { Exit::Failures } else { Exit::Clean })
}

/// The trace in the portal's five steps (docs/entra-behaviour.md §5.10), then the HTTP
/// exchanges (scimlab's extra).
fn on_demand_text(trace: &OnDemandTrace, source: &str) -> String {
    use crate::provision::log::StepType;
    let object = &trace.log.source_identity.identity_type;
    let mut out =
        format!("Provision on demand: {} ({})\n", trace.log.source_identity.display_name, trace.log.source_identity.id);
    let steps_of = |kinds: &[StepType]| -> Vec<String> {
        trace
            .log
            .provisioning_steps
            .iter()
            .filter(|s| kinds.contains(&s.provisioning_step_type))
            .map(|s| format!("   {:?}: {} — {}", s.status, s.name, s.description))
            .collect()
    };
    let failed_connection = trace.log.error_information.as_ref().is_some_and(|e| {
        matches!(e.error_code.as_str(), "Unauthorized" | "WebExceptionProtocolError" | "SslConnectionError" | "Timeout")
    });
    let mut n = 1;
    if failed_connection {
        let _ = writeln!(out, "\n{n}. Test connection: failed");
        n += 1;
    }
    let _ = writeln!(out, "\n{n}. Import {}: retrieved from {source}", object.to_lowercase());
    steps_of(&[StepType::Import]).iter().for_each(|l| {
        let _ = writeln!(out, "{l}");
    });
    n += 1;
    let in_scope = if trace.scope.in_scope() { "in scope" } else { "out of scope" };
    let _ = writeln!(out, "\n{n}. Determine if {} is in scope: {in_scope}", object.to_lowercase());
    let _ = writeln!(
        out,
        "   active in source: {}  assigned: {}  scope sync all: {}  scoping filters: {}",
        trace.scope.active, trace.scope.assigned, trace.scope.scope_sync_all, trace.scope.passes_scoping_filters
    );
    for c in &trace.scope.clauses {
        let verdict = if c.passed { "pass" } else { "fail" };
        let _ =
            writeln!(out, "   [{verdict}] {} {} (value: {})", c.filter, c.clause, c.value.as_deref().unwrap_or("null"));
    }
    n += 1;
    let _ = writeln!(out, "\n{n}. Match {} between source and target", object.to_lowercase());
    let matching = steps_of(&[StepType::Matching]);
    if matching.is_empty() {
        let _ = writeln!(out, "   (already linked: no lookup needed)");
    }
    matching.iter().for_each(|l| {
        let _ = writeln!(out, "{l}");
    });
    n += 1;
    let _ = writeln!(out, "\n{n}. Perform action: {:?} {:?}", trace.action, trace.result);
    steps_of(&[StepType::Processing, StepType::Export, StepType::ReferenceResolution]).iter().for_each(|l| {
        let _ = writeln!(out, "{l}");
    });
    for a in &trace.attributes {
        let value = a.value.as_ref().map(Value::to_string).unwrap_or_else(|| "null (not sent)".into());
        let error = a.error.as_deref().map(|e| format!("  ERROR: {e}")).unwrap_or_default();
        let _ = writeln!(
            out,
            "   {:<60} {:<40} = {value}{error}",
            a.target,
            a.expression.as_deref().unwrap_or("(default)")
        );
    }
    if let Some(e) = &trace.log.error_information {
        let _ = writeln!(out, "   {}: {}", e.error_code, e.reason);
    }
    let _ = writeln!(out, "\nRequests:");
    for x in &trace.exchanges {
        let _ = writeln!(out, "   {} {} → {}", x.method, x.url, x.status);
        if let Some(body) = &x.request {
            let _ = writeln!(out, "     request:  {body}");
        }
        if !x.response.is_null() {
            let _ = writeln!(out, "     response: {}", x.response);
        }
    }
    out
}

/// `provision expr`: the value of an expression for one source object, or the error with
/// its position. Exit 2 when the expression fails on that object.
fn evaluate_expression(
    text: &str,
    source: Option<&Path>,
    job_user: Option<(&Path, &str)>,
    format: Format,
) -> anyhow::Result<Exit> {
    use crate::provision::expr::{EvalContext, Program};
    use rand::SeedableRng;
    let program = Program::compile(text).map_err(|e| anyhow::anyhow!("the expression does not parse: {e}"))?;
    let (object, domain) = match (source, job_user) {
        (Some(path), _) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            let value: Value =
                serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
            let Value::Object(object) = value else {
                anyhow::bail!("{} must hold one JSON object of source attributes", path.display());
            };
            (object, String::new())
        }
        (None, Some((job_path, key))) => {
            let job = load_job(job_path)?;
            let crate::provision::job::Source::Directory(dir) = job.source() else {
                anyhow::bail!("{}: --user reads the job's directory; this job reads a SCIM source", job_path.display());
            };
            let directory = crate::provision::directory::Directory::load(&dir)?;
            let user = directory.find_user(key)?.with_context(|| {
                format!("no user '{key}' (objectId, userPrincipalName or mail) in {}", dir.display())
            })?;
            (user, job.spec.options.default_domain.clone())
        }
        (None, None) => anyhow::bail!("give the source object: --source FILE, or --job JOB --user KEY"),
    };
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed());
    let mut ctx = EvalContext {
        source: &object,
        now: time::OffsetDateTime::now_utc(),
        rng: &mut rng,
        default_domain: &domain,
        taken: None,
        redacted: false,
    };
    let result = program.evaluate(&mut ctx);
    match (result, format) {
        (Ok(value), Format::Text) => emit_line(&value.to_string())?,
        (Ok(value), Format::Json) => {
            emit_line(&serde_json::json!({"expression": text, "value": value.to_string()}).to_string())?
        }
        (Err(e), Format::Text) => {
            eprintln!("error: {e}");
            return Ok(Exit::Failures);
        }
        (Err(e), Format::Json) => {
            emit_line(&serde_json::json!({"expression": text, "error": e.message, "column": e.column}).to_string())?;
            return Ok(Exit::Failures);
        }
    }
    Ok(Exit::Clean)
}

/// `provision test-connection`.
async fn test_connection(job_path: &Path) -> anyhow::Result<Exit> {
    let job = load_job(job_path)?;
    let mut engine = Engine::new(job, JobState::temporary()?, Arc::new(SystemClock), seed())?;
    match engine.test_connection().await {
        Ok(message) => {
            emit_line(&format!("Connection OK: {message}"))?;
            Ok(Exit::Clean)
        }
        Err(e) => Err(anyhow::anyhow!("test connection failed: {}", explain_connection_error(&e))),
    }
}

fn explain_connection_error(error: &EngineError) -> String {
    use crate::client::ClientError;
    let message = error.to_string();
    let hint = match error {
        EngineError::Client(ClientError::Http { status: 401 | 403, .. }) => {
            "the server refused the credentials: check target.token (or target.oauth)"
        }
        EngineError::Client(ClientError::Http { status: 404, .. }) => {
            "the path is not a SCIM endpoint: the tenant URL should end with the SCIM root (for example /scim/v2) so that /Users exists"
        }
        EngineError::Client(ClientError::Connect { .. }) => "nothing answered at that address: check target.url and that the server runs",
        // The TLS message carries its own advice.
        EngineError::Client(ClientError::Tls { .. }) => return message,
        EngineError::Client(ClientError::NotScim { .. }) => {
            "the endpoint answered, but not with SCIM JSON: check the tenant URL"
        }
        _ => return message,
    };
    format!("{message}\n  hint: {hint}")
}

/// `provision import-entra`: the job goes to `out` (or stdout), notes to stderr.
/// `provision logs`.
fn logs(args: &JobArgs, format: &str, filter: &LogFilterText) -> anyhow::Result<String> {
    let format = LogFormat::parse(format).map_err(|e| anyhow::anyhow!("--{e}"))?;
    let filter = filter.parse().map_err(|e| anyhow::anyhow!("--{e}"))?;
    let job = load_job(&args.job)?;
    let state = open_state(&job, args.state.as_deref())?;
    let entries: Vec<_> = state.logs()?.into_iter().filter(|e| filter.matches(e)).collect();
    Ok(format.render(&entries)?)
}
