//! `scimlab bench large`: a `scimlab serve` process over a data directory holding many
//! users. Start to ready line and resident memory, against the same process over an empty
//! directory measured in the same run; then reads (by id, `userName eq`, cursor and deep
//! `startIndex` pages) and the memory they leave.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;

use super::hotpath::{spawn, Served};
use super::{drive, load_client, seed_users, Stats};
use crate::clock::{SystemClock, UuidIds};
use crate::service::{ScimService, ServiceConfig};
use crate::store::SledStore;

/// What `bench large` measured.
pub struct LargeReport {
    pub users: usize,
    pub fill: Duration,
    pub start_empty: Duration,
    pub start_full: Duration,
    pub rss_empty_mb: u64,
    pub rss_full_mb: u64,
    pub peak_full_mb: u64,
    pub reads: Vec<(&'static str, Stats)>,
}

/// Writes `users` users into a data directory through the service, without a flush per
/// write (the fill is not what is measured), then closes it as a stopped server would.
async fn fill(dir: &std::path::Path, users: usize) -> anyhow::Result<()> {
    let db = crate::startup::open_db(Some(dir))?;
    let store = SledStore::open(&db, "default")?;
    let service = Arc::new(ScimService::new(
        Arc::new(store),
        Arc::new(SystemClock),
        Arc::new(UuidIds),
        ServiceConfig { durable_writes: false, ..ServiceConfig::default() },
    ));
    seed_users(&service, 0, users).await?;
    service.store().close().map_err(|e| anyhow::anyhow!("closing the filled store: {e}"))?;
    drop(service);
    db.flush().context("flushing the filled data directory")?;
    Ok(())
}

/// `VmRSS` and `VmHWM` (peak) of a process, in MB.
fn memory_mb(pid: u32) -> anyhow::Result<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).context("reading /proc (Linux only)")?;
    let field = |name: &str| -> anyhow::Result<u64> {
        let line = status.lines().find(|l| l.starts_with(name)).with_context(|| format!("no {name} in /proc"))?;
        let kb: u64 = line.split_whitespace().nth(1).unwrap_or("0").parse()?;
        Ok(kb / 1024)
    };
    Ok((field("VmRSS:")?, field("VmHWM:")?))
}

/// Starts `serve` over `dir`, returning the process and its start-to-ready time.
fn serve(exe: &std::path::Path, dir: &std::path::Path) -> anyhow::Result<(Served, Duration)> {
    let data = dir.to_str().context("temp path is not UTF-8")?;
    let started = Instant::now();
    let served = spawn(exe, &["serve", "--addr", "127.0.0.1:0", "--token", "bench-token", "--data", data])?;
    Ok((served, started.elapsed()))
}

/// Stops `serve` as an operator would (SIGTERM), so it closes its storage.
fn stop(mut served: Served) -> anyhow::Result<()> {
    let status = std::process::Command::new("kill").args(["-TERM", &served.child.id().to_string()]).status()?;
    anyhow::ensure!(status.success(), "kill -TERM failed: {status}");
    let exit = served.child.wait()?;
    anyhow::ensure!(exit.success(), "serve exited with {exit} after SIGTERM");
    Ok(())
}

/// `data`: a directory to fill and keep (filled only when it does not exist yet, so a second
/// run measures the same data without the fill); a temporary one otherwise.
pub async fn large_bench(
    users: usize,
    requests: usize,
    concurrency: usize,
    data: Option<&std::path::Path>,
) -> anyhow::Result<LargeReport> {
    anyhow::ensure!(users > 0, "--users must be at least 1");
    let exe = std::env::current_exe().context("cannot find this binary")?;
    let work = tempfile::tempdir().context("temp dir")?;
    let empty_dir = work.path().join("empty");
    let full_dir = data.map(std::path::Path::to_path_buf).unwrap_or_else(|| work.path().join("full"));

    let (empty, start_empty) = serve(&exe, &empty_dir)?;
    let (rss_empty_mb, _) = memory_mb(empty.child.id())?;
    stop(empty)?;

    let t0 = Instant::now();
    if full_dir.exists() {
        eprintln!("measuring the existing data directory {} (as filled with {users} users)…", full_dir.display());
    } else {
        eprintln!("filling a data directory with {users} users…");
        fill(&full_dir, users).await?;
    }
    let fill_time = t0.elapsed();

    // The first start after the fill, then a stop and the start that is measured: a
    // restarted server is the case that matters.
    let (first, _) = serve(&exe, &full_dir)?;
    stop(first)?;
    let (served, start_full) = serve(&exe, &full_dir)?;
    let (rss_full_mb, _) = memory_mb(served.child.id())?;

    let client = load_client(concurrency)?;
    let base = served.url.clone();
    let budget = Duration::from_secs(60);
    let mut reads = Vec::new();
    // The reads below only mean something if the served store is the filled one.
    let probe: serde_json::Value = client
        .get(format!("{base}/Users"))
        .bearer_auth("bench-token")
        .query(&[("filter", format!("userName eq \"user{:07}@bench.example\"", users - 1)), ("count", "0".into())])
        .send()
        .await?
        .json()
        .await?;
    anyhow::ensure!(
        probe["totalResults"] == 1,
        "{} does not hold the {users} bench users (remove it to fill it again): {probe}",
        full_dir.display()
    );
    // Ids from a cursor walk over the front of the set (also the cursor row's subject).
    let mut ids = Vec::new();
    let page: serde_json::Value = client
        .get(format!("{base}/Users"))
        .bearer_auth("bench-token")
        .query(&[("count", "1000"), ("cursor", ""), ("attributes", "id")])
        .send()
        .await?
        .json()
        .await?;
    for r in page["Resources"].as_array().context("no Resources in a cursor page")? {
        ids.push(r["id"].as_str().unwrap_or_default().to_string());
    }
    anyhow::ensure!(!ids.is_empty(), "the cursor page listed no users: {page}");
    let ids = Arc::new(ids);
    let (c, b, i) = (client.clone(), base.clone(), Arc::clone(&ids));
    reads.push((
        "GET /Users/{id}",
        drive(requests, concurrency, budget, move |k| {
            c.get(format!("{b}/Users/{}", i[k % i.len()])).bearer_auth("bench-token")
        })
        .await,
    ));
    let (c, b) = (client.clone(), base.clone());
    reads.push((
        "GET /Users?filter=userName eq",
        drive(requests, concurrency, budget, move |k| {
            c.get(format!("{b}/Users"))
                .bearer_auth("bench-token")
                .query(&[("filter", format!("userName eq \"user{:07}@bench.example\"", (k * 7919) % users))])
        })
        .await,
    ));
    let next_cursor = page["nextCursor"].as_str().unwrap_or_default().to_string();
    let (c, b) = (client.clone(), base.clone());
    reads.push((
        "GET /Users?cursor&count=100 (second page)",
        drive(requests / 10, concurrency, budget, move |_| {
            c.get(format!("{b}/Users")).bearer_auth("bench-token").query(&[("count", "100"), ("cursor", &next_cursor)])
        })
        .await,
    ));
    let (c, b) = (client.clone(), base.clone());
    reads.push((
        "GET /Users?startIndex&count=100, spread over the set",
        drive(requests / 10, concurrency, budget, move |k| {
            let start = 1 + (k * 7919) % users.max(1);
            c.get(format!("{b}/Users"))
                .bearer_auth("bench-token")
                .query(&[("count", "100".to_string()), ("startIndex", start.to_string())])
        })
        .await,
    ));
    let (_, peak_full_mb) = memory_mb(served.child.id())?;
    stop(served)?;
    Ok(LargeReport { users, fill: fill_time, start_empty, start_full, rss_empty_mb, rss_full_mb, peak_full_mb, reads })
}

pub fn large_table(r: &LargeReport) -> String {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let mut out =
        String::from("| measured | value | baseline (empty data directory) | ratio |\n|---|---:|---:|---:|\n");
    let mut row = |what: &str, value: f64, baseline: f64, unit: &str| {
        out += &format!(
            "| serve, {} users on disk: {what} | {value:.1} {unit} | {baseline:.1} {unit} | {:.2} |\n",
            r.users,
            value / baseline.max(1e-9)
        );
    };
    row("start to ready line (restart)", ms(r.start_full), ms(r.start_empty), "ms");
    row("RSS when ready", r.rss_full_mb as f64, r.rss_empty_mb as f64, "MB");
    row("peak RSS after the reads below", r.peak_full_mb as f64, r.rss_empty_mb as f64, "MB");
    out += &format!("\nfilled in {:.1} s (not a measured row)\n\n", r.fill.as_secs_f64());
    out += &super::stats_table("read", r.reads.iter().map(|(name, s)| (r.users, *name, s)));
    out
}
