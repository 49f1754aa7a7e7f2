//! The `errors` checks.

use super::*;

pub(super) async fn errors(ctx: &Ctx) {
    check(ctx, "errors.bad-json", || async {
        let r = ctx
            .post_raw("/Users", "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:User\"], \"userName\": ")
            .await;
        expect_status(&r, 400)?;
        error_body_ok(&r)?;
        Ok(())
    })
    .await;
    check(ctx, "errors.missing-user-name", || async {
        let mut body = user_body(ctx, "nameless");
        body.as_object_mut().map(|o| o.remove("userName"));
        let r = ctx.create(ResourceKind::User, &body).await;
        expect_status(&r, 400)?;
        error_body_ok(&r)?;
        Ok(())
    })
    .await;
}
