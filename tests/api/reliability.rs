//! Loses nothing: concurrent writers, input limits, and a server killed with SIGKILL.

use std::collections::BTreeMap;

use futures_util::future::join_all;
use serde_json::{json, Value};

use crate::helpers::{id_of, spawn_app, spawn_app_with, user_body, GROUP_URN, TOKEN};

#[actix_web::test]
async fn fifty_concurrent_creates_of_one_user_name_give_exactly_one_201() {
    let app = spawn_app().await;
    let attempts = (0..50).map(|i| {
        // Case varies: userName is unique case-insensitively.
        let name = if i % 2 == 0 { "Race@Example.com" } else { "race@example.com" };
        app.post("/Users", user_body(name))
    });
    let statuses: Vec<u16> = join_all(attempts).await.into_iter().map(|r| r.status).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 49, "{statuses:?}");
    assert_eq!(app.list("/Users", &[("count", "0")]).await.body["totalResults"], 1);
}

#[actix_web::test]
async fn fifty_concurrent_member_adds_to_one_group_keep_all_fifty() {
    let app = spawn_app().await;
    let mut users = Vec::new();
    for i in 0..50 {
        users.push(id_of(&app.create_user(&format!("m{i}@example.com")).await));
    }
    let group = id_of(&app.create_group("Crowd", &[]).await);
    let path = format!("/Groups/{group}");
    let adds = users.iter().map(|id| {
        let path = path.clone();
        let app = &app;
        async move { app.patch_ops(&path, json!([{"op": "add", "path": "members", "value": [{"value": id}]}])).await }
    });
    let statuses: Vec<u16> = join_all(adds).await.into_iter().map(|r| r.status).collect();
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let full = app.get(&format!("/Groups/{group}")).await.body;
    assert_eq!(full["members"].as_array().unwrap().len(), 50, "no member lost");
}

#[actix_web::test]
async fn concurrent_patches_with_the_same_if_match_have_exactly_one_winner() {
    let app = spawn_app().await;
    let user = app.create_user("cas@example.com").await;
    let id = id_of(&user);
    let etag = app.get(&format!("/Users/{id}")).await.header("etag").unwrap();
    let path = format!("/Users/{id}");
    let patches = (0..20).map(|i| {
        let (app, path, etag) = (&app, &path, &etag);
        async move {
            let body = json!({"schemas": [crate::helpers::PATCH_URN],
                              "Operations": [{"op": "replace", "path": "title", "value": format!("writer {i}")}]});
            app.send(reqwest::Method::PATCH, path, Some(&body), &[("if-match", etag.as_str())]).await
        }
    });
    let results = join_all(patches).await;
    let winners: Vec<&Value> = results.iter().filter(|r| r.status == 200).map(|r| &r.body).collect();
    assert_eq!(winners.len(), 1, "{:?}", results.iter().map(|r| r.status).collect::<Vec<_>>());
    assert!(results.iter().filter(|r| r.status != 200).all(|r| r.status == 412));
    let now = app.get(&format!("/Users/{id}")).await.body;
    assert_eq!(now["title"], winners[0]["title"], "the winner's write is the one stored");
}

#[actix_web::test]
async fn oversized_and_deeply_nested_input_is_refused_cleanly() {
    let app = spawn_app_with(|s| s.max_payload_bytes = 16 * 1024).await;
    let mut big = user_body("big@example.com");
    big["displayName"] = json!("x".repeat(20 * 1024));
    app.post("/Users", big).await.assert_error(413, None);

    let nested = format!("{}1{}", "[".repeat(5000), "]".repeat(5000));
    let res = app
        .client
        .post(app.url("/Users"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/scim+json")
        .body(nested)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 400, "JSON nesting beyond the parser's depth is a 400, not a crash");

    let long_filter = format!("userName eq \"{}\"", "a".repeat(5000));
    app.list("/Users", &[("filter", &long_filter)]).await.assert_error(400, Some("invalidFilter"));
    let deep_filter = format!("{}userName pr{}", "(".repeat(40), ")".repeat(40));
    app.list("/Users", &[("filter", &deep_filter)]).await.assert_error(400, Some("invalidFilter"));

    let roomy = spawn_app_with(|s| s.max_payload_bytes = 1024 * 1024).await;
    let mut long_value = user_body("long@example.com");
    long_value["title"] = json!("t".repeat(70 * 1024));
    let res = roomy.post("/Users", long_value).await;
    res.assert_error(400, Some("invalidValue"));
    assert!(res.detail().contains("title"), "{}", res.detail());
    assert_eq!(app.get("/ServiceProviderConfig").await.status, 200, "the server is still up");
}

/// `scimlab serve` over the data directory `data` on port 0: the child and its SCIM base URL
/// (from its ready line).
async fn serve_on(data: &std::path::Path) -> (std::process::Child, String) {
    let data = data.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let (child, ready) = crate::helpers::serve_process(&["--token", TOKEN, "--data", data.to_str().unwrap()]);
        (child, ready["url"].as_str().unwrap().to_string())
    })
    .await
    .unwrap()
}

#[actix_web::test]
async fn every_acknowledged_create_survives_a_sigkill() {
    let data = tempfile::tempdir().unwrap();
    let start = || serve_on(data.path());
    let client = reqwest::Client::new();

    let (mut server, base) = start().await;
    // Writers create users until the server dies under them; keep every 201.
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(BTreeMap::new()));
    // The writer that records the 150th acknowledgement says so; the kill waits for that.
    let enough = std::sync::Arc::new(tokio::sync::Notify::new());
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let (client, base, acknowledged, enough) =
                (client.clone(), base.clone(), acknowledged.clone(), enough.clone());
            actix_web::rt::spawn(async move {
                for i in 0.. {
                    let name = format!("w{w}-{i}@crash.example");
                    let sent =
                        client.post(format!("{base}/Users")).bearer_auth(TOKEN).json(&user_body(&name)).send().await;
                    match sent {
                        Ok(res) if res.status().as_u16() == 201 => {
                            let body: Value = res.json().await.unwrap_or(Value::Null);
                            let mut acknowledged = acknowledged.lock().unwrap();
                            acknowledged.insert(name, body);
                            if acknowledged.len() == 150 {
                                enough.notify_one();
                            }
                        }
                        Ok(_) => {}
                        Err(_) => return,
                    }
                }
            })
        })
        .collect();
    // A bound, not an ordering: the assertion below says if the writers fell short.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(4), enough.notified()).await;
    server.kill().unwrap(); // SIGKILL, mid-load
    server.wait().unwrap();
    for w in writers {
        let _ = w.await;
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() >= 150, "load ran: {}", acknowledged.len());

    let (mut server, base) = start().await;
    for (name, created) in &acknowledged {
        let id = created["id"].as_str().unwrap();
        let res = client.get(format!("{base}/Users/{id}")).bearer_auth(TOKEN).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 200, "{name} was acknowledged but is gone");
        let stored: Value = res.json().await.unwrap();
        assert_eq!(stored["userName"], json!(name));
        assert_eq!(stored["emails"], created["emails"], "intact");
    }
    let total: Value =
        client.get(format!("{base}/Users?count=0")).bearer_auth(TOKEN).send().await.unwrap().json().await.unwrap();
    assert!(total["totalResults"].as_u64().unwrap() >= acknowledged.len() as u64);
    let group = client
        .post(format!("{base}/Groups"))
        .bearer_auth(TOKEN)
        .json(&json!({"schemas": [GROUP_URN], "displayName": "after-crash"}))
        .send()
        .await
        .unwrap();
    assert_eq!(group.status().as_u16(), 201, "the restarted store takes writes");
    server.kill().unwrap();
    server.wait().unwrap();
}

#[actix_web::test]
async fn totals_stay_right_across_clean_stops_and_crashes() {
    // A clean stop saves the resource counts for a fast start; the start that uses them must
    // withdraw them, or a crash after more writes would bring the old counts back.
    let data = tempfile::tempdir().unwrap();
    let start = || serve_on(data.path());
    let stop = |mut server: std::process::Child, signal: &'static str| async move {
        tokio::task::spawn_blocking(move || {
            let sent = std::process::Command::new("kill").args([signal, &server.id().to_string()]).status().unwrap();
            assert!(sent.success(), "kill {signal}");
            server.wait().unwrap()
        })
        .await
        .unwrap()
    };
    let client = reqwest::Client::new();
    let create = |base: String, name: String| {
        let client = client.clone();
        async move {
            let res = client.post(format!("{base}/Users")).bearer_auth(TOKEN).json(&user_body(&name)).send().await;
            let res = res.unwrap();
            assert_eq!(res.status().as_u16(), 201, "{name}");
            id_of(&res.json::<Value>().await.unwrap())
        }
    };
    let total = |base: String, kind: &'static str| {
        let client = client.clone();
        async move {
            let res = client.get(format!("{base}/{kind}?count=0")).bearer_auth(TOKEN).send().await.unwrap();
            let body: Value = res.json().await.unwrap();
            body["totalResults"].as_u64().unwrap()
        }
    };

    let (server, base) = start().await;
    for i in 0..3 {
        create(base.clone(), format!("first-{i}@restart.example")).await;
    }
    assert_eq!(stop(server, "-TERM").await.code(), Some(0), "a clean stop");

    let (server, base) = start().await;
    assert_eq!(total(base.clone(), "Users").await, 3, "the saved counts");
    let extra = create(base.clone(), "second-0@restart.example".into()).await;
    create(base.clone(), "second-1@restart.example".into()).await;
    stop(server, "-KILL").await;

    let (server, base) = start().await;
    assert_eq!(total(base.clone(), "Users").await, 5, "after a crash the keys are counted, not old counts used");
    let res = client.delete(format!("{base}/Users/{extra}")).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 204);
    assert_eq!(stop(server, "-TERM").await.code(), Some(0));

    let (server, base) = start().await;
    assert_eq!(total(base.clone(), "Users").await, 4, "a delete before a clean stop");
    assert_eq!(total(base.clone(), "Groups").await, 0);
    stop(server, "-KILL").await;
}
