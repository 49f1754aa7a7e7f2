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
    check(ctx, "auth.oauth", || async {
        let Some(grant) = &ctx.oauth_grant else {
            return Err(skip("no --oauth-token-url given: the endpoint is called with a static token"));
        };
        let granted = grant.as_ref().map_err(|e| fail("an access_token from the token endpoint", e.clone()))?;
        // Microsoft's gallery validation wants a token valid 60 to 360 minutes.
        match granted.expires_in {
            Some(seconds) if (3600..=21600).contains(&seconds) => {}
            other => {
                let actual =
                    other.map_or("no expires_in".to_string(), |s| format!("expires_in {s} s ({} min)", s / 60));
                return Err(fail("expires_in between 3600 and 21600 seconds (60–360 minutes)", actual).into());
            }
        }
        let query = [("count", "1".to_string())];
        let r = ctx.exchange("GET", "/Users", &query, Some(&granted.token), None, &[]).await;
        if (200..300).contains(&r.status) {
            Ok(())
        } else {
            Err(fail("2xx for GET /Users with the granted token", format!("HTTP {}", r.status)).into())
        }
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
