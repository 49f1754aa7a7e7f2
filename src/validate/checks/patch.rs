//! The `patch` checks.

use serde_json::{json, Value};

use super::*;

pub(super) async fn patch(ctx: &Ctx, id: &str) {
    let kind = ResourceKind::User;
    check(ctx, "patch.replace-path", || async {
        let r = ctx.patch(kind, id, json!([{"op": "replace", "path": "title", "value": "Validator"}])).await;
        if r.status != 200 && r.status != 204 {
            expect_status(&r, 200)?;
        }
        let u = read(ctx, kind, id).await?;
        if u["title"] == "Validator" {
            Ok(())
        } else {
            Err(fail("title \"Validator\"", u["title"].to_string()).into())
        }
    })
    .await;
    check(ctx, "patch.returns-resource", || async {
        let r = ctx.patch(kind, id, json!([{"op": "replace", "path": "nickName", "value": "val"}])).await;
        expect_status(&r, 200)?;
        if r.body["nickName"] == "val" {
            Ok(())
        } else {
            Err(fail("the updated resource in the body", r.body.to_string()).into())
        }
    })
    .await;
    check(ctx, "patch.add-no-path", || async {
        let u = patch_then_read(
            ctx,
            kind,
            id,
            json!([{"op": "add", "value": {"nickName": "merged", "preferredLanguage": "en-US"}}]),
        )
        .await?;
        if u["nickName"] == "merged" && u["preferredLanguage"] == "en-US" {
            Ok(())
        } else {
            Err(fail(
                "nickName \"merged\", preferredLanguage \"en-US\"",
                format!("{} {}", u["nickName"], u["preferredLanguage"]),
            )
            .into())
        }
    })
    .await;
    check(ctx, "patch.value-filter", || async {
        let new_mail = ctx.user_name("patched");
        let u = patch_then_read(
            ctx,
            kind,
            id,
            json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": new_mail}]),
        )
        .await?;
        let work =
            u["emails"].as_array().and_then(|e| e.iter().find(|m| m["type"] == "work")).cloned().unwrap_or(Value::Null);
        if work["value"] == new_mail.as_str() {
            Ok(())
        } else {
            Err(fail(format!("the work email {new_mail}"), u["emails"].to_string()).into())
        }
    })
    .await;
    check(ctx, "patch.remove", || async {
        let u = patch_then_read(ctx, kind, id, json!([{"op": "remove", "path": "nickName"}])).await?;
        if u.get("nickName").is_none_or(Value::is_null) {
            Ok(())
        } else {
            Err(fail("no nickName", u["nickName"].to_string()).into())
        }
    })
    .await;
    check(ctx, "patch.entra-legacy", || async {
        let u = patch_then_read(ctx, kind, id, json!([{"op": "Replace", "path": "active", "value": "False"}])).await?;
        // Active again for the checks that follow; their own verdicts show if this failed.
        ctx.patch(kind, id, json!([{"op": "Replace", "path": "active", "value": "True"}])).await;
        if u["active"] == false {
            Ok(())
        } else {
            Err(fail("active false", u["active"].to_string()).into())
        }
    })
    .await;
    check(ctx, "patch.entra-dotted", || async {
        let u = patch_then_read(
            ctx,
            kind,
            id,
            json!([{"op": "replace", "value": {"name.givenName": "Dotted", "displayName": "Dotted User"}}]),
        )
        .await?;
        if u["name"]["givenName"] == "Dotted" {
            Ok(())
        } else {
            Err(fail("name.givenName \"Dotted\"", u["name"].to_string()).into())
        }
    })
    .await;
    check(ctx, "patch.entra-manager", || async {
        let m = ctx.create(ResourceKind::User, &user_body(ctx, "manager")).await;
        expect_status(&m, 201)?;
        let manager_path = format!("{}:manager", urn::ENTERPRISE_USER);
        let u = patch_then_read(ctx, kind, id, json!([{"op": "Add", "path": manager_path, "value": m.id()}])).await?;
        if u[urn::ENTERPRISE_USER]["manager"]["value"] != m.id().as_str() {
            return Err(fail(format!("manager.value {}", m.id()), u[urn::ENTERPRISE_USER].to_string()).into());
        }
        let u =
            patch_then_read(ctx, kind, id, json!([{"op": "Replace", "path": manager_path, "value": {"value": ""}}]))
                .await?;
        if u[urn::ENTERPRISE_USER]["manager"].is_null() {
            Ok(())
        } else {
            Err(fail("no manager after {\"value\":\"\"}", u[urn::ENTERPRISE_USER].to_string()).into())
        }
    })
    .await;
    check(ctx, "patch.null-update", || async {
        let mut body = user_body(ctx, "null-update");
        body["title"] = json!("Null Update");
        body["nickName"] = json!("Nully");
        let r = ctx.create(kind, &body).await;
        expect_status(&r, 201)?;
        let id = r.id();
        let id = id.as_str();
        // First to empty strings, then to null: both leave the attributes unassigned.
        for (what, value) in [("an empty string", json!("")), ("null", Value::Null)] {
            let ops = json!([{"op": "replace", "path": "title", "value": value}, {"op": "replace", "path": "nickName", "value": value}]);
            let u = patch_then_read(ctx, kind, id, ops).await?;
            let left: Vec<String> = ["title", "nickName"]
                .into_iter()
                .filter(|a| u.get(*a).is_some_and(|v| !v.is_null() && v != ""))
                .map(|a| format!("{a} = {}", u[a]))
                .collect();
            if !left.is_empty() {
                return Err(fail(format!("title and nickName unassigned after replacing them with {what}"), left.join(", ")).into());
            }
        }
        Ok(())
    })
    .await;
    check(ctx, "patch.multi-op", || async {
        let ops = json!([
            {"op": "replace", "path": "displayName", "value": "Multi Op"},
            {"op": "replace", "path": "title", "value": "First"},
            {"op": "replace", "path": "title", "value": "Second"},
            {"op": "add", "path": "name.givenName", "value": "Multi"},
        ]);
        let u = patch_then_read(ctx, kind, id, ops).await?;
        if u["displayName"] == "Multi Op" && u["title"] == "Second" && u["name"]["givenName"] == "Multi" {
            Ok(())
        } else {
            Err(fail(
                "displayName \"Multi Op\", title \"Second\" (the later operation wins), name.givenName \"Multi\"",
                format!(
                    "displayName {}, title {}, name.givenName {}",
                    u["displayName"], u["title"], u["name"]["givenName"]
                ),
            )
            .into())
        }
    })
    .await;
    check(ctx, "patch.manager-change", || async {
        let first = ctx.create(ResourceKind::User, &user_body(ctx, "manager-one")).await;
        expect_status(&first, 201)?;
        let second = ctx.create(ResourceKind::User, &user_body(ctx, "manager-two")).await;
        expect_status(&second, 201)?;
        let path = format!("{}:manager", urn::ENTERPRISE_USER);
        let manager = |u: &Value| u[urn::ENTERPRISE_USER]["manager"]["value"].as_str().unwrap_or("").to_string();
        let steps = [
            ("add", json!({"value": first.id()}), first.id()),
            ("replace", json!({"value": second.id()}), second.id()),
        ];
        for (op, value, want) in steps {
            let u = patch_then_read(ctx, kind, id, json!([{"op": op, "path": path, "value": value}])).await?;
            if manager(&u) != want {
                return Err(fail(format!("manager {want} after {op}"), u[urn::ENTERPRISE_USER].to_string()).into());
            }
        }
        // Entra clears with an empty value (patch.entra-manager); the RFC with remove.
        let u = patch_then_read(ctx, kind, id, json!([{"op": "remove", "path": path}])).await?;
        if manager(&u).is_empty() {
            Ok(())
        } else {
            Err(fail("no manager after remove", u[urn::ENTERPRISE_USER].to_string()).into())
        }
    })
    .await;
}
