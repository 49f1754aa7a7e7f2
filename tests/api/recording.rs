//! Request recording: what a client sent and what scimlab answered, inspectable over the
//! admin API and exportable as JSONL and HAR.

use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, user_body, TestApp, PATCH_URN, TOKEN};

use crate::helpers::ADMIN_TOKEN as ADMIN;

async fn admin_get(app: &TestApp, path: &str) -> reqwest::Response {
    app.admin(reqwest::Method::GET, path, None).await
}

#[actix_web::test]
async fn every_scim_request_is_recorded_with_secrets_redacted() {
    let app = spawn_app_with(|s| s.admin_token = Some(ADMIN.into())).await;
    let mut body = user_body("rec@example.com");
    body["password"] = json!("hunter2");
    let created = app.post("/Users", body).await;
    let id = created.body["id"].as_str().unwrap().to_string();
    // Entra's legacy shape, so the record shows the quirk that accepted it.
    app.patch(
        &format!("/Users/{id}"),
        json!({"schemas": [PATCH_URN], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}),
    )
    .await;
    app.post("/Users", user_body("rec@example.com")).await; // 409
    app.list("/Users", &[("filter", "userName eq \"rec@example.com\"")]).await;

    let all: Value = admin_get(&app, "/admin/requests").await.json().await.unwrap();
    let records = all["requests"].as_array().unwrap();
    assert_eq!(records.len(), 4, "{all}");
    let first = &records[0];
    assert_eq!((first["method"].as_str(), first["status"].as_u64()), (Some("POST"), Some(201)));
    assert_eq!(first["requestBody"]["userName"], "rec@example.com");
    assert_eq!(first["requestBody"]["password"], "[redacted]", "passwords never reach the record");
    let auth = first["requestHeaders"].as_array().unwrap().iter().find(|h| h[0] == "authorization").unwrap();
    assert_eq!(auth[1], "Bearer [redacted]");
    assert!(!all.to_string().contains(TOKEN), "the token appears nowhere");
    assert_eq!(first["responseBody"]["id"], id.as_str());
    assert!(
        records[1]["quirks"].as_array().unwrap().iter().any(|q| q.as_str().unwrap().contains("op")),
        "{}",
        records[1]
    );
    assert_eq!(records[3]["query"], "filter=userName+eq+%22rec%40example.com%22");

    let conflicts: Value = admin_get(&app, "/admin/requests?status=4xx").await.json().await.unwrap();
    assert_eq!(conflicts["requests"].as_array().unwrap().len(), 1);
    assert_eq!(conflicts["requests"][0]["status"], 409);
    let since = records[1]["seq"].as_u64().unwrap();
    let later: Value =
        admin_get(&app, &format!("/admin/requests?since={since}&method=GET")).await.json().await.unwrap();
    assert_eq!(later["requests"].as_array().unwrap().len(), 1);

    let jsonl = admin_get(&app, "/admin/requests.jsonl").await.text().await.unwrap();
    assert_eq!(jsonl.lines().count(), 4);
    assert!(jsonl.lines().all(|l| serde_json::from_str::<Value>(l).is_ok()));
    let har: Value = admin_get(&app, "/admin/requests.har").await.json().await.unwrap();
    assert_eq!(har["log"]["version"], "1.2");
    let entries = har["log"]["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 4);
    assert_eq!(entries[0]["request"]["method"], "POST");
    assert!(entries[0]["request"]["url"].as_str().unwrap().ends_with("/scim/v2/Users"));
    assert_eq!(entries[2]["response"]["status"], 409);

    let cleared = app.client.delete(format!("{}/admin/requests", app.address)).bearer_auth(ADMIN).send().await.unwrap();
    assert_eq!(cleared.status().as_u16(), 204);
    let none: Value = admin_get(&app, "/admin/requests").await.json().await.unwrap();
    assert_eq!(none["requests"].as_array().unwrap().len(), 0);
    assert_eq!(app.client.get(format!("{}/admin/requests", app.address)).send().await.unwrap().status().as_u16(), 401);
}

#[actix_web::test]
async fn the_ring_is_bounded_and_records_injected_faults() {
    let app = spawn_app_with(|s| {
        s.admin_token = Some(ADMIN.into());
        s.record_capacity = 5;
        s.faults =
            serde_json::from_value(json!({"rules": [{"method": "GET", "path": "/Groups", "status": 503}]})).unwrap();
    })
    .await;
    for i in 0..8 {
        app.post("/Users", user_body(&format!("ring{i}@example.com"))).await;
    }
    app.get("/Groups").await;
    let all: Value = admin_get(&app, "/admin/requests").await.json().await.unwrap();
    let records = all["requests"].as_array().unwrap();
    assert_eq!(records.len(), 5, "only the newest 5 are kept");
    let last = records.last().unwrap();
    assert_eq!((last["status"].as_u64(), last["fault"].as_str()), (Some(503), Some("rule#1 status 503")));
    assert_eq!(records[0]["requestBody"]["userName"], "ring4@example.com");

    let off = spawn_app_with(|s| {
        s.admin_token = Some(ADMIN.into());
        s.record_capacity = 0;
    })
    .await;
    off.post("/Users", user_body("quiet@example.com")).await;
    let none: Value = admin_get(&off, "/admin/requests").await.json().await.unwrap();
    assert_eq!((none["enabled"].as_bool(), none["requests"].as_array().unwrap().len()), (Some(false), 0));
}

#[actix_web::test]
async fn metrics_count_requests_by_route_and_resources_per_tenant() {
    let app = crate::helpers::spawn_app().await;
    app.post("/Users", user_body("m1@example.com")).await;
    app.post("/Users", user_body("m2@example.com")).await;
    app.post("/Users", user_body("m2@example.com")).await; // 409
    let id = app.list("/Users", &[("filter", "userName eq \"m1@example.com\"")]).await.body["Resources"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.get(&format!("/Users/{id}")).await;
    let text = app.client.get(format!("{}/metrics", app.address)).send().await.unwrap().text().await.unwrap();
    assert!(
        text.contains(r#"scimlab_http_requests_total{method="POST",route="/scim/v2/{endpoint}",status="201"} 2"#),
        "{text}"
    );
    assert!(
        text.contains(r#"scimlab_http_requests_total{method="POST",route="/scim/v2/{endpoint}",status="409"} 1"#),
        "{text}"
    );
    assert!(text.contains(r#"route="/scim/v2/{endpoint}/{id}",status="200"} 1"#), "ids never become labels: {text}");
    assert!(text.contains(r#"scimlab_resources{tenant="default",type="User"} 2"#), "{text}");
    assert!(text.contains(r#"scimlab_http_request_duration_seconds_count{route="/scim/v2/{endpoint}"} 4"#), "{text}");

    let guarded = spawn_app_with(|s| s.admin_token = Some(ADMIN.into())).await;
    assert_eq!(guarded.client.get(format!("{}/metrics", guarded.address)).send().await.unwrap().status().as_u16(), 401);
    assert_eq!(admin_get(&guarded, "/metrics").await.status().as_u16(), 200);
}

#[actix_web::test]
async fn no_password_or_credential_reaches_the_recording_by_any_route() {
    let app = spawn_app_with(|s| s.admin_token = Some(ADMIN.into())).await;
    let id = app.post("/Users", user_body("secret@example.com")).await.body["id"].as_str().unwrap().to_string();
    let path = format!("/Users/{id}");
    for op in [
        json!({"op": "replace", "path": "password", "value": "hunter2-a"}),
        json!({"op": "replace", "path": "urn:ietf:params:scim:schemas:core:2.0:User:password", "value": "hunter2-b"}),
        json!({"op": "replace", "value": {"password": "hunter2-c"}}),
    ] {
        app.patch(&path, json!({"schemas": [PATCH_URN], "Operations": [op]})).await;
    }
    let mut bulk_user = user_body("bulk-secret@example.com");
    bulk_user["password"] = json!("hunter2-d");
    app.post(
        "/Bulk",
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
               "Operations": [{"method": "POST", "path": "/Users", "bulkId": "b1", "data": bulk_user}]}),
    )
    .await;
    let url = app.url("/Users");
    let raw = |body: String| {
        app.client.post(&url).bearer_auth(TOKEN).header("content-type", "application/scim+json").body(body)
    };
    raw(r#"{"userName": "broken@example.com", "password": "hunter2-e""#.into()).send().await.unwrap();
    raw(format!(r#"{{"userName":"big@example.com","password":"hunter2-f","x":"{}"}}"#, "y".repeat(70_000)))
        .send()
        .await
        .unwrap();
    app.client
        .get(format!("{url}?access_token=hunter2-g"))
        .bearer_auth(TOKEN)
        .header("X-Auth-Token", "hunter2-h")
        .send()
        .await
        .unwrap();

    for export in ["/admin/requests", "/admin/requests.jsonl", "/admin/requests.har"] {
        let text = admin_get(&app, export).await.text().await.unwrap();
        assert!(text.contains("secret@example.com"), "{export} holds the traffic");
        assert!(!text.contains("hunter2"), "{export} leaks a secret: {}", &text[text.find("hunter2").unwrap()..][..80]);
    }
}

#[actix_web::test]
async fn requests_without_credentials_are_recorded_as_a_summary_only() {
    let app = spawn_app_with(|s| s.admin_token = Some(ADMIN.into())).await;
    let padding = "x".repeat(60_000);
    let anonymous = app
        .client
        .get(format!("{}?pad={padding}", app.url(&format!("/Users/{}", "p".repeat(5_000)))))
        .header("X-Padding", &padding[..8_000])
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
    let all: Value = admin_get(&app, "/admin/requests").await.json().await.unwrap();
    let record = all["requests"].as_array().unwrap().iter().find(|r| r["status"] == 401).expect("the 401 is recorded");
    assert!(record["path"].as_str().unwrap().len() <= 200, "path cut: {}", record["path"]);
    assert_eq!(record["query"], "");
    assert_eq!(record["requestHeaders"], json!([]));
    assert!(record["responseBody"].is_null());
}

#[actix_web::test]
async fn metrics_label_unknown_methods_as_other_so_clients_cannot_create_series() {
    let app = crate::helpers::spawn_app().await;
    for i in 0..20 {
        let method = reqwest::Method::from_bytes(format!("X{i:03}RANDOM").as_bytes()).unwrap();
        app.client.request(method, app.url("/Users")).send().await.unwrap();
    }
    let text = app.client.get(format!("{}/metrics", app.address)).send().await.unwrap().text().await.unwrap();
    assert!(!text.contains("RANDOM"), "no series per invented method: {text}");
    assert!(text.contains("method=\"other\""), "{text}");
}
