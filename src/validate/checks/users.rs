//! The `users` checks.

use reqwest::Method;
use serde_json::json;

use super::*;

/// Creates the run's main user; returns its id for the PATCH and group checks.
pub(super) async fn users(ctx: &Ctx) -> Option<String> {
    let mut id = None;
    let body = user_body(ctx, "main");
    let user_name = ctx.user_name("main");
    let created = check(ctx, "users.create", || async {
        let r = ctx.create(ResourceKind::User, &body).await;
        expect_status(&r, 201)?;
        if r.id().is_empty() {
            return Err(fail("the created resource with an id", r.body.to_string()).into());
        }
        if !r.body["userName"].as_str().unwrap_or("").eq_ignore_ascii_case(&user_name) {
            return Err(fail(format!("userName {user_name}"), r.body["userName"].to_string()).into());
        }
        if r.body["meta"]["resourceType"] != "User" {
            return Err(fail("meta.resourceType \"User\"", r.body["meta"].to_string()).into());
        }
        id = Some(r.id());
        Ok(())
    })
    .await;
    let create_meta = registry::find("users.create");
    if !created && ctx.wanted(create_meta).is_some() {
        // The users group is not selected, but PATCH and group checks need a user.
        let r = ctx.create(ResourceKind::User, &body).await;
        id = (r.status == 201).then(|| r.id());
    } else if !created {
        return None;
    }
    let user_id = id.clone()?;
    check(ctx, "users.get", || async {
        let u = read(ctx, ResourceKind::User, &user_id).await?;
        if u["id"] == user_id.as_str() {
            Ok(())
        } else {
            Err(fail(format!("id {user_id}"), u["id"].to_string()).into())
        }
    })
    .await;
    check(ctx, "users.location", || async {
        let r = ctx.get(&path_of(ResourceKind::User, &user_id), &[]).await;
        let location = r.body["meta"]["location"].as_str().unwrap_or("");
        if location.ends_with(&user_id) {
            Ok(())
        } else {
            Err(fail("meta.location ending with the id", location.to_string()).into())
        }
    })
    .await;
    check(ctx, "users.uniqueness", || async {
        let mut dup = user_body(ctx, "main");
        dup["userName"] = json!(user_name.to_uppercase());
        let r = ctx.create(ResourceKind::User, &dup).await;
        expect_status(&r, 409)?;
        Ok(())
    })
    .await;
    check(ctx, "users.put", || async {
        let mut replacement = user_body(ctx, "main");
        replacement["displayName"] = json!("Replaced By Put");
        let r = ctx.send(Method::PUT, &path_of(ResourceKind::User, &user_id), Some(&replacement)).await;
        expect_status(&r, 200)?;
        let u = read(ctx, ResourceKind::User, &user_id).await?;
        if u["displayName"] == "Replaced By Put" {
            Ok(())
        } else {
            Err(fail("displayName \"Replaced By Put\" after PUT", u["displayName"].to_string()).into())
        }
    })
    .await;
    check(ctx, "users.not-found", || async {
        let r = ctx.get("/Users/scimlab-validate-does-not-exist", &[]).await;
        expect_status(&r, 404)?;
        error_body_ok(&r)?;
        Ok(())
    })
    .await;
    check(ctx, "users.delete", || async {
        let r = ctx.create(ResourceKind::User, &user_body(ctx, "doomed")).await;
        expect_status(&r, 201)?;
        let doomed = r.id();
        let d = ctx.send(Method::DELETE, &path_of(ResourceKind::User, &doomed), None).await;
        expect_status(&d, 204)?;
        ctx.forget(&doomed);
        let again = ctx.get(&path_of(ResourceKind::User, &doomed), &[]).await;
        expect_status(&again, 404)?;
        Ok(())
    })
    .await;
    id
}
