use serde_json::json;

use scimlab::auth::{mint_token, Claims};

use crate::helpers::*;

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

#[actix_web::test]
async fn requests_without_or_with_a_wrong_token_get_401_with_www_authenticate() {
    let mut app = spawn_app().await;
    app.token = None;
    for path in ["/Users", "/Groups", "/ServiceProviderConfig", "/Schemas"] {
        let res = app.get(path).await;
        res.assert_error(401, None);
        assert!(res.header("www-authenticate").unwrap().starts_with("Bearer"));
    }
    app.token = Some("wrong".into());
    app.get("/Users").await.assert_error(401, None);
    let basic = app.client.get(app.url("/Users")).basic_auth("u", Some("p")).send().await.unwrap();
    assert_eq!(basic.status(), 401);
    app.token = Some(TOKEN.into());
    assert_eq!(app.get("/Users").await.status, 200);
}

#[actix_web::test]
async fn discovery_can_be_public_while_resources_stay_protected() {
    let mut app = spawn_app_with(|s| s.public_discovery = true).await;
    app.token = None;
    assert_eq!(app.get("/ServiceProviderConfig").await.status, 200);
    assert_eq!(app.get("/Schemas").await.status, 200);
    assert_eq!(app.get("/ResourceTypes").await.status, 200);
    app.get("/Users").await.assert_error(401, None);
}

#[actix_web::test]
async fn hs256_jwts_are_checked_for_signature_audience_issuer_and_expiry() {
    let mut app = spawn_app_with(|s| {
        s.tokens.clear();
        s.jwt.secret = Some("s3cret".into());
        s.jwt.audience = Some("8adf8e6e-67b2-4cf2-a259-e3dc5476c621".into());
        s.jwt.issuer = Some("https://sts.windows.net/tenant/".into());
    })
    .await;
    let good = {
        let mut c = Claims::new(now(), 600);
        c.aud = Some("8adf8e6e-67b2-4cf2-a259-e3dc5476c621".into());
        c.iss = Some("https://sts.windows.net/tenant/".into());
        c.sub = Some("entra".into());
        c
    };
    app.token = Some(mint_token("s3cret", &good).unwrap());
    assert_eq!(app.get("/Users").await.status, 200);

    let mut wrong_aud = good.clone();
    wrong_aud.aud = Some("someone-else".into());
    let mut wrong_iss = good.clone();
    wrong_iss.iss = Some("https://evil/".into());
    let mut expired = good.clone();
    expired.exp = now() - 3600;
    expired.iat = Some(now() - 7200);
    expired.nbf = Some(now() - 7200);
    let mut not_yet = good.clone();
    not_yet.nbf = Some(now() + 3600);
    // With an audience and issuer configured, a token that simply leaves them out is refused.
    let mut no_aud = good.clone();
    no_aud.aud = None;
    let mut no_iss = good.clone();
    no_iss.iss = None;
    // RFC 7519 allows several audiences and no `iat`.
    let mut many = good.clone();
    many.aud = Some(scimlab::auth::Audience::Many(vec!["other".into(), "8adf8e6e-67b2-4cf2-a259-e3dc5476c621".into()]));
    many.iat = None;
    app.token = Some(mint_token("s3cret", &many).unwrap());
    assert_eq!(app.get("/Users").await.status, 200, "aud as an array, no iat");
    for (claims, secret) in [
        (no_aud, "s3cret"),
        (no_iss, "s3cret"),
        (wrong_aud, "s3cret"),
        (wrong_iss, "s3cret"),
        (expired, "s3cret"),
        (not_yet, "s3cret"),
        (good.clone(), "other-secret"),
    ] {
        app.token = Some(mint_token(secret, &claims).unwrap());
        app.get("/Users").await.assert_error(401, None);
    }
    app.token = Some("not.a.jwt".into());
    app.get("/Users").await.assert_error(401, None);
}

#[actix_web::test]
async fn token_subcommand_mints_a_jwt_the_server_accepts() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_scimlab"))
        .args(["token", "--secret", "cli-secret", "--aud", "scim"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let mut app = spawn_app_with(|s| {
        s.tokens.clear();
        s.jwt.secret = Some("cli-secret".into());
        s.jwt.audience = Some("scim".into());
    })
    .await;
    app.token = Some(token);
    assert_eq!(app.post("/Users", user_body("jwt@example.com")).await.status, 201);
    assert_eq!(app.list("/Users", &[]).await.body["totalResults"], json!(1));
}

#[actix_web::test]
async fn serve_without_credentials_explains_what_to_pass() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_scimlab"))
        .args(["serve", "--addr", "127.0.0.1:0", "--in-memory"])
        .env_remove("SCIMLAB_TOKEN")
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--token"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("scimlab.toml");
    std::fs::write(&config, "addr = \"127.0.0.1:0\"\ntokns = [\"x\"]\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_scimlab"))
        .args(["serve", "--config", config.to_str().unwrap()])
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("scimlab.toml") && err.contains("tokns") && err.contains("line 2"), "{err}");
}

#[actix_web::test]
async fn empty_secrets_are_refused_at_start() {
    for args in [
        vec!["serve", "--jwt-secret", "", "--in-memory"],
        vec!["serve", "--token", "", "--in-memory"],
        vec!["serve", "--token", "t", "--admin-token", "", "--in-memory"],
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_scimlab")).args(&args).output().expect("runs");
        assert_eq!(out.status.code(), Some(1), "{args:?} must not start");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("empty"), "{args:?}: {err}");
    }
}

#[actix_web::test]
async fn the_admin_api_takes_the_bearer_scheme_in_any_case() {
    let app = spawn_app_with(|s| s.admin_token = Some(crate::helpers::ADMIN_TOKEN.into())).await;
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let res = app
            .client
            .get(format!("{}/admin/tenants", app.address))
            .header("authorization", format!("{scheme} {}", crate::helpers::ADMIN_TOKEN))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 200, "{scheme}");
    }
}
