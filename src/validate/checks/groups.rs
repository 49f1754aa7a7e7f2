//! The `groups` checks.

use serde_json::json;

use super::*;

pub(super) async fn groups(ctx: &Ctx, user: Option<&str>) {
    let Some(user) = user else {
        check(ctx, "groups.create", || async { Err(skip("needs a user, and creating one failed")) }).await;
        return;
    };
    let name = format!("scimlab-validate-{}-group", ctx.run_id);
    let mut group_id = String::new();
    let created = check(ctx, "groups.create", || async {
        let body = json!({"schemas": [urn::GROUP], "displayName": name, "members": [{"value": user}]});
        let r = ctx.create(ResourceKind::Group, &body).await;
        expect_status(&r, 201)?;
        group_id = r.id();
        let g = read(ctx, ResourceKind::Group, &group_id).await?;
        let members = g["members"].as_array().map(Vec::len).unwrap_or(0);
        if members == 1 {
            Ok(())
        } else {
            Err(fail("1 member", format!("{members} members")).into())
        }
    })
    .await;
    if !created {
        return;
    }
    let gid = group_id.as_str();
    check(ctx, "groups.filter-display-name", || async {
        let filter = format!("displayName eq \"{name}\"");
        let r = ctx.get("/Groups", &[("filter", &filter), ("excludedAttributes", "members")]).await;
        expect_status(&r, 200)?;
        let ids: Vec<String> = r.resources().iter().map(|g| g["id"].as_str().unwrap_or("").to_string()).collect();
        if ids == [gid] {
            Ok(())
        } else {
            Err(fail(format!("exactly the group {gid}"), format!("{ids:?}")).into())
        }
    })
    .await;
    check(ctx, "groups.excluded-members", || async {
        let r = ctx.get(&path_of(ResourceKind::Group, gid), &[("excludedAttributes", "members")]).await;
        expect_status(&r, 200)?;
        if r.body.get("members").is_none_or(|m| m.as_array().is_some_and(Vec::is_empty)) {
            Ok(())
        } else {
            Err(fail("no members in the response", r.body["members"].to_string()).into())
        }
    })
    .await;
    let second = ctx.create(ResourceKind::User, &user_body(ctx, "member")).await;
    let second_id = second.id();
    check(ctx, "groups.add-member", || async {
        expect_status(&second, 201)?;
        let g = patch_then_read(
            ctx,
            ResourceKind::Group,
            gid,
            json!([{"op": "add", "path": "members", "value": [{"value": second_id}]}]),
        )
        .await?;
        let n = g["members"].as_array().map(Vec::len).unwrap_or(0);
        if n == 2 {
            Ok(())
        } else {
            Err(fail("2 members (none lost)", format!("{n}: {}", g["members"])).into())
        }
    })
    .await;
    check(ctx, "groups.remove-member-filter", || async {
        let path = format!("members[value eq \"{second_id}\"]");
        let g = patch_then_read(ctx, ResourceKind::Group, gid, json!([{"op": "remove", "path": path}])).await?;
        let ids = member_ids(&g);
        if ids == [user] {
            Ok(())
        } else {
            Err(fail(format!("only {user} left"), format!("{ids:?}")).into())
        }
    })
    .await;
    check(ctx, "groups.entra-remove-member", || async {
        let add = ctx
            .patch(ResourceKind::Group, gid, json!([{"op": "Add", "path": "members", "value": [{"value": second_id}]}]))
            .await;
        expect_written(&add)?;
        let g = patch_then_read(
            ctx,
            ResourceKind::Group,
            gid,
            json!([{"op": "Remove", "path": "members", "value": [{"value": second_id}]}]),
        )
        .await?;
        let ids = member_ids(&g);
        if ids == [user] {
            Ok(())
        } else {
            Err(fail(format!("only {second_id} removed, {user} kept"), format!("{ids:?}")).into())
        }
    })
    .await;
    check(ctx, "groups.member-lookup", || async {
        let filter = format!("members[value eq \"{user}\"]");
        let r = ctx.get("/Groups", &[("filter", &filter)]).await;
        expect_status(&r, 200)?;
        if r.resources().iter().any(|g| g["id"] == gid) {
            Ok(())
        } else {
            Err(fail(format!("the group {gid}"), format!("{} groups without it", r.resources().len())).into())
        }
    })
    .await;
}
