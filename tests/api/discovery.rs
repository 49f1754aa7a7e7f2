use serde_json::{json, Value};

use crate::helpers::*;

#[actix_web::test]
async fn service_provider_config_tells_the_truth() {
    let app = spawn_app().await;
    let res = app.get("/ServiceProviderConfig").await;
    assert_eq!(res.status, 200);
    assert_eq!(res.header("content-type").as_deref(), Some("application/scim+json"));
    let spc = res.body;
    assert_eq!(spc["schemas"][0], "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig");
    assert_eq!(spc["patch"]["supported"], true);
    assert_eq!(spc["filter"]["supported"], true);
    assert_eq!(spc["sort"]["supported"], true);
    assert_eq!(spc["etag"]["supported"], true);
    assert_eq!(spc["bulk"]["supported"], true);
    assert_eq!(spc["bulk"]["maxOperations"], 1000);
    assert_eq!(spc["bulk"]["maxPayloadSize"], 1024 * 1024);
    assert_eq!(spc["authenticationSchemes"][0]["type"], "oauthbearertoken");
    let me = app.get("/Me").await;
    me.assert_error(501, None);
}

#[actix_web::test]
async fn resource_types_and_schemas_are_listed_and_fetched_by_id() {
    let app = spawn_app().await;
    let types = app.get("/ResourceTypes").await.body;
    assert_eq!(types["totalResults"], 2);
    let user_type = app.get("/ResourceTypes/User").await.body;
    assert_eq!(user_type["endpoint"], "/Users");
    assert_eq!(user_type["schema"], USER_URN);
    assert_eq!(user_type["schemaExtensions"], json!([{"schema": ENTERPRISE_URN, "required": false}]));
    app.get("/ResourceTypes/Printer").await.assert_error(404, None);

    let schemas = app.get("/Schemas").await.body;
    let ids: Vec<Value> = schemas["Resources"].as_array().unwrap().iter().map(|s| s["id"].clone()).collect();
    assert_eq!(ids, vec![json!(USER_URN), json!(ENTERPRISE_URN), json!(GROUP_URN)]);
    let user = app.get(&format!("/Schemas/{USER_URN}")).await.body;
    let attr = |name: &str| user["attributes"].as_array().unwrap().iter().find(|a| a["name"] == name).unwrap().clone();
    assert_eq!(attr("userName")["uniqueness"], "server");
    assert_eq!(attr("userName")["required"], true);
    assert_eq!(attr("active")["type"], "boolean");
    assert_eq!(attr("password")["returned"], "never");
    assert_eq!(attr("password")["mutability"], "writeOnly");
    assert_eq!(attr("groups")["mutability"], "readOnly");
    assert_eq!(attr("emails")["multiValued"], true);
    assert_eq!(attr("emails")["subAttributes"][2]["canonicalValues"], json!(["work", "home", "other"]));
    app.get("/Schemas/urn:nope").await.assert_error(404, None);
}

#[actix_web::test]
async fn discovery_endpoints_refuse_writes_with_405() {
    let app = spawn_app().await;
    for path in
        ["/ServiceProviderConfig", "/ResourceTypes", "/Schemas", "/ResourceTypes/User", &format!("/Schemas/{USER_URN}")]
    {
        for method in [reqwest::Method::POST, reqwest::Method::PUT, reqwest::Method::PATCH, reqwest::Method::DELETE] {
            let res = app.send(method.clone(), path, Some(&json!({})), &[]).await;
            res.assert_error(405, None);
        }
    }
    let res = app.send(reqwest::Method::PUT, "/Users", Some(&json!({})), &[]).await;
    res.assert_error(405, None);
    let res = app.send(reqwest::Method::POST, "/Users/some-id", Some(&json!({})), &[]).await;
    res.assert_error(405, None);
}

#[actix_web::test]
async fn unknown_endpoints_are_scim_404s() {
    let app = spawn_app().await;
    app.get("/Printers").await.assert_error(404, None);
    app.get("/Printers/1").await.assert_error(404, None);
    let outside = app.client.get(format!("{}/nope", app.address)).send().await.unwrap();
    assert_eq!(outside.status(), 404);
    assert_eq!(outside.headers()["content-type"], "application/scim+json");
}

#[actix_web::test]
async fn resource_paths_decode_their_segments_and_answer_by_shape() {
    let app = spawn_app().await;
    let created = app.post("/Users", user_body("routes@example.com")).await;
    let id = created.body["id"].as_str().unwrap().to_string();
    // Endpoint names match whatever their case; an id's segment is percent-decoded.
    assert_eq!(app.get(&format!("/users/{id}")).await.status, 200);
    let encoded: String = id.bytes().map(|b| format!("%{b:02X}")).collect();
    let res = app.get(&format!("/Users/{encoded}")).await;
    assert_eq!((res.status, res.body["id"].as_str()), (200, Some(id.as_str())));
    // `.search` takes POST only; other shapes are not endpoints at all.
    app.get("/Users/.search").await.assert_error(405, None);
    app.delete("/Users/.search").await.assert_error(405, None);
    for path in ["/Users/", &format!("/Users/{id}/extra"), "//Users", "/Users//x"] {
        app.get(path).await.assert_error(404, None);
    }
    // The method is refused before the token is asked for; a GET without one gets 401.
    let anonymous = |method: reqwest::Method, path: &str| app.client.request(method, app.url(path)).send();
    assert_eq!(anonymous(reqwest::Method::PUT, "/Users").await.unwrap().status(), 405);
    assert_eq!(anonymous(reqwest::Method::GET, &format!("/Users/{id}")).await.unwrap().status(), 401);
}

#[actix_web::test]
async fn service_provider_config_holds_only_registered_attributes_for_strict_clients() {
    let app = spawn_app().await;
    let res = app.get("/ServiceProviderConfig").await;
    let spc = res.body.as_object().unwrap().clone();
    assert_eq!(spc["schemas"], json!(["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"]));
    // RFC 7643 §5 plus RFC 9865's pagination: nothing else, so strict parsers accept it.
    let registered = [
        "schemas",
        "documentationUri",
        "patch",
        "bulk",
        "filter",
        "changePassword",
        "sort",
        "etag",
        "authenticationSchemes",
        "pagination",
        "meta",
    ];
    let extra: Vec<&String> = spc.keys().filter(|k| !registered.contains(&k.as_str())).collect();
    assert!(extra.is_empty(), "unregistered attributes: {extra:?}");
    assert!(spc.get("documentationUri").is_none(), "no invented documentation URL");
    assert!(spc["pagination"].get("cursorTimeout").is_none(), "cursors never expire, so no timeout is claimed");
    assert_eq!(
        res.header("x-scimlab-filter-limits").as_deref(),
        Some("maxLength=4096; maxDepth=32; countAboveMaxResults=clamped")
    );

    let documented = spawn_app_with(|s| s.documentation_uri = Some("https://scim.example.test/docs".into())).await;
    let spc = documented.get("/ServiceProviderConfig").await.body;
    assert_eq!(spc["documentationUri"], "https://scim.example.test/docs");
}
