//! Cycles: create, match, update, disable, delete, references, scoping, restart, on-demand.

use std::sync::Arc;

use serde_json::json;

use scimlab::clock::FixedClock;
use scimlab::provision::job::{JobSpec, Options};
use scimlab::provision::log::{Action, Status};
use scimlab::provision::state::ObjectKind;
use scimlab::provision::{Engine, Job, JobState, NoProgress};

use super::*;
use crate::helpers::{id_of, spawn_app, user_body, ENTERPRISE_URN, TOKEN};

#[actix_web::test]
async fn initial_cycle_creates_assigned_users_groups_members_and_manager() {
    let lab = Lab::new().await;
    let mut engine = lab.engine();
    let report = engine.run_cycle(&NoProgress).await.expect("cycle runs");
    assert!(report.initial);
    assert_eq!((report.created, report.failed), (3, 0), "{report:?}");

    let alice = lab.target_user("alice.ångström@contoso.com").await.expect("alice created");
    let bob = lab.target_user("bob.builder@contoso.com").await.expect("bob created");
    assert!(lab.target_user("carol.côté@contoso.com").await.is_none(), "a disabled source user is not created");
    assert!(lab.target_user("dave.doe@contoso.com").await.is_none(), "an unassigned user is not created");
    assert_eq!(alice["active"], json!(true));
    assert_eq!(alice["title"], json!("Lead"));
    assert_eq!(alice["name"]["familyName"], json!("Ångström"));
    assert_eq!(alice["emails"][0]["value"], json!("alice.ångström@contoso.com"));
    assert_eq!(alice["emails"][0]["type"], json!("work"));
    assert_eq!(alice["externalId"], json!("alice"));
    assert_eq!(bob[ENTERPRISE_URN]["manager"]["value"], json!(id_of(&alice)), "manager resolved to alice's target id");

    let group = lab.target_group("Eng").await.expect("group created");
    let full = lab.app.get(&format!("/Groups/{}", id_of(&group))).await.body;
    let mut expected = vec![id_of(&alice), id_of(&bob)];
    expected.sort();
    assert_eq!(member_ids(&full), expected);
    assert_eq!(full["externalId"], json!(ENG));

    // Every user was looked up by its matching attribute before being created (§1.4.1).
    let exchanges = engine.client().take_exchanges();
    let lookup = exchanges
        .iter()
        .position(|x| x.method == "GET" && x.url.contains("filter=userName+eq+%22alice"))
        .expect("lookup sent");
    let create = exchanges
        .iter()
        .position(|x| x.method == "POST" && x.request.as_ref().unwrap()["userName"] == "alice.ångström@contoso.com")
        .expect("create sent");
    assert!(lookup < create);
    let body = exchanges[create].request.clone().unwrap();
    assert_eq!(body["schemas"][0], json!("urn:ietf:params:scim:schemas:core:2.0:User"));
    assert_eq!(body["active"], json!(true), "create sends a real boolean");
}

#[actix_web::test]
async fn existing_target_user_is_matched_and_updated_not_duplicated() {
    let lab = Lab::new().await;
    let mut existing = user_body("alice.ångström@contoso.com");
    existing["title"] = json!("Old title");
    let existing = lab.app.post("/Users", existing).await.body;

    let mut engine = lab.engine();
    let report = engine.run_cycle(&NoProgress).await.unwrap();
    super::assert_counts_add_up(&report);
    assert_eq!(report.created, 2, "bob and the group are created, alice is matched: {report:?}");

    let alice = lab.target_user("alice.ångström@contoso.com").await.unwrap();
    assert_eq!(id_of(&alice), id_of(&existing), "the matched user keeps its id");
    assert_eq!(alice["title"], json!("Lead"));
    let link = engine.state().link(ObjectKind::User, ALICE).unwrap().expect("linked");
    assert!(!link.created, "the link records that the user was matched, not created");

    let patch = engine
        .client()
        .take_exchanges()
        .into_iter()
        .find(|x| x.method == "PATCH" && x.url.ends_with(&id_of(&existing)))
        .expect("alice was patched");
    let ops = patch.request.unwrap()["Operations"].clone();
    assert!(
        ops.as_array().unwrap().iter().any(|o| o["op"] == "Replace" && o["path"] == "title" && o["value"] == "Lead"),
        "Entra's legacy PATCH shape: {ops}"
    );
}

#[actix_web::test]
async fn incremental_cycle_touches_only_changed_objects() {
    let lab = Lab::new().await;
    let mut engine = lab.engine();
    engine.run_cycle(&NoProgress).await.unwrap();
    engine.client().take_exchanges();

    let unchanged = engine.run_cycle(&NoProgress).await.unwrap();
    super::assert_counts_add_up(&unchanged);
    assert!(!unchanged.initial);
    assert_eq!(unchanged.processed, 0, "{unchanged:?}");
    assert!(engine.client().take_exchanges().is_empty(), "no request when nothing changed");

    lab.edit_directory(|d| user_of(d, BOB)["jobTitle"] = json!("Staff Engineer"));
    let report = engine.run_cycle(&NoProgress).await.unwrap();
    super::assert_counts_add_up(&report);
    assert_eq!((report.processed, report.updated), (1, 1), "{report:?}");
    let bob = lab.target_user("bob.builder@contoso.com").await.unwrap();
    assert_eq!(bob["title"], json!("Staff Engineer"));
    assert_eq!(writes(&engine.client().take_exchanges()), vec![format!("PATCH /Users/{}", id_of(&bob))]);
}

#[actix_web::test]
async fn leaving_scope_disables_deleting_deletes_and_membership_follows() {
    let lab = Lab::new().await;
    let mut engine = lab.engine();
    engine.run_cycle(&NoProgress).await.unwrap();
    engine.client().take_exchanges();
    let alice = lab.target_user("alice.ångström@contoso.com").await.unwrap();
    let bob = lab.target_user("bob.builder@contoso.com").await.unwrap();

    // Bob leaves the assigned group (so leaves scope); Alice is deleted from the directory.
    lab.edit_directory(|d| {
        d["groups"][0]["members"] = json!([ALICE]);
        d["users"].as_array_mut().unwrap().retain(|u| u["objectId"] != ALICE);
    });
    let report = engine.run_cycle(&NoProgress).await.unwrap();
    super::assert_counts_add_up(&report);
    assert_eq!((report.disabled, report.deleted, report.failed), (1, 1, 0), "{report:?}");

    let bob_now = lab.app.get(&format!("/Users/{}", id_of(&bob))).await;
    assert_eq!(bob_now.body["active"], json!(false), "out of scope → active false, not deleted");
    assert_eq!(lab.app.get(&format!("/Users/{}", id_of(&alice))).await.status, 404, "hard delete → DELETE");
    let group = lab.target_group("Eng").await.unwrap();
    let full = lab.app.get(&format!("/Groups/{}", id_of(&group))).await.body;
    assert!(member_ids(&full).is_empty(), "neither member is left: {full}");

    let exchanges = engine.client().take_exchanges();
    let disable = exchanges.iter().find(|x| x.method == "PATCH" && x.url.ends_with(&id_of(&bob))).unwrap();
    assert_eq!(
        disable.request.as_ref().unwrap()["Operations"],
        json!([{"op": "Replace", "path": "active", "value": "False"}]),
        "the disable is sent as Entra sends it without aadOptscim062020"
    );

    // Bob comes back into scope: re-enabled, not re-created.
    lab.edit_directory(|d| d["groups"][0]["members"] = json!([BOB]));
    let report = engine.run_cycle(&NoProgress).await.unwrap();
    super::assert_counts_add_up(&report);
    assert_eq!(report.created, 0, "{report:?}");
    assert_eq!(lab.app.get(&format!("/Users/{}", id_of(&bob))).await.body["active"], json!(true));
    let full = lab.app.get(&format!("/Groups/{}", id_of(&group))).await.body;
    assert_eq!(member_ids(&full), vec![id_of(&bob)]);
}

#[actix_web::test]
async fn compliant_mode_sends_rfc_shapes_for_members() {
    let lab = Lab::with(|s| s.options.aad_opt_scim_062020 = true).await;
    let mut engine = lab.engine();
    engine.run_cycle(&NoProgress).await.unwrap();
    let bob = lab.target_user("bob.builder@contoso.com").await.unwrap();
    engine.client().take_exchanges();

    lab.edit_directory(|d| d["groups"][0]["members"] = json!([ALICE, CAROL]));
    engine.run_cycle(&NoProgress).await.unwrap();
    let exchanges = engine.client().take_exchanges();
    let member_patch =
        exchanges.iter().find(|x| x.method == "PATCH" && x.url.contains("/Groups/")).expect("membership change sent");
    let ops = &member_patch.request.as_ref().unwrap()["Operations"];
    assert!(ops.as_array().unwrap().iter().all(|o| o["op"] == "remove" || o["op"] == "add"), "lower-case ops: {ops}");
    assert!(ops.to_string().contains(&id_of(&bob)), "bob is removed: {ops}");
    let disable = exchanges.iter().find(|x| x.method == "PATCH" && x.url.ends_with(&id_of(&bob))).unwrap();
    assert_eq!(
        disable.request.as_ref().unwrap()["Operations"],
        json!([{"op": "replace", "path": "active", "value": false}]),
        "aadOptscim062020 sends a real boolean"
    );
}

#[actix_web::test]
async fn a_new_engine_on_the_same_state_resumes_without_duplicates() {
    let lab = Lab::new().await;
    lab.cycle().await;
    assert_eq!(lab.total("/Users").await, 2);

    // A new process on the same state: incremental, nothing to do.
    let mut engine = lab.engine();
    let report = engine.run_cycle(&NoProgress).await.unwrap();
    super::assert_counts_add_up(&report);
    assert!(!report.initial);
    assert_eq!(report.processed, 0);

    // Restart keeps links: the initial cycle re-reads everything but creates nothing.
    engine.restart(false).unwrap();
    let report = engine.run_cycle(&NoProgress).await.unwrap();
    super::assert_counts_add_up(&report);
    assert!(report.initial);
    assert_eq!(report.created, 0, "{report:?}");

    // Restart with cleared state: objects are matched again by userName, never duplicated.
    engine.restart(true).unwrap();
    let report = engine.run_cycle(&NoProgress).await.unwrap();
    super::assert_counts_add_up(&report);
    assert_eq!((report.created, report.failed), (0, 0), "{report:?}");
    assert_eq!(lab.total("/Users").await, 2);
    assert_eq!(lab.total("/Groups").await, 1);
    assert!(engine.state().link(ObjectKind::User, BOB).unwrap().is_some(), "links rebuilt by matching");
}

#[actix_web::test]
async fn scoping_filters_keep_users_out_and_a_mapping_change_forces_a_full_cycle() {
    let lab = Lab::with(|s| {
        s.scope = scimlab::provision::job::ScopeMode::All;
        let mut users = scimlab::provision::job::default_user_mapping();
        users.scope = serde_json::from_value(json!([{
            "name": "Leads only",
            "clauses": [{"sourceOperandName": "jobTitle", "operatorName": "EQUALS", "targetOperand": {"values": ["Lead"]}}]
        }]))
        .unwrap();
        s.users = Some(users);
    })
    .await;
    let mut engine = lab.engine();
    let report = engine.run_cycle(&NoProgress).await.unwrap();
    super::assert_counts_add_up(&report);
    assert_eq!(lab.total("/Users").await, 1, "only alice passes the scoping filter: {report:?}");
    assert!(lab.target_user("alice.ångström@contoso.com").await.is_some());

    // Dave passes once the filter allows interns too; the changed job re-evaluates everyone.
    drop(engine);
    let mut lab = lab;
    let mut users = lab.spec.users.clone().unwrap();
    users.scope[0].clauses[0].operator_name = "REGEX MATCH".into();
    users.scope[0].clauses[0].target_operand.values = vec!["^(Lead|Intern)$".into()];
    lab.spec.users = Some(users);
    let mut engine = lab.engine();
    let report = engine.run_cycle(&NoProgress).await.unwrap();
    super::assert_counts_add_up(&report);
    assert!(report.initial, "a scoping change makes the next cycle a full one");
    assert!(lab.target_user("dave.doe@contoso.com").await.is_some(), "{report:?}");
}

#[actix_web::test]
async fn deletion_threshold_holds_removals_until_allowed() {
    let lab = Lab::with(|s| s.options = Options { deletion_threshold: 1, ..Options::default() }).await;
    let mut engine = lab.engine();
    engine.run_cycle(&NoProgress).await.unwrap();

    lab.edit_directory(|d| d["groups"][0]["members"] = json!([]));
    let report = engine.run_cycle(&NoProgress).await.unwrap();
    super::assert_counts_add_up(&report);
    assert_eq!((report.disabled, report.held_deletions), (0, 2), "{report:?}");
    let bob = lab.target_user("bob.builder@contoso.com").await.unwrap();
    assert_eq!(bob["active"], json!(true), "nothing disabled while held");

    engine.allow_deletions().unwrap();
    let report = engine.run_cycle(&NoProgress).await.unwrap();
    super::assert_counts_add_up(&report);
    assert_eq!(report.disabled, 2, "{report:?}");
    let bob = lab.target_user("bob.builder@contoso.com").await.unwrap();
    assert_eq!(bob["active"], json!(false));
}

#[actix_web::test]
async fn on_demand_shows_scope_attributes_and_the_exact_requests() {
    let lab = Lab::new().await;
    let mut engine = lab.engine();
    let trace = engine.provision_on_demand("alice.ångström@contoso.com").await.expect("on-demand runs");
    assert_eq!((trace.action, trace.result), (Action::Create, Status::Success));
    assert!(trace.scope.in_scope() && trace.scope.assigned);
    let user_name = trace.attributes.iter().find(|a| a.target == "userName").unwrap();
    assert_eq!(user_name.expression.as_deref(), Some("[userPrincipalName]"));
    assert_eq!(user_name.value, Some(json!("alice.ångström@contoso.com")));
    let steps: Vec<&str> = trace.log.provisioning_steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        steps,
        ["EntryImport", "EntrySynchronizationScoping", "EntryImport", "EntrySynchronizationAdd", "EntryExportAdd"]
    );
    let methods: Vec<&str> = trace.exchanges.iter().map(|x| x.method.as_str()).collect();
    assert_eq!(methods, ["GET", "POST"]);
    assert_eq!(trace.exchanges[1].status, 201);

    let carol = engine.provision_on_demand(CAROL).await.unwrap();
    assert_eq!(carol.result, Status::Skipped);
    assert!(!carol.scope.active, "carol is disabled in the source");
    assert!(carol.exchanges.is_empty(), "nothing is sent for an out-of-scope user");
    assert!(engine.provision_on_demand("nobody@contoso.com").await.is_err());
}

#[actix_web::test]
async fn test_connection_succeeds_and_explains_each_failure() {
    let lab = Lab::new().await;
    let ok = lab.engine().test_connection().await.expect("connection works");
    assert!(ok.contains("empty ListResponse"), "{ok}");

    let failure = |configure: Box<dyn Fn(&mut JobSpec)>| {
        let mut spec = lab.spec.clone();
        configure(&mut spec);
        let job = Job::from_spec(spec, lab.dir.path().to_path_buf()).unwrap();
        let clock = Arc::new(FixedClock::new(time::macros::datetime!(2026-01-01 0:00 UTC)));
        let mut engine = Engine::new(job, JobState::temporary().unwrap(), clock, 1).unwrap();
        async move { engine.test_connection().await.expect_err("must fail").to_string() }
    };
    let wrong_token = failure(Box::new(|s| s.target.token = Some("wrong".into()))).await;
    assert!(wrong_token.contains("401"), "{wrong_token}");
    let address = lab.app.address.clone();
    let wrong_path = failure(Box::new(move |s| s.target.url = format!("{address}/api"))).await;
    assert!(wrong_path.contains("404"), "{wrong_path}");
    let unused_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let unreachable =
        failure(Box::new(move |s| s.target.url = format!("http://127.0.0.1:{unused_port}/scim/v2"))).await;
    assert!(unreachable.contains("cannot connect"), "{unreachable}");
}

#[actix_web::test]
async fn provisioning_logs_record_each_object_with_modified_properties() {
    let lab = Lab::new().await;
    let mut engine = lab.engine();
    engine.run_cycle(&NoProgress).await.unwrap();
    lab.edit_directory(|d| user_of(d, ALICE)["jobTitle"] = json!("Director"));
    engine.run_cycle(&NoProgress).await.unwrap();

    let logs = engine.state().logs().unwrap();
    let update = logs
        .iter()
        .find(|l| l.source_identity.id == ALICE && l.provisioning_action == Action::Update)
        .expect("update logged");
    let title = update.modified_properties.iter().find(|m| m.display_name == "title").unwrap();
    assert_eq!((title.old_value.as_deref(), title.new_value.as_deref()), (Some("Lead"), Some("Director")));
    let skipped = logs.iter().find(|l| l.source_identity.id == DAVE).expect("out-of-scope user logged");
    assert_eq!(skipped.status, Status::Skipped);
    assert_eq!(skipped.error_information.as_ref().unwrap().error_code, "EntrySynchronizationSkipped");
    let cycles: std::collections::BTreeSet<&str> = logs.iter().map(|l| l.cycle_id.as_str()).collect();
    assert_eq!(cycles.len(), 2, "each record names its cycle");
}

#[actix_web::test]
async fn csv_directory_folder_is_a_source() {
    let lab = Lab::with(|s| {
        s.source.directory = Some(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/directory/csv"));
        s.assignments.groups = vec!["Engineering Team".into(), "Design".into()];
    })
    .await;
    let mut engine = lab.engine();
    let report = engine.run_cycle(&NoProgress).await.unwrap();
    super::assert_counts_add_up(&report);
    assert_eq!(report.failed, 0, "{report:?}");
    // Linus is disabled and Zoë soft-deleted in the CSV: only Ada and Grace exist.
    assert_eq!(lab.total("/Users").await, 2, "{report:?}");
    let ada = lab.target_user("ada.lovelace@contoso.com").await.unwrap();
    let grace = lab.target_user("grace.hopper@contoso.com").await.unwrap();
    assert_eq!(grace[ENTERPRISE_URN]["manager"]["value"], json!(id_of(&ada)));
    let eng = lab.target_group("Engineering Team").await.unwrap();
    let full = lab.app.get(&format!("/Groups/{}", id_of(&eng))).await.body;
    assert_eq!(member_ids(&full).len(), 2);
}

#[actix_web::test]
async fn one_scimlab_mirrors_another_through_a_scim_source() {
    let source = spawn_app().await;
    let manager = source.create_user("mia.manager@example.org").await;
    let mut report_body = user_body("rex.report@example.org");
    report_body["schemas"] = json!(["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE_URN]);
    report_body["title"] = json!("Analyst");
    report_body[ENTERPRISE_URN] = json!({"department": "Finance", "manager": {"value": id_of(&manager)}});
    let reporter = source.post("/Users", report_body).await.body;
    let mut inactive = user_body("ivy.inactive@example.org");
    inactive["active"] = json!(false);
    source.post("/Users", inactive).await;
    // More users than one page, so paging is exercised.
    for i in 0..7 {
        source.create_user(&format!("filler{i}@example.org")).await;
    }
    source.create_group("Finance", &[&id_of(&manager), &id_of(&reporter)]).await;

    let lab = Lab::with(|s| {
        s.scope = scimlab::provision::job::ScopeMode::All;
        s.source =
            serde_json::from_value(json!({"scim": {"url": source.url(""), "token": TOKEN, "pageSize": 4}})).unwrap();
    })
    .await;
    let mut engine = lab.engine();
    let report = engine.run_cycle(&NoProgress).await.unwrap();
    super::assert_counts_add_up(&report);
    assert_eq!(report.failed, 0, "{report:?}");
    assert_eq!(lab.total("/Users").await, 9, "every active source user is mirrored: {report:?}");
    let mirrored = lab.target_user("rex.report@example.org").await.unwrap();
    assert_eq!(mirrored["title"], json!("Analyst"));
    assert_eq!(mirrored[ENTERPRISE_URN]["department"], json!("Finance"));
    let mirrored_manager = lab.target_user("mia.manager@example.org").await.unwrap();
    assert_eq!(mirrored[ENTERPRISE_URN]["manager"]["value"], json!(id_of(&mirrored_manager)));
    assert_ne!(id_of(&mirrored), id_of(&reporter), "the target assigns its own ids");
    let group = lab.target_group("Finance").await.unwrap();
    let full = lab.app.get(&format!("/Groups/{}", id_of(&group))).await.body;
    assert_eq!(member_ids(&full).len(), 2);

    // A change in the source server flows on the next (incremental) cycle.
    let res = source
        .patch_ops(
            &format!("/Users/{}", id_of(&reporter)),
            json!([{"op": "replace", "path": "title", "value": "Controller"}]),
        )
        .await;
    assert_eq!(res.status, 200);
    let report = engine.run_cycle(&NoProgress).await.unwrap();
    super::assert_counts_add_up(&report);
    assert_eq!((report.initial, report.updated), (false, 1), "{report:?}");
    assert_eq!(lab.target_user("rex.report@example.org").await.unwrap()["title"], json!("Controller"));
}

#[actix_web::test]
async fn assignment_edits_are_incremental_scope_changes() {
    let mut lab = Lab::new().await;
    let first = lab.cycle().await;
    assert!(first.initial);
    assert!(lab.target_user("dave.doe@contoso.com").await.is_none(), "Dave is not assigned");
    // Assign Dave directly and take the group Eng (Alice and Bob) away.
    lab.spec.assignments.users = vec![CAROL.into(), DAVE.into()];
    lab.spec.assignments.groups.clear();
    let second = lab.cycle().await;
    assert!(!second.initial, "an assignment edit does not restart the job: {second:?}");
    assert_eq!((second.created, second.disabled), (1, 2), "Dave created, Alice and Bob disabled: {second:?}");
    assert!(lab.target_user("dave.doe@contoso.com").await.is_some());
    let alice = lab.target_user("alice.ångström@contoso.com").await.unwrap();
    assert_eq!(alice["active"], false);
}

#[actix_web::test]
async fn an_unassigned_user_is_disabled_and_then_no_longer_managed() {
    let mut lab = Lab::new().await;
    lab.cycle().await;
    // Carol is assigned directly (and disabled in the source); enable her so she is created.
    lab.edit_directory(|d| user_of(d, CAROL)["accountEnabled"] = json!(true));
    lab.cycle().await;
    assert!(lab.target_user("carol.côté@contoso.com").await.is_some());
    lab.spec.assignments.users.clear();
    let unassigned = lab.cycle().await;
    assert_eq!(unassigned.disabled, 1, "{unassigned:?}");
    // Deleted in the source afterwards: no DELETE, she stays (inactive) in the target.
    lab.edit_directory(|d| d["users"].as_array_mut().unwrap().retain(|u| u["objectId"] != CAROL));
    let deleted = lab.cycle().await;
    assert_eq!(deleted.deleted, 0, "{deleted:?}");
    let carol = lab.target_user("carol.côté@contoso.com").await.expect("still there");
    assert_eq!(carol["active"], false);
}
