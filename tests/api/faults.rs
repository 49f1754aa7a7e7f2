//! Fault injection on the mock service provider, configured over the admin API.

use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with, user_body};

use crate::helpers::ADMIN_TOKEN as ADMIN;

async fn put_plan(app: &crate::helpers::TestApp, token: Option<&str>, plan: Value) -> (u16, Value) {
    let mut req = app.client.put(format!("{}/admin/faults", app.address)).json(&plan);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[actix_web::test]
async fn the_admin_api_needs_its_own_token() {
    let off = spawn_app().await;
    let (status, body) = put_plan(&off, Some("anything"), json!({"rules": []})).await;
    assert_eq!(status, 403);
    assert!(body["detail"].as_str().unwrap().contains("--admin-token"), "{body}");

    let app = spawn_app_with(|s| s.admin_token = Some(ADMIN.into())).await;
    assert_eq!(put_plan(&app, None, json!({"rules": []})).await.0, 401);
    assert_eq!(
        put_plan(&app, Some(crate::helpers::TOKEN), json!({"rules": []})).await.0,
        401,
        "a SCIM token is not an admin token"
    );
    let (status, body) = put_plan(&app, Some(ADMIN), json!({"rules": [{"path": "/Users"}]})).await;
    assert_eq!(status, 400);
    assert!(body["detail"].as_str().unwrap().contains("rules[0]"), "{body}");
}

#[actix_web::test]
async fn injected_statuses_carry_retry_after_and_name_the_rule() {
    let app = spawn_app_with(|s| s.admin_token = Some(ADMIN.into())).await;
    let plan = json!({"seed": 7, "rules": [
        {"method": "POST", "path": "/Users", "times": 1, "status": 429, "retryAfterSeconds": 2},
        {"method": "PATCH", "path": "/Users/", "status": 412}
    ]});
    assert_eq!(put_plan(&app, Some(ADMIN), plan.clone()).await.0, 200);
    let first = app.post("/Users", user_body("a@example.com")).await;
    first.assert_error(429, None);
    assert_eq!(first.header("retry-after").as_deref(), Some("2"));
    assert_eq!(first.header("x-scimlab-fault").as_deref(), Some("rule#1 status 429"));
    let second = app.post("/Users", user_body("a@example.com")).await;
    assert_eq!(second.status, 201, "the rule fired once: {}", second.body);
    let id = second.body["id"].as_str().unwrap().to_string();
    let patched =
        app.patch_ops(&format!("/Users/{id}"), json!([{"op": "replace", "path": "title", "value": "x"}])).await;
    patched.assert_error(412, None);
    assert_eq!(app.get(&format!("/Users/{id}")).await.body["title"], Value::Null, "the faulted PATCH did nothing");

    let current: Value = app
        .client
        .get(format!("{}/admin/faults", app.address))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(current["rules"].as_array().unwrap().len(), 2);
    let cleared = app.client.delete(format!("{}/admin/faults", app.address)).bearer_auth(ADMIN).send().await.unwrap();
    assert_eq!(cleared.status().as_u16(), 204);
    let patched =
        app.patch_ops(&format!("/Users/{id}"), json!([{"op": "replace", "path": "title", "value": "x"}])).await;
    assert_eq!(patched.status, 200);
}

#[actix_web::test]
async fn latency_faults_delay_but_serve_and_faults_load_from_the_config() {
    let app = spawn_app_with(|s| {
        s.faults = serde_json::from_value(
            json!({"rules": [{"method": "GET", "path": "/ServiceProviderConfig", "latencyMs": 300}]}),
        )
        .unwrap()
    })
    .await;
    let started = std::time::Instant::now();
    let res = app.get("/ServiceProviderConfig").await;
    assert_eq!(res.status, 200);
    assert!(started.elapsed() >= std::time::Duration::from_millis(300));
    assert_eq!(res.header("x-scimlab-fault").as_deref(), Some("rule#1 latency 300ms"));
}

#[actix_web::test]
async fn the_admin_page_says_how_to_turn_the_admin_api_on_when_it_is_off() {
    let app = spawn_app().await;
    let page = app.client.get(format!("{}/admin", app.address)).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("id=\"admin-off\"") && html.contains("--admin-token"), "the page explains: {html:.300}");

    let on = spawn_app_with(|s| s.admin_token = Some("a".into())).await;
    let html = on.client.get(format!("{}/admin", on.address)).send().await.unwrap().text().await.unwrap();
    assert!(!html.contains("id=\"admin-off\""), "no warning when the API is on");
}

#[actix_web::test]
async fn fault_headers_name_rules_from_one_and_misbehaviours_by_their_plan_names() {
    let app = spawn_app_with(|s| {
        s.faults = serde_json::from_value(serde_json::json!({"rules": [
            {"method": "DELETE", "status": 500},
            {"method": "GET", "path": "/Users", "misbehave": "wrong-total"}
        ]}))
        .unwrap()
    })
    .await;
    let res = app.list("/Users", &[("count", "1")]).await;
    assert_eq!(res.header("x-scimlab-fault").as_deref(), Some("rule#2 misbehave wrong-total"));
}

/// The `scimlab_fault_held_requests` sample of the default tenant, read from `/metrics`.
async fn held_requests(app: &crate::helpers::TestApp) -> Option<u64> {
    let res = app.admin(reqwest::Method::GET, "/metrics", None).await;
    let text = res.text().await.unwrap();
    text.lines()
        .find(|l| l.starts_with("scimlab_fault_held_requests{tenant=\"default\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
}

#[actix_web::test]
async fn clearing_the_faults_releases_held_requests_at_once() {
    let app = spawn_app_with(|s| s.admin_token = Some(ADMIN.into())).await;
    // Ten minutes: only the release can end these holds within the test.
    let plan = json!({"rules": [
        {"method": "POST", "path": "/Users", "latencyMs": 600_000},
        {"method": "GET", "path": "/Groups", "hangSeconds": 600, "status": 503}
    ]});
    assert_eq!(put_plan(&app, Some(ADMIN), plan).await.0, 200);
    let requests = async { tokio::join!(app.post("/Users", user_body("held@example.com")), app.get("/Groups")) };
    let operator = async {
        let held = crate::helpers::poll(std::time::Duration::from_secs(20), || async {
            match held_requests(&app).await {
                Some(2) => Ok(()),
                other => Err(other),
            }
        })
        .await;
        assert_eq!(held, Ok(()), "both requests are held, and the metric says so");
        app.admin(reqwest::Method::DELETE, "/admin/faults", None).await.status().as_u16()
    };
    let both = tokio::time::timeout(std::time::Duration::from_secs(60), async { tokio::join!(requests, operator) });
    let ((created, hung), cleared) = both.await.expect("both requests are answered once the faults are cleared");
    assert_eq!(cleared, 204);
    assert_eq!(created.status, 201, "the delayed create is then served");
    assert_eq!(hung.status, 503, "the hung request is answered with its rule's status");
    assert_eq!(held_requests(&app).await, Some(0));
    assert_eq!(app.get("/Users").await.body["totalResults"], 1);
}
