//! The `filters` checks.

use super::*;

pub(super) async fn filters(ctx: &Ctx) {
    let probe = ctx.create(ResourceKind::User, &user_body(ctx, "filter")).await;
    // A second user, so a server that ignores the filter is caught returning it.
    let decoy = ctx.create(ResourceKind::User, &user_body(ctx, "decoy")).await;
    let user_name = ctx.user_name("filter");
    let created = probe.status == 201 && decoy.status == 201;
    let filter_cases = [
        ("filters.eq", format!("userName eq \"{user_name}\""), 1usize),
        ("filters.eq-case", format!("userName eq \"{}\"", user_name.to_uppercase()), 1),
        ("filters.eq-none", format!("userName eq \"{}-nobody\"", ctx.run_id), 0),
        ("filters.sw", format!("userName sw \"scimlab-validate-{}-filt\"", ctx.run_id), 1),
        ("filters.co", format!("userName co \"{}-filter@\"", ctx.run_id), 1),
        ("filters.ew", format!("userName ew \"{}-filter@example.com\"", ctx.run_id), 1),
        ("filters.and", format!("userName eq \"{user_name}\" and active eq true"), 1),
        ("filters.or", format!("userName eq \"{user_name}\" or userName eq \"{}-nobody\"", ctx.run_id), 1),
        ("filters.not", format!("userName sw \"scimlab-validate-{}-filt\" and not (active eq false)", ctx.run_id), 1),
        (
            "filters.ne",
            format!("userName sw \"scimlab-validate-{}-filt\" and userName ne \"{}-nobody\"", ctx.run_id, ctx.run_id),
            1,
        ),
        (
            "filters.gt-date",
            format!("userName eq \"{user_name}\" and meta.lastModified gt \"2000-01-01T00:00:00Z\""),
            1,
        ),
        (
            "filters.lt-date",
            format!("userName eq \"{user_name}\" and meta.lastModified lt \"2000-01-01T00:00:00Z\""),
            0,
        ),
        ("filters.pr", format!("userName eq \"{user_name}\" and title pr"), 0),
        (
            "filters.value-path",
            format!("userName eq \"{user_name}\" and emails[type eq \"work\" and value co \"@\"]"),
            1,
        ),
        ("filters.external-id", format!("externalId eq \"{}-filter\"", ctx.run_id), 1),
    ];
    for (id, filter, expected) in filter_cases {
        let severity = registry::find(id).severity;
        check(ctx, id, || async {
            if !created {
                return Err(skip("needs a user, and creating one failed"));
            }
            if severity != Required && !ctx.supports("filter") {
                return Err(skip("ServiceProviderConfig says filter is not supported"));
            }
            let r = ctx.get("/Users", &[("filter", &filter)]).await;
            let hits = filter_hits(&r, &user_name)?;
            if hits == expected {
                Ok(())
            } else {
                Err(fail(format!("{expected} result(s) for {filter}"), format!("{hits}")).into())
            }
        })
        .await;
    }
    check(ctx, "filters.invalid", || async {
        let r = ctx.get("/Users", &[("filter", "userName eq")]).await;
        expect_status(&r, 400)?;
        if r.body["scimType"] == "invalidFilter" {
            Ok(())
        } else {
            Err(fail("scimType invalidFilter", r.body["scimType"].to_string()).into())
        }
    })
    .await;
}
