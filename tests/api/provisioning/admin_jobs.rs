//! The admin API a hosted job's blade reads (docs/admin-api.md): provision on demand with
//! its steps, logs filtered, paged and downloaded, the mappings table and the cycle history.

use serde_json::{json, Value};

use super::hosted::{wait_for, HostedJob};
use super::*;

async fn call(app: &TestApp, method: reqwest::Method, path: &str, body: Option<&Value>) -> (u16, Value) {
    let res = app.admin(method, path, body).await;
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[actix_web::test]
async fn provision_on_demand_runs_one_user_now_and_answers_its_steps_and_exchanges() {
    let lab = HostedJob::start("pod", TOKEN, json!({})).await;
    let host = &lab.host;
    wait_for(host, "pod", |s| s["initialCycleComplete"] == true).await;

    // A change in the source reaches the target at once, not at the next cycle.
    let mut directory = sample_directory();
    user_of(&mut directory, ALICE)["jobTitle"] = json!("Principal");
    std::fs::write(&lab.directory, directory.to_string()).unwrap();
    let (code, body) = call(
        host,
        reqwest::Method::POST,
        "/admin/jobs/pod/on-demand",
        Some(&json!({"user": "alice.ångström@contoso.com"})),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    let trace = &body["traces"][0];
    assert_eq!((&trace["result"], &trace["action"]), (&json!("success"), &json!("update")), "{trace}");
    let steps: Vec<&str> =
        trace["log"]["provisioningSteps"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert!(steps.len() >= 3, "import, scope, match and action steps: {steps:?}");
    let patch = trace["exchanges"].as_array().unwrap().iter().find(|x| x["method"] == "PATCH");
    assert!(patch.is_some_and(|x| x["request"].to_string().contains("Principal")), "{trace}");
    let alice = lab.target.list("/Users", &[("filter", "userName eq \"alice.ångström@contoso.com\"")]).await.body;
    assert_eq!(alice["Resources"][0]["title"], "Principal");

    // A group brings its members first; its trace is last.
    let (code, body) =
        call(host, reqwest::Method::POST, "/admin/jobs/pod/on-demand", Some(&json!({"group": "Eng"}))).await;
    assert_eq!(code, 200, "{body}");
    let traces = body["traces"].as_array().unwrap();
    assert_eq!(traces.len(), 3, "Alice, Bob, then Eng: {body}");
    assert_eq!(traces[2]["log"]["sourceIdentity"]["identityType"], "Group");

    // Bad requests say what is wrong; nothing runs.
    let (code, body) =
        call(host, reqwest::Method::POST, "/admin/jobs/pod/on-demand", Some(&json!({"user": "nobody"}))).await;
    assert_eq!(code, 404, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("no user 'nobody'"), "{body}");
    let both = json!({"user": "a", "group": "b"});
    let (code, body) = call(host, reqwest::Method::POST, "/admin/jobs/pod/on-demand", Some(&both)).await;
    assert_eq!(code, 400, "{body}");
    let (code, _) = call(host, reqwest::Method::POST, "/admin/jobs/none/on-demand", Some(&json!({"user": "a"}))).await;
    assert_eq!(code, 404);

    // A paused job says so instead of hanging at its gate.
    call(host, reqwest::Method::POST, "/admin/jobs/pod/pause", None).await;
    let (code, body) =
        call(host, reqwest::Method::POST, "/admin/jobs/pod/on-demand", Some(&json!({"user": ALICE}))).await;
    assert_eq!(code, 409, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("paused"), "{body}");
}

#[actix_web::test]
async fn logs_are_filtered_paged_newest_first_and_downloaded() {
    let lab = HostedJob::start("logged", TOKEN, json!({})).await;
    let host = &lab.host;
    wait_for(host, "logged", |s| s["initialCycleComplete"] == true).await;
    let (_, all) = call(host, reqwest::Method::GET, "/admin/jobs/logged/logs", None).await;
    let total = all["totalResults"].as_u64().unwrap();
    assert!(total >= 4, "{all}");

    // Newest first, paged.
    let (_, page) = call(host, reqwest::Method::GET, "/admin/jobs/logged/logs?count=2&startIndex=2", None).await;
    assert_eq!((page["totalResults"].as_u64(), page["itemsPerPage"].as_u64()), (Some(total), Some(2)));
    assert_eq!(page["logs"][0]["id"], all["logs"][1]["id"]);
    let times: Vec<&str> =
        all["logs"].as_array().unwrap().iter().map(|l| l["activityDateTime"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first: {times:?}");

    // Filters: identity (case-insensitive, source or target), action, status, time range.
    let (_, bob) = call(host, reqwest::Method::GET, "/admin/jobs/logged/logs?identity=BOB", None).await;
    let names: Vec<&str> =
        bob["logs"].as_array().unwrap().iter().map(|l| l["sourceIdentity"]["displayName"].as_str().unwrap()).collect();
    assert!(!names.is_empty() && names.iter().all(|n| n.contains("Bob")), "{names:?}");
    let (_, created) =
        call(host, reqwest::Method::GET, "/admin/jobs/logged/logs?action=create&status=success", None).await;
    let created = created["logs"].as_array().unwrap();
    assert!(!created.is_empty() && created.iter().all(|l| l["provisioningAction"] == "create"), "{created:?}");
    let (_, future) =
        call(host, reqwest::Method::GET, "/admin/jobs/logged/logs?since=2999-01-01T00:00:00Z", None).await;
    assert_eq!(future["totalResults"], 0);
    let (_, past) = call(host, reqwest::Method::GET, "/admin/jobs/logged/logs?until=2999-01-01T00:00:00Z", None).await;
    assert_eq!(past["totalResults"].as_u64(), Some(total));
    for bad in ["since=yesterday", "action=explode", "status=fine", "count=5000", "startIndex=0", "format=xml"] {
        let (code, body) = call(host, reqwest::Method::GET, &format!("/admin/jobs/logged/logs?{bad}"), None).await;
        let field = bad.split('=').next().unwrap();
        assert_eq!(code, 400, "{bad}: {body}");
        assert!(body["detail"].as_str().unwrap().contains(field), "the error names {field}: {body}");
    }

    // Downloads: the CLI's formats, every matching record, as an attachment.
    let res = host.admin(reqwest::Method::GET, "/admin/jobs/logged/logs?format=csv&identity=bob", None).await;
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(res.headers()["content-disposition"].to_str().unwrap().contains("logged-provisioning-logs.csv"));
    let csv = res.text().await.unwrap();
    assert_eq!(csv.lines().count() as u64, 1 + bob["totalResults"].as_u64().unwrap(), "{csv}");
    let res = host.admin(reqwest::Method::GET, "/admin/jobs/logged/logs?format=jsonl", None).await;
    let lines: Vec<Value> = res.text().await.unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len() as u64, total);
    assert_eq!(lines.last().unwrap()["id"], all["logs"][0]["id"], "downloads are oldest first, as the CLI writes them");
}

#[actix_web::test]
async fn mappings_and_cycle_history_are_served_for_the_blade() {
    let scoping = json!([{"name": "Engineers only", "clauses": [
        {"sourceOperandName": "department", "operatorName": "EQUALS", "targetOperand": {"values": ["Engineering"]}}]}]);
    let users = json!({"scope": scoping, "attributeMappings": [
        {"targetAttributeName": "userName", "source": "[userPrincipalName]", "matchingPriority": 1},
        {"targetAttributeName": "active", "source": "Not([IsSoftDeleted])"},
        {"targetAttributeName": "title", "source": "[jobTitle]", "flowType": "ObjectAddOnly"}]});
    let lab = HostedJob::start("mapped", TOKEN, json!({"users": users})).await;
    let host = &lab.host;
    let (code, view) = call(host, reqwest::Method::GET, "/admin/jobs/mapped/mappings", None).await;
    assert_eq!(code, 200, "{view}");
    let user = &view["objectMappings"][0];
    assert_eq!(user["sourceObjectName"], "User");
    assert_eq!(user["matchingAttributes"], json!(["userName"]));
    assert_eq!(user["scopingFilters"][0]["name"], "Engineers only");
    let title = user["attributeMappings"].as_array().unwrap().iter().find(|m| m["targetAttributeName"] == "title");
    assert_eq!(title.unwrap()["apply"], "Only during object creation");
    assert!(view["objectMappings"][1]["attributeMappings"].as_array().is_some_and(|m| !m.is_empty()), "{view}");
    assert_eq!(call(host, reqwest::Method::GET, "/admin/jobs/other/mappings", None).await.0, 404);

    // Each finished cycle joins the history the chart draws.
    let first = wait_for(host, "mapped", |s| s["recentCycles"].as_array().is_some_and(|c| c.len() == 1)).await;
    assert_eq!(first["recentCycles"][0]["initial"], true);
    assert_eq!(first["recentCycles"][0]["cycleId"], first["lastCycle"]["cycleId"]);
    call(host, reqwest::Method::POST, "/admin/jobs/mapped/start", None).await;
    let second = wait_for(host, "mapped", |s| s["recentCycles"].as_array().is_some_and(|c| c.len() == 2)).await;
    assert_eq!(second["recentCycles"][1]["initial"], false, "{second}");
}
