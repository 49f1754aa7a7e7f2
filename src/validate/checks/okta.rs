//! The `okta` checks.

use reqwest::Method;
use serde_json::{json, Value};
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
    spec_fields(ctx).await;
}

/// The fields Okta's spec test asserts on lists, creates and reads.
async fn spec_fields(ctx: &Ctx) {
    check(ctx, "okta.list-fields", || async {
        let t = Instant::now();
        let r = ctx.get("/Users", &[("count", "1"), ("startIndex", "1")]).await;
        expect_status(&r, 200)?;
        quick(t, "the list")?;
        let is_list = r.body["schemas"].as_array().is_some_and(|s| s.iter().any(|u| u == urn::LIST_RESPONSE));
        let numbers = ["itemsPerPage", "startIndex", "totalResults"].iter().all(|k| r.body[*k].is_number());
        if !is_list || !numbers {
            return Err(fail(
                "a ListResponse with itemsPerPage, startIndex and totalResults as numbers",
                r.body.to_string(),
            )
            .into());
        }
        let Some(first) = r.resources().first().cloned() else {
            return Err(fail("at least one user in Resources", r.body.to_string()).into());
        };
        missing_fields(&first, "Resources[0]")
    })
    .await;
    let mut body = user_body(ctx, "okta-spec");
    body["name"] = json!({"givenName": "Tina", "familyName": "Erickson"});
    let mut created_id = String::new();
    check(ctx, "okta.create-echo", || async {
        // Okta sends Content-Type: application/json; the server must take it.
        let r = ctx
            .exchange("POST", "/Users", &[], ctx.opts.token.as_deref(), Some(crate::client::Body::Json(&body)), &[])
            .await;
        expect_status(&r, 201)?;
        ctx.remember(ResourceKind::User, &r.id());
        created_id = r.id();
        let wrong: Vec<&str> = [
            ("active", r.body["active"] == true),
            ("id", !r.id().is_empty()),
            ("name.givenName", r.body["name"]["givenName"] == "Tina"),
            ("name.familyName", r.body["name"]["familyName"] == "Erickson"),
            ("userName", r.body["userName"] == body["userName"]),
            ("schemas", r.body["schemas"].as_array().is_some_and(|s| s.iter().any(|u| u == urn::USER))),
        ]
        .into_iter()
        .filter_map(|(field, ok)| (!ok).then_some(field))
        .collect();
        if wrong.is_empty() {
            Ok(())
        } else {
            Err(fail(
                "the created user echoed: active true, id, name, userName and the User schema",
                format!("wrong or missing: {}", wrong.join(", ")),
            )
            .into())
        }
    })
    .await;
    check(ctx, "okta.get-fields", || async {
        if created_id.is_empty() {
            return Err(skip("needs the user okta.create-echo creates"));
        }
        let u = read(ctx, ResourceKind::User, &created_id).await?;
        missing_fields(&u, "GET /Users/{id}")?;
        if u["userName"] == body["userName"]
            && u["name"]["givenName"] == "Tina"
            && u["name"]["familyName"] == "Erickson"
        {
            Ok(())
        } else {
            Err(fail("userName and name as created", format!("userName {}, name {}", u["userName"], u["name"])).into())
        }
    })
    .await;
}

/// Okta's `not_empty` assertions on a user.
fn missing_fields(user: &Value, what: &str) -> Verdict {
    let present = |v: &Value| !(v.is_null() || v == "" || v.as_array().is_some_and(Vec::is_empty));
    let missing: Vec<&str> = [
        ("id", &user["id"]),
        ("name.familyName", &user["name"]["familyName"]),
        ("name.givenName", &user["name"]["givenName"]),
        ("userName", &user["userName"]),
        ("active", &user["active"]),
        ("emails[0].value", &user["emails"][0]["value"]),
    ]
    .into_iter()
    .filter_map(|(name, v)| (!present(v)).then_some(name))
    .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(fail(
            format!("{what} with id, name, userName, active and emails"),
            format!("missing {}", missing.join(", ")),
        )
        .into())
    }
}
