//! The checks, in the order a client meets an endpoint: discovery, auth, users, PATCH,
//! groups, filters, paging and projection, ETags, errors, and the Entra provisioning flow.

use std::future::Future;
use std::time::Instant;

use reqwest::Method;
use serde_json::{json, Value};

use super::report::{Outcome, Severity};
use super::{expect_status, fail, CheckMeta, Ctx, Failure, Resp};
use crate::scim::{urn, ResourceKind};

/// Why a check did not pass.
enum Problem {
    Fail(Failure),
    Skip(String),
}

impl From<Failure> for Problem {
    fn from(f: Failure) -> Self {
        Problem::Fail(f)
    }
}

type Verdict = Result<(), Problem>;

fn skip(reason: impl Into<String>) -> Problem {
    Problem::Skip(reason.into())
}

const fn meta(
    id: &'static str,
    group: &'static str,
    title: &'static str,
    source: &'static str,
    severity: Severity,
) -> CheckMeta {
    CheckMeta { id, group, title, source, severity }
}

use Severity::{EntraInterop, OktaInterop, Recommended, Required};

/// Runs one check unless the profile or `--only` leaves it out.
async fn check<F, Fut>(ctx: &Ctx, meta: CheckMeta, body: F) -> bool
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Verdict>,
{
    let started = ctx.begin();
    if let Some(reason) = ctx.wanted(&meta) {
        ctx.record(&meta, started, Outcome::Skip { reason });
        return false;
    }
    let outcome = match body().await {
        Ok(()) => Outcome::Pass,
        Err(Problem::Fail(f)) => Outcome::Fail { expected: f.expected, actual: f.actual },
        Err(Problem::Skip(reason)) => Outcome::Skip { reason },
    };
    let passed = outcome == Outcome::Pass;
    ctx.record(&meta, started, outcome);
    passed
}

fn user_body(ctx: &Ctx, label: &str) -> Value {
    json!({
        "schemas": [urn::USER],
        "userName": ctx.user_name(label),
        "externalId": format!("{}-{label}", ctx.run_id),
        "name": {"givenName": "Val", "familyName": format!("Idator {label}")},
        "displayName": format!("Validator {label}"),
        "active": true,
        "emails": [{"value": ctx.user_name(label), "type": "work", "primary": true}]
    })
}

fn path_of(kind: ResourceKind, id: &str) -> String {
    format!("/{}/{id}", kind.endpoint())
}

/// Reads a resource back and returns it, or why it could not.
async fn read(ctx: &Ctx, kind: ResourceKind, id: &str) -> Result<Value, Failure> {
    let r = ctx.get(&path_of(kind, id), &[]).await;
    expect_status(&r, 200)?;
    Ok(r.body)
}

/// A write that succeeded: 200 with the resource, or 204 (which RFC 7644 allows for PATCH).
fn expect_written(r: &Resp) -> Result<(), Failure> {
    if r.status == 204 {
        Ok(())
    } else {
        expect_status(r, 200)
    }
}

/// Sends a PatchOp and reads the resource back: what the server stored, not what it said.
async fn patch_then_read(ctx: &Ctx, kind: ResourceKind, id: &str, ops: Value) -> Result<Value, Failure> {
    let r = ctx.patch(kind, id, ops).await;
    expect_written(&r)?;
    read(ctx, kind, id).await
}

/// The member ids of a group read back from the server.
fn member_ids(group: &Value) -> Vec<String> {
    group["members"].as_array().into_iter().flatten().filter_map(|m| m["value"].as_str().map(str::to_string)).collect()
}

fn error_body_ok(r: &Resp) -> Result<(), Failure> {
    let schemas_ok = r.body.get("schemas").and_then(Value::as_array).is_some_and(|s| s.iter().any(|u| u == urn::ERROR));
    let status_ok = r.body.get("status").and_then(Value::as_str) == Some(r.status.to_string().as_str());
    if schemas_ok && status_ok {
        Ok(())
    } else {
        Err(fail(
            format!("a SCIM error body with schemas [{}] and \"status\": \"{}\" (a string)", urn::ERROR, r.status),
            r.body.to_string(),
        ))
    }
}

fn filter_hits(r: &Resp, user_name: &str) -> Result<usize, Failure> {
    expect_status(r, 200)?;
    let hits = r.resources();
    if hits.iter().any(|u| !u["userName"].as_str().unwrap_or("").eq_ignore_ascii_case(user_name)) {
        return Err(fail(
            format!("only resources matching userName {user_name}"),
            format!("{} resources, some of them other users (is the filter ignored?)", hits.len()),
        ));
    }
    Ok(hits.len())
}

pub async fn run_all(ctx: &Ctx) {
    discovery(ctx).await;
    auth(ctx).await;
    let user = users(ctx).await;
    if let Some(id) = &user {
        patch(ctx, id).await;
    }
    groups(ctx, user.as_deref()).await;
    filters(ctx).await;
    paging(ctx).await;
    etags(ctx).await;
    bulk(ctx).await;
    errors(ctx).await;
    okta(ctx).await;
    super::flow::entra_flow(ctx).await;
}

async fn discovery(ctx: &Ctx) {
    check(
        ctx,
        meta("discovery.spc", "discovery", "ServiceProviderConfig is served", "RFC 7644 §4", Required),
        || async {
            if ctx.spc.is_null() {
                let r = ctx.get("/ServiceProviderConfig", &[]).await;
                expect_status(&r, 200)?;
            }
            let missing: Vec<&str> =
                ["patch", "bulk", "filter", "changePassword", "sort", "etag", "authenticationSchemes"]
                    .into_iter()
                    .filter(|k| ctx.spc.get(k).is_none())
                    .collect();
            if !missing.is_empty() {
                return Err(fail("every RFC 7643 §5 attribute", format!("missing {}", missing.join(", "))).into());
            }
            Ok(())
        },
    )
    .await;
    check(
        ctx,
        meta("discovery.resource-types", "discovery", "ResourceTypes lists User and Group", "RFC 7644 §4", Recommended),
        || async {
            let r = ctx.get("/ResourceTypes", &[]).await;
            expect_status(&r, 200)?;
            let list = if r.body.is_array() { r.body.as_array().cloned().unwrap_or_default() } else { r.resources() };
            let names: Vec<&str> = list.iter().filter_map(|t| t.get("name").and_then(Value::as_str)).collect();
            if names.contains(&"User") && names.contains(&"Group") {
                Ok(())
            } else {
                Err(fail("ResourceTypes named User and Group", format!("{names:?}")).into())
            }
        },
    )
    .await;
    check(
        ctx,
        meta("discovery.schemas", "discovery", "Schemas describes the User schema", "RFC 7644 §4", Recommended),
        || async {
            let r = ctx.get("/Schemas", &[]).await;
            expect_status(&r, 200)?;
            let list = if r.body.is_array() { r.body.as_array().cloned().unwrap_or_default() } else { r.resources() };
            if list.iter().any(|s| s.get("id").and_then(Value::as_str) == Some(urn::USER)) {
                Ok(())
            } else {
                Err(fail(format!("a schema with id {}", urn::USER), format!("{} schemas without it", list.len()))
                    .into())
            }
        },
    )
    .await;
    check(
        ctx,
        meta("discovery.read-only", "discovery", "Discovery endpoints refuse writes", "RFC 7644 §4", Recommended),
        || async {
            let r = ctx.send(Method::POST, "/ServiceProviderConfig", Some(&json!({}))).await;
            if r.status == 405 || r.status == 403 || r.status == 501 {
                Ok(())
            } else {
                Err(fail("405 Method Not Allowed", format!("HTTP {}", r.status)).into())
            }
        },
    )
    .await;
}

async fn auth(ctx: &Ctx) {
    check(
        ctx,
        meta("auth.required", "auth", "Requests without credentials get 401", "RFC 7644 §2", Required),
        || async {
            if ctx.opts.token.is_none() {
                return Err(skip("no --token given, so the endpoint is presumably open"));
            }
            let r = ctx.send_as(true, Method::GET, "/Users", &[("count", "1")], None, &[]).await;
            expect_status(&r, 401)?;
            Ok(())
        },
    )
    .await;
    check(
        ctx,
        meta("auth.media-type", "auth", "Responses are application/scim+json", "RFC 7644 §3.1", Recommended),
        || async {
            let r = ctx.get("/Users", &[("count", "1")]).await;
            expect_status(&r, 200)?;
            let ct = r.header("content-type").unwrap_or_default();
            if ct.starts_with("application/scim+json") || ct.starts_with("application/json") {
                Ok(())
            } else {
                Err(fail("Content-Type: application/scim+json", ct).into())
            }
        },
    )
    .await;
}

/// Creates the run's main user; returns its id for the PATCH and group checks.
async fn users(ctx: &Ctx) -> Option<String> {
    let mut id = None;
    let body = user_body(ctx, "main");
    let user_name = ctx.user_name("main");
    let created = check(
        ctx,
        meta("users.create", "users", "POST /Users creates a user (201, id, meta)", "RFC 7644 §3.3", Required),
        || async {
            let r = ctx.create(ResourceKind::User, &body).await;
            expect_status(&r, 201)?;
            if r.id().is_empty() {
                return Err(fail("the created resource with an id", r.body.to_string()).into());
            }
            if !r.body["userName"].as_str().unwrap_or("").eq_ignore_ascii_case(&user_name) {
                return Err(fail(format!("userName {user_name}"), r.body["userName"].to_string()).into());
            }
            if r.body["meta"]["resourceType"] != "User" {
                return Err(fail("meta.resourceType \"User\"", r.body["meta"].to_string()).into());
            }
            id = Some(r.id());
            Ok(())
        },
    )
    .await;
    let create_meta = meta("users.create", "users", "", "", Required);
    if !created && ctx.wanted(&create_meta).is_some() {
        // The users group is not selected, but PATCH and group checks need a user.
        let r = ctx.create(ResourceKind::User, &body).await;
        id = (r.status == 201).then(|| r.id());
    } else if !created {
        return None;
    }
    let user_id = id.clone()?;
    check(ctx, meta("users.get", "users", "GET /Users/{id} returns the user", "RFC 7644 §3.4.1", Required), || async {
        let u = read(ctx, ResourceKind::User, &user_id).await?;
        if u["id"] == user_id.as_str() {
            Ok(())
        } else {
            Err(fail(format!("id {user_id}"), u["id"].to_string()).into())
        }
    })
    .await;
    check(
        ctx,
        meta("users.location", "users", "Create answers with a Location header", "RFC 7644 §3.3", Recommended),
        || async {
            let r = ctx.get(&path_of(ResourceKind::User, &user_id), &[]).await;
            let location = r.body["meta"]["location"].as_str().unwrap_or("");
            if location.ends_with(&user_id) {
                Ok(())
            } else {
                Err(fail("meta.location ending with the id", location.to_string()).into())
            }
        },
    )
    .await;
    check(
        ctx,
        meta("users.uniqueness", "users", "A duplicate userName gets 409 uniqueness", "RFC 7644 §3.3", Required),
        || async {
            let mut dup = user_body(ctx, "main");
            dup["userName"] = json!(user_name.to_uppercase());
            let r = ctx.create(ResourceKind::User, &dup).await;
            expect_status(&r, 409)?;
            Ok(())
        },
    )
    .await;
    check(ctx, meta("users.put", "users", "PUT replaces the user", "RFC 7644 §3.5.1", Required), || async {
        let mut replacement = user_body(ctx, "main");
        replacement["displayName"] = json!("Replaced By Put");
        let r = ctx.send(Method::PUT, &path_of(ResourceKind::User, &user_id), Some(&replacement)).await;
        expect_status(&r, 200)?;
        let u = read(ctx, ResourceKind::User, &user_id).await?;
        if u["displayName"] == "Replaced By Put" {
            Ok(())
        } else {
            Err(fail("displayName \"Replaced By Put\" after PUT", u["displayName"].to_string()).into())
        }
    })
    .await;
    check(
        ctx,
        meta("users.not-found", "users", "An unknown id gets 404 with a SCIM error", "RFC 7644 §3.12", Required),
        || async {
            let r = ctx.get("/Users/scimlab-validate-does-not-exist", &[]).await;
            expect_status(&r, 404)?;
            error_body_ok(&r)?;
            Ok(())
        },
    )
    .await;
    check(
        ctx,
        meta("users.delete", "users", "DELETE removes a user (204, then 404)", "RFC 7644 §3.6", Required),
        || async {
            let r = ctx.create(ResourceKind::User, &user_body(ctx, "doomed")).await;
            expect_status(&r, 201)?;
            let doomed = r.id();
            let d = ctx.send(Method::DELETE, &path_of(ResourceKind::User, &doomed), None).await;
            expect_status(&d, 204)?;
            ctx.forget(&doomed);
            let again = ctx.get(&path_of(ResourceKind::User, &doomed), &[]).await;
            expect_status(&again, 404)?;
            Ok(())
        },
    )
    .await;
    id
}

async fn patch(ctx: &Ctx, id: &str) {
    let kind = ResourceKind::User;
    check(
        ctx,
        meta("patch.replace-path", "patch", "PATCH replace with a path", "RFC 7644 §3.5.2.3", Required),
        || async {
            let r = ctx.patch(kind, id, json!([{"op": "replace", "path": "title", "value": "Validator"}])).await;
            if r.status != 200 && r.status != 204 {
                expect_status(&r, 200)?;
            }
            let u = read(ctx, kind, id).await?;
            if u["title"] == "Validator" {
                Ok(())
            } else {
                Err(fail("title \"Validator\"", u["title"].to_string()).into())
            }
        },
    )
    .await;
    check(
        ctx,
        meta("patch.returns-resource", "patch", "PATCH answers 200 with the resource", "RFC 7644 §3.5.2", Recommended),
        || async {
            let r = ctx.patch(kind, id, json!([{"op": "replace", "path": "nickName", "value": "val"}])).await;
            expect_status(&r, 200)?;
            if r.body["nickName"] == "val" {
                Ok(())
            } else {
                Err(fail("the updated resource in the body", r.body.to_string()).into())
            }
        },
    )
    .await;
    check(
        ctx,
        meta("patch.add-no-path", "patch", "PATCH add without a path merges attributes", "RFC 7644 §3.5.2.1", Required),
        || async {
            let u = patch_then_read(
                ctx,
                kind,
                id,
                json!([{"op": "add", "value": {"nickName": "merged", "preferredLanguage": "en-US"}}]),
            )
            .await?;
            if u["nickName"] == "merged" && u["preferredLanguage"] == "en-US" {
                Ok(())
            } else {
                Err(fail(
                    "nickName \"merged\", preferredLanguage \"en-US\"",
                    format!("{} {}", u["nickName"], u["preferredLanguage"]),
                )
                .into())
            }
        },
    )
    .await;
    check(
        ctx,
        meta(
            "patch.value-filter",
            "patch",
            "PATCH a value-filtered path emails[type eq \"work\"].value",
            "RFC 7644 §3.5.2",
            Required,
        ),
        || async {
            let new_mail = ctx.user_name("patched");
            let u = patch_then_read(
                ctx,
                kind,
                id,
                json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": new_mail}]),
            )
            .await?;
            let work = u["emails"]
                .as_array()
                .and_then(|e| e.iter().find(|m| m["type"] == "work"))
                .cloned()
                .unwrap_or(Value::Null);
            if work["value"] == new_mail.as_str() {
                Ok(())
            } else {
                Err(fail(format!("the work email {new_mail}"), u["emails"].to_string()).into())
            }
        },
    )
    .await;
    check(
        ctx,
        meta("patch.remove", "patch", "PATCH remove deletes an attribute", "RFC 7644 §3.5.2.2", Required),
        || async {
            let u = patch_then_read(ctx, kind, id, json!([{"op": "remove", "path": "nickName"}])).await?;
            if u.get("nickName").is_none_or(Value::is_null) {
                Ok(())
            } else {
                Err(fail("no nickName", u["nickName"].to_string()).into())
            }
        },
    )
    .await;
    check(
        ctx,
        meta(
            "patch.entra-legacy",
            "patch",
            "Entra's PATCH: \"Replace\" op, boolean as \"False\"",
            "Entra §1.4.4",
            EntraInterop,
        ),
        || async {
            let u =
                patch_then_read(ctx, kind, id, json!([{"op": "Replace", "path": "active", "value": "False"}])).await?;
            let restore = ctx.patch(kind, id, json!([{"op": "Replace", "path": "active", "value": "True"}])).await;
            let _ = restore;
            if u["active"] == false {
                Ok(())
            } else {
                Err(fail("active false", u["active"].to_string()).into())
            }
        },
    )
    .await;
    check(
        ctx,
        meta("patch.entra-dotted", "patch", "Entra's path-less replace with dotted keys", "Entra §1.4.4", EntraInterop),
        || async {
            let u = patch_then_read(
                ctx,
                kind,
                id,
                json!([{"op": "replace", "value": {"name.givenName": "Dotted", "displayName": "Dotted User"}}]),
            )
            .await?;
            if u["name"]["givenName"] == "Dotted" {
                Ok(())
            } else {
                Err(fail("name.givenName \"Dotted\"", u["name"].to_string()).into())
            }
        },
    )
    .await;
    check(
        ctx,
        meta(
            "patch.entra-manager",
            "patch",
            "Entra's manager: set as a bare id, cleared with {\"value\":\"\"}",
            "Entra §1.4.5",
            EntraInterop,
        ),
        || async {
            let m = ctx.create(ResourceKind::User, &user_body(ctx, "manager")).await;
            expect_status(&m, 201)?;
            let manager_path = format!("{}:manager", urn::ENTERPRISE_USER);
            let u =
                patch_then_read(ctx, kind, id, json!([{"op": "Add", "path": manager_path, "value": m.id()}])).await?;
            if u[urn::ENTERPRISE_USER]["manager"]["value"] != m.id().as_str() {
                return Err(fail(format!("manager.value {}", m.id()), u[urn::ENTERPRISE_USER].to_string()).into());
            }
            let u = patch_then_read(
                ctx,
                kind,
                id,
                json!([{"op": "Replace", "path": manager_path, "value": {"value": ""}}]),
            )
            .await?;
            if u[urn::ENTERPRISE_USER]["manager"].is_null() {
                Ok(())
            } else {
                Err(fail("no manager after {\"value\":\"\"}", u[urn::ENTERPRISE_USER].to_string()).into())
            }
        },
    )
    .await;
}

async fn groups(ctx: &Ctx, user: Option<&str>) {
    let Some(user) = user else {
        check(
            ctx,
            meta("groups.create", "groups", "POST /Groups creates a group with a member", "RFC 7644 §3.3", Required),
            || async { Err(skip("needs a user, and creating one failed")) },
        )
        .await;
        return;
    };
    let name = format!("scimlab-validate-{}-group", ctx.run_id);
    let mut group_id = String::new();
    let created = check(
        ctx,
        meta("groups.create", "groups", "POST /Groups creates a group with a member", "RFC 7644 §3.3", Required),
        || async {
            let body = json!({"schemas": [urn::GROUP], "displayName": name, "members": [{"value": user}]});
            let r = ctx.create(ResourceKind::Group, &body).await;
            expect_status(&r, 201)?;
            group_id = r.id();
            let g = read(ctx, ResourceKind::Group, &group_id).await?;
            let members = g["members"].as_array().map(Vec::len).unwrap_or(0);
            if members == 1 {
                Ok(())
            } else {
                Err(fail("1 member", format!("{members} members")).into())
            }
        },
    )
    .await;
    if !created {
        return;
    }
    let gid = group_id.as_str();
    check(
        ctx,
        meta("groups.filter-display-name", "groups", "Groups filter by displayName eq", "RFC 7644 §3.4.2.2", Required),
        || async {
            let filter = format!("displayName eq \"{name}\"");
            let r = ctx.get("/Groups", &[("filter", &filter), ("excludedAttributes", "members")]).await;
            expect_status(&r, 200)?;
            let ids: Vec<String> = r.resources().iter().map(|g| g["id"].as_str().unwrap_or("").to_string()).collect();
            if ids == [gid] {
                Ok(())
            } else {
                Err(fail(format!("exactly the group {gid}"), format!("{ids:?}")).into())
            }
        },
    )
    .await;
    check(
        ctx,
        meta(
            "groups.excluded-members",
            "groups",
            "excludedAttributes=members leaves members out",
            "RFC 7644 §3.4.2.5",
            Recommended,
        ),
        || async {
            let r = ctx.get(&path_of(ResourceKind::Group, gid), &[("excludedAttributes", "members")]).await;
            expect_status(&r, 200)?;
            if r.body.get("members").is_none_or(|m| m.as_array().is_some_and(Vec::is_empty)) {
                Ok(())
            } else {
                Err(fail("no members in the response", r.body["members"].to_string()).into())
            }
        },
    )
    .await;
    let second = ctx.create(ResourceKind::User, &user_body(ctx, "member")).await;
    let second_id = second.id();
    check(ctx, meta("groups.add-member", "groups", "PATCH add members", "RFC 7644 §3.5.2.1", Required), || async {
        expect_status(&second, 201)?;
        let g = patch_then_read(
            ctx,
            ResourceKind::Group,
            gid,
            json!([{"op": "add", "path": "members", "value": [{"value": second_id}]}]),
        )
        .await?;
        let n = g["members"].as_array().map(Vec::len).unwrap_or(0);
        if n == 2 {
            Ok(())
        } else {
            Err(fail("2 members (none lost)", format!("{n}: {}", g["members"])).into())
        }
    })
    .await;
    check(
        ctx,
        meta(
            "groups.remove-member-filter",
            "groups",
            "PATCH remove members[value eq \"id\"]",
            "RFC 7644 §3.5.2.2",
            Required,
        ),
        || async {
            let path = format!("members[value eq \"{second_id}\"]");
            let g = patch_then_read(ctx, ResourceKind::Group, gid, json!([{"op": "remove", "path": path}])).await?;
            let ids = member_ids(&g);
            if ids == [user] {
                Ok(())
            } else {
                Err(fail(format!("only {user} left"), format!("{ids:?}")).into())
            }
        },
    )
    .await;
    check(
        ctx,
        meta(
            "groups.entra-remove-member",
            "groups",
            "Entra's member removal: path members, value list",
            "Entra §1.5",
            EntraInterop,
        ),
        || async {
            let add = ctx
                .patch(
                    ResourceKind::Group,
                    gid,
                    json!([{"op": "Add", "path": "members", "value": [{"value": second_id}]}]),
                )
                .await;
            expect_written(&add)?;
            let g = patch_then_read(
                ctx,
                ResourceKind::Group,
                gid,
                json!([{"op": "Remove", "path": "members", "value": [{"value": second_id}]}]),
            )
            .await?;
            let ids = member_ids(&g);
            if ids == [user] {
                Ok(())
            } else {
                Err(fail(format!("only {second_id} removed, {user} kept"), format!("{ids:?}")).into())
            }
        },
    )
    .await;
    check(
        ctx,
        meta("groups.member-lookup", "groups", "Groups filter members[value eq \"id\"]", "Entra §1.5", EntraInterop),
        || async {
            let filter = format!("members[value eq \"{user}\"]");
            let r = ctx.get("/Groups", &[("filter", &filter)]).await;
            expect_status(&r, 200)?;
            if r.resources().iter().any(|g| g["id"] == gid) {
                Ok(())
            } else {
                Err(fail(format!("the group {gid}"), format!("{} groups without it", r.resources().len())).into())
            }
        },
    )
    .await;
}

async fn filters(ctx: &Ctx) {
    let probe = ctx.create(ResourceKind::User, &user_body(ctx, "filter")).await;
    // A second user, so a server that ignores the filter is caught returning it.
    let decoy = ctx.create(ResourceKind::User, &user_body(ctx, "decoy")).await;
    let user_name = ctx.user_name("filter");
    let created = probe.status == 201 && decoy.status == 201;
    let filter_meta = [
        ("filters.eq", "userName eq finds exactly one user", format!("userName eq \"{user_name}\""), 1usize, Required),
        (
            "filters.eq-case",
            "userName eq is case-insensitive",
            format!("userName eq \"{}\"", user_name.to_uppercase()),
            1,
            Required,
        ),
        (
            "filters.eq-none",
            "A filter with no match gives an empty list (Test Connection)",
            format!("userName eq \"{}-nobody\"", ctx.run_id),
            0,
            Required,
        ),
        ("filters.sw", "sw operator", format!("userName sw \"scimlab-validate-{}-filt\"", ctx.run_id), 1, Recommended),
        ("filters.co", "co operator", format!("userName co \"{}-filter@\"", ctx.run_id), 1, Recommended),
        ("filters.ew", "ew operator", format!("userName ew \"{}-filter@example.com\"", ctx.run_id), 1, Recommended),
        ("filters.and", "and", format!("userName eq \"{user_name}\" and active eq true"), 1, Recommended),
        (
            "filters.or",
            "or",
            format!("userName eq \"{user_name}\" or userName eq \"{}-nobody\"", ctx.run_id),
            1,
            Recommended,
        ),
        (
            "filters.not",
            "not ( )",
            format!("userName sw \"scimlab-validate-{}-filt\" and not (active eq false)", ctx.run_id),
            1,
            Recommended,
        ),
        (
            "filters.ne",
            "ne operator",
            format!("userName sw \"scimlab-validate-{}-filt\" and userName ne \"{}-nobody\"", ctx.run_id, ctx.run_id),
            1,
            Recommended,
        ),
        (
            "filters.gt-date",
            "gt on a dateTime (meta.lastModified)",
            format!("userName eq \"{user_name}\" and meta.lastModified gt \"2000-01-01T00:00:00Z\""),
            1,
            Recommended,
        ),
        (
            "filters.lt-date",
            "lt on a dateTime (meta.lastModified)",
            format!("userName eq \"{user_name}\" and meta.lastModified lt \"2000-01-01T00:00:00Z\""),
            0,
            Recommended,
        ),
        ("filters.pr", "pr operator", format!("userName eq \"{user_name}\" and title pr"), 0, Recommended),
        (
            "filters.value-path",
            "value path emails[type eq \"work\" and value co \"@\"]",
            format!("userName eq \"{user_name}\" and emails[type eq \"work\" and value co \"@\"]"),
            1,
            Recommended,
        ),
        (
            "filters.external-id",
            "externalId eq (Entra matching)",
            format!("externalId eq \"{}-filter\"", ctx.run_id),
            1,
            EntraInterop,
        ),
    ];
    for (id, title, filter, expected, severity) in filter_meta {
        check(ctx, meta(id, "filters", title, "RFC 7644 §3.4.2.2", severity), || async {
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
    check(
        ctx,
        meta(
            "filters.invalid",
            "filters",
            "A malformed filter gets 400 invalidFilter",
            "RFC 7644 §3.4.2.2",
            Recommended,
        ),
        || async {
            let r = ctx.get("/Users", &[("filter", "userName eq")]).await;
            expect_status(&r, 400)?;
            if r.body["scimType"] == "invalidFilter" {
                Ok(())
            } else {
                Err(fail("scimType invalidFilter", r.body["scimType"].to_string()).into())
            }
        },
    )
    .await;
}

async fn paging(ctx: &Ctx) {
    let prefix = format!("scimlab-validate-{}-page", ctx.run_id);
    let mut ok = true;
    for i in 0..3 {
        let r = ctx.create(ResourceKind::User, &user_body(ctx, &format!("page{i}"))).await;
        ok &= r.status == 201;
    }
    let filter = format!("userName sw \"{prefix}\"");
    check(
        ctx,
        meta(
            "paging.total-before-slice",
            "paging",
            "totalResults counts every match, not the page",
            "RFC 7644 §3.4.2.4",
            Required,
        ),
        || async {
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
        },
    )
    .await;
    check(
        ctx,
        meta("paging.walk", "paging", "startIndex pages walk every match once", "RFC 7644 §3.4.2.4", Recommended),
        || async {
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
        },
    )
    .await;
    check(
        ctx,
        meta(
            "paging.sort",
            "paging",
            "sortBy userName descending orders the results",
            "RFC 7644 §3.4.2.3",
            Recommended,
        ),
        || async {
            if !ctx.supports("sort") {
                return Err(skip("ServiceProviderConfig says sort is not supported"));
            }
            let r =
                ctx.get("/Users", &[("filter", &filter), ("sortBy", "userName"), ("sortOrder", "descending")]).await;
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
        },
    )
    .await;
    check(
        ctx,
        meta(
            "paging.attributes",
            "paging",
            "attributes=userName returns only what was asked (and id)",
            "RFC 7644 §3.4.2.5",
            Recommended,
        ),
        || async {
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
        },
    )
    .await;
}

async fn etags(ctx: &Ctx) {
    check(
        ctx,
        meta(
            "etag.conditional",
            "etag",
            "ETag, If-None-Match → 304, stale If-Match → 412",
            "RFC 7644 §3.14",
            Recommended,
        ),
        || async {
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
        },
    )
    .await;
}

async fn bulk(ctx: &Ctx) {
    check(
        ctx,
        meta(
            "bulk.bulk-id",
            "bulk",
            "/Bulk creates a user and a group that references it by bulkId",
            "RFC 7644 §3.7",
            Recommended,
        ),
        || async {
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
        },
    )
    .await;
}

async fn errors(ctx: &Ctx) {
    check(
        ctx,
        meta("errors.bad-json", "errors", "Malformed JSON gets 400 with a SCIM error body", "RFC 7644 §3.12", Required),
        || async {
            let r = ctx
                .post_raw("/Users", "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:User\"], \"userName\": ")
                .await;
            expect_status(&r, 400)?;
            error_body_ok(&r)?;
            Ok(())
        },
    )
    .await;
    check(
        ctx,
        meta("errors.missing-user-name", "errors", "A user without userName gets 400", "RFC 7643 §4.1", Required),
        || async {
            let mut body = user_body(ctx, "nameless");
            body.as_object_mut().map(|o| o.remove("userName"));
            let r = ctx.create(ResourceKind::User, &body).await;
            expect_status(&r, 400)?;
            error_body_ok(&r)?;
            Ok(())
        },
    )
    .await;
}

/// Okta answers within 600 ms in its own spec tests (scim-peers.md §6.2).
fn quick(started: Instant, what: &str) -> Result<(), Failure> {
    let ms = started.elapsed().as_millis();
    if ms < 600 {
        Ok(())
    } else {
        Err(fail(format!("{what} within 600 ms (Okta's spec tests)"), format!("{ms} ms")))
    }
}

async fn okta(ctx: &Ctx) {
    check(
        ctx,
        meta(
            "okta.connection",
            "okta",
            "Okta's connection test: GET /Users?startIndex=1&count=2",
            "Okta §6.2",
            OktaInterop,
        ),
        || async {
            let t = Instant::now();
            let r = ctx.get("/Users", &[("startIndex", "1"), ("count", "2")]).await;
            expect_status(&r, 200)?;
            quick(t, "the list")?;
            if r.resources().len() <= 2 && r.total().is_some() {
                Ok(())
            } else {
                Err(fail("a ListResponse with totalResults and at most 2 resources", r.body.to_string()).into())
            }
        },
    )
    .await;
    check(
        ctx,
        meta(
            "okta.deactivate",
            "okta",
            "Okta's deactivation: path-less replace {\"active\": false}",
            "Okta §6.2",
            OktaInterop,
        ),
        || async {
            let r = ctx.create(ResourceKind::User, &user_body(ctx, "okta")).await;
            expect_status(&r, 201)?;
            let t = Instant::now();
            let p =
                ctx.patch(ResourceKind::User, &r.id(), json!([{"op": "replace", "value": {"active": false}}])).await;
            expect_written(&p)?;
            quick(t, "the PATCH")?;
            let u = read(ctx, ResourceKind::User, &r.id()).await?;
            if u["active"] == false {
                Ok(())
            } else {
                Err(fail("active false (a no-op here is a classic bug)", u["active"].to_string()).into())
            }
        },
    )
    .await;
    check(
        ctx,
        meta("okta.put-keeps-active", "okta", "PUT with active true keeps the user active", "Okta §6.2", OktaInterop),
        || async {
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
                Err(fail(
                    "active true and title \"Put By Okta\"",
                    format!("active {}, title {}", u["active"], u["title"]),
                )
                .into())
            }
        },
    )
    .await;
}
