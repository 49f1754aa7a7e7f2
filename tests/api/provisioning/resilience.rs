//! The engine when the target misbehaves (faults injected by the scimlab server itself):
//! retries, 429 holds, timeouts, conflicts, escrow, quarantine, pause/resume, webhooks; and
//! what a failing connection test, a failing expression and a running cycle's status show.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, HttpResponse};
use serde_json::{json, Value};

use scimlab::provision::health::QuarantineReason;
use scimlab::provision::health::RunState;
use scimlab::provision::log::Status;
use scimlab::provision::NoProgress;

use super::*;
use crate::helpers::user_body;

/// Fast retries so the tests stay quick.
fn fast_retries(spec: &mut JobSpec) {
    spec.options.retry.base_delay_ms = 10;
    spec.options.retry.max_delay_ms = 50;
}

/// Only Alice and Bob (the Eng group), no groups provisioned: two creates per cycle.
fn two_users(spec: &mut JobSpec) {
    fast_retries(spec);
    spec.assignments.users.clear();
    spec.groups = Some(scimlab::provision::job::ObjectMapping {
        enabled: false,
        ..scimlab::provision::job::default_group_mapping()
    });
}

fn statuses_of(exchanges: &[Exchange], method: &str) -> Vec<u16> {
    exchanges.iter().filter(|x| x.method == method).map(|x| x.status).collect()
}

pub use crate::stub::Stub;

/// A webhook receiver on 127.0.0.1:0 that keeps every JSON body it is sent.
struct Sink {
    url: String,
    events: Arc<Mutex<Vec<Value>>>,
    _server: Stub,
}

impl Sink {
    fn start() -> Sink {
        let events = Arc::new(Mutex::new(Vec::new()));
        let store = events.clone();
        let server = Stub::start(1, move |cfg| {
            let store = store.clone();
            cfg.route(
                "/hook",
                web::post().to(move |body: web::Json<Value>| {
                    let store = store.clone();
                    async move {
                        store.lock().unwrap().push(body.into_inner());
                        HttpResponse::NoContent().finish()
                    }
                }),
            );
        });
        Sink { url: format!("{}/hook", server.address), events, _server: server }
    }

    fn names(&self) -> Vec<String> {
        self.events.lock().unwrap().iter().map(|e| e["event"].as_str().unwrap_or("").to_string()).collect()
    }
}

#[actix_web::test]
async fn a_429_holds_the_job_for_retry_after_then_succeeds() {
    let lab = Lab::with(two_users).await;
    lab.faults(
        json!({"rules": [{"method": "POST", "path": "/Users", "times": 1, "status": 429, "retryAfterSeconds": 1}]}),
    )
    .await;
    let mut engine = lab.engine();
    let started = Instant::now();
    let report = engine.run_cycle(&NoProgress).await.unwrap();
    super::assert_counts_add_up(&report);
    assert_eq!((report.created, report.failed), (2, 0), "{report:?}");
    assert!(started.elapsed() >= Duration::from_secs(1), "Retry-After was honoured");
    let posts = statuses_of(&engine.client().take_exchanges(), "POST");
    assert_eq!(posts.iter().filter(|s| **s == 429).count(), 1, "{posts:?}");
    assert_eq!(lab.total("/Users").await, 2, "no duplicate from the retried POST");
}

#[actix_web::test]
async fn a_burst_of_5xx_is_retried_with_backoff_and_nothing_is_lost() {
    let lab = Lab::with(two_users).await;
    lab.faults(json!({"rules": [{"method": "POST", "path": "/Users", "times": 2, "status": 503}]})).await;
    let mut engine = lab.engine();
    let report = engine.run_cycle(&NoProgress).await.unwrap();
    super::assert_counts_add_up(&report);
    assert_eq!((report.created, report.failed), (2, 0), "{report:?}");
    let posts = statuses_of(&engine.client().take_exchanges(), "POST");
    assert_eq!(posts.iter().filter(|s| **s == 503).count(), 2, "{posts:?}");
    assert_eq!(lab.total("/Users").await, 2);
}

#[actix_web::test]
async fn a_400_is_not_retried_and_the_object_is_escrowed_with_the_scim_detail() {
    // One at a time, so the first POST (Alice, the manager) is the one refused.
    let lab = Lab::with(|s| {
        two_users(s);
        s.options.concurrency = 1;
    })
    .await;
    lab.faults(json!({"rules": [{"method": "POST", "path": "/Users", "times": 1, "status": 400}]})).await;
    let mut engine = lab.engine();
    let report = engine.run_cycle(&NoProgress).await.unwrap();
    super::assert_counts_add_up(&report);
    // Alice's create fails; Bob, created, cannot get his manager yet: a reference failure.
    assert_eq!((report.created, report.failed, report.reference_failed), (1, 1, 1), "{report:?}");
    assert_eq!(report.unresolved_references, 1);
    let posts = statuses_of(&engine.client().take_exchanges(), "POST");
    assert_eq!(posts, [400, 201], "one attempt for the 400");
    let failure = engine.state().logs().unwrap().into_iter().find(|l| l.status == Status::Failure).unwrap();
    let info = failure.error_information.unwrap();
    assert_eq!(info.error_code, "SystemForCrossDomainIdentityManagementBadRequest");
    assert!(info.reason.contains("injected fault"), "the server's detail is kept: {}", info.reason);
    assert_eq!(engine.status().unwrap().escrowed, 2, "Alice's create and Bob's manager reference");

    // The next cycle retries both: Alice is created, then Bob's manager is linked.
    let report = engine.run_cycle(&NoProgress).await.unwrap();
    super::assert_counts_add_up(&report);
    assert_eq!((report.processed, report.created, report.skipped, report.failed), (2, 1, 1, 0), "{report:?}");
    assert_eq!(report.references_updated, 1, "Bob's manager PATCH, counted as a reference: {report:?}");
    assert_eq!(engine.status().unwrap().escrowed, 0);
    assert_eq!(lab.total("/Users").await, 2);
}

#[actix_web::test]
async fn a_timed_out_create_is_retried_without_a_duplicate() {
    let lab = Lab::with(|s| {
        two_users(s);
        s.target.timeout_seconds = 1;
    })
    .await;
    // The first POST hangs past the client's timeout and is never served.
    lab.faults(json!({"rules": [{"method": "POST", "path": "/Users", "times": 1, "hangSeconds": 3}]})).await;
    let mut engine = lab.engine();
    let report = engine.run_cycle(&NoProgress).await.unwrap();
    super::assert_counts_add_up(&report);
    assert_eq!((report.created, report.failed), (2, 0), "{report:?}");
    assert_eq!(lab.total("/Users").await, 2);
}

#[actix_web::test]
async fn a_409_on_create_leads_to_a_rematch_not_a_duplicate() {
    let lab = Lab::with(|s| {
        two_users(s);
        s.assignments.groups.clear();
        s.assignments.users = vec![ALICE.into()];
    })
    .await;
    // The engine's create of Alice is held for 600 ms; meanwhile someone else creates her
    // through /Bulk (which the fault rule does not touch), as soon as the engine's matching
    // query has come back empty: a signal, not a guess at a duration.
    lab.faults(json!({"rules": [{"method": "POST", "path": "/Users", "times": 1, "latencyMs": 600}]})).await;
    let mut engine = lab.engine();
    let client = engine.client().clone();
    let cycle = async { engine.run_cycle(&NoProgress).await.unwrap() };
    let racer = async {
        first_exchange(&client).await;
        let bulk = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "racer", "data": user_body("alice.ångström@contoso.com")}]});
        let res = lab.app.post("/Bulk", bulk).await;
        assert_eq!(res.body["Operations"][0]["status"], "201", "{}", res.body);
        let id = res.body["Operations"][0]["location"].as_str().unwrap().rsplit('/').next().unwrap().to_string();
        json!({"id": id})
    };
    let (report, existing) = tokio::join!(cycle, racer);
    assert_eq!(report.failed, 0, "{report:?}");
    assert_eq!(lab.total("/Users").await, 1, "never a duplicate");
    let link = engine.state().link(scimlab::provision::state::ObjectKind::User, ALICE).unwrap().unwrap();
    assert_eq!(link.target_id, existing["id"].as_str().unwrap(), "the engine adopted the existing user");
    let alice = lab.target_user("alice.ångström@contoso.com").await.unwrap();
    assert_eq!(alice["title"], json!("Lead"), "and brought it up to date");
}

#[actix_web::test]
async fn unreachable_target_quarantines_and_notifies() {
    let sink = Sink::start();
    let unused = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let lab = Lab::with(|s| {
        two_users(s);
        s.options.retry.max_attempts = 2;
        s.options.webhook_url = Some(sink.url.clone());
        s.target.url = format!("http://127.0.0.1:{unused}/scim/v2");
    })
    .await;
    let mut engine = lab.engine();
    let report = engine.run_cycle(&NoProgress).await.unwrap();
    super::assert_counts_add_up(&report);
    assert_eq!(report.failed, 2, "{report:?}");
    let status = engine.status().unwrap();
    assert_eq!(status.state, RunState::Quarantine);
    let q = status.quarantine.unwrap();
    assert_eq!(q.reason, QuarantineReason::EncounteredQuarantineException);
    assert!(q.detail.contains("WebExceptionProtocolError"), "{}", q.detail);
    assert_eq!(sink.names(), ["quarantine"]);
    let delay = engine.next_delay().unwrap();
    assert!(delay > Duration::from_secs(5 * 3600), "the next cycle waits for the 6 h schedule: {delay:?}");
}

#[actix_web::test]
async fn failure_rate_quarantine_is_lifted_by_a_successful_cycle() {
    let sink = Sink::start();
    let lab = Lab::with(|s| {
        two_users(s);
        s.options.retry.max_attempts = 1;
        s.options.webhook_url = Some(sink.url.clone());
        s.options.quarantine.min_failures = 1;
        s.options.quarantine.time_scale = 3600.0 * 6.0; // the 6 h step takes a second
    })
    .await;
    lab.faults(json!({"rules": [{"method": "POST", "path": "/Users", "status": 500}]})).await;
    let mut engine = lab.engine();
    engine.run_cycle(&NoProgress).await.unwrap();
    let status = engine.status().unwrap();
    assert_eq!(status.state, RunState::Quarantine);
    assert_eq!(status.quarantine.as_ref().unwrap().reason, QuarantineReason::EncounteredEscrowProportionThreshold);
    assert_eq!(status.escrowed, 2);
    assert!(engine.next_delay().unwrap() <= Duration::from_secs(1));

    lab.faults(json!({"rules": []})).await;
    let report = engine.run_cycle(&NoProgress).await.unwrap();
    super::assert_counts_add_up(&report);
    assert_eq!((report.created, report.failed), (2, 0), "{report:?}");
    let status = engine.status().unwrap();
    assert_eq!((status.state, status.escrowed, status.steady_state), (RunState::Active, 0, true));
    assert_eq!(sink.names(), ["quarantine", "quarantineLifted"]);
}

#[actix_web::test]
async fn deletion_threshold_stop_is_a_quarantine_with_a_notification() {
    let sink = Sink::start();
    let lab = Lab::with(|s| {
        two_users(s);
        s.options.deletion_threshold = 1;
        s.options.webhook_url = Some(sink.url.clone());
    })
    .await;
    let mut engine = lab.engine();
    engine.run_cycle(&NoProgress).await.unwrap();
    lab.edit_directory(|d| d["groups"][0]["members"] = json!([]));
    engine.run_cycle(&NoProgress).await.unwrap();
    let status = engine.status().unwrap();
    assert_eq!(status.quarantine.unwrap().reason, QuarantineReason::TooManyDeletes);
    assert_eq!(sink.names(), ["deletionThresholdExceeded"]);
    engine.allow_deletions().unwrap();
    assert_eq!(engine.next_delay().unwrap(), Duration::from_secs(engine.job().spec.options.interval_seconds));
    let report = engine.run_cycle(&NoProgress).await.unwrap();
    super::assert_counts_add_up(&report);
    assert_eq!(report.disabled, 2, "{report:?}");
    assert_eq!(engine.status().unwrap().state, RunState::Active);
}

#[actix_web::test]
async fn pause_stops_all_requests_and_resume_continues_the_same_cycle() {
    let lab = Lab::with(|s| {
        two_users(s);
        s.options.concurrency = 1;
    })
    .await;
    // Every user request takes 150 ms: the cycle's four requests take about 600 ms.
    lab.faults(json!({"rules": [{"path": "/Users", "latencyMs": 150}]})).await;
    let mut engine = lab.engine();
    let client = engine.client().clone();
    let pauser = async {
        // Pause once the cycle has sent its first request.
        first_exchange(&client).await;
        client.gate.pause();
        // The request in flight finishes; the cycle's next request then waits at the gate.
        // That waiter is the signal: from here on nothing can be sent until resume.
        let held = tokio::time::timeout(Duration::from_secs(10), async {
            while client.gate.waiting() == 0 {
                tokio::task::yield_now().await;
            }
        })
        .await;
        assert!(held.is_ok(), "the cycle's next request never reached the paused gate");
        let settled = client.exchange_count();
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        let later = client.exchange_count();
        assert!(client.gate.waiting() > 0, "still held at the gate");
        client.gate.resume();
        (settled, later)
    };
    let cycle = async { engine.run_cycle(&NoProgress).await.unwrap() };
    let (report, (settled, later)) = tokio::join!(cycle, pauser);
    assert_eq!(settled, later, "no request while paused");
    assert!(settled < 4, "paused before the cycle's last request ({settled} sent)");
    assert_eq!((report.created, report.failed), (2, 0), "the same cycle finished after resume: {report:?}");
    assert_eq!(client.exchange_count(), 4);
}

#[actix_web::test]
async fn a_paused_job_runs_no_cycle_until_resumed() {
    let lab = Lab::with(two_users).await;
    let mut engine = lab.engine();
    engine.pause().unwrap();
    assert_eq!(engine.status().unwrap().state, RunState::Paused);
    let err = engine.run_cycle(&NoProgress).await.unwrap_err();
    assert!(err.to_string().contains("paused"), "{err}");
    assert_eq!(lab.total("/Users").await, 0);
    engine.resume().unwrap();
    assert_eq!(engine.run_cycle(&NoProgress).await.unwrap().created, 2);
}

/// A bare SCIM target that answers lookups with nothing and creates with a new id, and
/// records the most requests it ever had in flight at once. Until `open_at` requests have
/// been in flight together, each request is held: the bound is shown to be reached by that
/// signal, not by a delay that hopes requests overlap.
struct CountingTarget {
    url: String,
    max_in_flight: Arc<std::sync::atomic::AtomicUsize>,
    gate: Arc<Gate>,
    _server: Stub,
}

/// Holds requests until `open_at` are in flight together; then lets every request through.
#[derive(Default)]
struct Gate {
    open_at: std::sync::atomic::AtomicUsize,
    opened: std::sync::atomic::AtomicBool,
    notify: tokio::sync::Notify,
}

impl Gate {
    fn reset(&self, open_at: usize) {
        self.open_at.store(open_at, std::sync::atomic::Ordering::SeqCst);
        self.opened.store(false, std::sync::atomic::Ordering::SeqCst);
    }

    async fn pass(&self, in_flight: usize) {
        use std::sync::atomic::Ordering;
        if in_flight >= self.open_at.load(Ordering::SeqCst) {
            self.opened.store(true, Ordering::SeqCst);
            self.notify.notify_waiters();
        }
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.opened.load(Ordering::SeqCst) {
                return;
            }
            notified.await;
        }
    }
}

impl CountingTarget {
    fn start() -> CountingTarget {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let in_flight = Arc::new(AtomicUsize::new(0));
        let max_in_flight = Arc::new(AtomicUsize::new(0));
        let gate = Arc::new(Gate::default());
        let (now, max, held) = (in_flight.clone(), max_in_flight.clone(), gate.clone());
        let server = Stub::start(2, move |cfg| {
            let (now, max, held) = (now.clone(), max.clone(), held.clone());
            cfg.default_service(web::to(move |req: actix_web::HttpRequest| {
                let (now, max, held) = (now.clone(), max.clone(), held.clone());
                async move {
                    let current = now.fetch_add(1, Ordering::SeqCst) + 1;
                    max.fetch_max(current, Ordering::SeqCst);
                    held.pass(current).await;
                    now.fetch_sub(1, Ordering::SeqCst);
                    if req.method() == actix_web::http::Method::POST {
                        HttpResponse::Created().json(json!({"id": uuid::Uuid::new_v4().to_string()}))
                    } else {
                        HttpResponse::Ok().json(json!({"totalResults": 0, "Resources": []}))
                    }
                }
            }));
        });
        CountingTarget { url: format!("{}/scim/v2", server.address), max_in_flight, gate, _server: server }
    }
}

#[actix_web::test]
async fn requests_in_flight_never_exceed_the_configured_concurrency() {
    let target = CountingTarget::start();
    let dir = tempfile::tempdir().unwrap();
    let users: Vec<Value> =
        (0..12).map(|i| person(&format!("u-{i}"), &format!("User{i}"), "Load", "Engineer")).collect();
    std::fs::write(dir.path().join("directory.json"), json!({"users": users, "groups": []}).to_string()).unwrap();
    for concurrency in [1usize, 3] {
        let spec: JobSpec = serde_json::from_value(json!({
            "name": format!("bounded-{concurrency}"),
            "target": {"url": target.url, "token": "t"},
            "source": {"directory": "directory.json"},
            "scope": "all",
            "options": {"concurrency": concurrency}
        }))
        .unwrap();
        target.max_in_flight.store(0, std::sync::atomic::Ordering::SeqCst);
        target.gate.reset(concurrency);
        let job = Job::from_spec(spec, dir.path().to_path_buf()).unwrap();
        let mut engine = Engine::new(job, JobState::temporary().unwrap(), Arc::new(SystemClock), 1).unwrap();
        // A cycle that never reaches the bound would be held at the gate: fail, not hang.
        let cycle = tokio::time::timeout(Duration::from_secs(30), engine.run_cycle(&NoProgress)).await;
        let report = cycle.unwrap_or_else(|_| panic!("the cycle never had {concurrency} requests in flight at once"));
        let report = report.unwrap();
        super::assert_counts_add_up(&report);
        assert_eq!(report.created, 12, "{report:?}");
        let max = target.max_in_flight.load(std::sync::atomic::Ordering::SeqCst);
        assert_eq!(max, concurrency, "at most {concurrency} requests in flight, and the bound is used");
    }
}

#[actix_web::test]
async fn oauth_client_credentials_fetch_the_bearer_token() {
    // A token endpoint that checks the grant and hands out the SCIM server's token.
    let grants = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = grants.clone();
    let token_server = Stub::start(1, move |cfg| {
        let seen = seen.clone();
        cfg.route(
            "/token",
            web::post().to(move |form: web::Form<std::collections::HashMap<String, String>>| {
                let seen = seen.clone();
                async move {
                    seen.lock().unwrap().push(format!("{}:{}", form["grant_type"], form["client_id"]));
                    if form.get("client_secret").map(String::as_str) != Some("s3cret") {
                        return HttpResponse::Unauthorized().json(json!({"error": "invalid_client"}));
                    }
                    HttpResponse::Ok().json(
                        json!({"access_token": crate::helpers::TOKEN, "token_type": "Bearer", "expires_in": 3600}),
                    )
                }
            }),
        );
    });
    let token_url = format!("{}/token", token_server.address);

    let lab = Lab::with(|s| {
        two_users(s);
        s.target.token = None;
        s.target.oauth = Some(
            serde_json::from_value(json!({"tokenUrl": token_url, "clientId": "scimlab", "clientSecret": "s3cret"}))
                .unwrap(),
        );
    })
    .await;
    let report = lab.cycle().await;
    assert_eq!((report.created, report.failed), (2, 0), "{report:?}");
    assert_eq!(grants.lock().unwrap().as_slice(), ["client_credentials:scimlab"], "one token request, then reused");

    let mut wrong = lab.spec.clone();
    wrong.target.oauth.as_mut().unwrap().client_secret = "nope".into();
    let job = Job::from_spec(wrong, lab.dir.path().to_path_buf()).unwrap();
    let mut engine = Engine::new(job, JobState::temporary().unwrap(), Arc::new(SystemClock), 1).unwrap();
    let err = engine.test_connection().await.unwrap_err().to_string();
    assert!(err.contains("access_token"), "{err}");
    drop(token_server);
}

#[actix_web::test]
async fn manager_references_held_up_by_an_escrowed_create_are_linked_in_a_later_cycle() {
    // u00 manages u01..u09 and u10 manages u11..u19.
    let users: Vec<Value> = (0..20)
        .map(|i| {
            let mut p = super::person(&format!("u{i:02}"), &format!("First{i:02}"), "Staff", "Engineer");
            if i % 10 != 0 {
                p["manager"] = json!(format!("u{:02}", i - i % 10));
            }
            p
        })
        .collect();
    let lab = Lab::with(|s| {
        s.scope = scimlab::provision::job::ScopeMode::All;
        s.options.concurrency = 1;
        s.options.retry.max_attempts = 1;
    })
    .await;
    lab.edit_directory(|d| {
        d["users"] = json!(users);
        d["groups"] = json!([]);
    });
    // The first create (a manager: managers go first) fails and is escrowed.
    lab.faults(json!({"rules": [{"method": "POST", "path": "/Users", "times": 1, "status": 503}]})).await;
    let first = lab.cycle().await;
    assert_eq!(first.created, 19, "{first:?}");
    assert_eq!(first.unresolved_references, 9, "{first:?}");
    assert!(scimlab::provision::engine::summary(&first).contains("9 manager references unresolved"));

    lab.faults(json!({"rules": []})).await;
    let second = lab.cycle().await;
    assert_eq!((second.created, second.unresolved_references, second.failed), (1, 0, 0), "{second:?}");
    let third = lab.cycle().await;
    assert_eq!((third.processed, third.failed), (0, 0), "nothing left to do: {third:?}");

    let listed = lab.app.list("/Users", &[("count", "100")]).await.body;
    let by_name =
        |name: &str| listed["Resources"].as_array().unwrap().iter().find(|u| u["userName"] == name).unwrap().clone();
    for i in (0..20).filter(|i| i % 10 != 0) {
        let report = by_name(&format!("first{i:02}.staff@contoso.com"));
        let boss = by_name(&format!("first{:02}.staff@contoso.com", i - i % 10));
        let manager = &report[super::super::helpers::ENTERPRISE_URN]["manager"]["value"];
        assert_eq!(manager, &boss["id"], "u{i:02} is linked to its manager");
    }
}

#[actix_web::test]
async fn test_connection_queries_a_user_and_a_group_and_a_404_on_queries_quarantines() {
    let lab = Lab::new().await;
    let message = lab.engine().test_connection().await.unwrap();
    assert!(message.contains("/Users?filter=") && message.contains("/Groups?filter="), "{message}");
    let res = lab.app.admin(reqwest::Method::GET, "/admin/requests?method=GET&path=/Groups", None).await;
    let recorded: Value = res.json().await.unwrap();
    let group_probe = &recorded["requests"][0];
    assert!(group_probe["query"].as_str().unwrap().contains("displayName"), "{group_probe}");

    // Every filter query answers 404: not "objects not found" but a non-compliant endpoint.
    lab.faults(json!({"rules": [{"method": "GET", "path": "/Users", "status": 404}]})).await;
    let mut engine = lab.engine();
    let report = engine.run_cycle(&NoProgress).await.unwrap();
    super::assert_counts_add_up(&report);
    assert!(
        report.failure_codes.contains_key("SystemForCrossDomainIdentityManagementServiceIncompatible"),
        "{report:?}"
    );
    assert!(!report.failure_codes.contains_key("InvalidAnchor"), "{report:?}");
    let status = engine.status().unwrap();
    assert_eq!(status.state, RunState::Quarantine, "{status:?}");
    assert_eq!(status.quarantine.unwrap().reason, QuarantineReason::EncounteredQuarantineException);
}

#[actix_web::test]
async fn a_failing_expression_fails_the_object_naming_the_mapping_and_function() {
    let lab = Lab::with(|s| {
        let mut users = scimlab::provision::job::default_user_mapping();
        users.attribute_mappings.retain(|m| m.target_attribute_name != "title");
        users.attribute_mappings.push(
            serde_json::from_value(json!({"targetAttributeName": "title", "source": "CDate(\"not a date\")"})).unwrap(),
        );
        s.users = Some(users);
    })
    .await;
    let mut engine = lab.engine();
    let report = engine.run_cycle(&NoProgress).await.unwrap();
    super::assert_counts_add_up(&report);
    assert_eq!(report.failed, 2, "{report:?}");
    assert_eq!(lab.total("/Users").await, 0, "nobody is created with a silently missing title");
    assert!(report.failure_codes.contains_key("ExpressionEvaluationFailed"), "{report:?}");
    let failure = engine.state().logs().unwrap().into_iter().find(|l| l.status == Status::Failure).unwrap();
    let reason = failure.error_information.unwrap().reason;
    assert!(reason.contains("'title'") && reason.contains("CDate") && reason.contains("column"), "{reason}");
}

#[actix_web::test]
async fn status_shows_the_running_cycles_progress_and_statistics_to_date() {
    let lab = Lab::with(fast_retries).await;
    // Slow creates, so the cycle is observably under way.
    lab.faults(json!({"rules": [{"method": "POST", "path": "/Users", "latencyMs": 150}]})).await;
    let mut engine = lab.engine();
    let control = engine.control();
    let job = engine.job().clone();
    let cycle = actix_web::rt::spawn(async move { engine.run_cycle(&NoProgress).await.map(|_| ()) });
    let seen = crate::helpers::poll(Duration::from_secs(10), || {
        let progress = control.status(&job).unwrap().progress;
        async move { progress.ok_or(()) }
    })
    .await;
    let running = seen.expect("progress is visible while the cycle runs");
    assert!(running.total >= 3 && running.percent <= 100, "{running:?}");
    cycle.await.unwrap().unwrap();
    let status = control.status(&job).unwrap();
    assert_eq!(status.progress, None, "no progress between cycles");
    assert_eq!((status.statistics.cycles, status.statistics.created), (1, 3), "{:?}", status.statistics);
    assert!(status.steady_state_at.is_some() && status.last_successful_cycle_at.is_some(), "{status:?}");
    drop(control);
    lab.cycle().await;
    assert_eq!(lab.engine().status().unwrap().statistics.cycles, 2, "statistics survive a new process");
}
