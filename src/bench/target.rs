//! `scimlab bench target`: what a test suite pays for scimlab as its SCIM target. Start to
//! ready line of a fresh `scimlab serve` process (empty, and with a seed file), against the
//! cost of starting the same binary at all (`--version`); and `POST /admin/reset` of a
//! tenant holding many users, against starting a fresh server, the thing reset replaces.

use std::io::BufRead;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;

use super::{bench_user, load_client, seed_users};
use crate::clock::{SystemClock, UuidIds};
use crate::config::Settings;
use crate::startup::Application;

pub struct TargetRow {
    pub what: String,
    pub median: Duration,
    pub baseline: &'static str,
    pub baseline_median: Duration,
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// This binary, `--version`: process start and exit, the floor under any start.
fn version_run(exe: &std::path::Path) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let status = Command::new(exe).arg("--version").stdout(Stdio::null()).status()?;
    anyhow::ensure!(status.success(), "{} --version failed: {status}", exe.display());
    Ok(started.elapsed())
}

/// `scimlab serve` on port 0 until its ready line, then stopped.
fn serve_until_ready(exe: &std::path::Path, extra: &[&str]) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let mut child = Command::new(exe)
        .args(["serve", "--addr", "127.0.0.1:0", "--in-memory", "--token", "bench-token"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot start {}", exe.display()))?;
    let mut line = String::new();
    let stdout = child.stdout.take().context("no stdout")?;
    std::io::BufReader::new(stdout).read_line(&mut line)?;
    let elapsed = started.elapsed();
    let _ = child.kill();
    let _ = child.wait();
    anyhow::ensure!(line.contains("\"ready\""), "serve printed no ready line: {line:?}");
    Ok(elapsed)
}

fn samples(rounds: usize, mut run: impl FnMut() -> anyhow::Result<Duration>) -> anyhow::Result<Duration> {
    Ok(median((0..rounds.max(1)).map(|_| run()).collect::<anyhow::Result<_>>()?))
}

/// `rounds` of each start; `users` in the tenant that is reset, and in the seed file.
pub async fn target_bench(users: usize, rounds: usize) -> anyhow::Result<Vec<TargetRow>> {
    let exe = std::env::current_exe().context("cannot find the scimlab binary")?;
    let work = tempfile::tempdir().context("temp dir")?;
    let seed = work.path().join("seed.json");
    let resources: Vec<_> = (0..users).map(bench_user).collect();
    std::fs::write(&seed, serde_json::to_vec(&resources)?)?;
    let seed_arg = seed.to_str().context("temp path is not UTF-8")?.to_string();

    let version = samples(rounds, || version_run(&exe))?;
    let empty = samples(rounds, || serve_until_ready(&exe, &[]))?;
    let seeded = samples(rounds, || serve_until_ready(&exe, &["--seed", &seed_arg]))?;

    let settings = Settings {
        addr: "127.0.0.1:0".into(),
        data: Some(work.path().join("data")),
        tokens: vec!["bench-token".to_string().into()],
        admin_token: Some("bench-admin".to_string().into()),
        record_capacity: 0,
        ..Settings::default()
    };
    let app = Application::build_with(settings, Arc::new(SystemClock), Arc::new(UuidIds))?;
    let admin = app.base_url().replace("/scim/v2", "/admin");
    let (service, handle) = (app.service(), app.handle());
    actix_web::rt::spawn(app.run_until_stopped());
    let http = load_client(1)?;
    let mut resets = Vec::new();
    for _ in 0..rounds.max(1) {
        seed_users(&service, 0, users).await?;
        let started = Instant::now();
        let res = http.post(format!("{admin}/reset")).bearer_auth("bench-admin").send().await?;
        resets.push(started.elapsed());
        anyhow::ensure!(res.status().is_success(), "reset answered {}", res.status());
    }
    handle.stop(true).await;

    Ok(vec![
        TargetRow {
            what: "serve, empty: start to ready line".into(),
            median: empty,
            baseline: "`scimlab --version`",
            baseline_median: version,
        },
        TargetRow {
            what: format!("serve --seed ({users} users): start to ready line"),
            median: seeded,
            baseline: "`scimlab --version`",
            baseline_median: version,
        },
        TargetRow {
            what: format!("POST /admin/reset ({users} users, on disk)"),
            median: median(resets),
            baseline: "fresh `serve` to ready line",
            baseline_median: empty,
        },
    ])
}

pub fn target_table(rows: &[TargetRow]) -> String {
    let mut out = String::from("| measured | median ms | baseline | baseline ms | ratio |\n|---|---:|---|---:|---:|\n");
    for r in rows {
        let (ms, base) = (r.median.as_secs_f64() * 1e3, r.baseline_median.as_secs_f64() * 1e3);
        out.push_str(&format!("| {} | {ms:.1} | {} | {base:.1} | {:.2} |\n", r.what, r.baseline, ms / base.max(1e-9)));
    }
    out
}
