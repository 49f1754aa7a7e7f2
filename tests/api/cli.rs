//! The `scimlab` binary as a user runs it: provisioning commands against a live server,
//! the Entra schema import, the demo, and the error messages of bad input.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::{json, Value};

use crate::helpers::{spawn_app, TOKEN};

pub fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// Runs the binary from the repository root.
pub async fn scimlab(args: &[&str]) -> Output {
    scimlab_in(Path::new(env!("CARGO_MANIFEST_DIR")), args).await
}

/// Runs the binary in `dir`, off the async runtime, so the in-process server keeps answering.
pub async fn scimlab_in(dir: &Path, args: &[&str]) -> Output {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_scimlab"));
        crate::database::isolate(&mut command, &args);
        command.args(&args).current_dir(dir).env_remove("SSL_CERT_FILE").output().expect("scimlab runs")
    })
    .await
    .expect("joined")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[actix_web::test]
async fn test_connection_failure_explains_the_cause() {
    let app = spawn_app().await;
    let work = tempfile::tempdir().unwrap();
    let job = work.path().join("job.json");
    let spec = json!({
        "name": "bad-token",
        "target": {"url": app.url(""), "token": "not-the-token"},
        "source": {"directory": repo_path("fixtures/directory/directory.json")},
    });
    std::fs::write(&job, spec.to_string()).unwrap();
    let out = scimlab(&["provision", "test-connection", "--job", job.to_str().unwrap()]).await;
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("401") && err.contains("check target.token"), "{err}");
}

#[actix_web::test]
async fn bad_job_files_name_the_file_line_and_field() {
    let work = tempfile::tempdir().unwrap();
    let job = work.path().join("job.json");
    std::fs::write(&job, "{\n  \"name\": \"x\",\n  \"target\": {\"url\": \"http://x\", \"tokn\": \"t\"}\n}").unwrap();
    let out = scimlab(&["provision", "run", "--job", job.to_str().unwrap()]).await;
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("job.json") && err.contains("tokn") && err.contains("line 3"), "{err}");

    let spec = json!({
        "name": "bad-expression",
        "target": {"url": "http://127.0.0.1:1/scim/v2", "token": "t"},
        "source": {"directory": "directory.json"},
        "users": {"attributeMappings": [
            {"targetAttributeName": "userName", "source": "[userPrincipalName]", "matchingPriority": 1},
            {"targetAttributeName": "displayName", "source": "Join(\" \", [givenName]"}
        ]}
    });
    std::fs::write(&job, spec.to_string()).unwrap();
    let out = scimlab(&["provision", "run", "--job", job.to_str().unwrap()]).await;
    let err = stderr(&out);
    assert!(err.contains("displayName") && err.contains("column"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[actix_web::test]
async fn demo_provisions_the_built_in_fixtures_end_to_end_from_any_directory() {
    let elsewhere = tempfile::tempdir().unwrap();
    let out = scimlab_in(elsewhere.path(), &["demo", "--quiet"]).await;
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("Initial cycle") && text.contains("Incremental cycle"), "{text}");
    assert!(text.contains("0 failed"), "{text}");
    assert!(
        text.contains("1 disabled") && text.contains("1 deleted"),
        "the incremental cycle shows the changes: {text}"
    );
}

/// The target as a comparable snapshot: users by userName with the provisioned attributes
/// and their manager's userName, groups with their members' userNames.
pub(crate) async fn snapshot(app: &crate::helpers::TestApp) -> Value {
    let users = app.list("/Users", &[("count", "1000")]).await.body["Resources"].as_array().unwrap().clone();
    let name_of = |id: &str| {
        users.iter().find(|u| u["id"] == id).map(|u| u["userName"].as_str().unwrap().to_string()).unwrap_or_default()
    };
    let mut out_users: Vec<Value> = users
        .iter()
        .map(|u| {
            let manager = u["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["manager"]["value"]
                .as_str()
                .map(&name_of);
            json!([u["userName"], u["active"], u["title"], u["displayName"], u["externalId"], manager])
        })
        .collect();
    out_users.sort_by_key(|u| u[0].as_str().unwrap().to_lowercase());
    let groups = app.list("/Groups", &[("count", "1000")]).await.body["Resources"].as_array().unwrap().clone();
    let mut out_groups: Vec<Value> = groups
        .iter()
        .map(|g| {
            let mut members: Vec<String> =
                g["members"].as_array().into_iter().flatten().map(|m| name_of(m["value"].as_str().unwrap())).collect();
            members.sort();
            json!([g["displayName"], members])
        })
        .collect();
    out_groups.sort_by_key(|g| g[0].as_str().unwrap().to_string());
    json!({"users": out_users, "groups": out_groups})
}

pub(crate) fn demo_job(work: &Path, target: &str) -> PathBuf {
    let mut spec: Value =
        serde_json::from_str(&std::fs::read_to_string(repo_path("fixtures/jobs/demo.json")).unwrap()).unwrap();
    spec["target"] = json!({"url": target, "token": TOKEN});
    spec["source"] = json!({"directory": repo_path("fixtures/directory/directory.json")});
    let job = work.join(format!("job-{}.json", target.len() + work.as_os_str().len()));
    std::fs::write(&job, spec.to_string()).unwrap();
    job
}

#[actix_web::test]
async fn an_engine_killed_mid_cycle_resumes_to_the_same_target_state() {
    // Reference: one uninterrupted run.
    let reference = spawn_app().await;
    let work = tempfile::tempdir().unwrap();
    let job = demo_job(work.path(), &reference.url(""));
    let state = work.path().join("reference-state");
    let run =
        scimlab(&["provision", "run", "--job", job.to_str().unwrap(), "--state", state.to_str().unwrap(), "--quiet"])
            .await;
    assert!(run.status.success(), "{}", stderr(&run));

    // Interrupted: slow creates, SIGKILL a second in, then run again to completion.
    let target = crate::helpers::spawn_app_with(|s| {
        s.faults = serde_json::from_value(json!({"rules": [{"method": "POST", "latencyMs": 40}]})).unwrap()
    })
    .await;
    let job = demo_job(work.path(), &target.url(""));
    let state = work.path().join("killed-state");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_scimlab"))
        .args(["provision", "run", "--job", job.to_str().unwrap(), "--state", state.to_str().unwrap(), "--quiet"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill once a good part of the users exist (at ~100 creates/s this is well mid-cycle).
    let _ = crate::helpers::poll(std::time::Duration::from_secs(10), || {
        let stopped = child.try_wait().unwrap().is_some();
        let target = &target;
        async move {
            let created = target.list("/Users", &[("count", "0")]).await.body["totalResults"].as_u64().unwrap();
            if created >= 30 || stopped {
                Ok(())
            } else {
                Err(created)
            }
        }
    })
    .await;
    assert!(child.try_wait().unwrap().is_none(), "the run must still be going when it is killed");
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let partial = target.list("/Users", &[("count", "0")]).await.body["totalResults"].as_u64().unwrap();
    let expected = reference.list("/Users", &[("count", "0")]).await.body["totalResults"].as_u64().unwrap();
    assert!(partial > 0 && partial < expected, "killed mid-cycle: {partial} of {expected} users");

    let rerun =
        scimlab(&["provision", "run", "--job", job.to_str().unwrap(), "--state", state.to_str().unwrap(), "--quiet"])
            .await;
    assert!(rerun.status.success(), "{}", stderr(&rerun));
    assert!(stdout(&rerun).contains("0 failed"), "{}", stdout(&rerun));
    assert_eq!(snapshot(&target).await, snapshot(&reference).await, "same users, attributes, managers and members");
}

#[actix_web::test]
async fn watch_runs_cycles_on_the_interval_and_pause_start_status_work_from_the_cli() {
    let app = spawn_app().await;
    let work = tempfile::tempdir().unwrap();
    let job = work.path().join("job.json");
    let spec = json!({
        "name": "watched",
        "target": {"url": app.url(""), "token": TOKEN},
        "source": {"directory": repo_path("fixtures/directory/csv")},
        "assignments": {"groups": ["Engineering Team"]},
        "options": {"intervalSeconds": 1}
    });
    std::fs::write(&job, spec.to_string()).unwrap();
    let (job, state) = (job.to_str().unwrap().to_string(), work.path().join("state").to_str().unwrap().to_string());
    let base = ["provision", "run", "--job", &job, "--state", &state, "--quiet"];
    let started = std::time::Instant::now();
    let watched = scimlab(&[&base[..], &["--watch", "--cycles", "2"]].concat()).await;
    assert!(watched.status.success(), "{}", stderr(&watched));
    let out = stdout(&watched);
    assert!(out.contains("initial cycle") && out.contains("incremental cycle"), "{out}");
    assert!(started.elapsed() >= std::time::Duration::from_secs(1), "the second cycle waited for the interval");

    let paused = scimlab(&["provision", "pause", "--job", &job, "--state", &state]).await;
    assert!(paused.status.success(), "{}", stderr(&paused));
    let refused = scimlab(&base).await;
    assert_eq!(refused.status.code(), Some(3), "a paused job exits 3");
    assert!(stderr(&refused).contains("paused"), "{}", stderr(&refused));
    let status: Value = serde_json::from_str(&stdout(
        &scimlab(&["provision", "status", "--job", &job, "--state", &state, "--format", "json"]).await,
    ))
    .unwrap();
    assert_eq!(status["state"], "Paused");
    assert_eq!(status["users"], 2);
    let start = scimlab(&["provision", "start", "--job", &job, "--state", &state, "--quiet"]).await;
    assert!(start.status.success(), "{}", stderr(&start));
    let status: Value = serde_json::from_str(&stdout(
        &scimlab(&["provision", "status", "--job", &job, "--state", &state, "--format", "json"]).await,
    ))
    .unwrap();
    assert_eq!((status["state"].as_str(), status["steadyState"].as_bool()), (Some("Active"), Some(true)));
}

#[actix_web::test]
async fn on_demand_restart_allow_deletions_and_jsonl_logs_from_the_cli() {
    let app = spawn_app().await;
    let work = tempfile::tempdir().unwrap();
    let job = work.path().join("job.json");
    let spec = json!({
        "name": "cli-ops",
        "target": {"url": app.url(""), "token": TOKEN},
        "source": {"directory": repo_path("fixtures/directory/csv")},
        "assignments": {"groups": ["Engineering Team"]},
        "options": {"deletionThreshold": 1}
    });
    std::fs::write(&job, spec.to_string()).unwrap();
    let (job, state) = (job.to_str().unwrap().to_string(), work.path().join("state").to_str().unwrap().to_string());
    let with_job = |command: &[&str]| -> Vec<String> {
        let mut args: Vec<String> = command.iter().map(|a| a.to_string()).collect();
        args.extend(["--job", &job, "--state", &state].iter().map(|a| a.to_string()));
        args
    };
    let run = |args: Vec<String>| async move { scimlab(&args.iter().map(String::as_str).collect::<Vec<_>>()).await };

    // On-demand, as text: every step and the exact request.
    let text = run(with_job(&["provision", "on-demand", "--user", "ada.lovelace@contoso.com"])).await;
    assert!(text.status.success(), "{}", stderr(&text));
    let out = stdout(&text);
    assert!(out.contains("Determine if user is in scope: in scope"), "{out}");
    for step in ["Import user", "Match user between source and target", "Perform action: Create"] {
        assert!(out.contains(step), "the portal's steps: {out}");
    }
    assert!(out.contains("POST ") && out.contains("→ 201"), "the request sent is shown: {out}");
    // And as JSON.
    let json_run =
        run(with_job(&["provision", "on-demand", "--user", "grace.hopper@contoso.com", "--format", "json"])).await;
    let pair: Value = serde_json::from_str(&stdout(&json_run)).expect("on-demand --format json is JSON");
    // Graph's provisionOnDemand shape: key and value are JSON strings.
    let key: Value = serde_json::from_str(pair["key"].as_str().unwrap()).unwrap();
    let record: Value = serde_json::from_str(pair["value"].as_str().unwrap()).unwrap();
    assert_eq!((key["result"].as_str(), record["action"].as_str()), (Some("Success"), Some("Create")), "{pair}");
    assert!(record["provisioningSteps"].as_array().unwrap().iter().any(|s| s["name"] == "EntryExportAdd"), "{record}");
    assert_eq!(pair["scimlab"]["action"], "create", "scimlab's own trace rides along");

    let cycle = run(with_job(&["provision", "run", "--quiet"])).await;
    assert!(cycle.status.success(), "{}", stderr(&cycle));
    let jsonl = run(with_job(&["provision", "logs", "--format", "jsonl"])).await;
    let records: Vec<Value> = stdout(&jsonl).lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    assert!(records.iter().any(|r| r["sourceIdentity"]["id"] == "c-ada"), "{}", stdout(&jsonl));
    // Graph's provisioningObjectSummary shape.
    let ada = records.iter().find(|r| r["sourceIdentity"]["id"] == "c-ada").unwrap();
    assert_eq!(ada["provisioningStatusInfo"]["status"], "success", "{ada}");
    assert_eq!(ada["targetSystem"]["displayName"], "customappsso");
    assert!(ada["provisioningSteps"][0]["provisioningStepType"].is_string(), "{ada}");
    let bad = run(with_job(&["provision", "logs", "--status", "sideways"])).await;
    assert!(!bad.status.success() && stderr(&bad).contains("--status must be"), "{}", stderr(&bad));

    // Unassign everyone: two disables exceed the threshold of 1 and are held until allowed.
    let csv = work.path().join("csv");
    std::fs::create_dir(&csv).unwrap();
    for f in ["users.csv", "groups.csv"] {
        std::fs::copy(repo_path("fixtures/directory/csv").join(f), csv.join(f)).unwrap();
    }
    std::fs::write(csv.join("memberships.csv"), "groupId,memberId\n").unwrap();
    let mut spec = spec;
    spec["source"] = json!({"directory": csv});
    std::fs::write(&job, spec.to_string()).unwrap();
    let held = run(with_job(&["provision", "run", "--quiet"])).await;
    assert!(stdout(&held).contains("2 deletions held"), "{}", stdout(&held));
    let allow = run(with_job(&["provision", "allow-deletions"])).await;
    assert!(allow.status.success(), "{}", stderr(&allow));
    let applied = run(with_job(&["provision", "run", "--quiet"])).await;
    assert!(stdout(&applied).contains("2 disabled"), "{}", stdout(&applied));

    // Restart with cleared state: the next cycle is initial and matches instead of creating.
    let restart = run(with_job(&["provision", "restart", "--clear-state"])).await;
    assert!(stdout(&restart).contains("initial cycle with no links"), "{}", stdout(&restart));
    let again = run(with_job(&["provision", "run", "--quiet"])).await;
    assert!(stdout(&again).contains("initial cycle") && stdout(&again).contains("0 created"), "{}", stdout(&again));
}

fn small_job(work: &Path, name: &str, target: &str, token: &str) -> String {
    let job = work.join(format!("{name}.json"));
    let spec = json!({
        "name": name,
        "target": {"url": target, "token": token},
        "source": {"directory": repo_path("fixtures/directory/csv")},
        "assignments": {"groups": ["Engineering Team"]},
        "options": {"retry": {"maxAttempts": 1}}
    });
    std::fs::write(&job, spec.to_string()).unwrap();
    job.to_str().unwrap().to_string()
}

#[actix_web::test]
async fn provision_run_exit_codes_say_clean_failed_or_held() {
    let work = tempfile::tempdir().unwrap();
    let clean = spawn_app().await;
    let job = small_job(work.path(), "clean", &clean.url(""), TOKEN);
    let out = scimlab(&["provision", "run", "--job", &job, "--quiet"]).await;
    assert_eq!(out.status.code(), Some(0), "clean: {}", stderr(&out));

    // Every create refused with 400: the cycle ran, objects failed (escrowed).
    let refusing = crate::helpers::spawn_app_with(|s| {
        s.faults =
            serde_json::from_value(json!({"rules": [{"method": "POST", "path": "/Users", "status": 400}]})).unwrap()
    })
    .await;
    let job = small_job(work.path(), "failing", &refusing.url(""), TOKEN);
    let out = scimlab(&["provision", "run", "--job", &job, "--quiet"]).await;
    assert_eq!(out.status.code(), Some(2), "objects failed: {}\n{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("2 failed"), "{}", stdout(&out));

    // A wrong token: every request 401, the job goes to quarantine.
    let job = small_job(work.path(), "quarantined", &clean.url(""), "wrong-token");
    let out = scimlab(&["provision", "run", "--job", &job, "--quiet"]).await;
    assert_eq!(out.status.code(), Some(3), "quarantined: {}\n{}", stdout(&out), stderr(&out));
    assert!(stderr(&out).contains("quarantine"), "{}", stderr(&out));
    assert!(!stderr(&out).contains('\u{1b}'), "no colour codes when stderr is not a terminal: {}", stderr(&out));

    // A job file that does not exist: usage error, the cause said once.
    let out = scimlab(&["provision", "run", "--job", "/nonexistent/job.json"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr(&out).matches("No such file or directory").count(), 1, "{}", stderr(&out));
}

#[actix_web::test]
async fn validate_refuses_unknown_selections_and_unreachable_endpoints() {
    let app = spawn_app().await;
    let out = scimlab(&["validate", &app.url(""), "--token", TOKEN, "--only", "nosuchgroup"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(err.contains("nosuchgroup") && err.contains("discovery") && err.contains("entra-flow"), "{err}");

    let out = scimlab(&["validate", &app.url(""), "--token", TOKEN, "--only", "users.no-such-check"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("users.create"), "the valid check ids are listed: {}", stderr(&out));

    // Nothing answers: one clear cause, no verdicts, exit 1.
    let out = scimlab(&["validate", "http://127.0.0.1:9/scim/v2", "--token", "t"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("cannot reach"), "{}", stderr(&out));
    assert_eq!(stdout(&out), "", "no report of checks that could not run");

    // Not a SCIM root: say so instead of judging the endpoint on 404s.
    let out = scimlab(&["validate", &format!("{}/nope", app.address), "--token", TOKEN]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("does not answer as a SCIM endpoint"), "{}", stderr(&out));
}

#[actix_web::test]
async fn output_into_a_closed_pipe_ends_quietly() {
    let app = spawn_app().await;
    let work = tempfile::tempdir().unwrap();
    let job = demo_job(work.path(), &app.url(""));
    let state = work.path().join("state");
    let run =
        scimlab(&["provision", "run", "--job", job.to_str().unwrap(), "--state", state.to_str().unwrap(), "--quiet"])
            .await;
    assert!(run.status.success(), "{}", stderr(&run));
    let (job, state) = (job.to_str().unwrap().to_string(), state.to_str().unwrap().to_string());
    let output = tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_scimlab"))
            .args(["provision", "logs", "--job", &job, "--state", &state])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Read a little, as `head -c 100` would, and close the pipe.
        let mut first = [0u8; 100];
        child.stdout.take().unwrap().read_exact(&mut first).unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    let err = stderr(&output);
    assert!(!err.contains("panicked") && !err.contains("Broken pipe"), "{err}");
    assert_eq!(output.status.code(), Some(0), "{err}");
}

#[actix_web::test]
async fn provisioning_logs_survive_any_number_of_process_restarts() {
    let app = spawn_app().await;
    let work = tempfile::tempdir().unwrap();
    let job = small_job(work.path(), "kept-logs", &app.url(""), TOKEN);
    for round in 0..3 {
        if round > 0 {
            let restart = scimlab(&["provision", "restart", "--job", &job]).await;
            assert!(restart.status.success(), "{}", stderr(&restart));
        }
        let run = scimlab(&["provision", "run", "--job", &job, "--quiet"]).await;
        assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    }
    let logs = scimlab(&["provision", "logs", "--job", &job]).await;
    let cycles: std::collections::BTreeSet<String> = stdout(&logs)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["cycleId"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(cycles.len(), 3, "the records of all three cycles are kept");
}

/// A job over `directory.json` in `work`, all in scope, with a deletion threshold of 1.
fn threshold_job(work: &Path, name: &str, target: &str) -> String {
    let job = work.join("job.json");
    let spec = json!({
        "name": name,
        "target": {"url": target, "token": TOKEN},
        "source": {"directory": "directory.json"},
        "scope": "all",
        "options": {"deletionThreshold": 1}
    });
    std::fs::write(&job, spec.to_string()).unwrap();
    job.to_str().unwrap().to_string()
}

#[actix_web::test]
async fn held_hard_deletes_are_carried_out_after_allow_deletions_even_across_restarts() {
    let app = spawn_app().await;
    let work = tempfile::tempdir().unwrap();
    let people = |ids: &[&str]| {
        let users: Vec<Value> = ids
            .iter()
            .map(|n| {
                json!({"objectId": n, "userPrincipalName": format!("{n}@contoso.com"), "mailNickname": n,
                            "displayName": n, "accountEnabled": true})
            })
            .collect();
        std::fs::write(work.path().join("directory.json"), json!({"users": users, "groups": []}).to_string()).unwrap();
    };
    people(&["ann", "bob", "cid"]);
    let job = threshold_job(work.path(), "held", &app.url(""));
    let job = job.as_str();
    let first = scimlab(&["provision", "run", "--job", job, "--quiet"]).await;
    assert!(stdout(&first).contains("3 created"), "{}", stdout(&first));

    people(&["ann"]);
    let held = scimlab(&["provision", "run", "--job", job, "--quiet"]).await;
    assert_eq!(held.status.code(), Some(3), "held by the threshold: {}", stderr(&held));
    assert!(stdout(&held).contains("0 deleted, ") && stdout(&held).contains("2 deletions held"), "{}", stdout(&held));
    assert_eq!(app.list("/Users", &[("count", "0")]).await.body["totalResults"], 3, "nothing deleted yet");
    let status: Value =
        serde_json::from_str(&stdout(&scimlab(&["provision", "status", "--job", job, "--format", "json"]).await))
            .unwrap();
    assert_eq!(status["heldRemovals"], 2, "{status}");

    // Another process allows them; a third carries them out.
    let allow = scimlab(&["provision", "allow-deletions", "--job", job]).await;
    assert!(allow.status.success(), "{}", stderr(&allow));
    let applied = scimlab(&["provision", "run", "--job", job, "--quiet"]).await;
    assert_eq!(applied.status.code(), Some(0), "{}", stderr(&applied));
    assert!(stdout(&applied).contains("2 deleted"), "{}", stdout(&applied));
    assert_eq!(app.list("/Users", &[("count", "0")]).await.body["totalResults"], 1);

    // Allowing is for one cycle: a new mass deletion is held again.
    people(&[]);
    let quiet = scimlab(&["provision", "run", "--job", job, "--quiet"]).await;
    assert!(stdout(&quiet).contains("1 deleted"), "one delete is within the threshold: {}", stdout(&quiet));
}

#[actix_web::test]
async fn job_names_that_would_escape_the_state_directory_are_refused() {
    let work = tempfile::tempdir().unwrap();
    for name in ["../../pwn", "/tmp/x", ".hidden", ""] {
        let job = work.path().join("job.json");
        let spec = json!({
            "name": name,
            "target": {"url": "http://127.0.0.1:1/scim/v2", "token": "t"},
            "source": {"directory": "directory.json"}
        });
        std::fs::write(&job, spec.to_string()).unwrap();
        let out = scimlab(&["provision", "status", "--job", job.to_str().unwrap()]).await;
        assert_eq!(out.status.code(), Some(1), "{name}");
        assert!(stderr(&out).contains("'name' must be"), "{name}: {}", stderr(&out));
    }
    assert!(!work.path().join(".scimlab").exists(), "no state was written");
    assert!(!std::path::Path::new("/tmp/x").join("links").exists());
}

#[actix_web::test]
async fn redacted_values_never_reach_logs_or_on_demand_traces() {
    let app = spawn_app().await;
    let work = tempfile::tempdir().unwrap();
    let job = work.path().join("job.json");
    let mut users = scimlab::provision::job::default_user_mapping();
    users.attribute_mappings.push(
        serde_json::from_value(
            json!({"targetAttributeName": "password", "source": "Redact(Join(\"-\", \"S3cr3t\", \"Value!\"))"}),
        )
        .unwrap(),
    );
    let spec = json!({
        "name": "redacting",
        "target": {"url": app.url(""), "token": TOKEN},
        "source": {"directory": repo_path("fixtures/directory/csv")},
        "assignments": {"groups": ["Engineering Team"]},
        "users": users
    });
    std::fs::write(&job, spec.to_string()).unwrap();
    let job = job.to_str().unwrap();
    let trace =
        scimlab(&["provision", "on-demand", "--job", job, "--user", "ada.lovelace@contoso.com", "--format", "json"])
            .await;
    assert!(trace.status.success(), "{}", stderr(&trace));
    assert!(stdout(&trace).contains("[Redact]"), "{}", stdout(&trace));
    assert!(!stdout(&trace).contains("S3cr3t-Value!"), "the trace leaks: {}", stdout(&trace));
    let run = scimlab(&["provision", "run", "--job", job, "--quiet"]).await;
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    let logs = scimlab(&["provision", "logs", "--job", job]).await;
    assert!(stdout(&logs).contains("password"), "the change is logged");
    assert!(!stdout(&logs).contains("S3cr3t-Value!"), "the logs leak the value");
}

#[actix_web::test]
async fn group_deletions_count_toward_the_deletion_threshold() {
    let app = spawn_app().await;
    let work = tempfile::tempdir().unwrap();
    let write = |groups: Value| {
        let dir = json!({"users": [], "groups": groups});
        std::fs::write(work.path().join("directory.json"), dir.to_string()).unwrap();
    };
    write(json!([{"objectId": "g1", "displayName": "One", "members": []},
                 {"objectId": "g2", "displayName": "Two", "members": []}]));
    let job = threshold_job(work.path(), "groups-held", &app.url(""));
    let job = job.as_str();
    let first = scimlab(&["provision", "run", "--job", job, "--quiet"]).await;
    assert!(stdout(&first).contains("2 created"), "{}", stdout(&first));
    write(json!([]));
    let held = scimlab(&["provision", "run", "--job", job, "--quiet"]).await;
    assert_eq!(held.status.code(), Some(3), "{}", stdout(&held));
    assert!(stdout(&held).contains("2 deletions held"), "{}", stdout(&held));
    assert_eq!(app.list("/Groups", &[("count", "0")]).await.body["totalResults"], 2, "both groups still there");
}

#[actix_web::test]
async fn provision_expr_evaluates_like_the_expression_builder() {
    let work = tempfile::tempdir().unwrap();
    let source = work.path().join("user.json");
    std::fs::write(&source, r#"{"givenName": "Ada", "surname": "Lovelace"}"#).unwrap();
    let source = source.to_str().unwrap();
    let value =
        scimlab(&["provision", "expr", r#"Join(" ", [givenName], ToUpper([surname]))"#, "--source", source]).await;
    assert_eq!((value.status.code(), stdout(&value).trim()), (Some(0), "Ada LOVELACE"), "{}", stderr(&value));

    let failing = scimlab(&["provision", "expr", r#"CDate("nope")"#, "--source", source, "--format", "json"]).await;
    assert_eq!(failing.status.code(), Some(2));
    let out: Value = serde_json::from_str(&stdout(&failing)).unwrap();
    assert_eq!(out["column"], 1, "{out}");
    assert!(out["error"].as_str().unwrap().contains("CDate"), "{out}");

    let job = repo_path("fixtures/jobs/demo.json");
    let from_job = scimlab(&[
        "provision",
        "expr",
        "[userPrincipalName]",
        "--job",
        job.to_str().unwrap(),
        "--user",
        "yasmin.schafer0@contoso.com",
    ])
    .await;
    assert_eq!(from_job.status.code(), Some(0), "{}", stderr(&from_job));
    assert_eq!(stdout(&from_job).trim(), "yasmin.schafer0@contoso.com");
}

#[actix_web::test]
async fn a_group_on_demand_provisions_the_group_and_up_to_five_members() {
    let app = spawn_app().await;
    let work = tempfile::tempdir().unwrap();
    let job = small_job(work.path(), "group-on-demand", &app.url(""), TOKEN);
    let out =
        scimlab(&["provision", "on-demand", "--job", &job, "--group", "Engineering Team", "--format", "json"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let pairs: Vec<Value> = serde_json::from_str(&stdout(&out)).unwrap();
    let records: Vec<Value> =
        pairs.iter().map(|p| serde_json::from_str(p["value"].as_str().unwrap()).unwrap()).collect();
    let group = records.last().unwrap();
    assert_eq!((group["action"].as_str(), group["sourceIdentity"]["type"].as_str()), (Some("Create"), Some("Group")));
    assert!((1..=5).contains(&(records.len() - 1)), "up to five members first");
    // Members in scope are created; the group then holds exactly those.
    let members = records[..records.len() - 1].iter().filter(|r| r["action"] == "Create").count();
    assert!(members >= 1, "{records:?}");
    let listed = app.list("/Groups", &[("filter", "displayName eq \"Engineering Team\"")]).await;
    let stored = &listed.body["Resources"][0];
    let group_id = stored["id"].as_str().unwrap();
    let full = app.get(&format!("/Groups/{group_id}")).await.body;
    assert_eq!(full["members"].as_array().map(Vec::len), Some(members), "the provisioned members are in it: {full}");
}
