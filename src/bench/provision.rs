//! `scimlab bench provision`: the engine's cycles into a local scimlab, beside the server's
//! own durable `POST /Users` rate measured on the same server in the same run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::json;

use super::{bench_user, drive, load_client, peak_rss_mb, BenchServer, Stats};
use crate::clock::SystemClock;

/// One row of the provisioning benchmark.
pub struct CycleRow {
    pub users: usize,
    pub cycle: &'static str,
    pub processed: usize,
    pub writes: usize,
    pub elapsed: Duration,
    pub failed: usize,
}

impl CycleRow {
    pub fn per_second(&self) -> f64 {
        self.processed as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// The server's durable `POST /Users` rate with `connections` in flight, on the server the
/// cycles just filled (so the store is as large as the engine saw it).
pub struct RawPostRow {
    pub users: usize,
    pub connections: usize,
    pub stats: Stats,
}

/// What `bench provision` measured.
pub struct ProvisionReport {
    pub cycles: Vec<CycleRow>,
    pub raw_posts: Vec<RawPostRow>,
    /// The engine's `options.concurrency`: the raw rate the initial cycle is compared with.
    pub concurrency: usize,
}

/// Connections at which the raw `POST /Users` rate is measured: one, the engine's, and many
/// (concurrent durable writes should share fsyncs, so the rate should grow with them).
fn raw_post_connections(engine: usize) -> Vec<usize> {
    let mut levels = vec![1, engine, 32];
    levels.sort_unstable();
    levels.dedup();
    levels
}

/// The i-th generated user (every tenth a manager of the next nine); a changed one has a
/// new job title.
fn bench_source_user(i: usize, changed: Option<usize>) -> serde_json::Value {
    let mut u = json!({
        "objectId": format!("00000000-0000-4000-8000-{i:012}"),
        "userPrincipalName": format!("user{i:07}@bench.example"),
        "mailNickname": format!("user{i:07}"),
        "displayName": format!("Bench User {i}"),
        "givenName": format!("Given{i}"),
        "surname": format!("Family{}", i % 997),
        "mail": format!("user{i:07}@bench.example"),
        "jobTitle": "Engineer",
        "department": (["Engineering", "Sales", "Finance", "Legal"][i % 4]),
        "employeeId": format!("E{i:07}"),
        "accountEnabled": true
    });
    if !i.is_multiple_of(10) {
        u["manager"] = json!(format!("00000000-0000-4000-8000-{:012}", i - i % 10));
    }
    if let Some(k) = changed {
        u["jobTitle"] = json!(format!("Senior Engineer {k}"));
    }
    u
}

/// Writes a generated source directory of `n` users and 20 groups of up to 200 members to
/// `path`, one object at a time: the bench holds no copy of it, so the peak it reports is
/// the engine's and the server's. `changed` maps user indexes to their change number.
pub fn write_bench_directory(
    path: &std::path::Path,
    n: usize,
    changed: &std::collections::HashMap<usize, usize>,
) -> anyhow::Result<()> {
    use std::io::Write;
    let file = std::fs::File::create(path).with_context(|| format!("cannot write {}", path.display()))?;
    let mut out = std::io::BufWriter::new(file);
    out.write_all(b"{\"users\":[")?;
    for i in 0..n {
        if i > 0 {
            out.write_all(b",")?;
        }
        serde_json::to_writer(&mut out, &bench_source_user(i, changed.get(&i).copied()))?;
    }
    out.write_all(b"],\"groups\":[")?;
    for g in 0..20 {
        if g > 0 {
            out.write_all(b",")?;
        }
        let members: Vec<String> =
            (g..n).step_by(20).take(200).map(|i| format!("00000000-0000-4000-8000-{i:012}")).collect();
        let group = json!({"objectId": format!("10000000-0000-4000-8000-{g:012}"), "displayName": format!("Bench Group {g}"), "members": members});
        serde_json::to_writer(&mut out, &group)?;
    }
    out.write_all(b"]}")?;
    out.flush()?;
    Ok(())
}

/// An initial cycle of `n` generated users into a local scimlab (durable writes on), then
/// an incremental cycle with `changes` changed users, then the server's raw durable
/// `POST /Users` rate at 1, `concurrency` and 32 connections. With `fault_rate` > 0, that
/// share of SCIM requests is answered 503 (seeded), and the engine's retries and escrows
/// absorb them (the raw rows are then left out: they would measure the faults).
pub async fn provision_bench(
    sizes: &[usize],
    changes: usize,
    concurrency: usize,
    fault_rate: f64,
) -> anyhow::Result<ProvisionReport> {
    use crate::provision::{Engine, Job, JobState};
    let mut report = ProvisionReport { cycles: Vec::new(), raw_posts: Vec::new(), concurrency };
    for &n in sizes {
        let faults: crate::faults::FaultPlan = serde_json::from_value(if fault_rate > 0.0 {
            json!({"seed": 1, "rules": [{"rate": fault_rate, "status": 503}]})
        } else {
            json!({})
        })?;
        faults.check().map_err(|e| anyhow::anyhow!("--fault-rate: {e}"))?;
        let server = BenchServer::start_with_faults(faults).await?;
        let work = tempfile::tempdir().context("temp dir")?;
        let directory_path = work.path().join("directory.json");
        write_bench_directory(&directory_path, n, &Default::default())?;
        let spec = serde_json::from_value(json!({
            "name": "bench",
            "target": {"url": server.base, "token": server.token},
            "source": {"directory": directory_path},
            "scope": "all",
            "options": {"concurrency": concurrency, "deletionThreshold": 0, "retry": {"baseDelayMs": 20, "maxDelayMs": 500}}
        }))?;
        let job = Job::from_spec(spec, work.path().to_path_buf())?;
        let state = JobState::open(&work.path().join("state"))?;
        let mut engine = Engine::new(job, state, Arc::new(SystemClock), 1)?;
        eprintln!("initial cycle of {n} users…");
        report.cycles.push(timed_cycle(&mut engine, n, "initial").await?);

        let changed = (0..changes.min(n)).map(|k| ((k * 7919) % n, k)).collect();
        write_bench_directory(&directory_path, n, &changed)?;
        eprintln!("incremental cycle with {changes} changes…");
        report.cycles.push(timed_cycle(&mut engine, n, "incremental").await?);
        drop(engine);

        if fault_rate == 0.0 {
            for connections in raw_post_connections(concurrency) {
                eprintln!("raw POST /Users with {connections} connections…");
                let client = load_client(connections)?;
                let (base, token) = (server.base.clone(), server.token.clone());
                // New users after the generated ones (bench_user's userNames differ from them).
                let offset = 20_000_000 + connections * 1_000_000;
                let stats = drive(n.min(5000), connections, Duration::from_secs(15), move |k| {
                    client.post(format!("{base}/Users")).bearer_auth(&token).json(&bench_user(offset + k))
                })
                .await;
                report.raw_posts.push(RawPostRow { users: n, connections, stats });
            }
        }
        server.stop().await;
    }
    Ok(report)
}

/// Runs one cycle and times it.
async fn timed_cycle(
    engine: &mut crate::provision::Engine,
    users: usize,
    cycle: &'static str,
) -> anyhow::Result<CycleRow> {
    let started = Instant::now();
    let report = engine.run_cycle(&crate::provision::NoProgress).await?;
    Ok(CycleRow {
        users,
        cycle,
        processed: report.processed,
        writes: report.created + report.updated,
        elapsed: started.elapsed(),
        failed: report.failed,
    })
}

/// The cycles, each initial one as a share of the raw `POST /Users` rate at the engine's
/// concurrency on the same server; then the raw rates.
pub fn cycle_table(report: &ProvisionReport) -> String {
    let raw_at = |users: usize| {
        report
            .raw_posts
            .iter()
            .find(|r| r.users == users && r.connections == report.concurrency)
            .map(|r| r.stats.per_second())
    };
    let mut out = format!(
        "| users | cycle | objects processed | writes | failed | seconds | objects/s | of raw POST at {} connections |\n|---:|---|---:|---:|---:|---:|---:|---:|\n",
        report.concurrency
    );
    for r in &report.cycles {
        let share = match (r.cycle, raw_at(r.users)) {
            ("initial", Some(raw)) => format!("{:.0} %", 100.0 * r.per_second() / raw.max(1.0)),
            _ => "–".to_string(),
        };
        out += &format!(
            "| {} | {} | {} | {} | {} | {:.2} | {:.0} | {share} |\n",
            r.users,
            r.cycle,
            r.processed,
            r.writes,
            r.failed,
            r.elapsed.as_secs_f64(),
            r.per_second()
        );
    }
    if !report.raw_posts.is_empty() {
        out += "\n| users in the store | raw durable POST /Users, connections | requests | errors | req/s | p50 ms | p99 ms |\n|---:|---:|---:|---:|---:|---:|---:|\n";
        for r in &report.raw_posts {
            let s = &r.stats;
            out += &format!(
                "| {} | {} | {} | {} | {:.0} | {:.2} | {:.2} |\n",
                r.users,
                r.connections,
                s.requests,
                s.errors,
                s.per_second(),
                s.p50.as_secs_f64() * 1000.0,
                s.p99.as_secs_f64() * 1000.0
            );
        }
    }
    out += &format!("\npeak RSS of this process (server and engine together): {} MB\n", peak_rss_mb().unwrap_or(0));
    out
}
