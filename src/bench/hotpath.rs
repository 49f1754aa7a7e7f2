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

pub struct HotRow {
    pub server: &'static str,
    pub operation: &'static str,
    pub stats: Stats,
    pub baseline: f64,
}

/// Seeds `users` over HTTP and measures GET by id and `userName eq` on one server.
async fn measure(
    client: &reqwest::Client,
    served: &Served,
    users: usize,
    requests: usize,
    concurrency: usize,
) -> anyhow::Result<(Stats, Stats)> {
    let base = served.url.clone();
    let mut ids = Vec::with_capacity(users);
    for i in 0..users {
        let res = client.post(format!("{base}/Users")).bearer_auth("bench-token").json(&bench_user(i)).send().await?;
        anyhow::ensure!(res.status().as_u16() == 201, "seeding user {i}: HTTP {}", res.status());
        let body: serde_json::Value = res.json().await?;
        ids.push(body["id"].as_str().unwrap_or_default().to_string());
    }
    let budget = Duration::from_secs(60);
    let (c, b) = (client.clone(), base.clone());
    let ids = std::sync::Arc::new(ids);
    let by_id = {
        let ids = std::sync::Arc::clone(&ids);
        drive(requests, concurrency, budget, move |k| {
            c.get(format!("{b}/Users/{}", ids[k % ids.len()])).bearer_auth("bench-token")
        })
        .await
    };
    let (c, b) = (client.clone(), base);
    let by_name = drive(requests, concurrency, budget, move |k| {
        c.get(format!("{b}/Users"))
            .bearer_auth("bench-token")
            .query(&[("filter", format!("userName eq \"user{:07}@bench.example\"", (k * 7919) % users))])
    })
    .await;
    Ok((by_id, by_name))
}

pub async fn hotpath_bench(users: usize, requests: usize, concurrency: usize) -> anyhow::Result<Vec<HotRow>> {
    let exe = std::env::current_exe().context("cannot find this binary")?;
    let client = load_client(concurrency)?;
    let mut rows = Vec::new();
    let baseline = spawn(&exe, &["bench", "baseline-server"])?;
    let (c, url) = (client.clone(), baseline.url.clone());
    let base = drive(requests, concurrency, Duration::from_secs(60), move |_| c.get(&url)).await;
    let ceiling = base.per_second();
    rows.push(HotRow {
        server: "baseline (plain actix-web)",
        operation: "GET /baseline",
        stats: base,
        baseline: ceiling,
    });
    for (server, extra) in
        [("scimlab serve, defaults", &[][..]), ("scimlab serve --record-capacity 0", &["--record-capacity", "0"][..])]
    {
        let data = tempfile::tempdir()?;
        let data_dir = data.path().join("data");
        let mut args = vec!["serve", "--addr", "127.0.0.1:0", "--token", "bench-token", "--data"];
        let data_arg = data_dir.to_string_lossy().to_string();
        args.push(&data_arg);
        args.extend_from_slice(extra);
        let served = spawn(&exe, &args)?;
        let (by_id, by_name) = measure(&client, &served, users, requests, concurrency).await?;
        rows.push(HotRow { server, operation: "GET /Users/{id}", stats: by_id, baseline: ceiling });
        rows.push(HotRow { server, operation: "GET /Users?filter=userName eq", stats: by_name, baseline: ceiling });
    }
    Ok(rows)
}

pub fn hotpath_table(rows: &[HotRow]) -> String {
    let lines = rows.iter().map(|r| (format!("| {} | {} |", r.server, r.operation), &r.stats, r.baseline));
    super::ratio_table("| server | operation |", "baseline", lines)
}
