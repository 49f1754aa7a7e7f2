//! The flow's steps, in order, each recorded under its check id. A step edits the source
//! directory, runs a cycle (or provisions on demand), then reads the endpoint back to see
//! that what Entra would have sent arrived.

use serde_json::{json, Value};

use super::{object_mut, person, verdict, Flow};
use crate::provision::log::{Action, Status};
use crate::provision::state::ObjectKind;
use crate::provision::OnDemandTrace;
use crate::scim::urn;
use crate::validate::report::Outcome;
use crate::validate::{registry, Ctx};

/// The run's object ids in the source directory.
struct Ids {
    lead: String,
    report: String,
    deputy: String,
    on_demand: String,
    group: String,
    on_demand_group: String,
}

impl Ids {
    fn new(ctx: &Ctx) -> Ids {
        let id = |label: &str| format!("{}-{label}", ctx.run_id);
        Ids {
            lead: id("lead"),
            report: id("report"),
            deputy: id("deputy"),
            on_demand: id("on-demand"),
            group: id("group"),
            on_demand_group: id("on-demand-group"),
        }
    }
}

/// Reads `/{endpoint}/{id}` and checks it; the outcome says what differed.
async fn expect_target(
    ctx: &Ctx,
    endpoint: &str,
    id: Option<String>,
    expected: &str,
    holds: impl Fn(&Value) -> bool,
) -> Outcome {
    let Some(id) = id else {
        return Outcome::Fail { expected: expected.into(), actual: "the engine has no link to the object".into() };
    };
    let r = ctx.get(&format!("/{endpoint}/{id}"), &[]).await;
    if r.status == 200 && holds(&r.body) {
        Outcome::Pass
    } else {
        Outcome::Fail { expected: expected.into(), actual: format!("HTTP {}: {}", r.status, r.body) }
    }
}

/// Runs the step's read-back only when its cycle passed.
async fn then(outcome: Outcome, read_back: impl std::future::Future<Output = Outcome>) -> Outcome {
    if outcome == Outcome::Pass {
        read_back.await
    } else {
        outcome
    }
}

fn manager_of(user: &Value) -> String {
    user[urn::ENTERPRISE_USER]["manager"]["value"].as_str().unwrap_or("").to_string()
}

fn on_demand_verdict(traces: &anyhow::Result<Vec<OnDemandTrace>>, action: Action) -> Outcome {
    let expected = format!("provision on demand succeeded with {action:?}");
    match traces {
        Ok(traces) => match traces.last() {
            Some(t) if t.result == Status::Success && t.action == action => Outcome::Pass,
            Some(t) => Outcome::Fail {
                expected,
                actual: format!(
                    "{:?} {:?}: {}",
                    t.result,
                    t.action,
                    t.log.error_information.as_ref().map(|e| e.reason.as_str()).unwrap_or("")
                ),
            },
            None => Outcome::Fail { expected, actual: "no trace".into() },
        },
        Err(e) => Outcome::Fail { expected, actual: format!("{e:#}") },
    }
}

pub(super) async fn run(ctx: &Ctx, flow: &mut Flow) {
    let ids = Ids::new(ctx);
    let user_id = |flow: &Flow, source: &str| flow.target_id(ObjectKind::User, source);

    let t = ctx.begin();
    let r = flow.cycle(|_| {}).await;
    let outcome = verdict(&r, |r| r.created == 3, "2 users and 1 group created, after a lookup each");
    flow.record(ctx, registry::find("flow.create"), t, outcome);

    // Update_User_Test: every mapped attribute the source has, changed at once.
    let t = ctx.begin();
    let report = ids.report.clone();
    let r = flow
        .cycle(|s| {
            if let Some(u) = object_mut(s, "users", &report) {
                u["jobTitle"] = json!("Senior Engineer");
                u["department"] = json!("Validation Updated");
                u["givenName"] = json!("Flowing");
                u["surname"] = json!("Reporter");
                u["displayName"] = json!("Flowing Reporter");
            }
        })
        .await;
    let outcome = verdict(&r, |r| r.updated >= 1, "the changed attributes sent as a PATCH");
    let expected = "title, department, name.givenName, name.familyName and displayName as changed";
    let outcome = then(
        outcome,
        expect_target(ctx, "Users", user_id(flow, &ids.report), expected, |u| {
            u["title"] == "Senior Engineer"
                && u[urn::ENTERPRISE_USER]["department"] == "Validation Updated"
                && u["name"]["givenName"] == "Flowing"
                && u["name"]["familyName"] == "Reporter"
                && u["displayName"] == "Flowing Reporter"
        }),
    )
    .await;
    flow.record(ctx, registry::find("flow.update"), t, outcome);

    // User_Update_Manager_Test: set (at create), changed to another user, removed.
    let t = ctx.begin();
    let lead_target = user_id(flow, &ids.lead).unwrap_or_default();
    let mut outcome = expect_target(ctx, "Users", user_id(flow, &ids.report), "the manager set at create", |u| {
        !lead_target.is_empty() && manager_of(u) == lead_target
    })
    .await;
    if outcome == Outcome::Pass {
        let (deputy, report) = (ids.deputy.clone(), ids.report.clone());
        let r = flow
            .cycle(|s| {
                if let Some(users) = s["users"].as_array_mut() {
                    users.push(person(ctx, "deputy", "Deputy"));
                }
                if let Some(u) = object_mut(s, "users", &report) {
                    u["manager"] = json!(deputy);
                }
            })
            .await;
        outcome = verdict(&r, |r| r.created == 1, "the new manager created, the manager changed");
        let deputy_target = user_id(flow, &ids.deputy).unwrap_or_default();
        outcome = then(
            outcome,
            expect_target(ctx, "Users", user_id(flow, &ids.report), "the manager changed to the deputy", |u| {
                !deputy_target.is_empty() && manager_of(u) == deputy_target
            }),
        )
        .await;
    }
    if outcome == Outcome::Pass {
        let report = ids.report.clone();
        let r = flow
            .cycle(|s| {
                if let Some(u) = object_mut(s, "users", &report).and_then(Value::as_object_mut) {
                    u.remove("manager");
                }
            })
            .await;
        outcome = verdict(&r, |_| true, "the manager removed");
        outcome = then(
            outcome,
            expect_target(ctx, "Users", user_id(flow, &ids.report), "no manager", |u| manager_of(u).is_empty()),
        )
        .await;
    }
    flow.record(ctx, registry::find("flow.manager"), t, outcome);

    // POD_User_Test: a new user, provisioned on demand without a cycle.
    let t = ctx.begin();
    if let Some(users) = flow.source["users"].as_array_mut() {
        users.push(person(ctx, "on-demand", "On Demand"));
    }
    let written = std::fs::write(&flow.directory, flow.source.to_string());
    let traces = match written {
        Ok(()) => flow.engine.provision_on_demand(&ids.on_demand).await.map(|t| vec![t]).map_err(anyhow::Error::from),
        Err(e) => Err(anyhow::Error::from(e)),
    };
    let outcome = then(
        on_demand_verdict(&traces, Action::Create),
        expect_target(ctx, "Users", user_id(flow, &ids.on_demand), "the on-demand user in the endpoint", |u| {
            u["title"] == "On Demand"
        }),
    )
    .await;
    flow.record(ctx, registry::find("flow.pod-user"), t, outcome);

    // Disable_User_Test.
    let t = ctx.begin();
    let report = ids.report.clone();
    let r = flow
        .cycle(|s| {
            if let Some(u) = object_mut(s, "users", &report) {
                u["accountEnabled"] = json!(false);
            }
        })
        .await;
    let mut outcome = verdict(&r, |r| r.disabled == 1, "the disabled user sent active=false");
    if outcome == Outcome::Pass {
        if let Some(id) = user_id(flow, &ids.report) {
            let filter = format!("id eq \"{id}\"");
            let u = ctx.get("/Users", &[("filter", &filter)]).await;
            if u.resources().first().map(|x| x["active"].clone()) != Some(json!(false)) {
                outcome = Outcome::Fail {
                    expected: "the disabled user still found by filter, with active false".into(),
                    actual: u.body.to_string(),
                };
            }
        }
    }
    flow.record(ctx, registry::find("flow.disable"), t, outcome);

    restore_and_groups(ctx, flow, &ids).await;
}

/// Restore_User_Test, the membership and group tests, POD_Group_Test and the deletes.
async fn restore_and_groups(ctx: &Ctx, flow: &mut Flow, ids: &Ids) {
    // Restore_User_Test: unassigned (gone from the source: deleted), then back (created).
    let t = ctx.begin();
    let deputy_before = flow.target_id(ObjectKind::User, &ids.deputy);
    let kept = flow.source["users"].clone();
    let deputy = ids.deputy.clone();
    let r = flow
        .cycle(|s| {
            if let Some(users) = s["users"].as_array_mut() {
                users.retain(|u| u["objectId"] != deputy.as_str());
            }
        })
        .await;
    let mut outcome = verdict(&r, |r| r.deleted + r.disabled >= 1, "the unassigned user deleted");
    if outcome == Outcome::Pass {
        if let Some(id) = &deputy_before {
            let gone = ctx.get(&format!("/Users/{id}"), &[]).await;
            if gone.status != 404 && gone.body["active"] != false {
                outcome = Outcome::Fail {
                    expected: "the unassigned user gone (404) or inactive".into(),
                    actual: format!("HTTP {}: active {}", gone.status, gone.body["active"]),
                };
            }
        }
    }
    if outcome == Outcome::Pass {
        let r = flow.cycle(|s| s["users"] = kept).await;
        outcome = verdict(&r, |r| r.created + r.updated >= 1, "the reassigned user provisioned again");
        outcome = then(
            outcome,
            expect_target(ctx, "Users", flow.target_id(ObjectKind::User, &ids.deputy), "the user back, active", |u| {
                u["active"] == true
            }),
        )
        .await;
    }
    flow.record(ctx, registry::find("flow.restore"), t, outcome);

    // The group keeps its target id through these steps.
    let group_id = flow.target_id(ObjectKind::Group, &ids.group);
    let group_target = || group_id.clone();
    let members = |g: &Value| g["members"].as_array().map(Vec::len).unwrap_or(0);

    // Group_Update_Remove_Member_Test.
    let t = ctx.begin();
    let (group, lead) = (ids.group.clone(), ids.lead.clone());
    let r = flow
        .cycle(|s| {
            if let Some(g) = object_mut(s, "groups", &group) {
                g["members"] = json!([lead]);
            }
        })
        .await;
    let outcome = verdict(&r, |_| true, "the membership change sent as a PATCH");
    let outcome =
        then(outcome, expect_target(ctx, "Groups", group_target(), "1 member left", |g| members(g) == 1)).await;
    flow.record(ctx, registry::find("flow.members"), t, outcome);

    // Group_Update_Add_Member_Test.
    let t = ctx.begin();
    let deputy = ids.deputy.clone();
    let r = flow
        .cycle(|s| {
            if let Some(g) = object_mut(s, "groups", &group) {
                g["members"] = json!([lead, deputy]);
            }
        })
        .await;
    let outcome = verdict(&r, |_| true, "the added member sent as a PATCH");
    let outcome = then(outcome, expect_target(ctx, "Groups", group_target(), "2 members", |g| members(g) == 2)).await;
    flow.record(ctx, registry::find("flow.member-add"), t, outcome);

    // Update_Group_Test.
    let t = ctx.begin();
    let renamed = format!("scimlab-validate-{}-flow-renamed", ctx.run_id);
    let r = flow
        .cycle(|s| {
            if let Some(g) = object_mut(s, "groups", &group) {
                g["displayName"] = json!(renamed);
            }
        })
        .await;
    let outcome = verdict(&r, |r| r.updated >= 1, "the new displayName sent as a PATCH");
    let expected = format!("displayName {renamed}");
    let outcome = then(
        outcome,
        expect_target(ctx, "Groups", group_target(), &expected, |g| g["displayName"] == renamed.as_str()),
    )
    .await;
    flow.record(ctx, registry::find("flow.group-update"), t, outcome);

    // POD_Group_Test: a new group with a member, on demand.
    let t = ctx.begin();
    let group_on_demand = json!({
        "objectId": ids.on_demand_group,
        "displayName": format!("scimlab-validate-{}-on-demand", ctx.run_id),
        "members": [ids.on_demand]
    });
    if let Some(groups) = flow.source["groups"].as_array_mut() {
        groups.push(group_on_demand);
    }
    let traces = match std::fs::write(&flow.directory, flow.source.to_string()) {
        Ok(()) => flow.engine.provision_group_on_demand(&ids.on_demand_group).await.map_err(anyhow::Error::from),
        Err(e) => Err(anyhow::Error::from(e)),
    };
    let outcome = then(
        on_demand_verdict(&traces, Action::Create),
        expect_target(
            ctx,
            "Groups",
            flow.target_id(ObjectKind::Group, &ids.on_demand_group),
            "the group with its member",
            |g| members(g) == 1,
        ),
    )
    .await;
    flow.record(ctx, registry::find("flow.pod-group"), t, outcome);

    // Delete_User_Test and Delete_Group_Test.
    let t = ctx.begin();
    let gone = [
        ("Users", flow.target_id(ObjectKind::User, &ids.lead)),
        ("Groups", flow.target_id(ObjectKind::Group, &ids.group)),
    ];
    let r = flow
        .cycle(|s| {
            s["users"] = json!([]);
            s["groups"] = json!([]);
        })
        .await;
    let mut outcome = verdict(&r, |r| r.deleted >= 2, "users and groups deleted in the target");
    if outcome == Outcome::Pass {
        for (endpoint, id) in gone.iter() {
            if let Some(id) = id {
                let g = ctx.get(&format!("/{endpoint}/{id}"), &[]).await;
                if g.status != 404 {
                    outcome = Outcome::Fail {
                        expected: format!("404 for the deleted {endpoint} resource"),
                        actual: format!("HTTP {}", g.status),
                    };
                }
            }
        }
    }
    flow.record(ctx, registry::find("flow.delete"), t, outcome);
}
