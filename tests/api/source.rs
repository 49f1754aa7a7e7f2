//! The source directory as a user writes it: any JSON layout is read, and a file the engine
//! cannot use is named with the problem before anything is sent to the target.

use serde_json::{json, Value};

use crate::cli::{scimlab, stderr, stdout};
use crate::helpers::{spawn_app, TOKEN};

fn job_over(work: &std::path::Path, target: &str) -> String {
    let job = work.join("job.json");
    let spec = json!({
        "name": "source",
        "target": {"url": target, "token": TOKEN},
        "source": {"directory": "directory.json"},
        "scope": "all"
    });
    std::fs::write(&job, spec.to_string()).unwrap();
    job.to_str().unwrap().to_string()
}

#[actix_web::test]
async fn a_pretty_printed_directory_provisions_users_managers_and_members() {
    let app = spawn_app().await;
    let work = tempfile::tempdir().unwrap();
    let directory = json!({
        "users": [
            {"objectId": "u-ann", "userPrincipalName": "ann@contoso.com", "mailNickname": "ann",
             "displayName": "Ann Émile \"A\"", "accountEnabled": true},
            {"objectId": "u-bob", "userPrincipalName": "bob@contoso.com", "mailNickname": "bob",
             "displayName": "Bob", "manager": "u-ann", "accountEnabled": true},
            {"objectId": "u-cid", "userPrincipalName": "cid@contoso.com", "mailNickname": "cid",
             "displayName": "Cid", "manager": "", "accountEnabled": true}
        ],
        "groups": [{"objectId": "g-all", "displayName": "Everyone", "members": ["u-ann", "u-bob", "u-cid"]}]
    });
    // Indented, with escapes as another tool would write them.
    let pretty = serde_json::to_string_pretty(&directory).unwrap().replace('É', "\\u00c9");
    std::fs::write(work.path().join("directory.json"), pretty).unwrap();
    let job = job_over(work.path(), &app.url(""));
    let run = scimlab(&["provision", "run", "--job", &job, "--quiet"]).await;
    assert!(run.status.success(), "{}{}", stdout(&run), stderr(&run));

    let users = app.list("/Users", &[("filter", "userName eq \"bob@contoso.com\"")]).await.body;
    let bob = &users["Resources"][0];
    let ann = app.list("/Users", &[("filter", "userName eq \"ann@contoso.com\"")]).await.body;
    let ann = &ann["Resources"][0];
    assert_eq!(ann["displayName"], "Ann Émile \"A\"");
    let enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    assert_eq!(bob[enterprise]["manager"]["value"], ann["id"], "{bob}");
    let groups = app.list("/Groups", &[("filter", "displayName eq \"Everyone\"")]).await.body;
    let members = groups["Resources"][0]["members"].as_array().map(Vec::len);
    assert_eq!(members, Some(3), "{groups}");

    let again = scimlab(&["provision", "run", "--job", &job, "--quiet"]).await;
    assert!(stdout(&again).contains("0 created") && stdout(&again).contains("0 updated"), "{}", stdout(&again));
}

#[actix_web::test]
async fn a_directory_the_engine_cannot_use_is_named_with_the_problem_and_nothing_is_sent() {
    let app = spawn_app().await;
    let work = tempfile::tempdir().unwrap();
    let job = job_over(work.path(), &app.url(""));
    let user = |id: &str| json!({"objectId": id, "userPrincipalName": format!("{id}@contoso.com"), "displayName": id});
    let cases: Vec<(String, &str)> = vec![
        ("{\"users\": [".into(), "EOF"),
        (json!({"users": {"objectId": "a"}}).to_string(), "'users' must be an array"),
        (json!({"users": [user("a"), "b"]}).to_string(), "users[1] must be an object"),
        (json!({"users": [user("a"), {"displayName": "Nobody"}]}).to_string(), "user #2 (Nobody) has no objectId"),
        (json!({"users": [user("a")], "groups": [{"objectId": "a"}]}).to_string(), "'a' is used twice"),
    ];
    for (text, expected) in cases {
        std::fs::write(work.path().join("directory.json"), &text).unwrap();
        let out = scimlab(&["provision", "run", "--job", &job, "--quiet"]).await;
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{text}: {err}");
        assert!(err.contains("directory.json") && err.contains(expected), "{text}: expected '{expected}' in {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let users: Value = app.list("/Users", &[("count", "0")]).await.body;
    assert_eq!(users["totalResults"], 0, "nothing reached the target");
}

#[actix_web::test]
async fn a_temporary_directory_that_cannot_hold_the_snapshot_is_named_with_the_fix() {
    let app = spawn_app().await;
    let work = tempfile::tempdir().unwrap();
    let user = json!({"objectId": "a", "userPrincipalName": "a@contoso.com", "displayName": "A"});
    std::fs::write(work.path().join("directory.json"), json!({"users": [user]}).to_string()).unwrap();
    let job = job_over(work.path(), &app.url(""));
    let missing = work.path().join("no-such-dir");
    let args = ["provision".to_string(), "run".into(), "--job".into(), job, "--quiet".into()];
    let out = tokio::task::spawn_blocking(move || {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_scimlab"));
        crate::database::isolate(&mut command, &args);
        command.args(&args).env("TMPDIR", &missing).output().unwrap()
    })
    .await
    .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("snapshot") && err.contains("no-such-dir") && err.contains("TMPDIR"), "{err}");
    let users: Value = app.list("/Users", &[("count", "0")]).await.body;
    assert_eq!(users["totalResults"], 0, "nothing reached the target");
}
