//! `scimlab bench`: reproducible performance figures over loopback HTTP. Bounded in
//! requests and time; prints a markdown table for docs/perf.md.

pub mod hotpath;
mod http;
pub mod large;
pub mod paging;
mod provision;
mod soak;
mod target;

pub(crate) use http::baseline_http_server;
pub use http::{http_bench, http_table, HttpRow};

use std::sync::Arc;

pub use provision::{cycle_table, provision_bench, write_bench_directory, CycleRow, ProvisionReport, RawPostRow};
pub use soak::{soak, soak_table, SoakReport};
pub use target::{target_bench, target_table, TargetRow};

use crate::client::{HttpOptions, Transport};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::json;

use crate::clock::{SystemClock, UuidIds};
use crate::config::Settings;
use crate::scim::ResourceKind;
use crate::service::{ReadOptions, ScimService, ServiceConfig};
use crate::startup::Application;
use crate::store::SledStore;

/// Latency and throughput of one request mix.
#[derive(Debug, Clone)]
pub struct Stats {
    pub requests: usize,
    pub errors: usize,
    /// What the first failed request got (status and body, or the transport error), so a
    /// table with errors says why.
    pub first_error: Option<String>,
    pub elapsed: Duration,
    pub p50: Duration,
    pub p99: Duration,
}

impl Stats {
    pub fn per_second(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// The load generator's HTTP client (the one client module builds it).
pub(crate) fn load_client(concurrency: usize) -> anyhow::Result<reqwest::Client> {
    let options = HttpOptions { pool_max_idle_per_host: Some(concurrency), ..HttpOptions::default() };
    Ok(Transport::new(&options)?.reqwest().clone())
}

/// Sends `total` requests built by `make(i)` with `concurrency` in flight, stopping early
/// after `budget`. Returns latency percentiles and throughput.
pub async fn drive<F>(total: usize, concurrency: usize, budget: Duration, make: F) -> Stats
where
    F: Fn(usize) -> reqwest::RequestBuilder + Send + Sync + 'static,
{
    let make = Arc::new(make);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + budget;
    let mut tasks = Vec::new();
    for _ in 0..concurrency.max(1) {
        let make = Arc::clone(&make);
        let next = Arc::clone(&next);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let (mut errors, mut first_error) = (0, None);
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= total || Instant::now() > deadline {
                    break;
                }
                let t0 = Instant::now();
                let failure = match make(i).send().await {
                    Ok(res) if res.status().is_success() => res.bytes().await.err().map(|e| e.to_string()),
                    Ok(res) => {
                        let status = res.status();
                        let body = res.text().await.unwrap_or_default();
                        Some(format!("HTTP {status}: {}", body.chars().take(300).collect::<String>()))
                    }
                    Err(e) => {
                        let url = e.url().map(|u| u.to_string()).unwrap_or_default();
                        Some(crate::client::ClientError::from_transport("request", &url, &e).to_string())
                    }
                };
                latencies.push(t0.elapsed());
                if let Some(failure) = failure {
                    errors += 1;
                    first_error.get_or_insert(format!("{failure} (after {} ms)", t0.elapsed().as_millis()));
                }
            }
            (latencies, errors, first_error)
        }));
    }
    let mut latencies = Vec::new();
    let (mut errors, mut first_error) = (0, None);
    for t in tasks {
        match t.await {
            Ok((l, e, first)) => {
                latencies.extend(l);
                errors += e;
                first_error = first_error.or(first);
            }
            Err(e) => {
                errors += 1;
                first_error.get_or_insert(format!("a load task failed: {e}"));
            }
        }
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    Stats {
        requests: latencies.len(),
        errors,
        first_error,
        elapsed,
        p50: percentile(&latencies, 0.5),
        p99: percentile(&latencies, 0.99),
    }
}

/// A server on 127.0.0.1:0 over a fresh temporary directory, seeded directly through the
/// service (seeding is not what is measured).
pub struct BenchServer {
    pub base: String,
    pub token: String,
    pub service: Arc<ScimService>,
    handle: actix_web::dev::ServerHandle,
    _dir: tempfile::TempDir,
}

impl BenchServer {
    /// Request recording is off: benchmarks measure what they name; `bench http` measures
    /// recording separately.
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with(crate::faults::FaultPlan::default(), 0).await
    }

    /// A bench server that misbehaves as `faults` says.
    pub async fn start_with_faults(faults: crate::faults::FaultPlan) -> anyhow::Result<Self> {
        Self::start_with(faults, 0).await
    }

    /// With the request recorder's capacity given (0: off).
    pub async fn start_with(faults: crate::faults::FaultPlan, record_capacity: usize) -> anyhow::Result<Self> {
        Self::start_on(faults, record_capacity, None).await
    }

    /// Keeping resources in `database` (PostgreSQL) instead of sled when given.
    pub async fn start_on(
        faults: crate::faults::FaultPlan,
        record_capacity: usize,
        database: Option<&BenchDatabase>,
    ) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir().context("temp dir")?;
        let token = "bench-token".to_string();
        let settings = Settings {
            addr: "127.0.0.1:0".into(),
            data: Some(dir.path().join("data")),
            tokens: vec![token.clone().into()],
            max_results: 1000,
            faults,
            record_capacity,
            database_url: database.map(|d| d.url.clone().into()),
            database_schema: database.map(|d| d.schema.clone()),
            ..Settings::default()
        };
        let app = Application::build_with(settings, Arc::new(SystemClock), Arc::new(UuidIds))?;
        let base = format!("http://127.0.0.1:{}/scim/v2", app.port());
        let service = app.service();
        let handle = app.handle();
        actix_web::rt::spawn(app.run_until_stopped());
        Ok(BenchServer { base, token, service, handle, _dir: dir })
    }

    pub async fn stop(self) {
        self.handle.stop(true).await;
    }

    /// The server's data directory.
    pub fn data_dir(&self) -> std::path::PathBuf {
        self._dir.path().join("data")
    }
}

/// A PostgreSQL schema the benchmark servers share; dropped by [`BenchDatabase::drop`].
pub struct BenchDatabase {
    pub url: String,
    pub schema: String,
}

impl BenchDatabase {
    /// A fresh schema of `url`'s database, so a run never meets an earlier run's data.
    pub fn fresh(url: &str) -> BenchDatabase {
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        BenchDatabase { url: url.to_string(), schema: format!("scimlab_bench_{}", &suffix[..12]) }
    }

    /// Drops the schema and everything the run stored in it.
    pub fn drop(&self) -> anyhow::Result<()> {
        let database = crate::postgres::PgDatabase::connect(&self.url, None, 1)?;
        database.drop_schema(&self.schema)?;
        Ok(())
    }
}

/// A generated user: `user{i}@bench.example`, externalId `ext-{i}`, a work email.
pub fn bench_user(i: usize) -> serde_json::Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": format!("user{i:07}@bench.example"),
        "externalId": format!("ext-{i:07}"),
        "name": {"givenName": format!("Given{i}"), "familyName": format!("Family{}", i % 997)},
        "displayName": format!("User {i}"),
        "title": if i.is_multiple_of(10) { "Manager" } else { "Engineer" },
        "active": !i.is_multiple_of(17),
        "emails": [{"value": format!("mail{i:07}@bench.example"), "type": "work", "primary": true}]
    })
}

/// Seeds `n` users through the service on the blocking pool (no HTTP, no flush per write).
pub async fn seed_users(service: &Arc<ScimService>, from: usize, n: usize) -> anyhow::Result<()> {
    let service = Arc::clone(service);
    // Eight writers: a networked store answers each create after a round trip, and the
    // writes of several are committed together.
    const SEEDERS: usize = 8;
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        std::thread::scope(|scope| {
            let seeders: Vec<_> = (0..SEEDERS)
                .map(|seeder| {
                    let service = &service;
                    scope.spawn(move || -> anyhow::Result<()> {
                        let opts = ReadOptions::default();
                        for i in (from..from + n).skip(seeder).step_by(SEEDERS) {
                            service
                                .create(ResourceKind::User, &bench_user(i), &opts)
                                .map_err(|e| anyhow::anyhow!("seeding user {i}: {e}"))?;
                        }
                        Ok(())
                    })
                })
                .collect();
            for seeder in seeders {
                seeder.join().map_err(|_| anyhow::anyhow!("a seeding thread panicked"))??;
            }
            Ok::<_, anyhow::Error>(())
        })?;
        service.store().flush().map_err(|e| anyhow::anyhow!("flush: {e}"))?;
        Ok(())
    })
    .await?
}

/// Builds the filter of the i-th request.
type FilterMaker = Box<dyn Fn(usize) -> String + Send + Sync>;

/// One row of the filter benchmark table.
pub struct FilterRow {
    pub users: usize,
    pub query: &'static str,
    pub stats: Stats,
}

/// `scimlab bench filters`: latency and throughput of indexed and scanned filters as the
/// user count grows.
pub async fn filter_bench(sizes: &[usize], requests: usize, concurrency: usize) -> anyhow::Result<Vec<FilterRow>> {
    let server = BenchServer::start().await?;
    let client = load_client(concurrency)?;
    let mut rows = Vec::new();
    let mut seeded = 0;
    for &n in sizes {
        eprintln!("seeding to {n} users…");
        seed_users(&server.service, seeded, n - seeded).await?;
        seeded = n;
        let queries: [(&'static str, FilterMaker, usize); 5] = [
            (
                "userName eq",
                Box::new(move |i| format!("userName eq \"user{:07}@bench.example\"", (i * 7919) % n)),
                requests,
            ),
            ("externalId eq", Box::new(move |i| format!("externalId eq \"ext-{:07}\"", (i * 7919) % n)), requests),
            (
                "emails.value eq",
                Box::new(move |i| format!("emails.value eq \"mail{:07}@bench.example\"", (i * 7919) % n)),
                requests,
            ),
            (
                "userName sw (≤10 hits)",
                Box::new(move |i| format!("userName sw \"user{:06}\"", ((i * 7919) % n) / 10)),
                requests,
            ),
            (
                "scan: title eq and name co",
                Box::new(|i| format!("title eq \"Manager\" and name.givenName co \"{}\"", i % 10)),
                (requests / 50).max(10),
            ),
        ];
        for (label, make_filter, count) in queries {
            let base = server.base.clone();
            let token = server.token.clone();
            let c = client.clone();
            let stats = drive(count, concurrency, Duration::from_secs(20), move |i| {
                c.get(format!("{base}/Users"))
                    .bearer_auth(&token)
                    .query(&[("filter", make_filter(i)), ("count", "10".to_string())])
            })
            .await;
            rows.push(FilterRow { users: n, query: label, stats });
        }
    }
    server.stop().await;
    Ok(rows)
}

pub fn filter_table(rows: &[FilterRow]) -> String {
    let mut out = stats_table("query", rows.iter().map(|r| (r.users, r.query, &r.stats)));
    out += &format!("\npeak RSS of this process (server and load generator): {} MB\n", peak_rss_mb().unwrap_or(0));
    out
}

/// A markdown table of request statistics: one row per (user count, label).
pub(super) fn stats_table<'a>(label: &str, rows: impl Iterator<Item = (usize, &'a str, &'a Stats)>) -> String {
    let mut out = format!(
        "| users | {label} | requests | errors | req/s | p50 ms | p99 ms |\n|---:|---|---:|---:|---:|---:|---:|\n"
    );
    let mut notes = Vec::new();
    for (users, name, stats) in rows {
        out += &format!(
            "| {users} | {name} | {} | {} | {:.0} | {:.2} | {:.2} |\n",
            stats.requests,
            stats.errors,
            stats.per_second(),
            stats.p50.as_secs_f64() * 1000.0,
            stats.p99.as_secs_f64() * 1000.0
        );
        notes.push((format!("{users} {name}"), stats));
    }
    out + &error_notes(notes)
}

/// Under a table: the first error of each row that had any.
pub(super) fn error_notes<'a>(rows: impl IntoIterator<Item = (String, &'a Stats)>) -> String {
    let mut out = String::new();
    for (row, stats) in rows {
        if let Some(first) = &stats.first_error {
            out += &format!(
                "\n{} of {} requests failed in row \"{row}\"; the first: {first}\n",
                stats.errors, stats.requests
            );
        }
    }
    out
}

/// Opens a fresh service directly on a temporary store, for library-level benchmarks.
pub fn temp_service() -> anyhow::Result<Arc<ScimService>> {
    let db = crate::startup::open_db(None)?;
    let store = SledStore::open(&db, "bench")?;
    Ok(Arc::new(ScimService::new(
        Arc::new(store),
        Arc::new(SystemClock),
        Arc::new(UuidIds),
        ServiceConfig { durable_writes: false, ..ServiceConfig::default() },
    )))
}

/// Peak resident set size from /proc (Linux), in MB.
pub fn peak_rss_mb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024)
}

/// A markdown table of measured rows, each with its share of a reference rate measured in
/// the same run. `lead` is the header of the row's leading columns (`| a | b |`).
pub(crate) fn ratio_table<'a>(
    lead: &str,
    reference: &str,
    rows: impl Iterator<Item = (String, &'a Stats, f64)>,
) -> String {
    let columns = lead.matches('|').count().saturating_sub(1);
    let mut out = format!(
        "{lead} requests | errors | req/s | of {reference} | p50 ms | p99 ms |\n|{}---:|---:|---:|---:|---:|---:|\n",
        "---|".repeat(columns)
    );
    let mut notes = Vec::new();
    for (lead, s, against) in rows {
        out += &format!(
            "{lead} {} | {} | {:.0} | {:.0} % | {:.2} | {:.2} |\n",
            s.requests,
            s.errors,
            s.per_second(),
            100.0 * s.per_second() / against.max(1.0),
            s.p50.as_secs_f64() * 1000.0,
            s.p99.as_secs_f64() * 1000.0
        );
        notes.push((lead.trim_matches(|c: char| c == '|' || c.is_whitespace()).replace(" | ", " "), s));
    }
    out + &error_notes(notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A failing server's status and body reach the table, so a row's errors say why.
    #[actix_web::test]
    async fn a_table_names_the_first_error_of_a_row() {
        use actix_web::{web, App, HttpResponse, HttpServer};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port on 127.0.0.1");
        let port = listener.local_addr().expect("the bound address").port();
        let server = HttpServer::new(|| {
            App::new().route("/", web::get().to(|| async { HttpResponse::ServiceUnavailable().body("store busy") }))
        })
        .workers(1)
        .listen(listener)
        .expect("the failing server listens")
        .run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        let client = load_client(2).expect("the load client builds");
        let url = format!("http://127.0.0.1:{port}/");
        let stats = drive(6, 2, Duration::from_secs(10), move |_| client.get(&url)).await;
        assert_eq!((stats.requests, stats.errors), (6, 6));
        let table = stats_table("read", [(1, "GET /", &stats)].into_iter());
        assert!(table.contains("| 1 | GET / | 6 | 6 |"), "{table}");
        assert!(
            table.contains(
                "6 of 6 requests failed in row \"1 GET /\"; the first: HTTP 503 Service Unavailable: store busy"
            ),
            "{table}"
        );
        handle.stop(false).await;
    }
}
