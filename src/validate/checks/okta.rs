//! The `okta` checks.

use reqwest::Method;
use serde_json::json;
use std::time::Instant;

use super::*;

/// Okta answers within 600 ms in its own spec tests (docs/scim-server.md, Okta).
pub(super) fn quick(started: Instant, what: &str) -> Result<(), Failure> {
    let ms = started.elapsed().as_millis();
    if ms < 600 {
        Ok(())
    } else {
        Err(fail(format!("{what} within 600 ms (Okta's spec tests)"), format!("{ms} ms")))
    }
}
pub(super) async fn okta(ctx: &Ctx) {
    check(ctx, "okta.connection", || async {
        let t = Instant::now();
        let r = ctx.get("/Users", &[("startIndex", "1"), ("count", "2")]).await;
        expect_status(&r, 200)?;
        quick(t, "the list")?;
        if r.resources().len() <= 2 && r.total().is_some() {
            Ok(())
        } else {
            Err(fail("a ListResponse with totalResults and at most 2 resources", r.body.to_string()).into())
        }
    })
    .await;
    check(ctx, "okta.deactivate", || async {
        let r = ctx.create(ResourceKind::User, &user_body(ctx, "okta")).await;
        expect_status(&r, 201)?;
        let t = Instant::now();
        let p = ctx.patch(ResourceKind::User, &r.id(), json!([{"op": "replace", "value": {"active": false}}])).await;
        expect_written(&p)?;
        quick(t, "the PATCH")?;
        let u = read(ctx, ResourceKind::User, &r.id()).await?;
        if u["active"] == false {
            Ok(())
        } else {
            Err(fail("active false (a no-op here is a classic bug)", u["active"].to_string()).into())
        }
    })
    .await;
    check(ctx, "okta.put-keeps-active", || async {
        let r = ctx.create(ResourceKind::User, &user_body(ctx, "okta-put")).await;
        expect_status(&r, 201)?;
        let mut body = user_body(ctx, "okta-put");
        body["title"] = json!("Put By Okta");
        let p = ctx.send(Method::PUT, &path_of(ResourceKind::User, &r.id()), Some(&body)).await;
        expect_status(&p, 200)?;
        let u = read(ctx, ResourceKind::User, &r.id()).await?;
        if u["active"] == true && u["title"] == "Put By Okta" {
            Ok(())
        } else {
            Err(fail("active true and title \"Put By Okta\"", format!("active {}, title {}", u["active"], u["title"]))
                .into())
        }
    })
    .await;
}
