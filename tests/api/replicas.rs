//! Two scimlab replicas on one PostgreSQL database: what one writes, the other sees, and
//! the races between them are settled by the database (docs/deploy.md). Run when
//! DATABASE_URL is set (CI's PostgreSQL pass insists); skipped otherwise.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::future::join_all;
use serde_json::json;

use crate::database;
use crate::helpers::{id_of, spawn_app_with, user_body, TestApp, PATCH_URN};

/// Two servers sharing one fresh schema of `url`'s database.
async fn replicas_on(url: &str) -> (TestApp, TestApp) {
    replicas_with(url, |_| {}).await
}

/// Two servers sharing one fresh schema, both configured by `configure`.
async fn replicas_with(url: &str, configure: impl Fn(&mut scimlab::config::Settings)) -> (TestApp, TestApp) {
    let schema = database::schema_for(None);
    let replica = || {
        let (url, schema) = (url.to_string(), schema.clone());
        let configure = &configure;
        spawn_app_with(move |s| {
            s.database_url = Some(url.into());
            s.database_schema = Some(schema);
            s.workers = Some(2);
            s.admin_token = Some(crate::helpers::ADMIN_TOKEN.into());
            configure(s);
        })
    };
    let a = replica().await;
    let b = replica().await;
    (a, b)
}

/// A `scimlab serve` child that is killed when the test ends, passed or not.
struct Replica(std::process::Child);

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Alternates requests between the replicas: the i-th goes to A when i is even.
fn pick<'a>(a: &'a TestApp, b: &'a TestApp, i: usize) -> &'a TestApp {
    if i.is_multiple_of(2) {
        a
    } else {
        b
    }
}

#[actix_web::test]
async fn fifty_creates_of_one_user_name_across_two_replicas_give_exactly_one_201() {
    let Some(url) = database::required("replica uniqueness") else { return };
    let (a, b) = replicas_on(&url).await;
    // Case and width variants normalise to one userName: the unique index decides.
    let names = ["race@example.com", "RACE@example.com", "Race@Example.com"];
    let creates = (0..50).map(|i| pick(&a, &b, i).post("/Users", user_body(names[i % names.len()])));
    let results = join_all(creates).await;
    let created: Vec<_> = results.iter().filter(|r| r.status == 201).collect();
    assert_eq!(created.len(), 1, "{:?}", results.iter().map(|r| r.status).collect::<Vec<_>>());
    for refused in results.iter().filter(|r| r.status != 201) {
        refused.assert_error(409, Some("uniqueness"));
    }
    let id = id_of(&created[0].body);
    for replica in [&a, &b] {
        let found = replica.list("/Users", &[("filter", "userName eq \"race@EXAMPLE.com\"")]).await;
        assert_eq!(found.body["totalResults"], 1, "{}", found.body);
        assert_eq!(found.body["Resources"][0]["id"], id.as_str());
    }
}

#[actix_web::test]
async fn if_match_across_replicas_has_exactly_one_winner() {
    let Some(url) = database::required("replica If-Match") else { return };
    let (a, b) = replicas_on(&url).await;
    let id = id_of(&a.create_user("cas-replicas@example.com").await);
    let path = format!("/Users/{id}");
    let etag = b.get(&path).await.header("etag").expect("an ETag");
    let patches = (0..20).map(|i| {
        let (a, b, path, etag) = (&a, &b, &path, &etag);
        let body = json!({"schemas": [PATCH_URN], "Operations": [{"op": "replace", "path": "title", "value": format!("writer {i}")}]});
        async move { pick(a, b, i).send(reqwest::Method::PATCH, path, Some(&body), &[("if-match", etag.as_str())]).await }
    });
    let results = join_all(patches).await;
    let winners: Vec<_> = results.iter().filter(|r| r.status == 200).collect();
    assert_eq!(winners.len(), 1, "{:?}", results.iter().map(|r| r.status).collect::<Vec<_>>());
    for loser in results.iter().filter(|r| r.status != 200) {
        loser.assert_error(412, None);
    }
    for replica in [&a, &b] {
        let now = replica.get(&path).await;
        assert_eq!(now.body["title"], winners[0].body["title"], "the winner's write is the one stored");
        assert_eq!(now.header("etag"), winners[0].header("etag"));
    }
}

#[actix_web::test]
async fn fifty_member_adds_from_two_replicas_keep_all_fifty() {
    let Some(url) = database::required("replica member adds") else { return };
    let (a, b) = replicas_on(&url).await;
    let mut users = Vec::new();
    for i in 0..50 {
        users.push(id_of(&pick(&a, &b, i).create_user(&format!("crowd{i}@example.com")).await));
    }
    let group = id_of(&a.create_group("Replicated crowd", &[]).await);
    let path = format!("/Groups/{group}");
    let adds = users.iter().enumerate().map(|(i, id)| {
        let (a, b, path) = (&a, &b, &path);
        async move {
            let op = json!([{"op": "add", "path": "members", "value": [{"value": id}]}]);
            pick(a, b, i).patch_ops(path, op).await
        }
    });
    let statuses: Vec<u16> = join_all(adds).await.into_iter().map(|r| r.status).collect();
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    for replica in [&a, &b] {
        let members = replica.get(&path).await.body["members"].as_array().expect("members").len();
        assert_eq!(members, 50, "no member lost");
    }
    // The reverse lookup (User.groups) is shared too.
    let user = b.get(&format!("/Users/{}", users[7])).await.body;
    assert_eq!(user["groups"][0]["value"], group.as_str(), "{user}");
}

#[actix_web::test]
async fn a_cursor_walk_on_one_replica_while_the_other_writes_sees_each_stable_user_once() {
    let Some(url) = database::required("replica cursor walk") else { return };
    let (a, b) = replicas_on(&url).await;
    let mut stable = Vec::new();
    for i in 0..12 {
        stable.push(id_of(&a.create_user(&format!("walk{i}@example.com")).await));
    }
    let (mut seen, mut cursor, mut page) = (Vec::new(), String::new(), 0);
    loop {
        let res = b.list("/Users", &[("count", "4"), ("cursor", cursor.as_str())]).await;
        assert_eq!(res.status, 200, "{}", res.body);
        seen.extend(res.body["Resources"].as_array().expect("Resources").iter().map(id_of));
        // Between pages, replica A inserts two users.
        a.create_user(&format!("walk-new{page}a@example.com")).await;
        a.create_user(&format!("walk-new{page}b@example.com")).await;
        page += 1;
        match res.body["nextCursor"].as_str() {
            Some(next) => cursor = next.to_string(),
            None => break,
        }
        assert!(page < 100, "the walk ends");
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "no user twice");
    assert!(stable.iter().all(|id| seen.contains(id)), "every stable user is seen");
}

#[actix_web::test]
async fn a_tenant_created_on_one_replica_serves_on_the_other_with_the_same_data() {
    let Some(url) = database::required("replica tenants") else { return };
    let (a, b) = replicas_on(&url).await;
    let spec = json!({"tokens": ["initech-token"]});
    let created = a.admin(reqwest::Method::PUT, "/admin/tenants/initech", Some(&spec)).await;
    assert_eq!(created.status().as_u16(), 200);
    let as_tenant = |app: &TestApp, method: reqwest::Method, path: &str| {
        app.client
            .request(method, format!("{}/tenants/initech/scim/v2{path}", app.address))
            .bearer_auth("initech-token")
    };
    let res = as_tenant(&a, reqwest::Method::POST, "/Users")
        .header("content-type", "application/scim+json")
        .body(user_body("peter@initech.example").to_string())
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status().as_u16(), 201);
    // Replica B started before the tenant existed: it finds the definition on first use.
    let listed: serde_json::Value =
        as_tenant(&b, reqwest::Method::GET, "/Users").send().await.expect("sent").json().await.expect("JSON");
    assert_eq!(listed["totalResults"], 1, "{listed}");
    assert_eq!(listed["Resources"][0]["userName"], "peter@initech.example");
    let wrong = b
        .client
        .get(format!("{}/tenants/initech/scim/v2/Users", b.address))
        .bearer_auth(crate::helpers::TOKEN)
        .send()
        .await
        .expect("sent");
    assert_eq!(wrong.status().as_u16(), 401, "the tenant's own tokens, on every replica");
    // The default tenant's data is not the tenant's.
    assert_eq!(b.list("/Users", &[("count", "0")]).await.body["totalResults"], 0);
}

#[actix_web::test]
async fn every_replicas_requests_are_in_one_bounded_recording() {
    let Some(url) = database::required("replica recordings") else { return };
    let (a, b) = replicas_with(&url, |s| s.record_capacity = 20).await;
    // A long poll on B is answered by a request A serves.
    let waiting = b.admin(reqwest::Method::GET, "/admin/requests?method=POST&path=/Users&wait=10s", None);
    let (waited, _) = tokio::join!(waiting, a.create_user("recorded-on-a@example.com"));
    let waited: serde_json::Value = waited.json().await.expect("JSON");
    let requests = waited["requests"].as_array().expect("requests");
    assert_eq!(requests.len(), 1, "{waited}");
    assert_eq!(requests[0]["status"], 201);
    assert_eq!(requests[0]["requestBody"]["userName"], "recorded-on-a@example.com");
    // Both replicas fill one ring of 20.
    for i in 0..150 {
        pick(&a, &b, i).get("/Users?count=1").await;
    }
    let newest = b.post("/Users", user_body("newest@example.com")).await;
    assert_eq!(newest.status, 201);
    // B first: a reader settles its own replica's recorder queue; once B has stored its
    // requests, A reads them from the shared ring.
    for replica in [&b, &a] {
        let all: serde_json::Value =
            replica.admin(reqwest::Method::GET, "/admin/requests", None).await.json().await.expect("JSON");
        let records = all["requests"].as_array().expect("requests");
        assert!(records.len() <= 20, "bounded: {} records", records.len());
        assert_eq!(records.last().expect("a record")["requestBody"]["userName"], "newest@example.com");
        let seqs: Vec<u64> = records.iter().map(|r| r["seq"].as_u64().expect("seq")).collect();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "oldest first, one sequence: {seqs:?}");
    }
    assert_eq!(b.admin(reqwest::Method::DELETE, "/admin/requests", None).await.status().as_u16(), 204);
    let cleared: serde_json::Value =
        a.admin(reqwest::Method::GET, "/admin/requests?method=POST", None).await.json().await.expect("JSON");
    assert_eq!(cleared["requests"], json!([]), "cleared on B, gone on A");
}

#[actix_web::test]
async fn four_replicas_starting_at_once_on_a_new_schema_migrate_it_once_and_all_serve() {
    let Some(url) = database::required("replicas starting together") else { return };
    let schema = database::schema_for(None);
    // One working directory for all: with PostgreSQL no replica opens (and locks) `--data`.
    let work = tempfile::tempdir().expect("temp dir");
    let data = work.path().join("data").display().to_string();
    // Four processes at the same moment: they race to create the schema and to migrate it.
    let starts: Vec<_> = (0..4)
        .map(|_| {
            let (url, schema, data) = (url.clone(), schema.clone(), data.clone());
            std::thread::spawn(move || {
                let args = [
                    "--token",
                    crate::helpers::TOKEN,
                    "--data",
                    &data,
                    "--database-url",
                    &url,
                    "--database-schema",
                    &schema,
                ];
                crate::helpers::serve_process(&args)
            })
        })
        .collect();
    let replicas: Vec<(Replica, String)> = starts
        .into_iter()
        .map(|start| {
            let (child, ready) = start.join().expect("a replica starts");
            (Replica(child), ready["url"].as_str().expect("a URL").to_string())
        })
        .collect();
    let client = reqwest::Client::new();
    let created = client
        .post(format!("{}/Users", replicas[0].1))
        .bearer_auth(crate::helpers::TOKEN)
        .header("content-type", "application/scim+json")
        .body(user_body("together@example.com").to_string())
        .send()
        .await
        .expect("sent");
    assert_eq!(created.status().as_u16(), 201);
    for (_, base) in &replicas {
        let listed: serde_json::Value = client
            .get(format!("{base}/Users"))
            .bearer_auth(crate::helpers::TOKEN)
            .send()
            .await
            .expect("sent")
            .json()
            .await
            .expect("JSON");
        assert_eq!(listed["totalResults"], 1, "{base}: {listed}");
    }
}

/// A TCP forwarder to the database that the test can cut and restore, keeping its
/// listener: a lost database connection without stopping the shared database.
struct CuttableLink {
    port: u16,
    open: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl CuttableLink {
    /// Forwards on a thread of its own: the server under test blocks the test's runtime
    /// while it connects, and the link must answer meanwhile.
    fn to(upstream: String) -> CuttableLink {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
        listener.set_nonblocking(true).expect("non-blocking");
        let port = listener.local_addr().expect("an address").port();
        let open = Arc::new(AtomicBool::new(true));
        let links: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let (accepting, tasks) = (Arc::clone(&open), Arc::clone(&links));
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
                while let Ok((mut client, _)) = listener.accept().await {
                    if !accepting.load(Ordering::SeqCst) {
                        continue; // dropped: the connection is closed at once
                    }
                    let upstream = upstream.clone();
                    let task = tokio::spawn(async move {
                        if let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                        }
                    });
                    tasks.lock().expect("not poisoned").push(task);
                }
            });
        });
        CuttableLink { port, open, links }
    }

    fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        for task in self.links.lock().expect("not poisoned").drain(..) {
            task.abort();
        }
    }

    fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

#[actix_web::test]
async fn a_lost_database_is_a_503_with_retry_after_and_the_server_recovers() {
    let Some(url) = database::required("lost database connection") else { return };
    let mut parsed = reqwest::Url::parse(&url).expect("DATABASE_URL is a URL");
    let upstream = format!("{}:{}", parsed.host_str().unwrap_or("127.0.0.1"), parsed.port().unwrap_or(5432));
    let link = CuttableLink::to(upstream);
    parsed.set_host(Some("127.0.0.1")).expect("a host");
    parsed.set_port(Some(link.port)).expect("a port");
    let app = spawn_app_with(|s| {
        s.database_url = Some(parsed.to_string().into());
        s.database_schema = Some(database::schema_for(None));
    })
    .await;
    let id = id_of(&app.create_user("before-the-cut@example.com").await);

    link.cut();
    let during = app.get(&format!("/Users/{id}")).await;
    during.assert_error(503, None);
    assert_eq!(during.header("retry-after").as_deref(), Some("1"), "clients are told to come back");
    let write = app.post("/Users", user_body("during-the-cut@example.com")).await;
    write.assert_error(503, None);

    link.restore();
    let after = app.get(&format!("/Users/{id}")).await;
    assert_eq!(after.status, 200, "the pool reconnects by itself: {}", after.body);
    assert_eq!(app.post("/Users", user_body("during-the-cut@example.com")).await.status, 201, "nothing half-written");
}

/// The demo job twice: run to the end by one engine into `reference`, and hosted by
/// replicas on a fresh schema towards `target`, whose creates are slowed so a cycle is
/// still running when the test interferes with it.
struct JobLab {
    url: String,
    schema: String,
    reference: TestApp,
    target: TestApp,
    job: std::path::PathBuf,
    client: reqwest::Client,
    _work: tempfile::TempDir,
}

impl JobLab {
    async fn new(url: &str, create_latency_ms: u64) -> JobLab {
        let work = tempfile::tempdir().expect("temp dir");
        let reference = crate::helpers::spawn_app().await;
        let job = crate::cli::demo_job(work.path(), &reference.url(""));
        let state = work.path().join("reference-state");
        let (job, state) = (job.to_str().expect("utf-8").to_string(), state.to_str().expect("utf-8").to_string());
        let run = crate::cli::scimlab(&["provision", "run", "--job", &job, "--state", &state, "--quiet"]).await;
        assert!(run.status.success(), "{}", crate::cli::stderr(&run));
        let plan = json!({"rules": [{"method": "POST", "latencyMs": create_latency_ms}]});
        let target = spawn_app_with(|s| s.faults = serde_json::from_value(plan).expect("a plan")).await;
        let job = crate::cli::demo_job(work.path(), &target.url(""));
        let (url, schema, client) = (url.to_string(), database::schema_for(None), reqwest::Client::new());
        JobLab { url, schema, reference, target, job, client, _work: work }
    }

    /// A `scimlab serve` process hosting the job; returns it and its admin URL.
    fn replica(&self) -> (Replica, String) {
        let args = [
            "--token",
            crate::helpers::TOKEN,
            "--admin-token",
            crate::helpers::ADMIN_TOKEN,
            "--in-memory",
            "--database-url",
            &self.url,
            "--database-schema",
            &self.schema,
            "--job",
            self.job.to_str().expect("utf-8"),
        ];
        let (child, ready) = crate::helpers::serve_process(&args);
        (Replica(child), ready["admin"].as_str().expect("admin URL").to_string())
    }

    /// `GET /admin/jobs/demo` of a replica (null while it cannot answer).
    async fn status(&self, admin: &str) -> serde_json::Value {
        let res = self.client.get(format!("{admin}/jobs/demo")).bearer_auth(crate::helpers::ADMIN_TOKEN).send().await;
        match res {
            Ok(res) => res.json().await.unwrap_or(serde_json::Value::Null),
            Err(_) => serde_json::Value::Null,
        }
    }

    /// Polls a replica's job status until `done` holds (or a minute passes); returns the last.
    async fn wait_status(&self, admin: &str, done: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
        let reached = crate::helpers::poll(std::time::Duration::from_secs(60), || async {
            let status = self.status(admin).await;
            if done(&status) {
                Ok(status)
            } else {
                Err(status)
            }
        })
        .await;
        reached.unwrap_or_else(|last| last)
    }

    async fn users(app: &TestApp) -> u64 {
        app.list("/Users", &[("count", "0")]).await.body["totalResults"].as_u64().unwrap_or(0)
    }

    /// Waits until the target holds at least `n` users (the runner is provisioning).
    async fn wait_users(&self, n: u64) {
        let reached = crate::helpers::poll(std::time::Duration::from_secs(10), || async {
            let created = Self::users(&self.target).await;
            if created >= n {
                Ok(())
            } else {
                Err(created)
            }
        })
        .await;
        if let Err(created) = reached {
            panic!("the runner provisions ({created} users so far)");
        }
    }

    async fn assert_target_matches_reference(&self) {
        assert_eq!(
            crate::cli::snapshot(&self.target).await,
            crate::cli::snapshot(&self.reference).await,
            "same users, attributes, managers and members: nothing twice, nothing lost"
        );
    }
}

#[actix_web::test]
async fn a_hosted_jobs_runner_killed_mid_cycle_is_replaced_by_the_standby_without_duplicates() {
    let Some(url) = database::required("hosted job takeover") else { return };
    let lab = JobLab::new(&url, 40).await;
    let (mut runner, runner_admin) = lab.replica();
    lab.wait_users(30).await;
    assert_eq!(lab.status(&runner_admin).await["runsHere"], true);

    let (_standby, standby_admin) = lab.replica();
    let status = lab.status(&standby_admin).await;
    assert_eq!(status["runsHere"], false, "one runner at a time: {status}");
    assert!(status["users"].as_u64().unwrap_or(0) > 0, "the standby answers from the shared state: {status}");
    let refused = lab
        .client
        .post(format!("{standby_admin}/jobs/demo/pause"))
        .bearer_auth(crate::helpers::ADMIN_TOKEN)
        .send()
        .await
        .expect("answers");
    assert_eq!(refused.status().as_u16(), 409, "commands go to the runner");

    runner.0.kill().expect("SIGKILL");
    runner.0.wait().expect("reaped");
    let (partial, expected) = (JobLab::users(&lab.target).await, JobLab::users(&lab.reference).await);
    assert!(partial < expected, "killed mid-cycle: {partial} of {expected} users");

    // The standby takes the lease (polled every second) and finishes the initial cycle.
    let status = lab.wait_status(&standby_admin, |s| s["runsHere"] == true && s["initialCycleComplete"] == true).await;
    assert_eq!(status["runsHere"], true, "the standby took over: {status}");
    assert_eq!(status["initialCycleComplete"], true, "and finished the cycle: {status}");
    lab.assert_target_matches_reference().await;
}

#[actix_web::test]
async fn a_runner_whose_lease_is_taken_stops_its_cycle_at_once_and_resumes_without_duplicates() {
    use sqlx::Connection;
    let Some(url) = database::required("lease lost mid-cycle") else { return };
    let lab = JobLab::new(&url, 150).await;
    let (_runner, admin) = lab.replica();
    lab.wait_users(5).await;
    assert_eq!(lab.status(&admin).await["runsHere"], true);

    // An operator's (or a network's) doing: the lease connection ends, and someone else
    // takes the lease before the runner can.
    let options: sqlx::postgres::PgConnectOptions = url.parse().expect("a URL");
    let mut other = sqlx::PgConnection::connect_with(&options.options([("search_path", lab.schema.as_str())]))
        .await
        .expect("connects");
    // The backend holding this schema's lease of the job (a bigint advisory lock is kept as
    // its high and low halves).
    let ended: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(l.pid) FROM pg_locks l, \
         (SELECT hashtextextended(current_schema() || ' scimlab job demo', 0) AS k) key \
         WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 \
         AND l.classid = ((key.k >> 32) & 4294967295)::oid AND l.objid = (key.k & 4294967295)::oid",
    )
    .fetch_all(&mut other)
    .await
    .expect("terminates");
    assert_eq!(ended, [true], "the runner's lease connection, and only it");
    sqlx::query("SELECT pg_advisory_lock(hashtextextended(current_schema() || ' scimlab job demo', 0))")
        .execute(&mut other)
        .await
        .expect("takes the lease");
    let status = lab.wait_status(&admin, |s| s["runsHere"] == false).await;
    assert_eq!(status["runsHere"], false, "the runner stands by once its lease is gone: {status}");
    let (stopped_at, expected) = (JobLab::users(&lab.target).await, JobLab::users(&lab.reference).await);
    assert!(stopped_at < expected, "the cycle stopped mid-way: {stopped_at} of {expected} users");

    // The lease comes free again: the replica takes it back and finishes, nothing twice.
    other.close().await.expect("closed");
    let status = lab.wait_status(&admin, |s| s["runsHere"] == true && s["initialCycleComplete"] == true).await;
    assert_eq!(status["initialCycleComplete"], true, "{status}");
    lab.assert_target_matches_reference().await;
}

#[actix_web::test]
async fn bench_http_measures_on_postgresql_with_two_replicas_and_drops_its_schema() {
    let Some(url) = database::required("bench http on PostgreSQL") else { return };
    let out = crate::cli::scimlab(&[
        "bench",
        "http",
        "--sizes",
        "50",
        "--requests",
        "40",
        "--concurrency",
        "2",
        "--database-url",
        &url,
    ])
    .await;
    assert!(out.status.success(), "{}", crate::cli::stderr(&out));
    let table = crate::cli::stdout(&out);
    for row in ["GET /Users/{id} |", "GET /Users/{id}, 2 replicas", "POST /Users, 2 replicas"] {
        assert!(table.contains(row), "{row} missing:\n{table}");
    }
    let options: sqlx::postgres::PgConnectOptions = url.parse().expect("a URL");
    let mut connection = sqlx::ConnectOptions::connect(&options).await.expect("connects");
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'scimlab\\_bench\\_%'")
        .fetch_one(&mut connection)
        .await
        .expect("counts");
    assert_eq!(left, 0, "the bench's schema is dropped");
}

#[actix_web::test]
async fn database_settings_are_checked_before_anything_starts_and_name_the_fix() {
    let work = tempfile::tempdir().expect("temp dir");
    let config = work.path().join("scimlab.toml");
    std::fs::write(&config, "tokens = [\"t\"]\ndatabase_url = \"mysql://db/scim\"\n").expect("written");
    let config_arg = config.to_str().expect("utf-8").to_string();
    // DATABASE_URL (CI's PostgreSQL pass) would outrank the file's key: not inherited here.
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_scimlab"))
            .args(["serve", "--addr", "127.0.0.1:0", "--config", &config_arg])
            .env_remove("DATABASE_URL")
            .output()
            .expect("runs")
    })
    .await
    .expect("joined");
    assert_eq!(out.status.code(), Some(1), "the config file's database_url is read and refused");
    let err = crate::cli::stderr(&out);
    assert!(err.contains("--database-url") && err.contains("postgres://"), "{err}");

    let err = refused_serve(&["--database-url", "postgres://127.0.0.1:1/none", "--database-schema", "Bad Name"]).await;
    assert!(err.contains("--database-schema") && err.contains("lower-case"), "{err}");

    // Nothing listens on port 1: the start is refused with the cause, not a panic.
    let err = refused_serve(&["--in-memory", "--database-url", "postgres://scimlab@127.0.0.1:1/none"]).await;
    assert!(err.contains("cannot use the PostgreSQL database of --database-url"), "{err}");
}

/// `scimlab serve` on port 0 with a token and `args`, which must refuse to start (exit 1);
/// returns what it said on stderr.
async fn refused_serve(args: &[&str]) -> String {
    let mut all = vec!["serve", "--addr", "127.0.0.1:0", "--token", "t"];
    all.extend_from_slice(args);
    let out = crate::cli::scimlab(&all).await;
    assert_eq!(out.status.code(), Some(1), "{args:?} must refuse the start");
    crate::cli::stderr(&out)
}
