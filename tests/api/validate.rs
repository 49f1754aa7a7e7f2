//! `scimlab validate` against scimlab itself: clean in both profiles, and each deliberate
//! misbehaviour (injected by the server's fault plan) caught by a named check.

use std::time::Duration;

use serde_json::{json, Value};

use scimlab::service::profile::Profile;
use scimlab::validate::{validate, Outcome, Report, Severity, ValidateOptions, ValidateProfile};

use crate::helpers::{spawn_app_with, TestApp, TOKEN};

use crate::helpers::ADMIN_TOKEN as ADMIN;

async fn server(profile: Profile) -> TestApp {
    spawn_app_with(|s| {
        s.profile = profile;
        s.admin_token = Some(ADMIN.into());
    })
    .await
}

async fn run(app: &TestApp, profile: ValidateProfile, only: &[&str]) -> Report {
    validate(ValidateOptions {
        only: only.iter().map(|s| s.to_string()).collect(),
        timeout: Duration::from_secs(10),
        ..ValidateOptions::new(app.url(""), Some(TOKEN.into()), profile)
    })
    .await
    .expect("the validator runs")
}

async fn misbehave(app: &TestApp, rules: Value) {
    let res = app.admin(reqwest::Method::PUT, "/admin/faults", Some(&json!({"rules": rules}))).await;
    assert_eq!(res.status().as_u16(), 200);
}

fn failed(report: &Report, id: &str) -> bool {
    matches!(report.find(id).unwrap_or_else(|| panic!("no check {id}")).outcome, Outcome::Fail { .. })
}

#[actix_web::test]
async fn scimlab_passes_every_check_in_the_entra_profile_and_leaves_nothing_behind() {
    let app = server(Profile::Entra).await;
    let report = run(&app, ValidateProfile::Entra, &[]).await;
    let failures: Vec<&str> =
        report.checks.iter().filter(|c| matches!(c.outcome, Outcome::Fail { .. })).map(|c| c.id.as_str()).collect();
    assert!(failures.is_empty(), "{}", report.to_text(false));
    assert!(report.success());
    assert!(report.checks.len() >= 50, "the full set ran: {}", report.checks.len());
    assert!(report.checks.iter().any(|c| c.id == "flow.delete" && c.outcome == Outcome::Pass));
    for endpoint in ["/Users", "/Groups"] {
        let left = app.list(endpoint, &[("count", "0")]).await.body["totalResults"].clone();
        assert_eq!(left, 0, "the validator deleted everything it created under {endpoint}");
    }
}

#[actix_web::test]
async fn a_strict_server_passes_the_rfc_profile_and_fails_only_entra_checks() {
    let app = server(Profile::Strict).await;
    let rfc = run(&app, ValidateProfile::Strict, &[]).await;
    assert!(rfc.checks.iter().all(|c| !matches!(c.outcome, Outcome::Fail { .. })), "{}", rfc.to_text(false));
    assert!(rfc.skipped() > 0, "Entra checks are skipped in the rfc profile");

    let entra = run(&app, ValidateProfile::Entra, &["patch"]).await;
    assert!(failed(&entra, "patch.entra-legacy"), "a strict server refuses Entra's legacy PATCH");
    assert!(entra.success(), "Entra-interop failures do not fail the run");
    let failure = entra.find("patch.entra-legacy").unwrap();
    assert_eq!(failure.severity, Severity::EntraInterop);
    let exchange = failure.exchange.as_ref().expect("the failing exchange is shown");
    assert_eq!(exchange.status, 400);
    assert!(exchange.response["detail"].as_str().unwrap().contains("entra"), "{}", exchange.response);
}

#[actix_web::test]
async fn the_okta_profile_runs_okta_checks() {
    let app = server(Profile::Okta).await;
    let report = run(&app, ValidateProfile::Okta, &["okta"]).await;
    for id in ["okta.connection", "okta.deactivate", "okta.put-keeps-active"] {
        assert_eq!(report.find(id).unwrap().outcome, Outcome::Pass, "{}", report.to_text(false));
    }
    assert!(matches!(report.find("patch.entra-legacy").unwrap().outcome, Outcome::Skip { .. }));
}

#[actix_web::test]
async fn each_misbehaviour_is_caught_by_a_named_check() {
    let cases: [(&str, Value, &[&str], &str, bool); 5] = [
        (
            "ignores filters",
            json!([{"method": "GET", "path": "/Users", "misbehave": "ignore-filter"}]),
            &["filters"],
            "filters.eq",
            true,
        ),
        (
            "answers PATCH with 204",
            json!([{"method": "PATCH", "misbehave": "patch-no-content"}]),
            &["patch"],
            "patch.returns-resource",
            false,
        ),
        (
            "miscounts totalResults",
            json!([{"method": "GET", "path": "/Users", "misbehave": "wrong-total"}]),
            &["paging"],
            "paging.total-before-slice",
            true,
        ),
        ("drops ETags", json!([{"method": "GET", "misbehave": "drop-etag"}]), &["etag"], "etag.conditional", false),
        (
            "fails PATCH with 500",
            json!([{"method": "PATCH", "path": "/Users/", "status": 500}]),
            &["patch"],
            "patch.replace-path",
            true,
        ),
    ];
    for (what, rules, only, check, breaks_the_run) in cases {
        let app = server(Profile::Entra).await;
        misbehave(&app, rules).await;
        let report = run(&app, ValidateProfile::Entra, only).await;
        assert!(failed(&report, check), "a server that {what} must fail {check}:\n{}", report.to_text(false));
        assert_eq!(!report.success(), breaks_the_run, "{what}: exit status");
    }
}

#[actix_web::test]
async fn the_cli_writes_junit_that_ci_tools_can_read_and_exits_by_required_checks() {
    let app = server(Profile::Entra).await;
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("report.xml");
    let url = app.url("");
    let args: Vec<String> = [
        "validate",
        &url,
        "--token",
        TOKEN,
        "--format",
        "junit",
        "--out",
        out.to_str().unwrap(),
        "--only",
        "users,errors",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let run_cli = |args: Vec<String>| {
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_scimlab")).args(&args).output().unwrap()
        })
    };
    let result = run_cli(args.clone()).await.unwrap();
    assert!(result.status.success(), "{}", String::from_utf8_lossy(&result.stderr));
    let xml = std::fs::read_to_string(&out).unwrap();
    let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let cases: Vec<_> = doc.descendants().filter(|n| n.has_tag_name("testcase")).collect();
    assert!(cases.iter().any(|c| c.attribute("name").unwrap().starts_with("users.create")));
    assert!(cases.iter().any(|c| c.children().any(|k| k.has_tag_name("skipped"))), "unselected groups are skipped");

    let json_args: Vec<String> = ["validate", &url, "--token", TOKEN, "--format", "json", "--only", "errors"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let json_run = run_cli(json_args).await.unwrap();
    assert!(json_run.status.success(), "{}", String::from_utf8_lossy(&json_run.stderr));
    let report: Value = serde_json::from_slice(&json_run.stdout).expect("--format json prints JSON");
    assert_eq!(report["summary"]["success"], true);
    assert!(report["checks"].as_array().unwrap().iter().any(|c| c["id"] == "errors.bad-json" && c["result"] == "pass"));

    misbehave(&app, json!([{"method": "DELETE", "status": 500}])).await;
    let result = run_cli(args).await.unwrap();
    assert!(!result.status.success(), "a required failure exits non-zero");
    let xml = std::fs::read_to_string(&out).unwrap();
    let doc = roxmltree::Document::parse(&xml).expect("well-formed XML with failures");
    let failure = doc.descendants().find(|n| n.has_tag_name("failure")).expect("a failure element");
    assert!(failure.text().unwrap().contains("DELETE"), "the failing request is in the report");
}

#[actix_web::test]
async fn a_failing_flow_step_shows_its_own_exchange_not_an_earlier_one() {
    let app = server(Profile::Entra).await;
    misbehave(&app, json!([{"method": "PATCH", "path": "/Users/", "status": 500}])).await;
    let report = run(&app, ValidateProfile::Entra, &["errors", "entra-flow"]).await;
    let update = report.find("flow.update").expect("the update step ran");
    assert!(matches!(update.outcome, Outcome::Fail { .. }), "{}", report.to_text(false));
    let exchange = update.exchange.as_ref().expect("the failing exchange is attached");
    assert_eq!((exchange.method.as_str(), exchange.status), ("PATCH", 500), "{exchange:?}");
    assert!(exchange.url.contains("/Users/"), "{exchange:?}");
    let passed = report.find("flow.test-connection").unwrap();
    assert_eq!(passed.outcome, Outcome::Pass);
    assert!(passed.exchange.is_none(), "a passing step carries no evidence");
}

/// What a server does wrong, its fault rules, the profile and checks run, the checks that
/// must fail.
type BrokenServer = (&'static str, Value, ValidateProfile, &'static [&'static str], &'static [&'static str]);

/// Every check added for the vendors' suites fails against a scimlab tenant that breaks the
/// behaviour it checks (and passes against a healthy one, in the clean runs above).
#[actix_web::test]
async fn each_suite_check_fails_against_a_server_that_breaks_its_behaviour() {
    use ValidateProfile::{Entra, Okta};
    let cases: &[BrokenServer] = &[
        (
            "answers /Schemas as a bare array",
            json!([{"method": "GET", "path": "/Schemas", "misbehave": "bare-list"}]),
            Entra,
            &["discovery"],
            &["discovery.schemas"],
        ),
        (
            "hides the Group schema",
            json!([{"method": "GET", "path": "/Schemas", "misbehave": "no-group-schema"}]),
            Entra,
            &["discovery"],
            &["discovery.group-schema", "discovery.schema-coverage"],
        ),
        (
            "answers unknown schema ids with 200",
            json!([{"method": "GET", "path": "/Schemas/", "misbehave": "ok-when-missing"}]),
            Entra,
            &["discovery"],
            &["discovery.by-id"],
        ),
        (
            "fails a PUT on discovery with 500",
            json!([{"method": "PUT", "path": "/ServiceProviderConfig", "status": 500}]),
            Entra,
            &["discovery"],
            &["discovery.read-only"],
        ),
        (
            "answers errors in plain text",
            json!([{"method": "GET", "path": "/Users", "misbehave": "plain-errors"}]),
            Entra,
            &["auth"],
            &["auth.bad-token"],
        ),
        (
            "sends no Location header",
            json!([{"method": "POST", "path": "/Users", "misbehave": "drop-location"}]),
            Entra,
            &["users"],
            &["users.location"],
        ),
        (
            "answers duplicate users with 400",
            json!([{"method": "POST", "path": "/Users", "misbehave": "conflict-as-400"}]),
            Entra,
            &["users"],
            &["users.uniqueness"],
        ),
        (
            "keeps deleted users",
            json!([{"method": "DELETE", "path": "/Users", "misbehave": "delete-ignored"}]),
            Entra,
            &["users"],
            &["users.delete", "users.delete-missing", "users.restore"],
        ),
        (
            "ignores PATCH on users",
            json!([{"method": "PATCH", "path": "/Users", "misbehave": "patch-ignored"}]),
            Entra,
            &["users", "patch"],
            &["users.reactivate", "users.rename", "patch.null-update", "patch.multi-op", "patch.manager-change"],
        ),
        (
            "ignores PATCH on groups",
            json!([{"method": "PATCH", "path": "/Groups", "misbehave": "patch-ignored"}]),
            Entra,
            &["groups"],
            &["groups.patch-attributes", "groups.multi-member"],
        ),
        (
            "answers duplicate groups with 400",
            json!([{"method": "POST", "path": "/Groups", "misbehave": "conflict-as-400"}]),
            Entra,
            &["groups"],
            &["groups.uniqueness"],
        ),
        (
            "answers group lists empty",
            json!([{"method": "GET", "path": "/Groups", "misbehave": "empty-lists"}]),
            Entra,
            &["groups"],
            &["groups.filter-case"],
        ),
        (
            "ignores group filters",
            json!([{"method": "GET", "path": "/Groups", "misbehave": "ignore-filter"}]),
            Entra,
            &["groups"],
            &["groups.filter-none"],
        ),
        (
            "lists groups slowly",
            json!([{"method": "GET", "path": "/Groups", "after": 6, "times": 1, "latencyMs": 700}]),
            Entra,
            &["groups"],
            &["groups.list"],
        ),
        (
            "ignores excludedAttributes",
            json!([{"method": "GET", "path": "/Groups", "misbehave": "ignore-attributes"}]),
            Entra,
            &["groups"],
            &["groups.excluded-members"],
        ),
        (
            "answers a second group DELETE with 204",
            json!([{"method": "DELETE", "path": "/Groups", "misbehave": "ok-when-missing"}]),
            Entra,
            &["groups"],
            &["groups.restore"],
        ),
        (
            "ignores startIndex and count",
            json!([{"method": "GET", "misbehave": "ignore-paging"}]),
            Entra,
            &["paging"],
            &["paging.count-5", "paging.groups"],
        ),
        (
            "answers user lists empty",
            json!([{"method": "GET", "path": "/Users", "misbehave": "empty-lists"}]),
            Okta,
            &["okta"],
            &["okta.list-fields"],
        ),
        (
            "refuses application/json",
            json!([{"method": "POST", "path": "/Users", "status": 415}]),
            Okta,
            &["okta"],
            &["okta.create-echo"],
        ),
        (
            "fails reads by id",
            json!([{"method": "GET", "path": "/Users/", "status": 500}]),
            Okta,
            &["okta"],
            &["okta.get-fields"],
        ),
    ];
    for (what, rules, profile, only, checks) in cases {
        let app = server(Profile::Entra).await;
        misbehave(&app, rules.clone()).await;
        let report = run(&app, *profile, only).await;
        for check in *checks {
            assert!(failed(&report, check), "a server that {what} must fail {check}:\n{}", report.to_text(false));
        }
    }
}
