//! `scimlab validate --suite entra-gallery|okta-oin`: the vendors' submission tests, run
//! locally, pass against scimlab and fail by their own names against a broken tenant;
//! OAuth client credentials for the validator; the coverage document stays generated.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, HttpResponse};
use serde_json::{json, Value};

use scimlab::client::OAuthClient;
use scimlab::service::profile::Profile;
use scimlab::validate::{validate, Outcome, Report, Suite, ValidateOptions, ValidateProfile};

use crate::cli::scimlab;
use crate::helpers::{spawn_app_with, TestApp, ADMIN_TOKEN, TOKEN};
use crate::provisioning::resilience::Stub;

async fn server() -> TestApp {
    spawn_app_with(|s| {
        s.profile = Profile::Entra;
        s.admin_token = Some(ADMIN_TOKEN.into());
    })
    .await
}

async fn run_suite(app: &TestApp, suite: Suite) -> Report {
    let options = ValidateOptions {
        suite: Some(suite),
        timeout: Duration::from_secs(10),
        ..ValidateOptions::new(app.url(""), Some(TOKEN.into()), ValidateProfile::Strict)
    };
    validate(options).await.expect("the validator runs")
}

fn result_of<'a>(report: &'a Report, name: &str) -> &'a str {
    let suite = report.suite.as_ref().expect("a suite report");
    suite.tests.iter().find(|t| t.name == name).unwrap_or_else(|| panic!("no reference test {name}")).result
}

#[actix_web::test]
async fn both_suites_pass_against_scimlab_test_by_test() {
    let app = server().await;
    let report = run_suite(&app, Suite::EntraGallery).await;
    let text = report.to_text(false);
    let suite = report.suite.as_ref().unwrap();
    assert_eq!(suite.tests.len(), 25, "{text}");
    for t in &suite.tests {
        let expected = match t.name.as_str() {
            // No OAuth endpoint given; workload identity needs Microsoft's cloud.
            "Validate_Credentials_Test" => "skipped",
            "Federated_Identity_Test" => "not-covered",
            _ => "passed",
        };
        assert_eq!(t.result, expected, "{}: {}\n{text}", t.name, t.detail);
    }
    assert!(report.success(), "{text}");
    assert_eq!(report.profile, "entra", "the suite runs in its vendor's profile");
    assert!(report.find("okta.list-fields").is_none(), "exactly the suite's checks ran");
    assert!(text.contains("PASS POD_Group_Test (mandatory) ← flow.pod-group"), "{text}");

    let okta = run_suite(&app, Suite::OktaOin).await;
    let text = okta.to_text(false);
    let suite = okta.suite.as_ref().unwrap();
    assert_eq!(suite.tests.len(), 13);
    assert!(suite.tests.iter().all(|t| t.result == "passed"), "{text}");
    assert!(text.contains("Required Test: Username Case Sensitivity Check"), "{text}");
    for endpoint in ["/Users", "/Groups"] {
        let left = app.list(endpoint, &[("count", "0")]).await.body["totalResults"].clone();
        assert_eq!(left, 0, "the suites deleted everything they created under {endpoint}");
    }
}

#[actix_web::test]
async fn a_broken_tenant_fails_the_suites_under_the_vendors_test_names() {
    let app = server().await;
    let rules = json!({"rules": [{"method": "PATCH", "path": "/Groups", "misbehave": "patch-ignored"}]});
    app.admin(reqwest::Method::PUT, "/admin/faults", Some(&rules)).await;
    let report = run_suite(&app, Suite::EntraGallery).await;
    let text = report.to_text(false);
    for name in ["Update_Group_Test", "SCIM_Group_Update_Test", "Group_Update_Add_Member_Test"] {
        assert_eq!(result_of(&report, name), "failed", "{name}\n{text}");
    }
    assert_eq!(result_of(&report, "SCIM_User_Create_Test"), "passed");
    assert!(!report.success(), "a failed mandatory test fails the submission");

    let rules = json!({"rules": [
        {"method": "POST", "path": "/Users", "misbehave": "conflict-as-400"},
        {"method": "GET", "path": "/Groups", "latencyMs": 700}
    ]});
    app.admin(reqwest::Method::PUT, "/admin/faults", Some(&rules)).await;
    let okta = run_suite(&app, Suite::OktaOin).await;
    let text = okta.to_text(false);
    assert_eq!(
        result_of(&okta, "Required Test: Expect failure when recreating user with same values"),
        "failed",
        "{text}"
    );
    assert_eq!(result_of(&okta, "Optional Test: Verify Groups endpoint"), "warning", "an optional test warns: {text}");
    assert_eq!(result_of(&okta, "Required Test: Check status 401"), "passed");
    assert!(!okta.success());
}

#[actix_web::test]
async fn the_cli_reports_a_suite_in_junit_and_json_by_the_vendors_names() {
    let app = server().await;
    let work = tempfile::tempdir().unwrap();
    let xml_path = work.path().join("okta.xml");
    let url = app.url("");
    let out = scimlab(&[
        "validate",
        &url,
        "--token",
        TOKEN,
        "--suite",
        "okta-oin",
        "--format",
        "junit",
        "--out",
        xml_path.to_str().unwrap(),
    ])
    .await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let xml = std::fs::read_to_string(&xml_path).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let suite = doc.descendants().find(|n| n.has_tag_name("testsuite") && n.attribute("name") == Some("okta-oin"));
    let cases: Vec<_> =
        suite.expect("a testsuite named okta-oin").children().filter(|n| n.has_tag_name("testcase")).collect();
    assert_eq!(cases.len(), 13);
    let case = cases.iter().find(|c| c.attribute("name") == Some("Required Test: Check status 401")).unwrap();
    assert!(case.attribute("classname").unwrap().contains("auth.bad-token"), "the check id rides along");

    let json_out = scimlab(&["validate", &url, "--token", TOKEN, "--suite", "entra-gallery", "--format", "json"]).await;
    assert!(json_out.status.success(), "{}", String::from_utf8_lossy(&json_out.stderr));
    let report: Value = serde_json::from_slice(&json_out.stdout).unwrap();
    assert_eq!(report["suite"]["suite"], "entra-gallery");
    assert_eq!(report["suite"]["summary"]["failed"], 0);
    let pod = report["suite"]["tests"].as_array().unwrap().iter().find(|t| t["name"] == "POD_User_Test").unwrap();
    assert_eq!((&pod["result"], &pod["category"]), (&json!("passed"), &json!("mandatory")));
    let check = report["checks"].as_array().unwrap().iter().find(|c| c["id"] == "patch.null-update").unwrap();
    assert_eq!(check["references"], json!(["entra-gallery: SCIM_Null_Update_Test"]));

    let refused = scimlab(&["validate", &url, "--suite", "okta-oin", "--only", "users"]).await;
    assert_eq!(refused.status.code(), Some(2), "--suite and --only do not mix");
}

/// A token endpoint granting the SCIM token for the right client secret, with this lifetime.
fn token_endpoint(expires_in: u64, grants: Arc<Mutex<usize>>) -> Stub {
    Stub::start(1, move |cfg| {
        let grants = grants.clone();
        cfg.route(
            "/token",
            web::post().to(move |form: web::Form<std::collections::HashMap<String, String>>| {
                let grants = grants.clone();
                async move {
                    if form.get("grant_type").map(String::as_str) != Some("client_credentials")
                        || form.get("client_secret").map(String::as_str) != Some("s3cret")
                    {
                        return HttpResponse::Unauthorized().json(json!({"error": "invalid_client"}));
                    }
                    *grants.lock().unwrap() += 1;
                    HttpResponse::Ok()
                        .json(json!({"access_token": TOKEN, "token_type": "Bearer", "expires_in": expires_in}))
                }
            }),
        );
    })
}

#[actix_web::test]
async fn the_validator_gets_its_token_with_oauth_client_credentials_and_checks_the_grant() {
    let app = server().await;
    let grants = Arc::new(Mutex::new(0));
    let endpoint = token_endpoint(3600, grants.clone());
    let token_url = format!("{}/token", endpoint.address);
    let oauth = |secret: &str| OAuthClient {
        token_url: token_url.clone(),
        client_id: "scimlab".into(),
        client_secret: secret.into(),
        scope: None,
    };
    let options = ValidateOptions {
        only: vec!["auth".into(), "users.create".into()],
        oauth: Some(oauth("s3cret")),
        ..ValidateOptions::new(app.url(""), None, ValidateProfile::Entra)
    };
    let report = validate(options).await.expect("the token is granted, and used");
    assert_eq!(report.find("auth.oauth").unwrap().outcome, Outcome::Pass, "{}", report.to_text(false));
    assert_eq!(report.find("users.create").unwrap().outcome, Outcome::Pass, "the granted token is the bearer");
    assert_eq!(*grants.lock().unwrap(), 1);

    let wrong = ValidateOptions {
        oauth: Some(oauth("nope")),
        ..ValidateOptions::new(app.url(""), None, ValidateProfile::Entra)
    };
    let err = validate(wrong).await.unwrap_err().to_string();
    assert!(err.contains("OAuth client credentials") && err.contains("invalid_client"), "{err}");

    // A token that lives a minute fails Microsoft's 60–360 minute rule, by name, on the CLI.
    let short = token_endpoint(60, Arc::new(Mutex::new(0)));
    let short_url = format!("{}/token", short.address);
    let url = app.url("");
    let out = scimlab(&[
        "validate",
        &url,
        "--only",
        "auth",
        "--oauth-token-url",
        &short_url,
        "--client-id",
        "scimlab",
        "--client-secret",
        "s3cret",
    ])
    .await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("auth.oauth") && text.contains("expires_in 60 s"), "{text}");
    let missing = scimlab(&["validate", &url, "--oauth-token-url", &short_url]).await;
    assert_eq!(missing.status.code(), Some(2), "--oauth-token-url needs the client id and secret");
}

#[actix_web::test]
async fn the_coverage_document_is_generated_from_the_suite_table() {
    let out = scimlab(&["validate", "--coverage"]).await;
    assert!(out.status.success());
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/validator-coverage.md")).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        committed,
        "docs/validator-coverage.md is stale: run `cargo run -- validate --coverage > docs/validator-coverage.md`"
    );
}
