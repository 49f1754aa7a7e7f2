//! RFC 7644 §3.5.2 PATCH forms.

use serde_json::{json, Value};

use crate::helpers::*;

async fn user_with_emails(app: &TestApp) -> String {
    let mut body = user_body("patch@example.com");
    body["emails"] = json!([
        {"value": "work@example.com", "type": "work", "primary": true},
        {"value": "home@example.com", "type": "home"}
    ]);
    body["schemas"] = json!([USER_URN, ENTERPRISE_URN]);
    body[ENTERPRISE_URN] = json!({"department": "Sales"});
    let res = app.post("/Users", body).await;
    assert_eq!(res.status, 201, "{}", res.body);
    id_of(&res.body)
}

async fn ok(app: &TestApp, id: &str, ops: Value) -> Value {
    let res = app.patch_ops(&format!("/Users/{id}"), ops.clone()).await;
    assert_eq!(res.status, 200, "{ops} → {}", res.body);
    assert_eq!(res.header("content-type").as_deref(), Some("application/scim+json"));
    res.body
}

#[actix_web::test]
async fn add_replace_remove_simple_attributes_with_a_path() {
    let app = spawn_app().await;
    let id = user_with_emails(&app).await;
    let v = ok(&app, &id, json!([{"op": "add", "path": "nickName", "value": "Babs"}])).await;
    assert_eq!(v["nickName"], "Babs");
    let v = ok(&app, &id, json!([{"op": "replace", "path": "nickName", "value": "B"}])).await;
    assert_eq!(v["nickName"], "B");
    let v = ok(&app, &id, json!([{"op": "remove", "path": "nickName"}])).await;
    assert!(v.get("nickName").is_none());
    let v = ok(&app, &id, json!([{"op": "replace", "path": "name.familyName", "value": "Jensen"}])).await;
    assert_eq!(v["name"], json!({"givenName": "patch", "familyName": "Jensen"}));
    let v = ok(&app, &id, json!([{"op": "remove", "path": "name.givenName"}])).await;
    assert_eq!(v["name"], json!({"familyName": "Jensen"}));
    let v = ok(&app, &id, json!([{"op": "replace", "path": "active", "value": false}])).await;
    assert_eq!(v["active"], false);
    assert_eq!(v["meta"]["version"], "W/\"7\"", "created at 1, six changes");
}

#[actix_web::test]
async fn operations_without_a_path_merge_attributes() {
    let app = spawn_app().await;
    let id = user_with_emails(&app).await;
    let v = ok(
        &app,
        &id,
        json!([{"op": "replace", "value": {"displayName": "New Name", "name": {"familyName": "F"}, ENTERPRISE_URN: {"costCenter": "42"}}}]),
    )
    .await;
    assert_eq!(v["displayName"], "New Name");
    assert_eq!(v["name"], json!({"givenName": "patch", "familyName": "F"}), "sub-attributes not given stay");
    assert_eq!(v[ENTERPRISE_URN], json!({"department": "Sales", "costCenter": "42"}));
    let v = ok(&app, &id, json!([{"op": "add", "value": {"title": "CTO"}}])).await;
    assert_eq!(v["title"], "CTO");
    app.patch_ops(&format!("/Users/{id}"), json!([{"op": "remove"}])).await.assert_error(400, Some("noTarget"));
}

#[actix_web::test]
async fn multi_valued_add_appends_and_replace_swaps_the_whole_list() {
    let app = spawn_app().await;
    let id = user_with_emails(&app).await;
    let v = ok(
        &app,
        &id,
        json!([{"op": "add", "path": "emails", "value": [{"value": "other@example.com", "type": "other"}]}]),
    )
    .await;
    assert_eq!(v["emails"].as_array().unwrap().len(), 3);
    let v = ok(
        &app,
        &id,
        json!([{"op": "add", "path": "emails", "value": [{"value": "other@example.com", "type": "other"}]}]),
    )
    .await;
    assert_eq!(v["emails"].as_array().unwrap().len(), 3, "an identical value is not added twice");
    let v = ok(&app, &id, json!([{"op": "add", "path": "emails", "value": [{"value": "new@example.com", "type": "work", "primary": true}]}])).await;
    let primaries: Vec<&Value> = v["emails"].as_array().unwrap().iter().filter(|e| e["primary"] == true).collect();
    assert_eq!(primaries.len(), 1, "adding a primary value clears the old primary: {v}");
    assert_eq!(primaries[0]["value"], "new@example.com");
    let v = ok(
        &app,
        &id,
        json!([{"op": "replace", "path": "emails", "value": [{"value": "only@example.com", "type": "work"}]}]),
    )
    .await;
    assert_eq!(v["emails"], json!([{"value": "only@example.com", "type": "work"}]));
    let v = ok(&app, &id, json!([{"op": "remove", "path": "emails"}])).await;
    assert!(v.get("emails").is_none());
}

#[actix_web::test]
async fn value_filter_paths_select_elements() {
    let app = spawn_app().await;
    let id = user_with_emails(&app).await;
    let v = ok(
        &app,
        &id,
        json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "changed@example.com"}]),
    )
    .await;
    let work = v["emails"].as_array().unwrap().iter().find(|e| e["type"] == "work").unwrap().clone();
    assert_eq!(work["value"], "changed@example.com");
    assert_eq!(work["primary"], true, "other sub-attributes of the element stay");
    let v = ok(&app, &id, json!([{"op": "replace", "path": "emails[type eq \"home\"].primary", "value": true}])).await;
    let primaries: Vec<String> = v["emails"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["primary"] == true)
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(primaries, ["home"], "setting primary clears it elsewhere");
    let v = ok(&app, &id, json!([{"op": "remove", "path": "emails[type eq \"home\"]"}])).await;
    assert_eq!(v["emails"].as_array().unwrap().len(), 1);
    let v = ok(&app, &id, json!([{"op": "remove", "path": "emails[type eq \"nothing\"]"}])).await;
    assert_eq!(v["emails"].as_array().unwrap().len(), 1, "removing nothing is not an error");
    let v = ok(&app, &id, json!([{"op": "replace", "path": "emails[value ew \"@example.com\"]", "value": {"value": "whole@example.com", "type": "home"}}])).await;
    assert_eq!(v["emails"], json!([{"value": "whole@example.com", "type": "home"}]));
}

#[actix_web::test]
async fn extension_urn_paths_address_extension_attributes() {
    let app = spawn_app().await;
    let id = user_with_emails(&app).await;
    let manager = id_of(&app.create_user("boss@example.com").await);
    let dept = format!("{ENTERPRISE_URN}:department");
    let v = ok(&app, &id, json!([{"op": "replace", "path": dept, "value": "Engineering"}])).await;
    assert_eq!(v[ENTERPRISE_URN]["department"], "Engineering");
    let v =
        ok(&app, &id, json!([{"op": "add", "path": format!("{ENTERPRISE_URN}:manager"), "value": {"value": manager}}]))
            .await;
    assert_eq!(v[ENTERPRISE_URN]["manager"]["value"], manager);
    let v = ok(&app, &id, json!([{"op": "replace", "path": format!("{ENTERPRISE_URN}:manager.value"), "value": "m2"}]))
        .await;
    assert_eq!(v[ENTERPRISE_URN]["manager"]["value"], "m2");
    let v = ok(
        &app,
        &id,
        json!([{"op": "remove", "path": format!("{ENTERPRISE_URN}:manager")}, {"op": "remove", "path": dept}]),
    )
    .await;
    assert!(v.get(ENTERPRISE_URN).is_none(), "an emptied extension disappears: {v}");
    assert_eq!(v["schemas"], json!([USER_URN]));
}

#[actix_web::test]
async fn a_failing_operation_leaves_the_resource_untouched() {
    let app = spawn_app().await;
    let id = user_with_emails(&app).await;
    let before = app.get(&format!("/Users/{id}")).await.body;
    let res = app
        .patch_ops(&format!("/Users/{id}"), json!([{"op": "replace", "path": "title", "value": "X"}, {"op": "replace", "path": "active", "value": "perhaps"}]))
        .await;
    res.assert_error(400, Some("invalidValue"));
    assert_eq!(app.get(&format!("/Users/{id}")).await.body, before);
}

#[actix_web::test]
async fn bad_patch_requests_get_precise_errors() {
    let app = spawn_app().await;
    let id = user_with_emails(&app).await;
    let path = format!("/Users/{id}");
    let cases = [
        (json!({"schemas": [PATCH_URN]}), 400, "invalidSyntax"),
        (json!({"schemas": [PATCH_URN], "Operations": []}), 400, "invalidSyntax"),
        (
            json!({"schemas": [PATCH_URN], "Operations": [{"op": "merge", "path": "title", "value": "x"}]}),
            400,
            "invalidSyntax",
        ),
        (json!({"schemas": [PATCH_URN], "Operations": [{"op": "add", "path": "title"}]}), 400, "invalidSyntax"),
        (
            json!({"schemas": [PATCH_URN], "Operations": [{"op": "add", "path": "nosuch", "value": "x"}]}),
            400,
            "invalidPath",
        ),
        (
            json!({"schemas": [PATCH_URN], "Operations": [{"op": "add", "path": "emails[type eq", "value": "x"}]}),
            400,
            "invalidPath",
        ),
        (
            json!({"schemas": [PATCH_URN], "Operations": [{"op": "replace", "path": "id", "value": "x"}]}),
            400,
            "mutability",
        ),
        (
            json!({"schemas": [PATCH_URN], "Operations": [{"op": "replace", "path": "groups", "value": []}]}),
            400,
            "mutability",
        ),
        (json!({"schemas": [PATCH_URN], "Operations": [{"op": "remove", "path": "userName"}]}), 400, "invalidValue"),
        (
            json!({"schemas": [PATCH_URN], "Operations": [{"op": "replace", "path": "userName", "value": 7}]}),
            400,
            "invalidValue",
        ),
    ];
    for (body, status, scim_type) in cases {
        let res = app.patch(&path, body.clone()).await;
        assert_eq!(res.status, status, "{body}: {}", res.body);
        assert_eq!(res.scim_type(), scim_type, "{body}: {}", res.body);
    }
    app.patch_ops("/Users/nobody", json!([{"op": "add", "path": "title", "value": "x"}])).await.assert_error(404, None);
}

#[actix_web::test]
async fn an_idempotent_patch_does_not_bump_the_version() {
    let app = spawn_app().await;
    let id = user_with_emails(&app).await;
    let v1 = ok(&app, &id, json!([{"op": "replace", "path": "title", "value": "Same"}])).await;
    let v2 = ok(&app, &id, json!([{"op": "replace", "path": "title", "value": "Same"}])).await;
    assert_eq!(v1["meta"]["version"], v2["meta"]["version"]);
}

#[actix_web::test]
async fn group_members_are_added_and_removed_by_filter_and_never_lost() {
    let app = spawn_app().await;
    let ids: Vec<String> = {
        let mut v = Vec::new();
        for i in 0..4 {
            v.push(id_of(&app.create_user(&format!("m{i}@example.com")).await));
        }
        v
    };
    let gid = id_of(&app.create_group("Team", &[&ids[0]]).await);
    let path = format!("/Groups/{gid}");
    let add = app
        .patch_ops(&path, json!([{"op": "add", "path": "members", "value": [{"value": ids[1]}, {"value": ids[2]}]}]))
        .await;
    assert_eq!(add.status, 200, "{}", add.body);
    assert_eq!(add.body["members"].as_array().unwrap().len(), 3);
    let remove =
        app.patch_ops(&path, json!([{"op": "remove", "path": format!("members[value eq \"{}\"]", ids[1])}])).await;
    assert_eq!(remove.body["members"].as_array().unwrap().len(), 2);
    let by_display = app.patch_ops(&path, json!([{"op": "remove", "path": "members[display sw \"m2\"]"}])).await;
    assert_eq!(by_display.status, 200, "{}", by_display.body);
    assert_eq!(by_display.body["members"].as_array().unwrap().len(), 1);
    let replace =
        app.patch_ops(&path, json!([{"op": "replace", "path": "members", "value": [{"value": ids[3]}]}])).await;
    assert_eq!(
        replace.body["members"],
        json!([{"value": ids[3], "type": "User", "display": "m3 Test", "$ref": app.url(&format!("/Users/{}", ids[3]))}])
    );
    let rename = app.patch_ops(&path, json!([{"op": "replace", "path": "displayName", "value": "Renamed"}])).await;
    assert_eq!(rename.body["members"].as_array().unwrap().len(), 1, "renaming keeps members");
    let all = app.patch_ops(&path, json!([{"op": "remove", "path": "members"}])).await;
    assert_eq!(all.body["members"], json!([]));
    app.patch_ops(&path, json!([{"op": "replace", "path": "members[value eq \"x\"].display", "value": "y"}]))
        .await
        .assert_error(400, Some("invalidPath"));
}

#[actix_web::test]
async fn multi_valued_attributes_are_capped_with_a_clear_error_and_nothing_half_written() {
    let app = spawn_app().await;
    let emails = |n: usize, tag: &str| -> Vec<Value> {
        (0..n).map(|i| json!({"value": format!("{tag}{i}@example.com"), "type": "other"})).collect()
    };
    let mut body = user_body("many@example.com");
    body["emails"] = json!(emails(10_001, "a"));
    let refused = app.post("/Users", body).await;
    refused.assert_error(400, Some("invalidValue"));
    assert!(refused.detail().contains("emails") && refused.detail().contains("10000"), "{}", refused.detail());

    let mut body = user_body("nine-thousand@example.com");
    body["emails"] = json!(emails(9_000, "b"));
    let id = id_of(&app.post("/Users", body).await.body);
    let path = format!("/Users/{id}");
    // 500 values added in one PATCH, duplicates of existing ones ignored.
    let mut adds = emails(500, "c");
    adds.extend(emails(100, "b"));
    let ok = app.patch_ops(&path, json!([{"op": "add", "path": "emails", "value": adds}])).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.body["emails"].as_array().unwrap().len(), 9_500);
    let over = app.patch_ops(&path, json!([{"op": "add", "path": "emails", "value": emails(600, "d")}])).await;
    over.assert_error(400, Some("invalidValue"));
    assert_eq!(app.get(&path).await.body["emails"].as_array().unwrap().len(), 9_500, "unchanged");
}
