//! The provisioning and demo commands behind the CLI, kept in the library so they are
//! tested like everything else. Output is for people; errors name the file and field.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;

use crate::clock::{Clock, SystemClock, UuidIds};
use crate::config::Settings;
use crate::provision::engine::summary;
use crate::provision::import::{import_entra, ImportSettings};
use crate::provision::job::Source;
use crate::provision::log::{to_csv, Status};
use crate::provision::{Engine, EngineError, Job, JobState, Progress};
use crate::startup::Application;

/// A terminal progress bar for cycles: processed / total, rate, ETA.
pub struct BarProgress {
    bar: ProgressBar,
}

impl BarProgress {
    pub fn new(visible: bool) -> Self {
        let bar = if visible { ProgressBar::new(0) } else { ProgressBar::hidden() };
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{bar:32}] {pos}/{len} objects {per_sec} eta {eta} {msg}")
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

/// Where a job keeps its state unless `--state` says otherwise: `.scimlab/state/<job>`.
pub fn default_state_dir(job: &Job) -> PathBuf {
    PathBuf::from(".scimlab").join("state").join(&job.spec.name)
}

pub fn open_engine(job_path: &Path, state_dir: Option<&Path>, clock: Arc<dyn Clock>) -> anyhow::Result<Engine> {
    let job = Job::load(job_path)?;
    let dir = state_dir.map(Path::to_path_buf).unwrap_or_else(|| default_state_dir(&job));
    let state = JobState::open(&dir)?;
    Ok(Engine::new(job, state, clock, seed())?)
}

fn seed() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(7)
}

/// `scimlab provision run`: one cycle, or `--watch` cycles on the job's interval.
pub async fn provision_run(
    job_path: &Path,
    state_dir: Option<&Path>,
    watch: bool,
    max_cycles: Option<usize>,
    progress: bool,
) -> anyhow::Result<()> {
    let mut engine = open_engine(job_path, state_dir, Arc::new(SystemClock))?;
    let mut cycles = 0;
    loop {
        let bar = BarProgress::new(progress);
        match engine.run_cycle(&bar).await {
            Ok(report) => println!("{}", summary(&report)),
            // A watching run outlives one failed cycle; the next one retries.
            Err(e) if watch && !matches!(e, EngineError::Disabled(_) | EngineError::Paused) => {
                eprintln!("cycle failed: {e}")
            }
            Err(e) => return Err(e.into()),
        }
        let status = engine.status()?;
        if let Some(q) = &status.quarantine {
            eprintln!("quarantine ({:?}): {}; next attempt at {}", q.reason, q.detail, q.next_attempt);
        }
        cycles += 1;
        if !watch || max_cycles.is_some_and(|m| cycles >= m) {
            return Ok(());
        }
        let wait = engine.next_delay()?.max(Duration::from_millis(100));
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}

/// `scimlab provision status`: the job's state as JSON.
pub fn provision_status(job_path: &Path, state_dir: Option<&Path>) -> anyhow::Result<String> {
    let engine = open_engine(job_path, state_dir, Arc::new(SystemClock))?;
    Ok(serde_json::to_string_pretty(&engine.status()?)? + "\n")
}

/// `scimlab provision on-demand`: one user through the cycle's code path, every step shown.
pub async fn provision_on_demand(
    job_path: &Path,
    state_dir: Option<&Path>,
    user: &str,
    json: bool,
) -> anyhow::Result<()> {
    let mut engine = open_engine(job_path, state_dir, Arc::new(SystemClock))?;
    let trace = engine.provision_on_demand(user).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&trace)?);
        return Ok(());
    }
    println!("Provision on demand: {} ({:?})", trace.log.source_identity.display_name, trace.log.source_identity.id);
    println!("\n1. Import user: retrieved from {}", engine.job().source());
    println!("\n2. Determine if user is in scope: {}", if trace.scope.in_scope() { "yes" } else { "no" });
    println!(
        "   active in source: {}  assigned: {}  scope sync all: {}  scoping filters: {}",
        trace.scope.active, trace.scope.assigned, trace.scope.scope_sync_all, trace.scope.passes_scoping_filters
    );
    for c in &trace.scope.clauses {
        println!(
            "   [{}] {} {} (value: {})",
            if c.passed { "pass" } else { "fail" },
            c.filter,
            c.clause,
            c.value.as_deref().unwrap_or("null")
        );
    }
    println!("\n3. Attribute resolution:");
    for a in &trace.attributes {
        println!(
            "   {:<70} {:<45} = {}",
            a.target,
            a.expression.as_deref().unwrap_or("(default)"),
            a.value.as_ref().map(Value::to_string).unwrap_or_else(|| "null (not sent)".into())
        );
    }
    println!("\n4. Steps:");
    for s in &trace.log.provisioning_steps {
        println!("   {:<30} {:?}: {}", s.name, s.status, s.description);
    }
    println!("\n5. Requests:");
    for x in &trace.exchanges {
        println!("   {} {} → {}", x.method, x.url, x.status);
        if let Some(body) = &x.request {
            println!("     request:  {body}");
        }
        if !x.response.is_null() {
            println!("     response: {}", x.response);
        }
    }
    match &trace.log.error_information {
        Some(e) => println!("\nResult: {:?} {:?} — {}: {}", trace.action, trace.result, e.error_code, e.reason),
        None => println!("\nResult: {:?} {:?}", trace.action, trace.result),
    }
    Ok(())
}

/// `scimlab provision test-connection`.
pub async fn provision_test_connection(job_path: &Path) -> anyhow::Result<()> {
    let job = Job::load(job_path)?;
    let mut engine = Engine::new(job, JobState::temporary()?, Arc::new(SystemClock), seed())?;
    match engine.test_connection().await {
        Ok(message) => {
            println!("Connection OK: {message}");
            Ok(())
        }
        Err(e) => Err(anyhow::anyhow!("test connection failed: {}", explain_connection_error(&e.to_string()))),
    }
}

fn explain_connection_error(message: &str) -> String {
    let hint = if message.contains("answered 401") || message.contains("answered 403") {
        "the server refused the credentials: check target.token"
    } else if message.contains("answered 404") {
        "the path is not a SCIM endpoint: the tenant URL should end with the SCIM root (for example /scim/v2) so that /Users exists"
    } else if message.contains("cannot connect") {
        "nothing answered at that address: check target.url and that the server runs"
    } else if message.contains("not SCIM") {
        "the endpoint answered, but not with SCIM JSON: check the tenant URL"
    } else {
        "see the message above"
    };
    format!("{message}\n  hint: {hint}")
}

/// `scimlab provision import-entra`: the job goes to `out` (or stdout), notes to stderr.
pub fn provision_import_entra(schema: &Path, settings: &ImportSettings, out: Option<&Path>) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(schema).with_context(|| format!("cannot read {}", schema.display()))?;
    let imported = import_entra(&text, &schema.display().to_string(), settings)?;
    for note in &imported.notes {
        eprintln!("note: {note}");
    }
    let json = serde_json::to_string_pretty(&imported.spec)? + "\n";
    match out {
        Some(path) => {
            std::fs::write(path, json).with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("wrote {} (set assignments before the first run)", path.display());
        }
        None => print!("{json}"),
    }
    Ok(())
}

/// `scimlab provision logs`.
pub fn provision_logs(
    job_path: &Path,
    state_dir: Option<&Path>,
    format: &str,
    status: Option<&str>,
) -> anyhow::Result<String> {
    let job = Job::load(job_path)?;
    let dir = state_dir.map(Path::to_path_buf).unwrap_or_else(|| default_state_dir(&job));
    let state = JobState::open(&dir)?;
    let wanted = Status::parse_filter(status).map_err(|e| anyhow::anyhow!("--{e}"))?;
    let entries: Vec<_> = state.logs()?.into_iter().filter(|e| wanted.is_none_or(|w| e.status == w)).collect();
    match format {
        "jsonl" => Ok(entries.iter().filter_map(|e| serde_json::to_string(e).ok()).map(|l| l + "\n").collect()),
        "csv" => Ok(to_csv(&entries)?),
        other => Err(anyhow::anyhow!("--format must be jsonl or csv, not '{other}'")),
    }
}

/// `scimlab demo`: a server and the engine, end to end, on fixtures.
pub async fn demo(job_path: &Path, progress: bool) -> anyhow::Result<()> {
    let work = tempfile::tempdir().context("temp dir")?;
    let token = "demo-token".to_string();
    let settings = Settings {
        addr: "127.0.0.1:0".into(),
        data: Some(work.path().join("scim-data")),
        tokens: vec![token.clone()],
        workers: Some(2),
        ..Settings::default()
    };
    let app = Application::build_with(settings, Arc::new(SystemClock), Arc::new(UuidIds))?;
    let base = format!("http://127.0.0.1:{}/scim/v2", app.port());
    let handle = app.handle();
    let server = tokio::spawn(app.run_until_stopped());
    println!("scimlab demo: SCIM server at {base} (data in {})", work.path().join("scim-data").display());

    let mut job = Job::load(job_path).with_context(|| format!("loading {}", job_path.display()))?;
    job.spec.target.url = base.clone();
    job.spec.target.token = Some(token.clone());
    let Source::Directory(original_directory) = job.source() else {
        anyhow::bail!("the demo job must read a directory file, not a SCIM source");
    };
    let directory_copy = work.path().join("directory.json");
    std::fs::copy(&original_directory, &directory_copy)
        .with_context(|| format!("copying {}", original_directory.display()))?;
    job.spec.source.directory = Some(directory_copy.clone());
    let job = Job::from_spec(job.spec, job.base_dir)?;
    let state = JobState::open(&work.path().join("engine-state"))?;
    let mut engine = Engine::new(job, state, Arc::new(SystemClock), seed())?;

    println!("{}", engine.test_connection().await.map(|m| format!("test connection: {m}"))?);
    println!("\nInitial cycle ({})", original_directory.display());
    let report = engine.run_cycle(&BarProgress::new(progress)).await?;
    println!("  {}", summary(&report));

    // Change a few source users, as an administrator would between cycles.
    let mut dir: Value = serde_json::from_str(&std::fs::read_to_string(&directory_copy)?)?;
    let users = dir["users"].as_array_mut().context("directory has users")?;
    let mut changes = Vec::new();
    for (i, title) in [(20usize, "Principal Engineer"), (21, "Head of Sales"), (22, "VP Finance")] {
        users[i]["jobTitle"] = Value::String(title.into());
        changes.push(format!("{} is now {title}", users[i]["displayName"].as_str().unwrap_or("?")));
    }
    users[23]["accountEnabled"] = Value::Bool(false);
    changes.push(format!("{} was disabled", users[23]["displayName"].as_str().unwrap_or("?")));
    let removed = users.remove(24);
    changes.push(format!("{} was deleted", removed["displayName"].as_str().unwrap_or("?")));
    std::fs::write(&directory_copy, serde_json::to_string_pretty(&dir)?)?;
    println!("\nSource changes: {}", changes.join("; "));

    println!("\nIncremental cycle");
    let report = engine.run_cycle(&BarProgress::new(progress)).await?;
    println!("  {}", summary(&report));

    let client = reqwest::Client::new();
    let count = |path: &'static str| {
        let client = client.clone();
        let url = format!("{base}{path}");
        let token = token.clone();
        async move {
            let v: Value = client.get(url).bearer_auth(token).send().await?.json().await?;
            anyhow::Ok(v["totalResults"].as_u64().unwrap_or(0))
        }
    };
    println!(
        "\nTarget now holds {} users ({} inactive) and {} groups. Logs: {} records.",
        count("/Users?count=0").await?,
        count("/Users?count=0&filter=active%20eq%20false").await?,
        count("/Groups?count=0").await?,
        engine.state().logs()?.len()
    );
    handle.stop(true).await;
    let _ = server.await;
    Ok(())
}
