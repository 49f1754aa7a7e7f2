//! Multi-tenancy: separate data, tokens, quirk profiles and faults per tenant.

use serde_json::{json, Value};

use scimlab::service::profile::Profile;

use crate::helpers::{spawn_app_with, user_body, TestApp, PATCH_URN, TOKEN};

use crate::helpers::ADMIN_TOKEN as ADMIN;

fn acme() -> scimlab::tenants::TenantSpec {
    serde_json::from_value(json!({"name": "acme", "tokens": ["acme-token"], "profile": "strict"})).unwrap()
}

async fn as_tenant(
    app: &TestApp,
    tenant: &str,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let url = format!("{}/tenants/{tenant}/scim/v2{path}", app.address);
    let mut req = app.client.request(method, url).bearer_auth(token);
    if let Some(b) = body {
        req = req.header("content-type", "application/scim+json").body(b.to_string());
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn admin(app: &TestApp, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = app.client.request(method, format!("{}{path}", app.address)).bearer_auth(ADMIN);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[actix_web::test]
async fn tenants_have_their_own_data_tokens_and_profiles() {
    let app = spawn_app_with(|s| {
        s.admin_token = Some(ADMIN.into());
        s.tenants = vec![acme()];
    })
    .await;
    let (status, created) =
        as_tenant(&app, "acme", "acme-token", reqwest::Method::POST, "/Users", Some(user_body("same@example.com")))
            .await;
    assert_eq!(status, 201, "{created}");
    assert!(created["meta"]["location"].as_str().unwrap().contains("/tenants/acme/scim/v2/Users/"), "{created}");
    // The same userName in the default tenant is no conflict: separate data.
    assert_eq!(app.post("/Users", user_body("same@example.com")).await.status, 201);
    assert_eq!(app.list("/Users", &[("count", "0")]).await.body["totalResults"], 1);

    // Tokens do not cross tenants.
    assert_eq!(as_tenant(&app, "acme", TOKEN, reqwest::Method::GET, "/Users", None).await.0, 401);
    let res = app.client.get(app.url("/Users")).bearer_auth("acme-token").send().await.unwrap();
    assert_eq!(res.status().as_u16(), 401);

    // acme is strict: Entra's legacy PATCH is refused there and accepted by default.
    let id = created["id"].as_str().unwrap();
    let legacy = json!({"schemas": [PATCH_URN], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]});
    let (status, body) =
        as_tenant(&app, "acme", "acme-token", reqwest::Method::PATCH, &format!("/Users/{id}"), Some(legacy.clone()))
            .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("entra"), "{body}");
    let default_user = app.list("/Users", &[("filter", "userName eq \"same@example.com\"")]).await.body["Resources"][0]
        ["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(app.patch(&format!("/Users/{default_user}"), legacy).await.status, 200);

    // Which tenants exist is the administrator's business: a client without a valid token
    // gets the same 401 for an unknown tenant as for a known one.
    let (unknown, unknown_body) = as_tenant(&app, "nope", "x", reqwest::Method::GET, "/Users", None).await;
    let (known, known_body) = as_tenant(&app, "acme", "x", reqwest::Method::GET, "/Users", None).await;
    assert_eq!((unknown, known), (401, 401));
    assert_eq!(unknown_body["detail"], known_body["detail"]);
    let (admin_probe, body) = as_tenant(&app, "nope", ADMIN, reqwest::Method::GET, "/Users", None).await;
    assert_eq!(admin_probe, 404, "the administrator is told: {body}");
    let (_, listed) = admin(&app, reqwest::Method::GET, "/admin/tenants", None).await;
    let acme_row = listed["tenants"].as_array().unwrap().iter().find(|t| t["name"] == "acme").unwrap().clone();
    assert_eq!((acme_row["users"].as_u64(), acme_row["profile"].as_str()), (Some(1), Some("strict")));
}

#[actix_web::test]
async fn tenants_created_over_the_admin_api_get_their_own_faults_and_survive_a_restart() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().join("db");
    let settings = |dir: std::path::PathBuf| {
        move |s: &mut scimlab::config::Settings| {
            s.admin_token = Some(ADMIN.into());
            s.data = Some(dir);
            s.profile = Profile::Entra;
        }
    };
    let app = spawn_app_with(settings(dir.clone())).await;
    let (status, body) = admin(
        &app,
        reqwest::Method::PUT,
        "/admin/tenants/globex",
        Some(json!({"tokens": ["globex-token"], "faults": {"rules": [{"method": "DELETE", "status": 503}]}})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scimRoot"], "/tenants/globex/scim/v2");
    let (status, created) =
        as_tenant(&app, "globex", "globex-token", reqwest::Method::POST, "/Users", Some(user_body("g@example.com")))
            .await;
    assert_eq!(status, 201);
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(
        as_tenant(&app, "globex", "globex-token", reqwest::Method::DELETE, &format!("/Users/{id}"), None).await.0,
        503
    );
    let mine = app.create_user("mine@example.com").await;
    assert_eq!(
        app.delete(&format!("/Users/{}", mine["id"].as_str().unwrap())).await.status,
        204,
        "faults stay in their tenant"
    );
    let (status, _) =
        admin(&app, reqwest::Method::PUT, "/admin/tenants/bad name", Some(json!({"tokens": ["t"]}))).await;
    assert_eq!(status, 400);
    let (_, records) = admin(&app, reqwest::Method::GET, "/admin/requests?status=503", None).await;
    assert_eq!(records["requests"][0]["tenant"], "globex");
    app.handle_stop().await;

    let again = spawn_app_with(settings(dir)).await;
    let (status, user) =
        as_tenant(&again, "globex", "globex-token", reqwest::Method::GET, &format!("/Users/{id}"), None).await;
    assert_eq!(status, 200, "the tenant and its data survive a restart: {user}");
    assert_eq!(
        as_tenant(&again, "globex", "globex-token", reqwest::Method::DELETE, &format!("/Users/{id}"), None).await.0,
        503
    );
    let (status, _) = admin(&again, reqwest::Method::DELETE, "/admin/tenants/globex/faults", None).await;
    assert_eq!(status, 204);
    assert_eq!(
        as_tenant(&again, "globex", "globex-token", reqwest::Method::DELETE, &format!("/Users/{id}"), None).await.0,
        204
    );
}
