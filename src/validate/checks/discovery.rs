//! The `discovery` checks.

use reqwest::Method;
use serde_json::{json, Value};

use super::*;

pub(super) async fn discovery(ctx: &Ctx) {
    check(ctx, "discovery.spc", || async {
        if ctx.spc.is_null() {
            let r = ctx.get("/ServiceProviderConfig", &[]).await;
            expect_status(&r, 200)?;
        }
        let missing: Vec<&str> = ["patch", "bulk", "filter", "changePassword", "sort", "etag", "authenticationSchemes"]
            .into_iter()
            .filter(|k| ctx.spc.get(k).is_none())
            .collect();
        if !missing.is_empty() {
            return Err(fail("every RFC 7643 §5 attribute", format!("missing {}", missing.join(", "))).into());
        }
        Ok(())
    })
    .await;
    check(ctx, "discovery.resource-types", || async {
        let r = ctx.get("/ResourceTypes", &[]).await;
        expect_status(&r, 200)?;
        let list = if r.body.is_array() { r.body.as_array().cloned().unwrap_or_default() } else { r.resources() };
        let names: Vec<&str> = list.iter().filter_map(|t| t.get("name").and_then(Value::as_str)).collect();
        if names.contains(&"User") && names.contains(&"Group") {
            Ok(())
        } else {
            Err(fail("ResourceTypes named User and Group", format!("{names:?}")).into())
        }
    })
    .await;
    check(ctx, "discovery.schemas", || async {
        let r = ctx.get("/Schemas", &[]).await;
        expect_status(&r, 200)?;
        let list = if r.body.is_array() { r.body.as_array().cloned().unwrap_or_default() } else { r.resources() };
        if list.iter().any(|s| s.get("id").and_then(Value::as_str) == Some(urn::USER)) {
            Ok(())
        } else {
            Err(fail(format!("a schema with id {}", urn::USER), format!("{} schemas without it", list.len())).into())
        }
    })
    .await;
    check(ctx, "discovery.read-only", || async {
        let r = ctx.send(Method::POST, "/ServiceProviderConfig", Some(&json!({}))).await;
        if r.status == 405 || r.status == 403 || r.status == 501 {
            Ok(())
        } else {
            Err(fail("405 Method Not Allowed", format!("HTTP {}", r.status)).into())
        }
    })
    .await;
}
