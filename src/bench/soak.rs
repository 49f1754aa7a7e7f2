//! `scimlab bench soak`: a server with recording on under a mix of unauthenticated garbage
//! (60 KB query strings, invented methods) and authenticated writes and reads, for a while;
//! then how much the data directory grew and how much memory the process took. The
//! recorder keeps 401s as summaries and its ring within [`crate::recording::MAX_RING_BYTES`],
//! so neither should grow with the garbage.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{bench_user, load_client, peak_rss_mb, BenchServer};

pub struct SoakReport {
    pub seconds: u64,
    pub anonymous_requests: u64,
    pub authenticated_requests: u64,
    pub data_dir_before_mb: f64,
    pub data_dir_after_mb: f64,
    pub ring_limit_mb: f64,
    pub peak_rss_mb: u64,
}

fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// `anonymous_only` leaves the authenticated writers out, to tell the recorder's share of
/// the growth from the stored users'.
pub async fn soak(seconds: u64, concurrency: usize, anonymous_only: bool) -> anyhow::Result<SoakReport> {
    let server = BenchServer::start_with(crate::faults::FaultPlan::default(), 10_000).await?;
    let client = load_client(concurrency)?;
    let before = dir_size(&server.data_dir());
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let (anonymous, authenticated) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let garbage = "x".repeat(60 * 1024);
    let mut tasks = Vec::new();
    for worker in 0..concurrency.max(2) {
        let (client, base, token) = (client.clone(), server.base.clone(), server.token.clone());
        let (anonymous, authenticated, garbage) = (anonymous.clone(), authenticated.clone(), garbage.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = 0usize;
            while Instant::now() < deadline {
                i += 1;
                if anonymous_only || worker.is_multiple_of(2) {
                    let method = if i.is_multiple_of(3) { format!("X{i}") } else { "GET".into() };
                    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::GET);
                    let sent = client.request(method, format!("{base}/Users?x={garbage}")).send().await;
                    if sent.is_ok() {
                        anonymous.fetch_add(1, Ordering::Relaxed);
                    }
                } else {
                    let user = bench_user(worker * 1_000_000 + i);
                    let sent = client.post(format!("{base}/Users")).bearer_auth(&token).json(&user).send().await;
                    let read = client.get(format!("{base}/Users?count=1")).bearer_auth(&token).send().await;
                    if sent.is_ok() && read.is_ok() {
                        authenticated.fetch_add(2, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    for task in tasks {
        task.await?;
    }
    let after = dir_size(&server.data_dir());
    server.stop().await;
    Ok(SoakReport {
        seconds,
        anonymous_requests: anonymous.load(Ordering::Relaxed),
        authenticated_requests: authenticated.load(Ordering::Relaxed),
        data_dir_before_mb: mb(before),
        data_dir_after_mb: mb(after),
        ring_limit_mb: mb(crate::recording::MAX_RING_BYTES),
        peak_rss_mb: peak_rss_mb().unwrap_or(0),
    })
}

pub fn soak_table(r: &SoakReport) -> String {
    format!(
        "| seconds | unauthenticated requests | authenticated requests | data dir before MB | data dir after MB | recorder limit MB | peak RSS MB |\n\
         |---:|---:|---:|---:|---:|---:|---:|\n\
         | {} | {} | {} | {:.1} | {:.1} | {:.0} | {} |\n",
        r.seconds,
        r.anonymous_requests,
        r.authenticated_requests,
        r.data_dir_before_mb,
        r.data_dir_after_mb,
        r.ring_limit_mb,
        r.peak_rss_mb
    )
}
