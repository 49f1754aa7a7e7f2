//! The `auth` checks.

use reqwest::Method;

use super::*;

pub(super) async fn auth(ctx: &Ctx) {
    check(ctx, "auth.required", || async {
        if ctx.opts.token.is_none() {
            return Err(skip("no --token given, so the endpoint is presumably open"));
        }
        let r = ctx.send_as(true, Method::GET, "/Users", &[("count", "1")], None, &[]).await;
        expect_status(&r, 401)?;
        Ok(())
    })
    .await;
    check(ctx, "auth.bad-token", || async {
        if ctx.opts.token.is_none() {
            return Err(skip("no --token given, so the endpoint is presumably open"));
        }
        let wrong = [("authorization", "Bearer scimlab-validate-not-the-token")];
        let r = ctx
            .send_as(true, Method::GET, "/Users", &[("filter", "userName eq \"x@example.com\"")], None, &wrong)
            .await;
        expect_status(&r, 401)?;
        error_body_ok(&r)?;
        if r.body["detail"].as_str().is_none_or(str::is_empty) {
            return Err(fail("a detail saying why", r.body.to_string()).into());
        }
        Ok(())
    })
    .await;
    check(ctx, "auth.media-type", || async {
        let r = ctx.get("/Users", &[("count", "1")]).await;
        expect_status(&r, 200)?;
        let ct = r.header("content-type").unwrap_or_default();
        if ct.starts_with("application/scim+json") || ct.starts_with("application/json") {
            Ok(())
        } else {
            Err(fail("Content-Type: application/scim+json", ct).into())
        }
    })
    .await;
}
