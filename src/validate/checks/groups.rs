//! The `groups` checks.

use std::time::Instant;

use reqwest::Method;
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
        if r.body.get("members").is_some_and(|m| m.as_array().is_none_or(|m| !m.is_empty())) {
            return Err(fail(
                "no members in GET /Groups/{id}?excludedAttributes=members",
                r.body["members"].to_string(),
            )
            .into());
        }
        // Entra reads groups this way: a filter with members excluded.
        let filter = format!("displayName eq \"{name}\"");
        let r = ctx.get("/Groups", &[("filter", &filter), ("excludedAttributes", "members")]).await;
        expect_status(&r, 200)?;
        match r.resources().first() {
            Some(g) if g.get("members").is_none_or(|m| m.as_array().is_some_and(Vec::is_empty)) => Ok(()),
            Some(g) => {
                Err(fail("no members in the filtered list with excludedAttributes=members", g["members"].to_string())
                    .into())
            }
            None => Err(fail(format!("the group {name} found"), r.body.to_string()).into()),
        }
    })
    .await;
    check(ctx, "groups.filter-case", || async {
        let filter = format!("displayName eq \"{}\"", name.to_uppercase());
        let r = ctx.get("/Groups", &[("filter", &filter)]).await;
        expect_status(&r, 200)?;
        let found = r.resources().iter().any(|g| g["id"] == gid);
        let n = r.resources().len();
        if found && n == 1 {
            Ok(())
        } else {
            Err(fail(
                "only the group, found by its displayName in another case (displayName is not caseExact)",
                format!("{n} groups, the group {}", if found { "among them" } else { "not among them" }),
            )
            .into())
        }
    })
    .await;
    check(ctx, "groups.filter-none", || async {
        let filter = format!("displayName eq \"scimlab-validate-{}-no-such-group\"", ctx.run_id);
        let r = ctx.get("/Groups", &[("filter", &filter)]).await;
        expect_status(&r, 200)?;
        match (r.total(), r.resources().len()) {
            (Some(0), 0) => Ok(()),
            (total, n) => {
                Err(fail("200 with totalResults 0 and no Resources", format!("totalResults {total:?}, {n} resources"))
                    .into())
            }
        }
    })
    .await;
    check(ctx, "groups.list", || async {
        let t = Instant::now();
        let r = ctx.get("/Groups", &[]).await;
        expect_status(&r, 200)?;
        super::okta::quick(t, "GET /Groups")?;
        let is_list = r.body["schemas"].as_array().is_some_and(|s| s.iter().any(|u| u == urn::LIST_RESPONSE));
        if is_list && r.total().is_some() && r.body["startIndex"].is_number() {
            Ok(())
        } else {
            Err(fail("a ListResponse with totalResults and startIndex", r.body.to_string()).into())
        }
    })
    .await;
    check(ctx, "groups.uniqueness", || async {
        let r = ctx.create(ResourceKind::Group, &json!({"schemas": [urn::GROUP], "displayName": name})).await;
        expect_status(&r, 409)?;
        if r.body["scimType"] == "uniqueness" {
            Ok(())
        } else {
            Err(fail("scimType \"uniqueness\"", r.body.to_string()).into())
        }
    })
    .await;
    check(ctx, "groups.patch-attributes", || async {
        let renamed = format!("{name}-renamed");
        let g = patch_then_read(
            ctx,
            ResourceKind::Group,
            gid,
            json!([{"op": "replace", "path": "displayName", "value": renamed}]),
        )
        .await?;
        if g["displayName"] != renamed.as_str() {
            return Err(fail(format!("displayName {renamed}"), g["displayName"].to_string()).into());
        }
        // No path, the attributes in the value (as Entra sends it); the members stay.
        let g =
            patch_then_read(ctx, ResourceKind::Group, gid, json!([{"op": "replace", "value": {"displayName": name}}]))
                .await?;
        if g["displayName"] != name.as_str() || member_ids(&g) != [user] {
            return Err(fail(
                format!("displayName {name} back, member {user} kept"),
                format!("{} with members {:?}", g["displayName"], member_ids(&g)),
            )
            .into());
        }
        Ok(())
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
    check(ctx, "groups.multi-member", || async {
        let third = ctx.create(ResourceKind::User, &user_body(ctx, "member3")).await;
        expect_status(&third, 201)?;
        let third_id = third.id();
        // Two members in one operation, then an add and a remove in one request.
        let g = patch_then_read(
            ctx,
            ResourceKind::Group,
            gid,
            json!([{"op": "add", "path": "members", "value": [{"value": second_id}, {"value": third_id}]}]),
        )
        .await?;
        let mut ids = member_ids(&g);
        ids.sort();
        let mut want = vec![user.to_string(), second_id.clone(), third_id.clone()];
        want.sort();
        if ids != want {
            return Err(fail(format!("members {want:?}"), format!("{ids:?}")).into());
        }
        let ops = json!([
            {"op": "remove", "path": format!("members[value eq \"{second_id}\"]")},
            {"op": "remove", "path": format!("members[value eq \"{third_id}\"]")},
        ]);
        let g = patch_then_read(ctx, ResourceKind::Group, gid, ops).await?;
        let ids = member_ids(&g);
        if ids == [user] {
            Ok(())
        } else {
            Err(fail(format!("only {user} left after two removals in one request"), format!("{ids:?}")).into())
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
    check(ctx, "groups.restore", || async {
        let body = json!({"schemas": [urn::GROUP], "displayName": format!("scimlab-validate-{}-restored", ctx.run_id)});
        let r = ctx.create(ResourceKind::Group, &body).await;
        expect_status(&r, 201)?;
        let path = path_of(ResourceKind::Group, &r.id());
        expect_status(&ctx.send(Method::DELETE, &path, None).await, 204)?;
        ctx.forget(&r.id());
        let again = ctx.send(Method::DELETE, &path, None).await;
        expect_status(&again, 404).map_err(|f| fail(format!("{} for the second DELETE", f.expected), f.actual))?;
        let recreated = ctx.create(ResourceKind::Group, &body).await;
        expect_status(&recreated, 201)
            .map_err(|f| fail(format!("{} re-creating the deleted group", f.expected), f.actual))?;
        Ok(())
    })
    .await;
}
