//! `scimlab bench paging`: what a page costs by where it starts. startIndex pages at the
//! front and at the back of a large user set, and a cursor page, against each other in the
//! same run: O(page) listing means the back page costs about what the front one does.

use std::time::Duration;

use super::{drive, load_client, seed_users, BenchServer, Stats};

pub struct PagingRow {
    pub users: usize,
    pub page: String,
    pub stats: Stats,
    /// req/s of the front page in the same run.
    pub front: f64,
}

pub async fn paging_bench(users: usize, requests: usize, concurrency: usize) -> anyhow::Result<Vec<PagingRow>> {
    let server = BenchServer::start().await?;
    eprintln!("seeding {users} users…");
    seed_users(&server.service, 0, users).await?;
    let client = load_client(concurrency)?;
    let mut rows = Vec::new();
    let back = users.saturating_sub(99).max(1);
    let mut front = 0.0;
    for (label, start) in [("startIndex=1", 1usize), ("startIndex=users/2", users / 2), ("startIndex=users-99", back)] {
        let (c, b, t) = (client.clone(), server.base.clone(), server.token.clone());
        let stats = drive(requests, concurrency, Duration::from_secs(30), move |_| {
            c.get(format!("{b}/Users"))
                .bearer_auth(&t)
                .query(&[("startIndex", start.to_string()), ("count", "100".into())])
        })
        .await;
        if start == 1 {
            front = stats.per_second();
        }
        rows.push(PagingRow { users, page: format!("{label} ({start}), count=100"), stats, front });
    }
    let (c, b, t) = (client.clone(), server.base.clone(), server.token.clone());
    let stats = drive(requests, concurrency, Duration::from_secs(30), move |_| {
        c.get(format!("{b}/Users")).bearer_auth(&t).query(&[("cursor", ""), ("count", "100")])
    })
    .await;
    rows.push(PagingRow { users, page: "cursor (first page), count=100".into(), stats, front });
    server.stop().await;
    Ok(rows)
}

pub fn paging_table(rows: &[PagingRow]) -> String {
    let lines = rows.iter().map(|r| (format!("| {} | {} |", r.users, r.page), &r.stats, r.front));
    super::ratio_table("| users | page |", "startIndex=1", lines)
}
