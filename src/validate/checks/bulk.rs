//! The `bulk` checks.

use reqwest::Method;
use serde_json::json;

use super::*;

pub(super) async fn bulk(ctx: &Ctx) {
    check(ctx, "bulk.bulk-id", || async {
        if !ctx.supports("bulk") {
            return Err(skip("ServiceProviderConfig says bulk is not supported"));
        }
        let body = json!({"schemas": [urn::BULK_REQUEST], "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "u", "data": user_body(ctx, "bulk")},
            {"method": "POST", "path": "/Groups", "bulkId": "g", "data": {
                "schemas": [urn::GROUP], "displayName": format!("scimlab-validate-{}-bulk", ctx.run_id),
                "members": [{"value": "bulkId:u"}]}}
        ]});
        let r = ctx.send(Method::POST, "/Bulk", Some(&body)).await;
        expect_status(&r, 200)?;
        let ops = r.body["Operations"].as_array().cloned().unwrap_or_default();
        let mut ids = Vec::new();
        for (op, kind) in ops.iter().zip([ResourceKind::User, ResourceKind::Group]) {
            let id = op["location"].as_str().and_then(|l| l.rsplit('/').next()).unwrap_or("").to_string();
            if !id.is_empty() {
                ctx.remember(kind, &id);
                ids.push(id);
            }
        }
        let statuses: Vec<&str> = ops.iter().filter_map(|o| o["status"].as_str()).collect();
        if statuses != ["201", "201"] {
            return Err(fail("two operations with status \"201\"", r.body.to_string()).into());
        }
        let group = read(ctx, ResourceKind::Group, &ids[1]).await?;
        if group["members"][0]["value"] == ids[0].as_str() {
            Ok(())
        } else {
            Err(fail(format!("the group's member is the new user {}", ids[0]), group["members"].to_string()).into())
        }
    })
    .await;
}
