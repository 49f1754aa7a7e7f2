//! `scimlab demo`: a server and the engine, end to end, on the built-in fixtures. The demo
//! job and its 200-user directory are compiled in (from `fixtures/`, which stay the
//! editable source), so the demo runs from any directory and from the container image.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use serde_json::Value;

use super::provision::BarProgress;
use super::{emit_line, Exit};
use crate::client::{HttpOptions, Request, Transport};
use crate::clock::{SystemClock, UuidIds};
use crate::config::Settings;
use crate::provision::engine::summary;
use crate::provision::{Engine, Job, JobState};
use crate::startup::Application;

const DEMO_JOB: &str = include_str!("../../fixtures/jobs/demo.json");
const DEMO_DIRECTORY: &str = include_str!("../../fixtures/directory/directory.json");

#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// A job file to run instead of the built-in demo job (its target is replaced by the
    /// demo server; its source must be a directory file).
    #[arg(long)]
    job: Option<PathBuf>,
    /// Hide progress bars.
    #[arg(long)]
    quiet: bool,
}

/// The job to run and the directory it reads, copied into `work` so the demo can edit it.
fn demo_job(args: &DemoArgs, work: &std::path::Path) -> anyhow::Result<(Job, PathBuf, String)> {
    let directory_copy = work.join("directory.json");
    let (mut spec, directory_text, shown) = match &args.job {
        Some(path) => {
            let job = Job::load(path)?;
            let crate::provision::job::Source::Directory(source) = job.source() else {
                anyhow::bail!(
                    "{}: the demo needs a job whose source is a directory file, not a SCIM endpoint",
                    path.display()
                );
            };
            let text = std::fs::read_to_string(&source).with_context(|| format!("cannot read {}", source.display()))?;
            (job.spec, text, source.display().to_string())
        }
        None => {
            let spec = serde_json::from_str(DEMO_JOB).context("the built-in demo job does not parse")?;
            (spec, DEMO_DIRECTORY.to_string(), "the built-in 200-user directory".to_string())
        }
    };
    std::fs::write(&directory_copy, directory_text)
        .with_context(|| format!("cannot write {}", directory_copy.display()))?;
    spec.source.directory = Some(directory_copy.clone());
    Ok((Job::from_spec(spec, work.to_path_buf())?, directory_copy, shown))
}

pub async fn run(args: &DemoArgs) -> anyhow::Result<Exit> {
    let work = tempfile::tempdir().context("cannot create a temporary directory")?;
    let token = "demo-token".to_string();
    let settings = Settings {
        addr: "127.0.0.1:0".into(),
        data: Some(work.path().join("scim-data")),
        tokens: vec![token.clone().into()],
        workers: Some(2),
        ..Settings::default()
    };
    let app = Application::build_with(settings, Arc::new(SystemClock), Arc::new(UuidIds))?;
    let base = app.base_url();
    let handle = app.handle();
    let server = tokio::spawn(app.run_until_stopped());
    emit_line(&format!("scimlab demo: SCIM server at {base} (data in {})", work.path().join("scim-data").display()))?;

    let (mut job, directory, shown) = demo_job(args, work.path())?;
    job.spec.target.url = base.clone();
    job.spec.target.token = Some(token.clone());
    let job = Job::from_spec(job.spec, job.base_dir)?;
    let state = JobState::open(&work.path().join("engine-state"))?;
    let mut engine = Engine::new(job, state, Arc::new(SystemClock), super::provision::seed())?;

    emit_line(&format!("test connection: {}", engine.test_connection().await?))?;
    emit_line(&format!("\nInitial cycle ({shown})"))?;
    let report = engine.run_cycle(&BarProgress::new(!args.quiet)).await?;
    emit_line(&format!("  {}", summary(&report)))?;

    let changes = change_some_users(&directory)?;
    emit_line(&format!("\nSource changes: {}", changes.join("; ")))?;
    emit_line("\nIncremental cycle")?;
    let report = engine.run_cycle(&BarProgress::new(!args.quiet)).await?;
    emit_line(&format!("  {}", summary(&report)))?;

    let transport = Transport::new(&HttpOptions::default())?;
    let count = |path: &'static str| {
        let transport = transport.clone();
        let url = format!("{base}{path}");
        let token = token.clone();
        async move {
            let request = Request { bearer: Some(&token), ..Request::new("GET", &url) };
            let res = transport.send(request).await?;
            res.body["totalResults"]
                .as_u64()
                .with_context(|| format!("GET {url} answered {} without totalResults", res.status))
        }
    };
    emit_line(&format!(
        "\nTarget now holds {} users ({} inactive) and {} groups. Logs: {} records.",
        count("/Users?count=0").await?,
        count("/Users?count=0&filter=active%20eq%20false").await?,
        count("/Groups?count=0").await?,
        engine.state().logs()?.len()
    ))?;
    handle.stop(true).await;
    server.await.context("the demo server task failed")??;
    Ok(Exit::Clean)
}

/// Changes a few source users, as an administrator would between cycles.
fn change_some_users(directory: &std::path::Path) -> anyhow::Result<Vec<String>> {
    let mut dir: Value = serde_json::from_str(&std::fs::read_to_string(directory)?)?;
    let users = dir["users"].as_array_mut().context("the demo directory has no 'users' array")?;
    anyhow::ensure!(users.len() > 24, "the demo directory needs at least 25 users, it has {}", users.len());
    let name = |u: &Value| u["displayName"].as_str().unwrap_or("?").to_string();
    let mut changes = Vec::new();
    for (i, title) in [(20usize, "Principal Engineer"), (21, "Head of Sales"), (22, "VP Finance")] {
        users[i]["jobTitle"] = Value::String(title.into());
        changes.push(format!("{} is now {title}", name(&users[i])));
    }
    users[23]["accountEnabled"] = Value::Bool(false);
    changes.push(format!("{} was disabled", name(&users[23])));
    let removed = users.remove(24);
    changes.push(format!("{} was deleted", name(&removed)));
    std::fs::write(directory, serde_json::to_string_pretty(&dir)?)?;
    Ok(changes)
}
