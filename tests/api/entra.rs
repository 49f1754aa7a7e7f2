//! The exact request shapes Microsoft Entra ID sends (entra-provisioning-client.md §1.2–1.5),
//! accepted by the default profile and refused, with the accepting profile named, by strict.

use serde_json::{json, Value};

use crate::helpers::*;

async fn entra_user(app: &TestApp) -> String {
    let body = json!({
        "schemas": [USER_URN, ENTERPRISE_URN],
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": "Test_User_00aa00aa@contoso.com",
        "active": true,
        "emails": [{"primary": true, "type": "work", "value": "Test_User_11bb11bb@testuser.com"}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        "roles": []
    });
    let res = app.post("/Users", body).await;
    assert_eq!(res.status, 201, "{}", res.body);
    id_of(&res.body)
}

#[actix_web::test]
async fn legacy_dialect_title_case_ops_and_string_booleans() {
    let app = spawn_app().await;
    let id = entra_user(&app).await;
    let res =
        app.patch_ops(&format!("/Users/{id}"), json!([{"op": "Replace", "path": "active", "value": "False"}])).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.body["active"], false);
    let quirks = res.header("x-scimlab-quirks").unwrap();
    assert!(quirks.contains("op-case") && quirks.contains("boolean-string"), "{quirks}");
    let res = app
        .patch_ops(
            &format!("/Users/{id}"),
            json!([
                {"op": "Replace", "path": "displayName", "value": "Pvlo"},
                {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "TestBcwqnm@test.microsoft.com"},
                {"op": "Replace", "path": "name.givenName", "value": "Gtfd"},
                {"op": "Replace", "path": "name.familyName", "value": "Pkqf"},
                {"op": "Replace", "path": "externalId", "value": "Eqpj"},
                {"op": "Replace", "path": format!("{ENTERPRISE_URN}:employeeNumber"), "value": "Eqpj"},
                {"op": "Add", "path": "nickName", "value": "Babs"}
            ]),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.body["emails"][0]["value"], "TestBcwqnm@test.microsoft.com");
    assert_eq!(res.body["name"]["familyName"], "Pkqf");
    assert_eq!(res.body[ENTERPRISE_URN]["employeeNumber"], "Eqpj");
    assert_eq!(res.body["nickName"], "Babs");
}

#[actix_web::test]
async fn compliant_dialect_pathless_replace_with_dotted_and_urn_keys() {
    let app = spawn_app().await;
    let id = entra_user(&app).await;
    let res = app
        .patch_ops(
            &format!("/Users/{id}"),
            json!([
                {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "TestMhvaes@test.microsoft.com"},
                {"op": "replace", "value": {
                    "displayName": "Bjfe",
                    "name.givenName": "Kkom",
                    "name.familyName": "Unua",
                    format!("{ENTERPRISE_URN}:employeeNumber"): "Aklq"
                }}
            ]),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(
        res.body["name"],
        json!({"formatted": "givenName familyName", "familyName": "Unua", "givenName": "Kkom"})
    );
    assert_eq!(res.body[ENTERPRISE_URN]["employeeNumber"], "Aklq");
    assert!(res.header("x-scimlab-quirks").unwrap().contains("pathless-path-keys"));
}

#[actix_web::test]
async fn manager_as_bare_string_and_cleared_with_empty_value() {
    let app = spawn_app().await;
    let id = entra_user(&app).await;
    let boss = id_of(&app.create_user("boss@contoso.com").await);
    let path = format!("{ENTERPRISE_URN}:manager");
    let set = app.patch_ops(&format!("/Users/{id}"), json!([{"op": "add", "path": path, "value": boss}])).await;
    assert_eq!(set.status, 200, "{}", set.body);
    assert_eq!(set.body[ENTERPRISE_URN]["manager"], json!({"value": boss}));
    let cleared =
        app.patch_ops(&format!("/Users/{id}"), json!([{"op": "replace", "path": path, "value": {"value": ""}}])).await;
    assert_eq!(cleared.status, 200, "{}", cleared.body);
    assert!(cleared.body.get(ENTERPRISE_URN).and_then(|e| e.get("manager")).is_none(), "{}", cleared.body);
    let again = app.patch_ops(&format!("/Users/{id}"), json!([{"op": "add", "path": path, "value": boss}])).await;
    assert_eq!(again.status, 200);
    let by_empty_string =
        app.patch_ops(&format!("/Users/{id}"), json!([{"op": "replace", "path": path, "value": ""}])).await;
    assert!(by_empty_string.body.get(ENTERPRISE_URN).is_none(), "{}", by_empty_string.body);
    // In a POST body too.
    let mut body = user_body("report@contoso.com");
    body[ENTERPRISE_URN] = json!({"manager": boss});
    let created = app.post("/Users", body).await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body[ENTERPRISE_URN]["manager"]["value"], boss);
}

#[actix_web::test]
async fn add_on_a_role_filter_that_matches_nothing_creates_the_role() {
    let app = spawn_app().await;
    let id = entra_user(&app).await;
    let res = app
        .patch_ops(
            &format!("/Users/{id}"),
            json!([{"op": "add", "path": "roles[primary eq \"True\"].display", "value": "Admin"}]),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.body["roles"], json!([{"primary": true, "display": "Admin"}]));
    let res = app
        .patch_ops(
            &format!("/Users/{id}"),
            json!([{"op": "replace", "path": "roles[primary eq \"True\"].value", "value": "admin"}]),
        )
        .await;
    assert_eq!(res.body["roles"], json!([{"primary": true, "display": "Admin", "value": "admin"}]));
    let res = app
        .patch_ops(
            &format!("/Users/{id}"),
            json!([{"op": "Add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555 0100"}]),
        )
        .await;
    assert_eq!(res.body["phoneNumbers"], json!([{"type": "mobile", "value": "+1 555 0100"}]));
}

#[actix_web::test]
async fn group_lifecycle_as_entra_runs_it() {
    let app = spawn_app().await;
    let u1 = id_of(&app.create_user("u1@contoso.com").await);
    let u2 = id_of(&app.create_user("u2@contoso.com").await);
    let created = app
        .post(
            "/Groups",
            json!({
                "schemas": [GROUP_URN, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
                "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
                "displayName": "displayName",
                "meta": {"resourceType": "Group"}
            }),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["members"], json!([]));
    assert_eq!(created.body["schemas"], json!([GROUP_URN]));
    assert!(created.header("x-scimlab-quirks").unwrap().contains("unknown-schema-urn"));
    let gid = id_of(&created.body);
    let lookup =
        app.list("/Groups", &[("excludedAttributes", "members"), ("filter", "displayName eq \"displayName\"")]).await;
    assert_eq!(lookup.body["totalResults"], 1);
    assert!(lookup.body["Resources"][0].get("members").is_none());
    let path = format!("/Groups/{gid}");
    let add = app.patch_ops(&path, json!([{"op": "Add", "path": "members", "value": [{"$ref": null, "value": u1}, {"$ref": null, "value": u2}]}])).await;
    assert_eq!(add.status, 200, "{}", add.body);
    assert_eq!(add.body["members"].as_array().unwrap().len(), 2);
    // Legacy removal: only the listed member goes.
    let legacy = app
        .patch_ops(&path, json!([{"op": "Remove", "path": "members", "value": [{"$ref": null, "value": u1}]}]))
        .await;
    assert_eq!(legacy.status, 200, "{}", legacy.body);
    let left: Vec<Value> = legacy.body["members"].as_array().unwrap().iter().map(|m| m["value"].clone()).collect();
    assert_eq!(left, vec![json!(u2)]);
    assert!(legacy.header("x-scimlab-quirks").unwrap().contains("remove-by-value"));
    // Compliant removal.
    let compliant =
        app.patch_ops(&path, json!([{"op": "remove", "path": format!("members[value eq \"{u2}\"]")}])).await;
    assert_eq!(compliant.body["members"], json!([]));
    // Add and remove of the same member in one request.
    let both = app
        .patch_ops(&path, json!([{"op": "add", "path": "members", "value": [{"value": u1}]}, {"op": "remove", "path": format!("members[value eq \"{u1}\"]")}]))
        .await;
    assert_eq!(both.body["members"], json!([]));
    let renamed =
        app.patch_ops(&path, json!([{"op": "Replace", "path": "displayName", "value": "updatedDisplayName"}])).await;
    assert_eq!(renamed.body["displayName"], "updatedDisplayName");
    let by_id = app.list(&path, &[("excludedAttributes", "members")]).await;
    assert!(by_id.body.get("members").is_none());
    assert_eq!(app.delete(&path).await.status, 204);
}

#[actix_web::test]
async fn lookups_accept_plus_and_percent_encoded_spaces() {
    let app = spawn_app().await;
    app.create_user("dale.mohr@romaguera.uk").await;
    for query in
        ["filter=userName+eq+\"dale.mohr%40romaguera.uk\"", "filter=userName%20eq%20%22dale.mohr%40romaguera.uk%22"]
    {
        let res = app.client.get(format!("{}?{query}", app.url("/Users"))).bearer_auth(TOKEN).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["totalResults"], 1, "{query}");
    }
    let none = app.list("/Users", &[("filter", "userName eq \"3f0e2c8a-6a8b-4c2e-9a1f-8a1b2c3d4e5f\"")]).await;
    assert_eq!(none.status, 200);
    assert_eq!(none.body["totalResults"], 0);
    assert_eq!(none.body["Resources"], json!([]));
    let by_email =
        app.list("/Users", &[("filter", "emails[type eq \"work\"].value eq \"DALE.MOHR@romaguera.uk\"")]).await;
    assert_eq!(by_email.body["totalResults"], 1);
}

#[actix_web::test]
async fn strict_profile_refuses_each_entra_form_and_names_the_profile_that_accepts_it() {
    let app = spawn_strict_app().await;
    let res = app.post("/Users", user_body("strict@example.com")).await;
    assert_eq!(res.status, 201);
    let id = id_of(&res.body);
    let boss = id_of(&app.create_user("boss@example.com").await);
    let user = format!("/Users/{id}");
    let cases: Vec<(Value, &str)> = vec![
        (json!([{"op": "Replace", "path": "title", "value": "x"}]), "op-case"),
        (json!([{"op": "replace", "path": "active", "value": "False"}]), "boolean"),
        (json!([{"op": "replace", "value": {"name.givenName": "x"}}]), "path"),
        (json!([{"op": "add", "path": format!("{ENTERPRISE_URN}:manager"), "value": boss}]), "manager"),
        (json!([{"op": "add", "path": "roles[primary eq \"True\"].display", "value": "Admin"}]), "True"),
        (json!([{"op": "add", "path": "roles[primary eq true].display", "value": "Admin"}]), "matches"),
    ];
    for (ops, mention) in cases {
        let res = app.patch_ops(&user, ops.clone()).await;
        assert_eq!(res.status, 400, "{ops}: {}", res.body);
        assert!(res.detail().contains("'entra'"), "{ops}: {}", res.detail());
        assert!(res.detail().contains(mention), "{ops}: {}", res.detail());
    }
    let gid = id_of(&app.create_group("G", &[&boss]).await);
    let legacy_remove = app
        .patch_ops(&format!("/Groups/{gid}"), json!([{"op": "remove", "path": "members", "value": [{"value": boss}]}]))
        .await;
    legacy_remove.assert_error(400, Some("invalidValue"));
    assert!(legacy_remove.detail().contains("'entra'"));
    assert_eq!(
        app.get(&format!("/Groups/{gid}")).await.body["members"].as_array().unwrap().len(),
        1,
        "nothing removed"
    );
    let ms_group = app
        .post("/Groups", json!({"schemas": [GROUP_URN, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"], "displayName": "X"}))
        .await;
    ms_group.assert_error(400, Some("invalidValue"));
    assert!(ms_group.detail().contains("'entra'"));
    let filter = app.list("/Users", &[("filter", "active eq \"True\"")]).await;
    filter.assert_error(400, Some("invalidFilter"));
    assert!(filter.detail().contains("'entra'"));
    // RFC-clean requests carry no quirk header.
    let clean = app.patch_ops(&user, json!([{"op": "replace", "path": "active", "value": false}])).await;
    assert_eq!(clean.status, 200);
    assert!(clean.header("x-scimlab-quirks").is_none());
}
