//! /Bulk (RFC 7644 §3.7).

use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with, user_body, GROUP_URN};

const BULK_URN: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";

const BULK: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";

fn ops(operations: Value) -> Value {
    json!({"schemas": [BULK], "Operations": operations})
}

#[actix_web::test]
async fn a_group_and_its_new_members_are_created_in_one_request() {
    let app = spawn_app().await;
    // The group comes first and refers to users created later in the same request.
    let res = app
        .post(
            "/Bulk",
            ops(json!([
                {"method": "POST", "path": "/Groups", "bulkId": "g", "data": {
                    "schemas": [GROUP_URN], "displayName": "Bulk Team",
                    "members": [{"value": "bulkId:a"}, {"value": "bulkId:b"}]}},
                {"method": "POST", "path": "/Users", "bulkId": "a", "data": user_body("a@bulk.example")},
                {"method": "POST", "path": "/Users", "bulkId": "b", "data": user_body("b@bulk.example")},
                {"method": "PATCH", "path": "/Users/bulkId:a", "data": {
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "replace", "path": "title", "value": "Lead"}]}}
            ])),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:BulkResponse");
    let results = res.body["Operations"].as_array().unwrap();
    let statuses: Vec<&str> = results.iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["201", "201", "201", "200"], "{}", res.body);
    assert!(results[0]["location"].as_str().unwrap().contains("/Groups/"));
    assert!(results[1]["version"].as_str().unwrap().starts_with("W/"));

    let group_id = results[0]["location"].as_str().unwrap().rsplit('/').next().unwrap();
    let group = app.get(&format!("/Groups/{group_id}")).await.body;
    let mut members: Vec<String> =
        group["members"].as_array().unwrap().iter().map(|m| m["display"].as_str().unwrap_or("").to_string()).collect();
    members.sort();
    assert_eq!(members.len(), 2, "{group}");
    let a = app.list("/Users", &[("filter", "userName eq \"a@bulk.example\"")]).await.body;
    assert_eq!(a["Resources"][0]["title"], "Lead", "PATCH through a bulkId path");
}

#[actix_web::test]
async fn errors_are_per_operation_and_fail_on_errors_stops_the_rest() {
    let app = spawn_app().await;
    app.create_user("taken@bulk.example").await;
    let res = app
        .post(
            "/Bulk",
            json!({"schemas": [BULK], "failOnErrors": 1, "Operations": [
                {"method": "POST", "path": "/Users", "bulkId": "dup", "data": user_body("taken@bulk.example")},
                {"method": "POST", "path": "/Users", "bulkId": "never", "data": user_body("never@bulk.example")}
            ]}),
        )
        .await;
    assert_eq!(res.status, 200);
    let results = res.body["Operations"].as_array().unwrap();
    assert_eq!(results.len(), 1, "processing stopped after the first error: {}", res.body);
    assert_eq!(results[0]["status"], "409");
    assert_eq!(results[0]["response"]["scimType"], "uniqueness");
    assert_eq!(app.list("/Users", &[("filter", "userName eq \"never@bulk.example\"")]).await.body["totalResults"], 0);

    let res = app
        .post(
            "/Bulk",
            ops(json!([
                {"method": "POST", "path": "/Users", "bulkId": "ok", "data": user_body("ok@bulk.example")},
                {"method": "DELETE", "path": "/Users/does-not-exist"},
                {"method": "POST", "path": "/Groups", "bulkId": "g", "data": {
                    "schemas": [GROUP_URN], "displayName": "Dangling", "members": [{"value": "bulkId:missing"}]}}
            ])),
        )
        .await;
    let statuses: Vec<&str> =
        res.body["Operations"].as_array().unwrap().iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["201", "404", "409"], "{}", res.body);
    assert!(res.body["Operations"][2]["response"]["detail"].as_str().unwrap().contains("missing"));
}

#[actix_web::test]
async fn limits_are_advertised_and_enforced() {
    let app = spawn_app_with(|s| {
        s.bulk_max_operations = 2;
        s.max_payload_bytes = 8 * 1024;
    })
    .await;
    let three: Vec<Value> = (0..3)
        .map(|i| json!({"method": "POST", "path": "/Users", "bulkId": format!("u{i}"), "data": user_body(&format!("u{i}@bulk.example"))}))
        .collect();
    app.post("/Bulk", ops(json!(three))).await.assert_error(413, None);
    let mut big = user_body("big@bulk.example");
    big["displayName"] = json!("x".repeat(9 * 1024));
    app.post("/Bulk", ops(json!([{"method": "POST", "path": "/Users", "bulkId": "x", "data": big}])))
        .await
        .assert_error(413, None);
    let res = app
        .post("/Bulk", ops(json!([{"method": "POST", "path": "/Users", "data": user_body("x@bulk.example")}])))
        .await;
    res.assert_error(400, None);
    assert!(res.detail().contains("bulkId"), "{}", res.detail());
    let spc = app.get("/ServiceProviderConfig").await.body;
    assert_eq!(
        (spc["bulk"]["maxOperations"].as_u64(), spc["bulk"]["maxPayloadSize"].as_u64()),
        (Some(2), Some(8 * 1024))
    );
    assert_eq!(app.list("/Users", &[("count", "0")]).await.body["totalResults"], 0, "nothing half-written");
}

#[actix_web::test]
async fn fault_rules_on_bulk_paths_fail_single_operations() {
    let app = spawn_app_with(|s| {
        s.faults = serde_json::from_value(json!({"seed": 3, "rules": [
            {"method": "POST", "path": "/Bulk/Users", "after": 1, "times": 1, "status": 500}
        ]}))
        .unwrap()
    })
    .await;
    let three: Vec<Value> = (0..3)
        .map(|i| json!({"method": "POST", "path": "/Users", "bulkId": format!("p{i}"), "data": user_body(&format!("p{i}@bulk.example"))}))
        .collect();
    let res = app.post("/Bulk", ops(json!(three))).await;
    assert_eq!(res.status, 200, "the Bulk request itself succeeds: {}", res.body);
    let statuses: Vec<&str> =
        res.body["Operations"].as_array().unwrap().iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["201", "500", "201"], "{}", res.body);
    assert!(res.body["Operations"][1]["response"]["detail"].as_str().unwrap().contains("injected fault"));
    assert_eq!(app.list("/Users", &[("count", "0")]).await.body["totalResults"], 2);
}

#[actix_web::test]
async fn long_reference_chains_resolve_cycles_and_duplicate_bulk_ids_are_named() {
    let app = spawn_app().await;
    // g0 contains g1, which contains g2, … g9: listed so that every reference points ahead.
    let ops: Vec<Value> = (0..10)
        .map(|i| {
            let members = if i < 9 { json!([{"value": format!("bulkId:g{}", i + 1)}]) } else { json!([]) };
            json!({"method": "POST", "path": "/Groups", "bulkId": format!("g{i}"),
                   "data": {"schemas": [GROUP_URN], "displayName": format!("chain {i}"), "members": members}})
        })
        .collect();
    let res = app.post("/Bulk", json!({"schemas": [BULK_URN], "Operations": ops})).await;
    assert_eq!(res.status, 200, "{}", res.body);
    let statuses: Vec<&str> =
        res.body["Operations"].as_array().unwrap().iter().map(|o| o["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, vec!["201"; 10], "{}", res.body);

    let cycle = json!({"schemas": [BULK_URN], "Operations": [
        {"method": "POST", "path": "/Groups", "bulkId": "a",
         "data": {"schemas": [GROUP_URN], "displayName": "A", "members": [{"value": "bulkId:b"}]}},
        {"method": "POST", "path": "/Groups", "bulkId": "b",
         "data": {"schemas": [GROUP_URN], "displayName": "B", "members": [{"value": "bulkId:a"}]}},
        {"method": "POST", "path": "/Groups", "bulkId": "c",
         "data": {"schemas": [GROUP_URN], "displayName": "C", "members": [{"value": "bulkId:nowhere"}]}}
    ]});
    let res = app.post("/Bulk", cycle).await;
    let ops = res.body["Operations"].as_array().unwrap().clone();
    assert_eq!(ops.len(), 3, "{}", res.body);
    for op in &ops[..2] {
        assert_eq!(op["status"], "409");
        assert!(op["response"]["detail"].as_str().unwrap().contains("cycle"), "{op}");
    }
    assert!(ops[2]["response"]["detail"].as_str().unwrap().contains("'nowhere' is not created"), "{}", ops[2]);

    let duplicate = json!({"schemas": [BULK_URN], "Operations": [
        {"method": "POST", "path": "/Users", "bulkId": "u", "data": user_body("d1@example.com")},
        {"method": "POST", "path": "/Users", "bulkId": "u", "data": user_body("d2@example.com")}
    ]});
    let res = app.post("/Bulk", duplicate).await;
    res.assert_error(400, Some("invalidSyntax"));
    assert!(res.detail().contains("'u'"), "{}", res.detail());
    assert_eq!(app.list("/Users", &[("count", "0")]).await.body["totalResults"], 0, "nothing applied");
}
