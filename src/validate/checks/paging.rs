//! The `paging` checks.

use super::*;

pub(super) async fn paging(ctx: &Ctx) {
    let prefix = format!("scimlab-validate-{}-page", ctx.run_id);
    let mut ok = true;
    for i in 0..3 {
        let r = ctx.create(ResourceKind::User, &user_body(ctx, &format!("page{i}"))).await;
        ok &= r.status == 201;
    }
    let filter = format!("userName sw \"{prefix}\"");
    check(ctx, "paging.total-before-slice", || async {
        if !ok {
            return Err(skip("needs three users, and creating them failed"));
        }
        let r = ctx.get("/Users", &[("filter", &filter), ("count", "1")]).await;
        expect_status(&r, 200)?;
        match (r.total(), r.resources().len()) {
            (Some(3), 1) => Ok(()),
            (total, n) => Err(fail(
                "totalResults 3 with 1 resource on the page",
                format!("totalResults {total:?}, {n} resources"),
            )
            .into()),
        }
    })
    .await;
    check(ctx, "paging.walk", || async {
        if !ok {
            return Err(skip("needs three users"));
        }
        let mut seen = Vec::new();
        for start in ["1", "2", "3"] {
            let r = ctx.get("/Users", &[("filter", &filter), ("count", "1"), ("startIndex", start)]).await;
            expect_status(&r, 200)?;
            seen.extend(r.resources().iter().map(|u| u["id"].as_str().unwrap_or("").to_string()));
        }
        seen.sort();
        seen.dedup();
        if seen.len() == 3 {
            Ok(())
        } else {
            Err(fail("3 distinct users over 3 pages", format!("{}", seen.len())).into())
        }
    })
    .await;
    check(ctx, "paging.sort", || async {
        if !ctx.supports("sort") {
            return Err(skip("ServiceProviderConfig says sort is not supported"));
        }
        let r = ctx.get("/Users", &[("filter", &filter), ("sortBy", "userName"), ("sortOrder", "descending")]).await;
        expect_status(&r, 200)?;
        let names: Vec<String> =
            r.resources().iter().map(|u| u["userName"].as_str().unwrap_or("").to_lowercase()).collect();
        let mut sorted = names.clone();
        sorted.sort_by(|a, b| b.cmp(a));
        if names == sorted && names.len() == 3 {
            Ok(())
        } else {
            Err(fail("3 userNames in descending order", format!("{names:?}")).into())
        }
    })
    .await;
    check(ctx, "paging.attributes", || async {
        if !ok {
            return Err(skip("needs three users"));
        }
        let r = ctx.get("/Users", &[("filter", &filter), ("attributes", "userName")]).await;
        expect_status(&r, 200)?;
        let extra: Vec<String> = r
            .resources()
            .iter()
            .flat_map(|u| u.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>()).unwrap_or_default())
            .filter(|k| !["id", "userName", "schemas", "meta"].contains(&k.as_str()))
            .collect();
        if extra.is_empty() {
            Ok(())
        } else {
            Err(fail("only id and userName", format!("also {extra:?}")).into())
        }
    })
    .await;
}
