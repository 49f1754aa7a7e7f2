//! The `discovery` checks.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{json, Value};

use super::*;
use crate::provision::job::{default_group_mapping, default_user_mapping};

/// The `Resources` of a discovery list; a bare array or a missing `Resources` is a failure
/// (Microsoft's Schema_Discoverability_Test reads `Resources`).
fn list_resources(r: &Resp, what: &str) -> Result<Vec<Value>, Failure> {
    expect_status(r, 200)?;
    let is_list = r.body["schemas"].as_array().is_some_and(|s| s.iter().any(|u| u == urn::LIST_RESPONSE));
    match r.body.get("Resources").and_then(Value::as_array) {
        Some(resources) if is_list => Ok(resources.clone()),
        _ if r.body.is_array() => {
            Err(fail(format!("{what} as a ListResponse with Resources (RFC 7644 §4)"), "a bare JSON array".to_string()))
        }
        _ => Err(fail(format!("{what} as a ListResponse with Resources (RFC 7644 §4)"), r.body.to_string())),
    }
}

/// Every attribute path a schema list describes, lower-cased: `name.givenName` for the
/// core schemas and `urn…:User:department` for extensions.
fn described_paths(schemas: &[Value]) -> BTreeSet<String> {
    let mut paths = BTreeSet::new();
    for schema in schemas {
        let id = schema["id"].as_str().unwrap_or("");
        let core = id == urn::USER || id == urn::GROUP;
        for attr in schema["attributes"].as_array().into_iter().flatten() {
            let name = attr["name"].as_str().unwrap_or("");
            let mut add = |path: String| {
                paths.insert(if core { path.to_lowercase() } else { format!("{id}:{path}").to_lowercase() });
            };
            add(name.to_string());
            for sub in attr["subAttributes"].as_array().into_iter().flatten() {
                add(format!("{name}.{}", sub["name"].as_str().unwrap_or("")));
            }
        }
    }
    paths
}

/// A mapping target as a schema path: value filters dropped (`emails[type eq "work"].value`
/// → `emails.value`), lower-cased.
fn schema_path(target: &str) -> String {
    let mut out = String::new();
    let mut depth = 0;
    for c in target.chars() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out.to_lowercase()
}

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
        let list = list_resources(&ctx.get("/ResourceTypes", &[]).await, "/ResourceTypes")?;
        let names: Vec<&str> = list.iter().filter_map(|t| t.get("name").and_then(Value::as_str)).collect();
        if names.contains(&"User") && names.contains(&"Group") {
            Ok(())
        } else {
            Err(fail("ResourceTypes named User and Group", format!("{names:?}")).into())
        }
    })
    .await;
    let schemas = ctx.get("/Schemas", &[]).await;
    check(ctx, "discovery.schemas", || async {
        let list = list_resources(&schemas, "/Schemas")?;
        if list.iter().any(|s| s.get("id").and_then(Value::as_str) == Some(urn::USER)) {
            Ok(())
        } else {
            Err(fail(format!("a schema with id {}", urn::USER), format!("{} schemas without it", list.len())).into())
        }
    })
    .await;
    check(ctx, "discovery.group-schema", || async {
        let list = list_resources(&schemas, "/Schemas")?;
        if list.iter().any(|s| s.get("id").and_then(Value::as_str) == Some(urn::GROUP)) {
            Ok(())
        } else {
            let ids: Vec<&str> = list.iter().filter_map(|s| s["id"].as_str()).collect();
            Err(fail(
                format!("the Group schema {} (Microsoft fails every group test without it)", urn::GROUP),
                format!("{ids:?}"),
            )
            .into())
        }
    })
    .await;
    check(ctx, "discovery.schema-coverage", || async {
        let described = described_paths(&list_resources(&schemas, "/Schemas")?);
        let targets =
            default_user_mapping().attribute_mappings.into_iter().chain(default_group_mapping().attribute_mappings);
        // externalId is a common attribute (RFC 7643 §3.1), described by no schema.
        let missing: Vec<String> = targets
            .map(|m| m.target_attribute_name)
            .filter(|t| t != "externalId" && !described.contains(&schema_path(t)))
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(fail(
                "every attribute of Entra's default user and group mappings described by /Schemas",
                format!("missing {}", missing.join(", ")),
            )
            .into())
        }
    })
    .await;
    check(ctx, "discovery.by-id", || async {
        for path in [format!("/Schemas/{}", urn::USER), "/ResourceTypes/User".to_string()] {
            let r = ctx.get(&path, &[]).await;
            expect_status(&r, 200).map_err(|f| fail(format!("{path}: {}", f.expected), f.actual))?;
        }
        for path in ["/Schemas/urn:scimlab:validate:no-such-schema", "/ResourceTypes/NoSuchType"] {
            let r = ctx.get(path, &[]).await;
            expect_status(&r, 404).map_err(|f| fail(format!("{path}: {}", f.expected), f.actual))?;
        }
        Ok(())
    })
    .await;
    check(ctx, "discovery.read-only", || async {
        let writes = [
            (Method::POST, "/ServiceProviderConfig"),
            (Method::PUT, "/ServiceProviderConfig"),
            (Method::PATCH, "/Schemas"),
            (Method::DELETE, "/ResourceTypes"),
        ];
        for (method, path) in writes {
            let r = ctx.send(method.clone(), path, Some(&json!({}))).await;
            if !matches!(r.status, 403 | 405 | 501) {
                return Err(
                    fail(format!("405 Method Not Allowed for {method} {path}"), format!("HTTP {}", r.status)).into()
                );
            }
        }
        Ok(())
    })
    .await;
}
