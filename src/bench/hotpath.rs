//! `scimlab bench hotpath`: the request hot path of a real `scimlab serve` process with its
//! default configuration (request recording on, INFO request logs written to a pipe) against
//! a plain actix-web handler in its own process, both driven by the same client in the same
//! run, so the figures are ratios the machine's noise cannot fake.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::Context;

use super::{bench_user, drive, load_client, Stats};

/// A child process serving HTTP until dropped.
pub(super) struct Served {
    pub url: String,
    pub child: Child,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `exe args…` and reads the URL from the first stdout line (a JSON ready line with
/// `url`); stderr (the request log) is drained by a thread, as a terminal or a log shipper would.
pub(super) fn spawn(exe: &std::path::Path, args: &[&str]) -> anyhow::Result<Served> {
    // These benches measure the embedded store: a DATABASE_URL in the caller's environment
    // would silently move the servers to PostgreSQL.
    let mut child = Command::new(exe)
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("SCIMLAB_DATABASE_SCHEMA")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start {}", exe.display()))?;
    if let Some(mut stderr) = child.stderr.take() {
        std::thread::spawn(move || {
            let mut sink = [0u8; 64 * 1024];
            while matches!(stderr.read(&mut sink), Ok(n) if n > 0) {}
        });
    }
    let stdout = child.stdout.take().context("no stdout")?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let ready: serde_json::Value =
        serde_json::from_str(&line).with_context(|| format!("no ready line from {args:?}: {line:?}"))?;
    let url = ready["url"].as_str().context("the ready line has no url")?.to_string();
    Ok(Served { url, child })
}

/// The baseline server (`scimlab bench baseline-server`): one route returning a user-sized
/// JSON body, actix-web's defaults, in its own process.
pub async fn baseline_server() -> anyhow::Result<()> {
    let (url, server) = super::baseline_http_server()?;
    println!("{}", serde_json::json!({"event": "ready", "url": url}));
    server.await?;
    Ok(())
}

/// One server and operation, measured once per round.
pub struct HotRow {
    pub server: &'static str,
    pub operation: &'static str,
    /// Each round's figures, with the baseline's req/s measured in the same round.
    pub rounds: Vec<(Stats, f64)>,
}

impl HotRow {
    fn ratios(&self) -> Vec<f64> {
        self.rounds.iter().map(|(s, baseline)| s.per_second() / baseline.max(1.0)).collect()
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

/// Seeds `users` over HTTP; their ids.
async fn seed(client: &reqwest::Client, served: &Served, users: usize) -> anyhow::Result<Vec<String>> {
    let base = &served.url;
    let mut ids = Vec::with_capacity(users);
    for i in 0..users {
        let res = client.post(format!("{base}/Users")).bearer_auth("bench-token").json(&bench_user(i)).send().await?;
        anyhow::ensure!(res.status().as_u16() == 201, "seeding user {i}: HTTP {}", res.status());
        let body: serde_json::Value = res.json().await?;
        ids.push(body["id"].as_str().unwrap_or_default().to_string());
    }
    Ok(ids)
}

/// GET by id and `userName eq` on one seeded server.
async fn measure(
    client: &reqwest::Client,
    url: &str,
    ids: &std::sync::Arc<Vec<String>>,
    requests: usize,
    concurrency: usize,
) -> (Stats, Stats) {
    let budget = Duration::from_secs(60);
    let (c, b, i) = (client.clone(), url.to_string(), std::sync::Arc::clone(ids));
    let by_id = drive(requests, concurrency, budget, move |k| {
        c.get(format!("{b}/Users/{}", i[k % i.len()])).bearer_auth("bench-token")
    })
    .await;
    let (c, b, users) = (client.clone(), url.to_string(), ids.len());
    let by_name = drive(requests, concurrency, budget, move |k| {
        c.get(format!("{b}/Users"))
            .bearer_auth("bench-token")
            .query(&[("filter", format!("userName eq \"user{:07}@bench.example\"", (k * 7919) % users))])
    })
    .await;
    (by_id, by_name)
}

/// The baseline and both scimlab servers, measured in turn `rounds` times: each ratio is
/// against the baseline of its own round, so a round where the shared machine was slow
/// (the baseline moved by a quarter between runs here) cannot skew the others.
pub async fn hotpath_bench(
    users: usize,
    requests: usize,
    concurrency: usize,
    rounds: usize,
) -> anyhow::Result<Vec<HotRow>> {
    let exe = std::env::current_exe().context("cannot find this binary")?;
    let client = load_client(concurrency)?;
    let baseline = spawn(&exe, &["bench", "baseline-server"])?;
    let configurations =
        [("scimlab serve, defaults", &[][..]), ("scimlab serve --record-capacity 0", &["--record-capacity", "0"][..])];
    let mut servers = Vec::new();
    for (name, extra) in configurations {
        let data = tempfile::tempdir()?;
        let data_arg = data.path().join("data").to_string_lossy().to_string();
        let mut args = vec!["serve", "--addr", "127.0.0.1:0", "--token", "bench-token", "--data", &data_arg];
        args.extend_from_slice(extra);
        let served = spawn(&exe, &args)?;
        let ids = std::sync::Arc::new(seed(&client, &served, users).await?);
        servers.push((name, served, ids, data));
    }
    let row = |server, operation| HotRow { server, operation, rounds: Vec::new() };
    let mut rows = vec![row("baseline (plain actix-web)", "GET /baseline")];
    for (name, ..) in &servers {
        rows.push(row(name, "GET /Users/{id}"));
        rows.push(row(name, "GET /Users?filter=userName eq"));
    }
    for _ in 0..rounds.max(1) {
        let (c, url) = (client.clone(), baseline.url.clone());
        let base = drive(requests, concurrency, Duration::from_secs(60), move |_| c.get(&url)).await;
        let ceiling = base.per_second();
        rows[0].rounds.push((base, ceiling));
        for (k, (_, served, ids, _)) in servers.iter().enumerate() {
            let (by_id, by_name) = measure(&client, &served.url, ids, requests, concurrency).await;
            rows[1 + 2 * k].rounds.push((by_id, ceiling));
            rows[2 + 2 * k].rounds.push((by_name, ceiling));
        }
    }
    Ok(rows)
}

/// One line per server and operation: the median round's req/s, each round's share of its
/// baseline, the median share, and the median p99.
pub fn hotpath_table(rows: &[HotRow]) -> String {
    let mut out = String::from(
        "| server | operation | requests per round | errors | median req/s | of baseline, each round | median of baseline | median p99 ms |\n|---|---|---:|---:|---:|---|---:|---:|\n",
    );
    for row in rows {
        let each: Vec<String> = row.ratios().iter().map(|r| format!("{:.0} %", 100.0 * r)).collect();
        let per_second = median(row.rounds.iter().map(|(s, _)| s.per_second()).collect());
        let p99 = median(row.rounds.iter().map(|(s, _)| s.p99.as_secs_f64() * 1000.0).collect());
        let requests = row.rounds.first().map_or(0, |(s, _)| s.requests);
        let errors: usize = row.rounds.iter().map(|(s, _)| s.errors).sum();
        out += &format!(
            "| {} | {} | {requests} | {errors} | {per_second:.0} | {} | {:.0} % | {p99:.2} |\n",
            row.server,
            row.operation,
            each.join(" / "),
            100.0 * median(row.ratios()),
        );
    }
    let failed = rows
        .iter()
        .flat_map(|row| row.rounds.iter().map(move |(stats, _)| (format!("{} {}", row.server, row.operation), stats)));
    out + &super::error_notes(failed)
}
