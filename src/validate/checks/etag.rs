//! The `etag` checks.

use reqwest::Method;
use serde_json::json;

use super::*;

pub(super) async fn etags(ctx: &Ctx) {
    check(ctx, "etag.conditional", || async {
        if !ctx.supports("etag") {
            return Err(skip("ServiceProviderConfig says etag is not supported"));
        }
        let created = ctx.create(ResourceKind::User, &user_body(ctx, "etag")).await;
        expect_status(&created, 201)?;
        let path = path_of(ResourceKind::User, &created.id());
        let r = ctx.get(&path, &[]).await;
        let Some(etag) = r.header("etag") else {
            return Err(fail("an ETag header (etag is advertised as supported)", "none".to_string()).into());
        };
        let again = ctx.send_as(false, Method::GET, &path, &[], None, &[("if-none-match", &etag)]).await;
        expect_status(&again, 304)?;
        let changed = ctx
            .patch(ResourceKind::User, &created.id(), json!([{"op": "replace", "path": "title", "value": "v2"}]))
            .await;
        expect_written(&changed)?;
        let body =
            json!({"schemas": [urn::PATCH_OP], "Operations": [{"op": "replace", "path": "title", "value": "v3"}]});
        let stale = ctx.send_as(false, Method::PATCH, &path, &[], Some(&body), &[("if-match", &etag)]).await;
        expect_status(&stale, 412)?;
        Ok(())
    })
    .await;
}
