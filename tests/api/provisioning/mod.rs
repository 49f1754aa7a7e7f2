//! The provisioning engine against a live scimlab server over HTTP: every assertion is on
//! the target's state (read back through SCIM) or on the requests the engine recorded.

mod admin_jobs;
mod cycles;
pub mod hosted;
pub mod resilience;
mod wire_forms;

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{json, Value};

use scimlab::client::{Exchange, ScimClient};
use scimlab::clock::SystemClock;
use scimlab::config::Settings;
use scimlab::provision::job::JobSpec;
use scimlab::provision::{Engine, Job, JobState};

use crate::helpers::{spawn_app_with, TestApp, TOKEN};

pub use crate::helpers::ADMIN_TOKEN;

pub const ALICE: &str = "u-alice";
pub const BOB: &str = "u-bob";
pub const CAROL: &str = "u-carol";
pub const DAVE: &str = "u-dave";
pub const ENG: &str = "g-eng";

pub fn person(id: &str, first: &str, last: &str, title: &str) -> Value {
    let upn = format!("{}.{}@contoso.com", first.to_lowercase(), last.to_lowercase());
    json!({
        "objectId": id,
        "userPrincipalName": upn,
        "mailNickname": first.to_lowercase(),
        "displayName": format!("{first} {last}"),
        "givenName": first,
        "surname": last,
        "mail": upn,
        "jobTitle": title,
        "department": "Engineering",
        "accountEnabled": true
    })
}

/// Alice; Bob reports to Alice; Carol is disabled in the source; Dave is not assigned.
/// The app is assigned the group Eng (Alice, Bob) and Carol directly.
pub fn sample_directory() -> Value {
    let mut bob = person(BOB, "Bob", "Builder", "Engineer");
    bob["manager"] = json!(ALICE);
    let mut carol = person(CAROL, "Carol", "Côté", "Designer");
    carol["accountEnabled"] = json!(false);
    json!({
        "users": [person(ALICE, "Alice", "Ångström", "Lead"), bob, carol, person(DAVE, "Dave", "Doe", "Intern")],
        "groups": [{"objectId": ENG, "displayName": "Eng", "members": [ALICE, BOB]}]
    })
}

/// A server, a source directory on disk and an engine whose state survives across cycles.
pub struct Lab {
    pub app: TestApp,
    pub dir: tempfile::TempDir,
    pub spec: JobSpec,
}

impl Lab {
    pub async fn new() -> Lab {
        Lab::with(|_| {}).await
    }

    pub async fn with(configure: impl FnOnce(&mut JobSpec)) -> Lab {
        Lab::with_server(|_| {}, configure).await
    }

    /// A server with the admin API on (for fault injection) and a job against it.
    pub async fn with_server(server: impl FnOnce(&mut Settings), configure: impl FnOnce(&mut JobSpec)) -> Lab {
        let app = spawn_app_with(|s| {
            s.admin_token = Some(ADMIN_TOKEN.into());
            server(s)
        })
        .await;
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("directory.json"), sample_directory().to_string()).expect("directory written");
        let mut spec: JobSpec = serde_json::from_value(json!({
            "name": "test-job",
            "target": {"url": app.url(""), "token": TOKEN},
            "source": {"directory": "directory.json"},
            "scope": "assigned",
            "assignments": {"groups": ["Eng"], "users": [CAROL]},
        }))
        .expect("job spec");
        configure(&mut spec);
        Lab { app, dir, spec }
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// A fresh engine on the persistent state (as a new `scimlab provision run` would be).
    pub fn engine(&self) -> Engine {
        let job = Job::from_spec(self.spec.clone(), self.dir.path().to_path_buf()).expect("job compiles");
        let state = JobState::open(&self.state_dir()).expect("state opens");
        let mut engine = Engine::new(job, state, Arc::new(SystemClock), 7).expect("engine");
        // The tests read each cycle's traffic.
        engine.keep_exchanges();
        engine
    }

    pub fn edit_directory(&self, edit: impl FnOnce(&mut Value)) {
        let path = self.dir.path().join("directory.json");
        let mut dir: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        edit(&mut dir);
        std::fs::write(&path, dir.to_string()).unwrap();
    }

    pub async fn target_user(&self, user_name: &str) -> Option<Value> {
        let res = self.app.list("/Users", &[("filter", &format!("userName eq \"{user_name}\""))]).await;
        assert_eq!(res.status, 200, "{}", res.body);
        res.body["Resources"].as_array().and_then(|r| r.first().cloned())
    }

    pub async fn target_group(&self, name: &str) -> Option<Value> {
        let res = self.app.list("/Groups", &[("filter", &format!("displayName eq \"{name}\""))]).await;
        res.body["Resources"].as_array().and_then(|r| r.first().cloned())
    }

    pub async fn total(&self, path: &str) -> u64 {
        self.app.list(path, &[("count", "0")]).await.body["totalResults"].as_u64().unwrap()
    }
}

pub fn user_of<'a>(dir: &'a mut Value, id: &str) -> &'a mut Value {
    dir["users"].as_array_mut().unwrap().iter_mut().find(|u| u["objectId"] == id).unwrap()
}

/// Returns once the engine's client has made its first exchange (a signal for tests that
/// act in the middle of a cycle); fails after 30 s.
pub async fn first_exchange(client: &ScimClient) {
    let made = async {
        while client.exchange_count() == 0 {
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(30), made)
        .await
        .expect("the engine's first request comes back (is the engine keeping its exchanges?)");
}

pub fn writes(exchanges: &[Exchange]) -> Vec<String> {
    exchanges
        .iter()
        .filter(|x| x.method != "GET")
        .map(|x| format!("{} {}", x.method, x.url.rsplit("/scim/v2").next().unwrap_or("")))
        .collect()
}

pub fn member_ids(group: &Value) -> Vec<String> {
    let mut ids: Vec<String> =
        group["members"].as_array().into_iter().flatten().map(|m| m["value"].as_str().unwrap().to_string()).collect();
    ids.sort();
    ids
}

/// Every processed object is counted in exactly one outcome.
#[track_caller]
pub fn assert_counts_add_up(r: &scimlab::provision::CycleReport) {
    assert_eq!(
        r.processed,
        r.created + r.updated + r.disabled + r.deleted + r.skipped + r.failed,
        "the outcomes add up to the processed objects: {r:?}"
    );
}

impl Lab {
    /// One cycle of a fresh engine on the persistent state, its counts checked.
    pub async fn cycle(&self) -> scimlab::provision::CycleReport {
        let report = self.engine().run_cycle(&scimlab::provision::NoProgress).await.expect("the cycle runs");
        assert_counts_add_up(&report);
        report
    }

    /// Replaces the server's fault plan.
    pub async fn faults(&self, plan: Value) {
        let res = self.app.admin(reqwest::Method::PUT, "/admin/faults", Some(&plan)).await;
        assert_eq!(res.status().as_u16(), 200, "{}", res.text().await.unwrap_or_default());
    }
}
