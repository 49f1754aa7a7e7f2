//! HTTPS both ways, with certificates made at test time: scimlab serves TLS, and the
//! validator, the engine and the OAuth token fetch trust a CA only when told to, and say
//! exactly why when they do not.

use std::sync::{Arc, Mutex};

use actix_web::{web, HttpResponse};
use serde_json::{json, Value};

use scimlab::validate::{validate, ValidateError, ValidateOptions, ValidateProfile};

use crate::cli::{scimlab, stderr, stdout};
use crate::helpers::{spawn_https_app, TestApp, TestCerts, TOKEN};
use crate::provisioning::resilience::Stub;

/// `scimlab validate URL --only discovery --ca-cert CA`, as a user runs it.
async fn validate_discovery_with_ca(url: &str, ca: &std::path::Path) -> std::process::Output {
    let ca = ca.to_str().unwrap();
    scimlab(&["validate", url, "--token", TOKEN, "--only", "discovery", "--ca-cert", ca]).await
}

fn options(app: &TestApp, ca_cert: Option<std::path::PathBuf>, only: &[&str]) -> ValidateOptions {
    ValidateOptions {
        only: only.iter().map(|s| s.to_string()).collect(),
        timeout: std::time::Duration::from_secs(10),
        ca_cert,
        ..ValidateOptions::new(app.url(""), Some(TOKEN.into()), ValidateProfile::Entra)
    }
}

#[actix_web::test]
async fn scimlab_serves_https_with_tls_1_2_and_1_3() {
    let certs = TestCerts::new();
    let app = spawn_https_app(&certs, |_| {}).await;
    assert!(app.address.starts_with("https://"), "{}", app.address);
    let spc = app.get("/ServiceProviderConfig").await;
    assert_eq!(spc.status, 200, "{}", spc.body);
    let pem = std::fs::read(certs.ca()).unwrap();
    for (version, name) in [(reqwest::tls::Version::TLS_1_2, "1.2"), (reqwest::tls::Version::TLS_1_3, "1.3")] {
        let pinned = reqwest::Client::builder()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
            .min_tls_version(version)
            .max_tls_version(version)
            .build()
            .unwrap();
        let res = pinned.get(app.url("/Users")).bearer_auth(TOKEN).send().await;
        assert_eq!(res.map(|r| r.status().as_u16()).ok(), Some(200), "TLS {name}");
    }
}

/// `meta.location` names the address the client used: the scheme this server speaks, the
/// Host header, or a proxy's `X-Forwarded-*` and `Forwarded` headers when present.
#[actix_web::test]
async fn locations_follow_the_scheme_host_and_forwarding_headers() {
    let certs = TestCerts::new();
    let app = spawn_https_app(&certs, |_| {}).await;
    let created = app.post("/Users", crate::helpers::user_body("located@example.com")).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = crate::helpers::id_of(&created.body);
    let location = |res: &crate::helpers::Resp| res.body["meta"]["location"].as_str().unwrap_or_default().to_string();
    assert_eq!(location(&created), app.url(&format!("/Users/{id}")));
    assert!(app.address.starts_with("https://127.0.0.1:"), "{}", app.address);

    let path = format!("/Users/{id}");
    let cases: [(&[(&str, &str)], String); 3] = [
        (&[("host", "scim.internal:8443")], format!("https://scim.internal:8443/scim/v2/Users/{id}")),
        (
            &[("x-forwarded-proto", "http"), ("x-forwarded-host", "proxy.example")],
            format!("http://proxy.example/scim/v2/Users/{id}"),
        ),
        (&[("forwarded", "proto=https;host=edge.example")], format!("https://edge.example/scim/v2/Users/{id}")),
    ];
    for (headers, expected) in cases {
        let read = app.send(reqwest::Method::GET, &path, None, headers).await;
        assert_eq!(read.status, 200, "{headers:?}: {}", read.body);
        assert_eq!(location(&read), expected, "{headers:?}");
        let query = serde_urlencoded::to_string([("filter", r#"userName eq "located@example.com""#)]).unwrap();
        let listed = app.send(reqwest::Method::GET, &format!("/Users?{query}"), None, headers).await;
        assert_eq!(listed.body["Resources"][0]["meta"]["location"], expected, "{headers:?}: {}", listed.body);
    }
}

#[actix_web::test]
async fn validate_trusts_the_given_ca_and_names_an_unknown_issuer_otherwise() {
    let certs = TestCerts::new();
    let app = spawn_https_app(&certs, |_| {}).await;

    let report = validate(options(&app, Some(certs.ca()), &["discovery", "users"])).await.expect("it runs");
    assert!(report.success(), "{}", report.to_text(false));
    assert!(report.passed() >= 8, "{}", report.to_text(false));

    let refused = validate(options(&app, None, &["discovery"])).await.expect_err("an untrusted certificate");
    let message = refused.to_string();
    assert!(matches!(refused, ValidateError::Unreachable(_)), "{message}");
    assert!(message.contains("unknown issuer") && message.contains("--ca-cert"), "{message}");

    // The same through the binary: exit codes and messages as a user sees them.
    let ok = scimlab(&["validate", &app.url(""), "--token", TOKEN, "--only", "discovery", "--ca-cert"]).await;
    assert!(!ok.status.success(), "--ca-cert needs a value");
    let ok = validate_discovery_with_ca(&app.url(""), &certs.ca()).await;
    assert_eq!(ok.status.code(), Some(0), "{}\n{}", stdout(&ok), stderr(&ok));
    let bad = scimlab(&["validate", &app.url(""), "--token", TOKEN, "--only", "discovery"]).await;
    assert_eq!(bad.status.code(), Some(1), "{}", stderr(&bad));
    assert!(stderr(&bad).contains("unknown issuer"), "{}", stderr(&bad));
    assert!(!stderr(&bad).contains("nothing answered"), "{}", stderr(&bad));

    let insecure = scimlab(&["validate", &app.url(""), "--token", TOKEN, "--only", "discovery", "--insecure"]).await;
    assert_eq!(insecure.status.code(), Some(0), "{}", stderr(&insecure));
    assert!(stderr(&insecure).contains("warning: --insecure"), "{}", stderr(&insecure));
}

#[actix_web::test]
async fn a_name_mismatch_and_an_expired_certificate_are_reported_as_such() {
    let wrong_name = TestCerts::for_names(&["scim.example.test"], time::OffsetDateTime::now_utc(), 30);
    let app = spawn_https_app(&wrong_name, |_| {}).await;
    let err = validate(options(&app, Some(wrong_name.ca()), &["discovery"])).await.unwrap_err().to_string();
    assert!(err.contains("name mismatch"), "{err}");

    let expired = TestCerts::for_names(&["127.0.0.1"], time::OffsetDateTime::now_utc() - time::Duration::days(10), 2);
    let app = spawn_https_app(&expired, |_| {}).await;
    let err = validate(options(&app, Some(expired.ca()), &["discovery"])).await.unwrap_err().to_string();
    assert!(err.contains("expired"), "{err}");
}

fn write_directory(dir: &std::path::Path, title: &str) {
    let users: Vec<Value> = ["ada", "grace", "alan"]
        .iter()
        .map(|n| {
            json!({"objectId": format!("u-{n}"), "userPrincipalName": format!("{n}@contoso.com"), "mailNickname": n,
                   "displayName": n, "givenName": n, "surname": "Test", "jobTitle": title, "accountEnabled": true})
        })
        .collect();
    std::fs::write(dir.join("directory.json"), json!({"users": users, "groups": []}).to_string()).unwrap();
}

#[actix_web::test]
async fn the_engine_runs_initial_and_incremental_cycles_over_https_with_target_ca_cert() {
    let certs = TestCerts::new();
    let app = spawn_https_app(&certs, |_| {}).await;
    let work = tempfile::tempdir().unwrap();
    std::fs::copy(certs.ca(), work.path().join("ca.pem")).unwrap();
    write_directory(work.path(), "Engineer");
    let job = work.path().join("job.json");
    let spec = json!({
        "name": "over-https",
        "target": {"url": app.url(""), "token": TOKEN, "caCert": "ca.pem"},
        "source": {"directory": "directory.json"},
        "scope": "all"
    });
    std::fs::write(&job, spec.to_string()).unwrap();
    let job = job.to_str().unwrap();

    let connection = scimlab(&["provision", "test-connection", "--job", job]).await;
    assert!(connection.status.success(), "{}", stderr(&connection));
    let first = scimlab(&["provision", "run", "--job", job, "--quiet"]).await;
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    assert!(stdout(&first).contains("3 created"), "{}", stdout(&first));
    write_directory(work.path(), "Principal Engineer");
    let second = scimlab(&["provision", "run", "--job", job, "--quiet"]).await;
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    assert!(
        stdout(&second).contains("incremental cycle") && stdout(&second).contains("3 updated"),
        "{}",
        stdout(&second)
    );
    let users = app.list("/Users", &[("filter", "title eq \"Principal Engineer\"")]).await;
    assert_eq!(users.body["totalResults"], 3, "{}", users.body);
    assert!(work.path().join(".scimlab/state/over-https").is_dir(), "state lives next to the job file");

    // Without the CA the same job names the trust problem, not a dead address.
    let mut untrusted = spec.clone();
    untrusted["target"].as_object_mut().unwrap().remove("caCert");
    std::fs::write(work.path().join("untrusted.json"), untrusted.to_string()).unwrap();
    let out =
        scimlab(&["provision", "test-connection", "--job", work.path().join("untrusted.json").to_str().unwrap()]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("unknown issuer") && !stderr(&out).contains("nothing answered"), "{}", stderr(&out));
}

#[actix_web::test]
async fn oauth_client_credentials_are_fetched_over_https() {
    let certs = TestCerts::new();
    let app = spawn_https_app(&certs, |_| {}).await;
    let grants = Arc::new(Mutex::new(0usize));
    let seen = grants.clone();
    let token_server = Stub::start_https(&certs.tls_files(), move |cfg| {
        let seen = seen.clone();
        cfg.route(
            "/token",
            web::post().to(move || {
                let seen = seen.clone();
                async move {
                    *seen.lock().unwrap() += 1;
                    HttpResponse::Ok().json(json!({"access_token": TOKEN, "token_type": "Bearer", "expires_in": 3600}))
                }
            }),
        );
    });
    let work = tempfile::tempdir().unwrap();
    write_directory(work.path(), "Engineer");
    let job = work.path().join("job.json");
    let oauth = json!({"tokenUrl": format!("{}/token", token_server.address), "clientId": "c", "clientSecret": "s"});
    let spec = json!({
        "name": "oauth-https",
        "target": {"url": app.url(""), "oauth": oauth, "caCert": certs.ca()},
        "source": {"directory": "directory.json"},
        "scope": "all"
    });
    std::fs::write(&job, spec.to_string()).unwrap();
    let run = scimlab(&["provision", "run", "--job", job.to_str().unwrap(), "--quiet"]).await;
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    assert!(stdout(&run).contains("3 created"), "{}", stdout(&run));
    assert_eq!(*grants.lock().unwrap(), 1, "one token request over HTTPS, then reused");
}

#[actix_web::test]
async fn cert_writes_a_ca_and_server_certificate_that_serve_and_validate_use() {
    let work = tempfile::tempdir().unwrap();
    let out_dir = work.path().join("certs");
    let made = scimlab(&["cert", "--out", out_dir.to_str().unwrap()]).await;
    assert!(made.status.success(), "{}", stderr(&made));
    assert!(stdout(&made).contains("--tls-cert"), "{}", stdout(&made));
    for f in ["ca.pem", "cert.pem", "key.pem"] {
        assert!(out_dir.join(f).is_file(), "{f}");
    }
    let again = scimlab(&["cert", "--out", out_dir.to_str().unwrap()]).await;
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("--force"), "{}", stderr(&again));

    let files = scimlab::config::TlsFiles { cert: out_dir.join("cert.pem"), key: out_dir.join("key.pem") };
    let app = crate::helpers::spawn_app_with(move |s| s.tls = Some(files)).await;
    let check = validate_discovery_with_ca(&app.url(""), &out_dir.join("ca.pem")).await;
    assert_eq!(check.status.code(), Some(0), "{}\n{}", stdout(&check), stderr(&check));

    let half = scimlab(&["serve", "--token", "t", "--tls-cert", out_dir.join("cert.pem").to_str().unwrap()]).await;
    assert_eq!(half.status.code(), Some(1));
    assert!(stderr(&half).contains("--tls-key"), "{}", stderr(&half));
}
