//! The checks, one file per group, in the order a client meets an endpoint: discovery,
//! auth, users, PATCH, groups, filters, paging and projection, ETags, Bulk, errors, Okta,
//! and the Entra provisioning flow. Their ids, titles and severities live in
//! [`super::registry`]; this module holds the helpers they share.

mod auth;
mod bulk;
mod discovery;
mod errors;
mod etag;
mod filters;
mod groups;
mod okta;
mod paging;
mod patch;
mod users;

use std::future::Future;

use serde_json::{json, Value};

use super::report::{Outcome, Severity};
use super::{expect_status, fail, registry, Ctx, Failure, Resp};
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

use Severity::Required;

/// Runs one check unless the profile or `--only` leaves it out.
async fn check<F, Fut>(ctx: &Ctx, id: &'static str, body: F) -> bool
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Verdict>,
{
    let meta = registry::find(id);
    let started = ctx.begin();
    if let Some(reason) = ctx.wanted(meta) {
        ctx.record(meta, started, Outcome::Skip { reason });
        return false;
    }
    let outcome = match body().await {
        Ok(()) => Outcome::Pass,
        Err(Problem::Fail(f)) => Outcome::Fail { expected: f.expected, actual: f.actual },
        Err(Problem::Skip(reason)) => Outcome::Skip { reason },
    };
    let passed = outcome == Outcome::Pass;
    ctx.record(meta, started, outcome);
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
    discovery::discovery(ctx).await;
    auth::auth(ctx).await;
    let user = users::users(ctx).await;
    if let Some(id) = &user {
        patch::patch(ctx, id).await;
    }
    groups::groups(ctx, user.as_deref()).await;
    filters::filters(ctx).await;
    paging::paging(ctx).await;
    etag::etags(ctx).await;
    bulk::bulk(ctx).await;
    errors::errors(ctx).await;
    okta::okta(ctx).await;
    super::flow::entra_flow(ctx).await;
}
