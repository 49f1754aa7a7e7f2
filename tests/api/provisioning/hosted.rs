//! Jobs hosted by a running server (`serve --job`), controlled over /admin/jobs.

use std::time::Duration;

use serde_json::{json, Value};

use super::*;
use crate::helpers::spawn_app;

async fn admin(app: &TestApp, method: reqwest::Method, path: &str) -> (u16, Value) {
    let res = app.admin(method, path, None).await;
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// A target server, and a host server running one job into it from `sample_directory()`.
pub struct HostedJob {
    pub target: TestApp,
    pub host: TestApp,
    pub directory: std::path::PathBuf,
    _work: tempfile::TempDir,
}

impl HostedJob {
    /// `job` is merged over `{name, target: {url, token}, source, scope: all}`.
    pub async fn start(name: &str, token: &str, job: Value) -> HostedJob {
        HostedJob::start_with(name, token, job, |_| {}).await
    }

    /// As [`HostedJob::start`], with the target's settings changed first (faults, tokens).
    pub async fn start_with(
        name: &str,
        token: &str,
        job: Value,
        target_settings: impl FnOnce(&mut scimlab::config::Settings),
    ) -> HostedJob {
        let target = spawn_app_with(target_settings).await;
        let work = tempfile::tempdir().unwrap();
        let directory = work.path().join("directory.json");
        std::fs::write(&directory, sample_directory().to_string()).unwrap();
        let mut spec = json!({"name": name, "target": {"url": target.url(""), "token": token},
                              "source": {"directory": directory}, "scope": "all"});
        for (key, value) in job.as_object().into_iter().flatten() {
            spec[key] = value.clone();
        }
        let job_file = work.path().join("job.json");
        std::fs::write(&job_file, spec.to_string()).unwrap();
        let host = spawn_app_with(|s| {
            s.admin_token = Some(ADMIN_TOKEN.into());
            s.jobs = vec![job_file.clone()];
        })
        .await;
        HostedJob { target, host, directory, _work: work }
    }
}

/// Polls the job's status until `done` holds (the supervisor runs in the background).
pub async fn wait_for(app: &TestApp, job: &str, done: impl Fn(&Value) -> bool) -> Value {
    // Generous: on PostgreSQL every state write is a round trip, and CI shares two cores.
    let path = format!("/admin/jobs/{job}");
    let reached = crate::helpers::poll(Duration::from_secs(60), || async {
        let status = admin(app, reqwest::Method::GET, &path).await.1;
        if done(&status) {
            Ok(status)
        } else {
            Err(status)
        }
    })
    .await;
    reached.unwrap_or_else(|status| panic!("job {job} never reached the expected state; its status: {status}"))
}

#[actix_web::test]
async fn a_hosted_job_cycles_in_the_background_and_obeys_the_admin_api() {
    let target = spawn_app().await;
    let work = tempfile::tempdir().unwrap();
    let directory = work.path().join("directory.json");
    std::fs::write(&directory, sample_directory().to_string()).unwrap();
    let job = work.path().join("job.json");
    std::fs::write(
        &job,
        json!({
            "name": "hosted",
            "target": {"url": target.url(""), "token": TOKEN},
            "source": {"directory": directory},
            "assignments": {"groups": ["Eng"]},
            "options": {"intervalSeconds": 1}
        })
        .to_string(),
    )
    .unwrap();
    let host = spawn_app_with(|s| {
        s.admin_token = Some(ADMIN_TOKEN.into());
        s.jobs = vec![job.clone()];
    })
    .await;

    // The first cycle runs at start.
    let status = wait_for(&host, "hosted", |s| s["initialCycleComplete"] == true).await;
    assert_eq!(status["state"], "Active");
    assert_eq!(status["users"], 2);
    let metrics = host.client.get(format!("{}/metrics", host.address)).bearer_auth(ADMIN_TOKEN).send().await.unwrap();
    let metrics = metrics.text().await.unwrap();
    assert!(metrics.contains(r#"scimlab_provisioning_cycles_total{job="hosted",kind="initial"} 1"#), "{metrics}");
    assert!(metrics.contains(r#"scimlab_provisioning_objects_total{job="hosted",action="created"} 3"#), "{metrics}");
    let (code, list) = admin(&host, reqwest::Method::GET, "/admin/jobs").await;
    assert_eq!((code, list["jobs"].as_array().unwrap().len()), (200, 1));

    // Paused: cycles come due every second but do not run, so a source change is not
    // picked up; resumed: it is, at once.
    let (code, paused) = admin(&host, reqwest::Method::POST, "/admin/jobs/hosted/pause").await;
    assert_eq!((code, paused["state"].as_str()), (202, Some("Paused")));
    let mut dir: Value = serde_json::from_str(&std::fs::read_to_string(&directory).unwrap()).unwrap();
    dir["users"][1]["jobTitle"] = json!("Principal");
    std::fs::write(&directory, dir.to_string()).unwrap();
    let skipped = wait_for(&host, "hosted", |s| s["skippedWhilePaused"].as_u64() >= Some(2)).await;
    assert_eq!(skipped["state"], "Paused");
    let bob = target.list("/Users", &[("filter", "userName eq \"bob.builder@contoso.com\"")]).await;
    assert_eq!(bob.body["Resources"][0]["title"], "Engineer", "two due cycles passed without running");
    admin(&host, reqwest::Method::POST, "/admin/jobs/hosted/resume").await;
    let resumed = wait_for(&host, "hosted", |s| {
        s["state"] == "Active" && s["lastCycle"]["startedAt"] != skipped["lastCycle"]["startedAt"]
    })
    .await;
    assert_eq!(resumed["lastCycle"]["failed"], 0);
    let bob = target.list("/Users", &[("filter", "userName eq \"bob.builder@contoso.com\"")]).await;
    assert_eq!(bob.body["Resources"][0]["title"], "Principal");

    // Restart with cleared state: the next cycle is initial and matches, never duplicates.
    admin(&host, reqwest::Method::POST, "/admin/jobs/hosted/restart?clearState=true").await;
    let status = wait_for(&host, "hosted", |s| s["lastCycle"]["initial"] == true && s["users"] == 2).await;
    assert_eq!(status["lastCycle"]["created"], 0);
    assert_eq!(target.list("/Users", &[("count", "0")]).await.body["totalResults"], 2);

    let (code, logs) = admin(&host, reqwest::Method::GET, "/admin/jobs/hosted/logs?status=failure").await;
    assert_eq!((code, logs["logs"].as_array().unwrap().len()), (200, 0));
    assert_eq!(admin(&host, reqwest::Method::GET, "/admin/jobs/nope").await.0, 404);
    assert_eq!(admin(&host, reqwest::Method::POST, "/admin/jobs/hosted/explode").await.0, 404);
    let anonymous = host.client.get(format!("{}/admin/jobs", host.address)).send().await.unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
}
