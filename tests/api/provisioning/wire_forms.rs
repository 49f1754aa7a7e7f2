//! What the engine sends on the wire where Entra has a form of its own: manager PATCHes in
//! both SCIM dialects, legacy role updates, and the filter of a match on a filtered attribute
//! (docs/entra-behaviour.md).

use serde_json::{json, Value};

use super::*;

/// The PATCH operations the server recorded for `/Users/...`, in order.
async fn recorded_patch_ops(lab: &Lab) -> Vec<Value> {
    let res = lab.app.admin(reqwest::Method::GET, "/admin/requests?method=PATCH&path=/Users/&limit=100", None).await;
    let body: Value = res.json().await.unwrap();
    body["requests"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["requestBody"]["Operations"].as_array().cloned().unwrap_or_default())
        .collect()
}

#[actix_web::test]
async fn manager_set_change_and_removal_go_out_as_entra_sends_them_in_both_dialects() {
    for compliant in [false, true] {
        let lab = Lab::with(|s| {
            s.scope = scimlab::provision::job::ScopeMode::All;
            s.options.aad_opt_scim_062020 = compliant;
        })
        .await;
        lab.edit_directory(|d| {
            user_of(d, BOB).as_object_mut().unwrap().remove("manager");
            user_of(d, CAROL)["accountEnabled"] = json!(true);
        });
        lab.cycle().await;
        let id_of = |u: Value| u["id"].as_str().unwrap().to_string();
        let alice = id_of(lab.target_user("alice.ångström@contoso.com").await.unwrap());
        let dave = id_of(lab.target_user("dave.doe@contoso.com").await.unwrap());
        let manager_path = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager";
        for (manager, expected_op, expected_value) in [
            (Some(ALICE), if compliant { "add" } else { "Add" }, alice.clone()),
            (Some(DAVE), if compliant { "replace" } else { "Replace" }, dave.clone()),
            (None, if compliant { "replace" } else { "Replace" }, String::new()),
        ] {
            lab.edit_directory(|d| match manager {
                Some(m) => user_of(d, BOB)["manager"] = json!(m),
                None => {
                    user_of(d, BOB).as_object_mut().unwrap().remove("manager");
                }
            });
            lab.cycle().await;
            let last = recorded_patch_ops(&lab).await.into_iter().rev().find(|op| op["path"] == manager_path);
            let last = last.expect("a manager PATCH was sent");
            assert_eq!(
                (last["op"].as_str(), last["value"].as_str()),
                (Some(expected_op), Some(expected_value.as_str())),
                "{last}"
            );
        }
        let bob = lab.target_user("bob.builder@contoso.com").await.unwrap();
        let manager = &bob["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["manager"];
        assert!(manager.is_null() || manager["value"].is_null(), "the manager is cleared in the target: {bob}");
    }
}

#[actix_web::test]
async fn legacy_role_updates_add_stringified_role_objects_and_never_remove() {
    let lab = Lab::with(|s| {
        s.scope = scimlab::provision::job::ScopeMode::All;
        let mut users = scimlab::provision::job::default_user_mapping();
        users.attribute_mappings.push(
            serde_json::from_value(
                json!({"targetAttributeName": "roles", "source": "AppRoleAssignmentsComplex([appRoleAssignments])"}),
            )
            .unwrap(),
        );
        s.users = Some(users);
    })
    .await;
    lab.edit_directory(|d| user_of(d, ALICE)["appRoleAssignments"] = json!(["Admin"]));
    lab.cycle().await;
    let alice = lab.target_user("alice.ångström@contoso.com").await.unwrap();
    assert_eq!(alice["roles"][0]["value"], "Admin", "the create carries role objects: {alice}");

    lab.edit_directory(|d| user_of(d, ALICE)["appRoleAssignments"] = json!(["Reader"]));
    lab.cycle().await;
    let ops: Vec<Value> = recorded_patch_ops(&lab).await.into_iter().filter(|op| op["path"] == "roles").collect();
    assert_eq!(ops.len(), 1, "{ops:?}");
    assert_eq!(ops[0]["op"], "Add", "add-only, never Replace: {}", ops[0]);
    let entries = ops[0]["value"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "only the new role: {}", ops[0]);
    let role: Value = serde_json::from_str(entries[0]["value"].as_str().expect("a JSON string")).unwrap();
    assert_eq!((role["value"].as_str(), role["displayName"].as_str()), (Some("Reader"), Some("Reader")));
    assert!(role["id"].as_str().is_some_and(|id| id.len() == 36), "{role}");
}

#[actix_web::test]
async fn matching_on_a_filtered_attribute_sends_entras_filter_form() {
    let lab = Lab::with(|s| {
        let mut users = scimlab::provision::job::default_user_mapping();
        for m in &mut users.attribute_mappings {
            m.matching_priority = match m.target_attribute_name.as_str() {
                "emails[type eq \"work\"].value" => 1,
                "userName" => 2,
                _ => 0,
            };
        }
        s.users = Some(users);
    })
    .await;
    lab.cycle().await;
    let res = lab.app.admin(reqwest::Method::GET, "/admin/requests?method=GET&path=/Users&limit=50", None).await;
    let recorded: Value = res.json().await.unwrap();
    let filters: Vec<String> = recorded["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| {
            let query: Vec<(String, String)> = serde_urlencoded::from_str(r["query"].as_str()?).ok()?;
            query.into_iter().find(|(k, _)| k == "filter").map(|(_, v)| v)
        })
        .collect();
    assert!(
        filters.iter().any(|f| f.starts_with("emails[type eq \"work\"].value eq \"")),
        "Entra's form, not the RFC rewrite: {filters:?}"
    );
    assert!(!filters.iter().any(|f| f.contains("and value eq")), "{filters:?}");
    assert!(lab.target_user("alice.ångström@contoso.com").await.is_some(), "the lookup worked and Alice was created");
}
