//! scimlab as the test target of other people's code: the ready line and file, seeds in
//! every accepted format, reset between tests, and waiting on traffic without sleeping.

use std::path::Path;

use serde_json::{json, Value};

use crate::cli::{scimlab, stderr, stdout};
use crate::helpers::{spawn_app_with, user_body, ADMIN_TOKEN, GROUP_URN, TOKEN, USER_URN};

/// `scimlab serve` on port 0 with the test tokens; returns the child and its ready line.
fn serve(args: &[&str]) -> (std::process::Child, Value) {
    let mut all = vec!["--token", TOKEN, "--admin-token", ADMIN_TOKEN];
    all.extend_from_slice(args);
    crate::helpers::serve_process(&all)
}

/// The line of a bench's markdown table that starts with `start`; fails showing the table.
fn table_row<'a>(table: &'a str, start: &str) -> &'a str {
    table.lines().find(|l| l.starts_with(start)).unwrap_or_else(|| panic!("no row starting '{start}':\n{table}"))
}

/// Every one of `rows` starts a line of `table`.
fn has_rows(table: &str, rows: &[&str]) {
    for row in rows {
        table_row(table, row);
    }
}

/// Runs a `scimlab bench` command that must succeed, and returns the tables it printed.
async fn bench_tables(args: &[&str]) -> String {
    let out = scimlab(args).await;
    assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
    stdout(&out)
}

fn write(dir: &Path, name: &str, value: Value) -> String {
    let path = dir.join(name);
    std::fs::write(&path, value.to_string()).unwrap();
    path.to_str().unwrap().to_string()
}

#[actix_web::test]
async fn serve_announces_readiness_on_stdout_and_in_a_ready_file() {
    let work = tempfile::tempdir().unwrap();
    let ready_file = work.path().join("ready.json");
    let (mut child, ready) =
        tokio::task::spawn_blocking(move || serve(&["--in-memory", "--ready-file", ready_file.to_str().unwrap()]))
            .await
            .unwrap();
    assert_eq!(ready["event"], "ready");
    let url = ready["url"].as_str().unwrap();
    assert!(url.starts_with("http://127.0.0.1:") && url.ends_with("/scim/v2"), "{ready}");
    let from_file: Value =
        serde_json::from_str(&std::fs::read_to_string(work.path().join("ready.json")).unwrap()).unwrap();
    assert_eq!(from_file, ready, "the file says the same, and exists before the line is printed");
    let res = reqwest::Client::new().get(format!("{url}/Users")).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 200, "it serves right away");
    child.kill().unwrap();
    child.wait().unwrap();
}

#[actix_web::test]
async fn sigterm_right_after_the_ready_line_stops_the_server_cleanly() {
    // A harness that starts scimlab, runs one quick test and stops it sends SIGTERM moments
    // after the ready line; the server must already be handling it (stop, flush, exit 0).
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data").to_str().unwrap().to_string();
    for round in 0..3 {
        let data = data.clone();
        let status = tokio::task::spawn_blocking(move || {
            let (mut child, _) = serve(&["--data", &data]);
            let sent = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
            assert!(sent.success(), "kill -TERM: {sent}");
            child.wait().unwrap()
        })
        .await
        .unwrap();
        assert_eq!(status.code(), Some(0), "round {round}: a clean exit, not death by the signal: {status}");
    }
}

#[actix_web::test]
async fn each_served_request_is_logged_once_in_the_chosen_format_and_flushed_at_stop() {
    for (format, rust_log) in [("pretty", "info"), ("json", "info"), ("json", "warn")] {
        let (child, ready) = tokio::task::spawn_blocking(move || {
            crate::helpers::serve_process_with(&["--in-memory", "--token", TOKEN, "--log-format", format], |c| {
                c.env("RUST_LOG", rust_log).stderr(std::process::Stdio::piped());
            })
        })
        .await
        .unwrap();
        let url = ready["url"].as_str().unwrap().to_string();
        let client = reqwest::Client::new();
        let res = client.get(format!("{url}/Users/nobody")).bearer_auth(TOKEN).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 404);
        let output = tokio::task::spawn_blocking(move || {
            let sent = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
            assert!(sent.success(), "kill -TERM: {sent}");
            child.wait_with_output().unwrap()
        })
        .await
        .unwrap();
        assert_eq!(output.status.code(), Some(0), "{format}: {}", String::from_utf8_lossy(&output.stderr));
        let log = String::from_utf8(output.stderr).unwrap();
        let lines: Vec<&str> = log.lines().filter(|l| l.contains("/scim/v2/Users/nobody")).collect();
        match (format, rust_log) {
            (_, "warn") => assert!(lines.is_empty(), "INFO lines under RUST_LOG=warn:\n{log}"),
            ("pretty", _) => {
                assert_eq!(lines.len(), 1, "{log}");
                assert!(lines[0]
                    .contains(r#" INFO request method=GET path="/scim/v2/Users/nobody" status=404 latency_ms="#));
                assert!(lines[0].contains(" request_id=\""), "{}", lines[0]);
            }
            _ => {
                assert_eq!(lines.len(), 1, "{log}");
                let event: Value = serde_json::from_str(lines[0]).unwrap();
                assert_eq!(
                    (&event["level"], &event["message"], &event["status"], &event["target"]),
                    (&json!("INFO"), &json!("request"), &json!(404), &json!("scimlab::http")),
                    "{event}"
                );
                assert!(event["latency_ms"].is_f64() && event["request_id"].is_string(), "{event}");
            }
        }
    }
}

#[actix_web::test]
async fn seeds_in_every_format_keep_their_ids_and_seeding_twice_changes_nothing() {
    let work = tempfile::tempdir().unwrap();
    let list = write(
        work.path(),
        "list.json",
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "Resources": [{"schemas": [USER_URN], "id": "u-list", "userName": "list@example.com"}]}),
    );
    let array = write(
        work.path(),
        "array.json",
        json!([
            {"schemas": [GROUP_URN], "id": "g-array", "displayName": "Seeded", "members": [{"value": "u-list"}]}
        ]),
    );
    let bulk = write(
        work.path(),
        "bulk.json",
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [{"method": "POST", "path": "/Users", "bulkId": "b", "data": user_body("bulk@example.com")}]}),
    );
    let directory = write(
        work.path(),
        "directory.json",
        json!({"users": [
        {"objectId": "u-dir", "userPrincipalName": "dir@example.com", "displayName": "Dir User", "mail": "dir@example.com", "accountEnabled": true}
    ], "groups": []}),
    );
    let seeds: Vec<std::path::PathBuf> = [&list, &array, &bulk, &directory].iter().map(|p| p.into()).collect();
    let data = work.path().join("data");
    for round in 0..2 {
        let (seeds, data) = (seeds.clone(), data.clone());
        let app = spawn_app_with(move |s| {
            s.seeds = seeds;
            s.data = Some(data);
        })
        .await;
        assert_eq!(app.list("/Users", &[("count", "0")]).await.body["totalResults"], 3, "round {round}");
        assert_eq!(app.get("/Users/u-list").await.body["userName"], "list@example.com");
        assert_eq!(app.get("/Users/u-dir").await.body["emails"][0]["value"], "dir@example.com");
        let group = app.get("/Groups/g-array").await.body;
        assert_eq!(group["members"][0]["value"], "u-list", "{group}");
        app.handle_stop().await;
    }

    let bad = write(
        work.path(),
        "bad.json",
        json!([{"schemas": [USER_URN], "id": "u-1", "userName": "ok@example.com"},
                                                     {"schemas": [USER_URN], "id": "u-2"}]),
    );
    let out = scimlab(&["serve", "--in-memory", "--token", TOKEN, "--seed", &bad]).await;
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("bad.json") && err.contains("#1") && err.contains("userName"), "{err}");
}

#[actix_web::test]
async fn reset_empties_the_tenant_keeps_its_tokens_and_can_seed_again() {
    let work = tempfile::tempdir().unwrap();
    let seed = write(
        work.path(),
        "seed.json",
        json!([{"schemas": [USER_URN], "id": "s-1", "userName": "seeded@example.com"}]),
    );
    let app = spawn_app_with(move |s| {
        s.seeds = vec![seed.into()];
        s.admin_token = Some(ADMIN_TOKEN.into());
    })
    .await;
    app.post("/Users", user_body("extra@example.com")).await;
    app.admin(
        reqwest::Method::PUT,
        "/admin/faults",
        Some(&json!({"rules": [{"method": "GET", "path": "/Groups", "status": 500}]})),
    )
    .await;
    assert_eq!(app.list("/Users", &[("count", "0")]).await.body["totalResults"], 2);

    let res = app.admin(reqwest::Method::POST, "/admin/reset", None).await;
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(app.list("/Users", &[("count", "0")]).await.body["totalResults"], 0, "empty, and the token still works");
    assert_eq!(app.list("/Groups", &[]).await.status, 200, "faults are gone");
    let recorded: Value = app.admin(reqwest::Method::GET, "/admin/requests", None).await.json().await.unwrap();
    assert!(recorded["requests"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["path"] != "/scim/v2/Users" || r["method"] != "POST"));

    let res = app.admin(reqwest::Method::POST, "/admin/reset?seed=true", None).await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["seeded"], 1, "{body}");
    assert_eq!(app.get("/Users/s-1").await.body["userName"], "seeded@example.com");
}

#[actix_web::test]
async fn waiting_on_traffic_returns_when_the_request_arrives_or_when_the_wait_ends() {
    let app = spawn_app_with(|s| s.admin_token = Some(ADMIN_TOKEN.into())).await;
    let waiter = {
        let client = app.client.clone();
        let url = format!("{}/admin/requests?method=PATCH&path=/Users&wait=10s", app.address);
        actix_web::rt::spawn(async move {
            client.get(url).bearer_auth(ADMIN_TOKEN).send().await.unwrap().json::<Value>().await.unwrap()
        })
    };
    let id = app.post("/Users", user_body("awaited@example.com")).await.body["id"].as_str().unwrap().to_string();
    app.patch_ops(&format!("/Users/{id}"), json!([{"op": "replace", "path": "title", "value": "Awaited"}])).await;
    let seen = waiter.await.unwrap();
    assert_eq!(seen["requests"].as_array().unwrap().len(), 1, "{seen}");
    assert_eq!(seen["requests"][0]["method"], "PATCH");

    let started = std::time::Instant::now();
    let none: Value =
        app.admin(reqwest::Method::GET, "/admin/requests?method=DELETE&wait=300ms", None).await.json().await.unwrap();
    assert_eq!(none["requests"], json!([]));
    assert!(started.elapsed() >= std::time::Duration::from_millis(300), "it waited for the time asked");
}

#[actix_web::test]
async fn a_tenant_has_its_own_seeds_and_its_reset_leaves_the_other_tenants_alone() {
    let work = tempfile::tempdir().unwrap();
    // The group comes first in the file; seeding still resolves its member.
    let seed = write(
        work.path(),
        "acme.json",
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], "Resources": [
            {"schemas": [GROUP_URN], "id": "g-acme", "displayName": "Acme", "members": [{"value": "u-acme"}]},
            {"schemas": [USER_URN], "id": "u-acme", "userName": "acme@example.com"}]}),
    );
    let app = spawn_app_with(move |s| {
        s.admin_token = Some(ADMIN_TOKEN.into());
        s.tenants =
            vec![serde_json::from_value(json!({"name": "acme", "tokens": ["acme-token"], "seeds": [seed]})).unwrap()];
    })
    .await;
    let acme = |path: &str| format!("{}/tenants/acme/scim/v2{path}", app.address);
    let get = |url: String| {
        let client = app.client.clone();
        async move { client.get(url).bearer_auth("acme-token").send().await.unwrap().json::<Value>().await.unwrap() }
    };
    assert_eq!(get(acme("/Groups/g-acme")).await["members"][0]["value"], "u-acme");
    assert_eq!(app.list("/Users", &[("count", "0")]).await.body["totalResults"], 0, "the default tenant has no seed");
    app.post("/Users", user_body("default@example.com")).await;
    let created = app
        .client
        .post(acme("/Users"))
        .bearer_auth("acme-token")
        .json(&json!({"schemas": [USER_URN], "userName": "later@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status().as_u16(), 201);

    let res = app.admin(reqwest::Method::POST, "/admin/tenants/acme/reset?seed=true", None).await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["seeded"], 2, "{body}");
    assert_eq!(get(acme("/Users?count=0")).await["totalResults"], 1, "the later user is gone, the seed is back");
    assert_eq!(app.list("/Users", &[("count", "0")]).await.body["totalResults"], 1, "the default tenant kept its user");
    let recorded: Value = app.admin(reqwest::Method::GET, "/admin/requests", None).await.json().await.unwrap();
    let tenants: Vec<&str> =
        recorded["requests"].as_array().unwrap().iter().map(|r| r["tenant"].as_str().unwrap()).collect();
    assert!(tenants.contains(&"default"), "the default tenant's requests are still recorded: {tenants:?}");
    assert_eq!(
        tenants.iter().filter(|t| **t == "acme").count(),
        1,
        "acme's: only the GET after the reset: {tenants:?}"
    );
}

#[actix_web::test]
async fn a_bad_resource_in_a_seed_is_named_by_its_position_in_the_file() {
    let work = tempfile::tempdir().unwrap();
    let bad = write(
        work.path(),
        "list.json",
        json!({"Resources": [{"schemas": [USER_URN], "userName": "a@example.com"}, {"schemas": [USER_URN], "userName": "b@example.com"},
                             {"schemas": ["urn:example:Device"], "id": "d-1"}]}),
    );
    let out = scimlab(&["serve", "--in-memory", "--token", TOKEN, "--seed", &bad]).await;
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("list.json") && err.contains("Resources #2") && err.contains("schemas"), "{err}");
}

#[actix_web::test]
async fn bench_target_measures_start_seed_and_reset_against_its_baselines() {
    let table = bench_tables(&["bench", "target", "--users", "50", "--rounds", "1"]).await;
    for row in ["serve, empty: start to ready line", "serve --seed (50 users)", "POST /admin/reset (50 users, on disk)"]
    {
        table_row(&table, &format!("| {row}"));
    }
}

#[actix_web::test]
async fn bench_provision_compares_the_initial_cycle_with_the_servers_raw_post_rate() {
    let table = bench_tables(&["bench", "provision", "--sizes", "60", "--changes", "5", "--concurrency", "4"]).await;
    let initial = table_row(&table, "| 60 | initial | 80 |");
    assert!(initial.trim_end().ends_with("% |"), "the initial cycle as a share of the raw rate: {initial}");
    assert!(table.contains("| 60 | incremental | 5 | 5 | 0 |"), "{table}");
    for connections in [1, 4, 32] {
        let row = format!("| 60 | {connections} | 60 | 0 |");
        table_row(&table, &row);
    }
}

#[actix_web::test]
async fn bench_paging_measures_front_middle_back_and_cursor_pages_against_the_first() {
    let table = bench_tables(&["bench", "paging", "--users", "300", "--requests", "20", "--concurrency", "2"]).await;
    let first = table_row(&table, "| 300 | startIndex=1 (1), count=100 | 20 | 0 |");
    assert!(first.contains("| 100 % |"), "the first page against itself: {first}");
    has_rows(
        &table,
        &[
            "| 300 | startIndex=users/2 (150), count=100 | 20 | 0 |",
            "| 300 | startIndex=users-99 (201), count=100 | 20 | 0 |",
            "| 300 | cursor (first page), count=100 | 20 | 0 |",
        ],
    );
}

#[actix_web::test]
async fn bench_filters_measures_indexed_queries_and_the_scan() {
    let table = bench_tables(&["bench", "filters", "--sizes", "200", "--requests", "100", "--concurrency", "2"]).await;
    has_rows(
        &table,
        &[
            "| 200 | userName eq | 100 | 0 |",
            "| 200 | emails.value eq | 100 | 0 |",
            "| 200 | scan: title eq and name co | 10 | 0 |",
        ],
    );
}

#[actix_web::test]
async fn bench_hotpath_measures_each_server_against_the_baseline_of_its_own_round() {
    let args = ["bench", "hotpath", "--users", "20", "--requests", "100", "--concurrency", "2", "--rounds", "2"];
    let table = bench_tables(&args).await;
    for row in [
        "| baseline (plain actix-web) | GET /baseline | 100 | 0 |",
        "| scimlab serve, defaults | GET /Users/{id} | 100 | 0 |",
        "| scimlab serve, defaults | GET /Users?filter=userName eq | 100 | 0 |",
        "| scimlab serve --record-capacity 0 | GET /Users/{id} | 100 | 0 |",
    ] {
        let line = table_row(&table, row);
        // Two rounds, two ratios, each against its own round's baseline.
        assert_eq!(line.matches(" % / ").count(), 1, "{line}");
    }
    assert!(table.contains("| 100 % / 100 % | 100 % |"), "the baseline against itself: {table}");
}

#[actix_web::test]
async fn bench_large_measures_a_restart_and_reads_over_a_kept_data_directory() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("large").to_str().unwrap().to_string();
    let args = ["bench", "large", "--users", "300", "--requests", "200", "--concurrency", "2", "--data", &data];
    for run in ["fills", "reuses"] {
        let out = scimlab(&args).await;
        assert_eq!(out.status.code(), Some(0), "{run}: {}", stderr(&out));
        let table = stdout(&out);
        has_rows(
            &table,
            &[
                "| serve, 300 users on disk: start to ready line (restart) |",
                "| serve, 300 users on disk: RSS when ready |",
                "| 300 | GET /Users/{id} | 200 | 0 |",
                "| 300 | GET /Users?filter=userName eq | 200 | 0 |",
                "| 300 | GET /Users?startIndex&count=100, spread over the set | 20 | 0 |",
            ],
        );
        assert_eq!(stderr(&out).contains("filling a data directory"), run == "fills", "{run}");
    }
}

#[actix_web::test]
async fn a_ready_file_from_an_earlier_run_never_announces_a_server_that_failed_to_start() {
    let work = tempfile::tempdir().unwrap();
    let ready = work.path().join("ready.json");
    std::fs::write(&ready, r#"{"event":"ready","url":"http://127.0.0.1:1/scim/v2"}"#).unwrap();
    let bad = write(work.path(), "bad.json", json!({"neither": "format"}));
    let out =
        scimlab(&["serve", "--in-memory", "--token", TOKEN, "--seed", &bad, "--ready-file", ready.to_str().unwrap()])
            .await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(!ready.exists(), "the stale ready file was removed before the start failed");
}

#[actix_web::test]
async fn a_config_file_seeds_the_default_tenant_and_each_tenant_from_its_own_files() {
    let work = tempfile::tempdir().unwrap();
    let main_seed = write(
        work.path(),
        "main.json",
        json!([{"schemas": [USER_URN], "id": "u-main", "userName": "main@example.com"}]),
    );
    let acme_seed = write(
        work.path(),
        "acme.json",
        json!([{"schemas": [USER_URN], "id": "u-acme", "userName": "acme@example.com"}]),
    );
    let config = work.path().join("scimlab.toml");
    std::fs::write(
        &config,
        format!(
            "in_memory = true\nseeds = [{main_seed:?}]\n\n[[tenants]]\nname = \"acme\"\ntokens = [\"acme-token\"]\nseeds = [{acme_seed:?}]\n"
        ),
    )
    .unwrap();
    let (mut child, ready) = serve(&["--config", config.to_str().unwrap()]);
    let url = ready["url"].as_str().unwrap().to_string();
    let client = reqwest::Client::new();
    let main = client.get(format!("{url}/Users/u-main")).bearer_auth(TOKEN).send().await.unwrap();
    let acme_url = url.replace("/scim/v2", "/tenants/acme/scim/v2");
    let acme = client.get(format!("{acme_url}/Users/u-acme")).bearer_auth("acme-token").send().await.unwrap();
    let crossed = client.get(format!("{acme_url}/Users/u-main")).bearer_auth("acme-token").send().await.unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!((main.status().as_u16(), acme.status().as_u16()), (200, 200));
    assert_eq!(crossed.status().as_u16(), 404, "each tenant gets only its own seed");
}
