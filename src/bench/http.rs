//! `scimlab bench http`: the main SCIM operations over HTTP as the user count grows, on
//! sled or on PostgreSQL (`--database-url`), against a plain actix-web handler measured in
//! the same run.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::{bench_user, drive, load_client, peak_rss_mb, seed_users, stats_table, BenchDatabase, BenchServer, Stats};
use crate::config::Settings;
use crate::scim::ResourceKind;
use crate::service::{ReadOptions, ScimService};

/// One row of the HTTP benchmark.
pub struct HttpRow {
    pub users: usize,
    pub operation: String,
    pub stats: Stats,
}

/// A plain actix-web handler returning a user-sized JSON body on 127.0.0.1:0: the ceiling
/// scimlab's reads are measured against. Returns its URL and the server to run.
pub(crate) fn baseline_http_server() -> anyhow::Result<(String, actix_web::dev::Server)> {
    use actix_web::{web, App, HttpResponse, HttpServer};
    let body = serde_json::to_string(&bench_user(42))?;
    let server = HttpServer::new(move || {
        let body = body.clone();
        App::new().route(
            "/baseline",
            web::get().to(move || {
                let body = body.clone();
                async move { HttpResponse::Ok().content_type("application/scim+json").body(body) }
            }),
        )
    })
    .bind("127.0.0.1:0")?;
    let url = format!("http://{}/baseline", server.addrs()[0]);
    Ok((url, server.run()))
}

/// The baseline in this process, for `bench http`.
async fn start_baseline() -> anyhow::Result<(String, actix_web::dev::ServerHandle)> {
    let (url, server) = baseline_http_server()?;
    let handle = server.handle();
    actix_web::rt::spawn(server);
    Ok((url, handle))
}

/// Creates a group with `members` of the seeded users through the service.
fn seed_group(service: &ScimService, name: &str, member_ids: &[String]) -> anyhow::Result<String> {
    let members: Vec<serde_json::Value> = member_ids.iter().map(|id| json!({"value": id})).collect();
    let body =
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name, "members": members});
    let created = service
        .create(ResourceKind::Group, &body, &ReadOptions::default())
        .map_err(|e| anyhow::anyhow!("seeding group {name}: {e}"))?;
    Ok(created.resource["id"].as_str().unwrap_or_default().to_string())
}

/// The ids of `count` users from position `skip` (in id order).
async fn user_ids(service: &Arc<ScimService>, skip: usize, count: usize) -> anyhow::Result<Vec<String>> {
    let service = Arc::clone(service);
    tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<String>> {
        let mut out = Vec::new();
        while out.len() < count {
            let q = crate::service::ListQuery {
                start_index: Some((skip + out.len() + 1) as i64),
                count: Some((count - out.len()).min(1000) as i64),
                ..Default::default()
            };
            let (page, _) = service
                .list(&[ResourceKind::User], &q, &ReadOptions::default())
                .map_err(|e| anyhow::anyhow!("listing: {e}"))?;
            let before = out.len();
            out.extend(
                page["Resources"].as_array().into_iter().flatten().filter_map(|u| u["id"].as_str().map(str::to_string)),
            );
            if out.len() == before {
                break;
            }
        }
        Ok(out)
    })
    .await?
}

/// `scimlab bench http`: throughput and latency of the main SCIM operations as the user
/// count grows, with a plain actix-web baseline measured in the same run.
pub async fn http_bench(
    sizes: &[usize],
    requests: usize,
    concurrency: usize,
    database_url: Option<&str>,
) -> anyhow::Result<Vec<HttpRow>> {
    let database = database_url.map(BenchDatabase::fresh);
    let rows = http_rows(sizes, requests, concurrency, database.as_ref()).await;
    if let Some(database) = &database {
        database.drop()?;
    }
    rows
}

async fn http_rows(
    sizes: &[usize],
    requests: usize,
    concurrency: usize,
    database: Option<&BenchDatabase>,
) -> anyhow::Result<Vec<HttpRow>> {
    let server = BenchServer::start_on(crate::faults::FaultPlan::default(), 0, database).await?;
    let (baseline_url, baseline) = start_baseline().await?;
    let client = load_client(concurrency)?;
    let mut rows = Vec::new();
    let mut seeded = 0;
    let budget = Duration::from_secs(30);
    for &n in sizes {
        eprintln!("seeding to {n} users…");
        seed_users(&server.service, seeded, n - seeded).await?;
        seeded = n;
        // Ids of the seeded users, for GET and PATCH by id.
        let ids = user_ids(&server.service, 0, 1000).await?;
        let (base, token) = (server.base.clone(), server.token.clone());
        let mut run = |operation: String, stats: Stats| rows.push(HttpRow { users: n, operation, stats });

        let c = client.clone();
        let url = baseline_url.clone();
        run(
            "baseline: plain actix-web JSON handler".into(),
            drive(requests, concurrency, budget, move |_| c.get(&url)).await,
        );

        if let Some(database) = database {
            for (operation, stats) in
                two_replica_rows(database, &client, &server, &ids, n, requests, concurrency).await?
            {
                run(operation, stats);
            }
        }
        if seeded == sizes[0] && database.is_none() {
            // What request recording costs: the same read on a server that records every
            // request (the default of `scimlab serve`).
            let quiet =
                BenchServer::start_with(crate::faults::FaultPlan::default(), Settings::default().record_capacity)
                    .await?;
            seed_users(&quiet.service, 0, n).await?;
            let quiet_ids = user_ids(&quiet.service, 0, 1000).await?;
            let (c, b, t) = (client.clone(), quiet.base.clone(), quiet.token.clone());
            let stats = drive(requests, concurrency, budget, move |k| {
                c.get(format!("{b}/Users/{}", quiet_ids[k % quiet_ids.len()])).bearer_auth(&t)
            })
            .await;
            quiet.stop().await;
            run("GET /Users/{id}, request recording on".into(), stats);
        }
        let (c, b, t, i) = (client.clone(), base.clone(), token.clone(), ids.clone());
        run(
            "GET /Users/{id}".into(),
            drive(requests, concurrency, budget, move |k| {
                c.get(format!("{b}/Users/{}", i[k % i.len()])).bearer_auth(&t)
            })
            .await,
        );
        let (c, b, t) = (client.clone(), base.clone(), token.clone());
        run(
            "GET /Users?filter=userName eq".into(),
            drive(requests, concurrency, budget, move |k| {
                c.get(format!("{b}/Users"))
                    .bearer_auth(&t)
                    .query(&[("filter", format!("userName eq \"user{:07}@bench.example\"", (k * 7919) % n))])
            })
            .await,
        );
        let (c, b, t) = (client.clone(), base.clone(), token.clone());
        let offset = 10_000_000 + n * 10;
        run(
            "POST /Users".into(),
            drive(requests / 2, concurrency, budget, move |k| {
                c.post(format!("{b}/Users")).bearer_auth(&t).json(&bench_user(offset + k))
            })
            .await,
        );
        let (c, b, t, i) = (client.clone(), base.clone(), token.clone(), ids.clone());
        run(
            "PATCH replace title".into(),
            drive(requests / 2, concurrency, budget, move |k| {
                c.patch(format!("{b}/Users/{}", i[k % i.len()])).bearer_auth(&t).json(&json!({
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "replace", "path": "title", "value": format!("T{k}")}]}))
            })
            .await,
        );
        let (c, b, t) = (client.clone(), base.clone(), token.clone());
        run(
            "GET /Users?startIndex&count=100 (paging)".into(),
            drive(requests / 4, concurrency, budget, move |k| {
                c.get(format!("{b}/Users"))
                    .bearer_auth(&t)
                    .query(&[("startIndex", ((k * 100) % n.max(1) + 1).to_string()), ("count", "100".to_string())])
            })
            .await,
        );
        // Member adds: a 10k-member group against an empty one.
        if n >= 10_000 {
            let service = Arc::clone(&server.service);
            // After the first 1000: the ids the adds use are not members yet.
            let members = user_ids(&service, 1000, 10_000).await?;
            let big = seed_group(&service, &format!("Big {n}"), &members)?;
            let empty = seed_group(&service, &format!("Empty {n}"), &[])?;
            // The write itself (the response without members, as a client asks with
            // excludedAttributes), then the same with the full 10k-member response body.
            let cases = [
                ("PATCH add member, 10k-member group (excludedAttributes=members)", big.clone(), true),
                ("PATCH add member, empty group (excludedAttributes=members)", empty, true),
                ("PATCH add member, 10k-member group, full response", big, false),
            ];
            for (label, group, exclude) in cases {
                let (c, b, t, i) = (client.clone(), base.clone(), token.clone(), ids.clone());
                run(
                    label.into(),
                    drive(requests / 4, concurrency, budget, move |k| {
                        let query: &[(&str, &str)] = if exclude { &[("excludedAttributes", "members")] } else { &[] };
                        c.patch(format!("{b}/Groups/{group}")).bearer_auth(&t).query(query).json(&json!({
                            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                            "Operations": [{"op": "add", "path": "members", "value": [{"value": i[(k * 31 + 500) % i.len()]}]}]}))
                    })
                    .await,
                );
            }
        }
    }
    baseline.stop(true).await;
    server.stop().await;
    Ok(rows)
}

/// GET by id and POST spread over two replicas on one database, to set beside the same
/// operations on one replica (measured just before, in the same run).
async fn two_replica_rows(
    database: &BenchDatabase,
    client: &reqwest::Client,
    first: &BenchServer,
    ids: &[String],
    users: usize,
    requests: usize,
    concurrency: usize,
) -> anyhow::Result<Vec<(String, Stats)>> {
    let mut rows = Vec::new();
    let budget = Duration::from_secs(30);
    let second = BenchServer::start_on(crate::faults::FaultPlan::default(), 0, Some(database)).await?;
    let bases = [first.base.clone(), second.base.clone()];
    let (c, b, t, i) = (client.clone(), bases.clone(), first.token.clone(), ids.to_vec());
    let stats = drive(requests, concurrency, budget, move |k| {
        c.get(format!("{}/Users/{}", b[k % 2], i[k % i.len()])).bearer_auth(&t)
    })
    .await;
    rows.push(("GET /Users/{id}, 2 replicas".to_string(), stats));
    let (c, b, t) = (client.clone(), bases, first.token.clone());
    // Fresh userNames at every size (the size is in the offset).
    let offset = 20_000_000 + users * 10;
    let stats = drive(requests / 2, concurrency, budget, move |k| {
        c.post(format!("{}/Users", b[k % 2])).bearer_auth(&t).json(&bench_user(offset + k))
    })
    .await;
    rows.push(("POST /Users, 2 replicas".to_string(), stats));
    second.stop().await;
    Ok(rows)
}

pub fn http_table(rows: &[HttpRow]) -> String {
    let mut out = stats_table("operation", rows.iter().map(|r| (r.users, r.operation.as_str(), &r.stats)));
    out += &format!(
        "\npeak RSS of this process (server, baseline and load generator): {} MB\n",
        peak_rss_mb().unwrap_or(0)
    );
    out
}
