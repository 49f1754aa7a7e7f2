//! The `paging` checks.

use serde_json::json;

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
    page_by_five(ctx, ResourceKind::User, "paging.count-5").await;
    page_by_five(ctx, ResourceKind::Group, "paging.groups").await;
}

/// Microsoft's pagination tests: at least 11 resources, walked 5 at a time, each page's
/// `startIndex` and `itemsPerPage` as asked, every resource once.
async fn page_by_five(ctx: &Ctx, kind: ResourceKind, id: &'static str) {
    if ctx.wanted(registry::find(id)).is_some() {
        check(ctx, id, || async { Ok(()) }).await;
        return;
    }
    let prefix = format!("scimlab-validate-{}-five", ctx.run_id);
    let mut created = true;
    for i in 0..11 {
        let body = match kind {
            ResourceKind::User => user_body(ctx, &format!("five{i:02}")),
            ResourceKind::Group => json!({"schemas": [urn::GROUP], "displayName": format!("{prefix}-{i:02}")}),
        };
        created &= ctx.create(kind, &body).await.status == 201;
    }
    let (attribute, endpoint) = match kind {
        ResourceKind::User => ("userName", "/Users"),
        ResourceKind::Group => ("displayName", "/Groups"),
    };
    let filter = format!("{attribute} sw \"{prefix}\"");
    check(ctx, id, || async {
        if !created {
            return Err(skip(format!("needs 11 resources under {endpoint}, and creating them failed")));
        }
        let mut seen = Vec::new();
        for (start, expected) in [(1u64, 5usize), (6, 5), (11, 1)] {
            let start_text = start.to_string();
            let r = ctx.get(endpoint, &[("filter", &filter), ("startIndex", &start_text), ("count", "5")]).await;
            expect_status(&r, 200)?;
            let n = r.resources().len();
            let (echoed, per_page, total) = (r.body["startIndex"].as_u64(), r.body["itemsPerPage"].as_u64(), r.total());
            if echoed != Some(start) || per_page != Some(n as u64) || n != expected || total != Some(11) {
                return Err(fail(
                    format!("page at startIndex {start}: startIndex {start}, itemsPerPage {expected}, {expected} resources, totalResults 11"),
                    format!("startIndex {echoed:?}, itemsPerPage {per_page:?}, {n} resources, totalResults {total:?}"),
                )
                .into());
            }
            seen.extend(r.resources().iter().map(|x| x["id"].as_str().unwrap_or("").to_string()));
        }
        seen.sort();
        seen.dedup();
        if seen.len() == 11 {
            Ok(())
        } else {
            Err(fail("11 distinct resources over three pages", format!("{}", seen.len())).into())
        }
    })
    .await;
}
