use serde_json::{json, Value};

use crate::helpers::*;

fn member_ids(group: &Value) -> Vec<String> {
    let mut ids: Vec<String> = group["members"]
        .as_array()
        .map(|m| m.iter().map(|m| m["value"].as_str().unwrap().to_string()).collect())
        .unwrap_or_default();
    ids.sort();
    ids
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[actix_web::test]
async fn group_with_members_lists_them_with_type_ref_and_display() {
    let app = spawn_app().await;
    let ann = id_of(&app.create_user("ann@example.com").await);
    let bob = id_of(&app.create_user("bob@example.com").await);
    let group = app.create_group("Engineering", &[&ann, &bob]).await;
    assert_eq!(member_ids(&group), sorted(vec![ann.clone(), bob.clone()]));
    let first = group["members"].as_array().unwrap().iter().find(|m| m["value"] == ann).unwrap().clone();
    assert_eq!(first["type"], "User");
    assert_eq!(first["display"], "ann Test");
    assert_eq!(first["$ref"], app.url(&format!("/Users/{ann}")));
    let gid = id_of(&group);
    let excluded = app.list(&format!("/Groups/{gid}"), &[("excludedAttributes", "members")]).await;
    assert!(excluded.body.get("members").is_none());
    assert_eq!(excluded.body["displayName"], "Engineering");
}

#[actix_web::test]
async fn user_groups_is_computed_from_memberships() {
    let app = spawn_app().await;
    let ann = id_of(&app.create_user("ann@example.com").await);
    let eng = id_of(&app.create_group("Engineering", &[&ann]).await);
    let ops = id_of(&app.create_group("Ops", &[&ann]).await);
    let user = app.get(&format!("/Users/{ann}")).await.body;
    let mut groups: Vec<String> =
        user["groups"].as_array().unwrap().iter().map(|g| g["value"].as_str().unwrap().to_string()).collect();
    groups.sort();
    assert_eq!(groups, sorted(vec![eng.clone(), ops.clone()]));
    let eng_entry = user["groups"].as_array().unwrap().iter().find(|g| g["value"] == eng).unwrap().clone();
    assert_eq!(eng_entry["display"], "Engineering");
    assert_eq!(eng_entry["$ref"], app.url(&format!("/Groups/{eng}")));
    let filtered = app.list("/Users", &[("filter", &format!("groups.value eq \"{ops}\""))]).await;
    assert_eq!(filtered.body["totalResults"], 1);
}

#[actix_web::test]
async fn deleting_a_user_removes_it_from_its_groups_and_bumps_their_version() {
    let app = spawn_app().await;
    let ann = id_of(&app.create_user("ann@example.com").await);
    let bob = id_of(&app.create_user("bob@example.com").await);
    let group = app.create_group("Team", &[&ann, &bob]).await;
    let gid = id_of(&group);
    assert_eq!(app.delete(&format!("/Users/{ann}")).await.status, 204);
    let after = app.get(&format!("/Groups/{gid}")).await.body;
    assert_eq!(member_ids(&after), vec![bob.clone()]);
    assert_ne!(after["meta"]["version"], group["meta"]["version"]);
    let by_member = app.list("/Groups", &[("filter", &format!("members[value eq \"{ann}\"]"))]).await;
    assert_eq!(by_member.body["totalResults"], 0);
}

#[actix_web::test]
async fn deleting_a_group_clears_user_groups() {
    let app = spawn_app().await;
    let ann = id_of(&app.create_user("ann@example.com").await);
    let gid = id_of(&app.create_group("Temp", &[&ann]).await);
    assert_eq!(app.delete(&format!("/Groups/{gid}")).await.status, 204);
    let user = app.get(&format!("/Users/{ann}")).await.body;
    assert!(user.get("groups").is_none(), "{user}");
    app.get(&format!("/Groups/{gid}")).await.assert_error(404, None);
}

#[actix_web::test]
async fn groups_can_contain_groups_but_not_themselves_or_unknown_ids() {
    let app = spawn_app().await;
    let inner = id_of(&app.create_group("Inner", &[]).await);
    let outer = app.create_group("Outer", &[&inner]).await;
    assert_eq!(outer["members"][0]["type"], "Group");
    assert_eq!(outer["members"][0]["$ref"], app.url(&format!("/Groups/{inner}")));
    let unknown = app
        .post("/Groups", json!({"schemas": [GROUP_URN], "displayName": "Bad", "members": [{"value": "no-such-id"}]}))
        .await;
    unknown.assert_error(400, Some("invalidValue"));
    assert!(unknown.detail().contains("no-such-id"));
    app.patch_ops(&format!("/Groups/{inner}"), json!([{"op": "add", "path": "members", "value": [{"value": inner}]}]))
        .await
        .assert_error(400, Some("invalidValue"));
}

#[actix_web::test]
async fn put_on_a_group_replaces_its_members() {
    let app = spawn_app().await;
    let ann = id_of(&app.create_user("ann@example.com").await);
    let bob = id_of(&app.create_user("bob@example.com").await);
    let gid = id_of(&app.create_group("Team", &[&ann]).await);
    let res = app
        .put(
            &format!("/Groups/{gid}"),
            json!({"schemas": [GROUP_URN], "displayName": "Team 2", "members": [{"value": bob}]}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(member_ids(&res.body), vec![bob.clone()]);
    assert_eq!(res.body["displayName"], "Team 2");
    let emptied = app.put(&format!("/Groups/{gid}"), json!({"schemas": [GROUP_URN], "displayName": "Team 2"})).await;
    assert_eq!(emptied.body["members"], json!([]));
}

#[actix_web::test]
async fn group_display_name_is_required_and_filterable_case_insensitively() {
    let app = spawn_app().await;
    app.post("/Groups", json!({"schemas": [GROUP_URN]})).await.assert_error(400, Some("invalidValue"));
    app.create_group("Sales EMEA", &[]).await;
    let hit =
        app.list("/Groups", &[("filter", "displayName eq \"sales emea\""), ("excludedAttributes", "members")]).await;
    assert_eq!(hit.body["totalResults"], 1);
    assert!(hit.body["Resources"][0].get("members").is_none());
}
