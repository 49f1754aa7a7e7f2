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
        let r = ctx.create(ResourceKind::User, &user_body(ctx, "located")).await;
        expect_status(&r, 201)?;
        let location = r.header("location").unwrap_or_default();
        if !location.is_empty() && location.ends_with(&r.id()) {
            Ok(())
        } else {
            Err(fail("a Location header with the new user's URL", format!("Location: {location:?}")).into())
        }
    })
    .await;
    check(ctx, "users.meta-location", || async {
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
        // The same body again, then the userName in another case (userName is not caseExact).
        for (what, user_name) in
            [("the same user", user_name.clone()), ("the userName upper-cased", user_name.to_uppercase())]
        {
            let mut dup = user_body(ctx, "main");
            dup["userName"] = json!(user_name);
            let r = ctx.create(ResourceKind::User, &dup).await;
            expect_status(&r, 409).map_err(|f| fail(format!("{} for {what}", f.expected), f.actual))?;
            if r.body["scimType"] != "uniqueness" {
                return Err(fail(format!("scimType \"uniqueness\" for {what}"), r.body.to_string()).into());
            }
        }
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
    lifecycle(ctx).await;
    id
}

/// Deleting twice, re-creating, reactivating and renaming: what Microsoft's Restore and
/// preview tests and Okta's CRUD test do.
async fn lifecycle(ctx: &Ctx) {
    check(ctx, "users.delete-missing", || async {
        let r = ctx.send(Method::DELETE, "/Users/scimlab-validate-does-not-exist", None).await;
        expect_status(&r, 404).map_err(|f| fail(format!("{} for an unknown id", f.expected), f.actual))?;
        let r = ctx.create(ResourceKind::User, &user_body(ctx, "twice")).await;
        expect_status(&r, 201)?;
        let path = path_of(ResourceKind::User, &r.id());
        expect_status(&ctx.send(Method::DELETE, &path, None).await, 204)?;
        ctx.forget(&r.id());
        let again = ctx.send(Method::DELETE, &path, None).await;
        expect_status(&again, 404).map_err(|f| fail(format!("{} for the second DELETE", f.expected), f.actual))?;
        Ok(())
    })
    .await;
    check(ctx, "users.restore", || async {
        let body = user_body(ctx, "restored");
        let r = ctx.create(ResourceKind::User, &body).await;
        expect_status(&r, 201)?;
        expect_status(&ctx.send(Method::DELETE, &path_of(ResourceKind::User, &r.id()), None).await, 204)?;
        ctx.forget(&r.id());
        let again = ctx.create(ResourceKind::User, &body).await;
        expect_status(&again, 201)
            .map_err(|f| fail(format!("{} re-creating a deleted userName", f.expected), f.actual))?;
        let found = ctx
            .get("/Users", &[("filter", &format!("userName eq \"{}\"", body["userName"].as_str().unwrap_or("")))])
            .await;
        match found.total() {
            Some(1) => Ok(()),
            other => Err(fail("exactly the re-created user", format!("totalResults {other:?}")).into()),
        }
    })
    .await;
    check(ctx, "users.reactivate", || async {
        let r = ctx.create(ResourceKind::User, &user_body(ctx, "reactivated")).await;
        expect_status(&r, 201)?;
        for active in [false, true] {
            let u = patch_then_read(
                ctx,
                ResourceKind::User,
                &r.id(),
                json!([{"op": "replace", "path": "active", "value": active}]),
            )
            .await?;
            if u["active"] != active {
                return Err(fail(format!("active {active}"), u["active"].to_string()).into());
            }
        }
        Ok(())
    })
    .await;
    check(ctx, "users.rename", || async {
        let r = ctx.create(ResourceKind::User, &user_body(ctx, "before-rename")).await;
        expect_status(&r, 201)?;
        let renamed = ctx.user_name("after-rename");
        let u = patch_then_read(
            ctx,
            ResourceKind::User,
            &r.id(),
            json!([{"op": "replace", "path": "userName", "value": renamed}]),
        )
        .await?;
        if !u["userName"].as_str().unwrap_or("").eq_ignore_ascii_case(&renamed) {
            return Err(fail(format!("userName {renamed}"), u["userName"].to_string()).into());
        }
        let by_new = ctx.get("/Users", &[("filter", &format!("userName eq \"{renamed}\""))]).await;
        if filter_hits(&by_new, &renamed)? != 1 {
            return Err(fail("the renamed user found by its new userName", by_new.body.to_string()).into());
        }
        let old = ctx.user_name("before-rename");
        let by_old = ctx.get("/Users", &[("filter", &format!("userName eq \"{old}\""))]).await;
        expect_status(&by_old, 200)?;
        match by_old.total() {
            Some(0) => Ok(()),
            other => Err(fail("nothing found by the old userName", format!("totalResults {other:?}")).into()),
        }
    })
    .await;
}
