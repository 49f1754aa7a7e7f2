//! Entra's configuration in scimlab's job files: a synchronizationSchema export imported
//! with `provision import-entra`, and attribute mappings pasted as Graph shows them.

use serde_json::{json, Value};

use crate::cli::{repo_path, scimlab, stderr, stdout};
use crate::helpers::*;

#[actix_web::test]
async fn imported_entra_schema_runs_its_scoping_and_expressions_and_logs_export() {
    let app = spawn_app().await;
    let work = tempfile::tempdir().unwrap();
    let job = work.path().join("job.json");
    let directory = repo_path("fixtures/directory/directory.json");
    let import = scimlab(&[
        "provision",
        "import-entra",
        "fixtures/entra/synchronization-schema.json",
        "--url",
        &app.url(""),
        "--token",
        TOKEN,
        "--directory",
        directory.to_str().unwrap(),
        "--scope",
        "all",
        "--out",
        job.to_str().unwrap(),
    ])
    .await;
    assert!(import.status.success(), "{}", stderr(&import));
    assert!(stderr(&import).contains(&format!("wrote {}", job.display())), "{}", stderr(&import));
    assert!(job.exists(), "the job file is written");
    // What the job cannot hold is reported, not dropped silently.
    assert!(stderr(&import).contains("synchronizationRules[0] (USER_OUTBOUND): id, priority"), "{}", stderr(&import));

    let state = work.path().join("state");
    let run =
        scimlab(&["provision", "run", "--job", job.to_str().unwrap(), "--state", state.to_str().unwrap(), "--quiet"])
            .await;
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(stdout(&run).contains("initial cycle"), "{}", stdout(&run));

    // The export's scoping filter: only Engineering and Sales (and not soft-deleted or disabled).
    let source: Value = serde_json::from_str(&std::fs::read_to_string(&directory).unwrap()).unwrap();
    let expected = source["users"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| matches!(u["department"].as_str(), Some("Engineering" | "Sales")))
        .filter(|u| u["accountEnabled"] != json!(false) && u["softDeleted"] != json!(true))
        .count() as u64;
    let listed = app.list("/Users", &[("count", "0")]).await.body;
    assert_eq!(listed["totalResults"].as_u64(), Some(expected));
    let outsiders = app
        .list(
            "/Users",
            &[("filter", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq \"Legal\"")],
        )
        .await;
    assert_eq!(outsiders.body["totalResults"], json!(0));

    // The export's expression: Join(" ", [givenName], ToUpper([surname])); a None mapping's default.
    let sample = source["users"].as_array().unwrap().iter().find(|u| u["department"] == "Sales").unwrap();
    let found = app
        .list("/Users", &[("filter", &format!("userName eq \"{}\"", sample["userPrincipalName"].as_str().unwrap()))])
        .await;
    let user = &found.body["Resources"][0];
    let expected_name =
        format!("{} {}", sample["givenName"].as_str().unwrap(), sample["surname"].as_str().unwrap().to_uppercase());
    assert_eq!(user["displayName"], json!(expected_name));
    assert_eq!(user["userType"], json!("Employee"));

    let (job_arg, state_arg) = (job.to_str().unwrap().to_string(), state.to_str().unwrap().to_string());
    let logs_as = |format: &'static str| {
        let (job, state) = (job_arg.clone(), state_arg.clone());
        async move { scimlab(&["provision", "logs", "--job", &job, "--state", &state, "--format", format]).await }
    };
    let logs = logs_as("csv").await;
    assert!(logs.status.success(), "{}", stderr(&logs));
    let csv = stdout(&logs);
    let mut lines = csv.lines();
    assert!(lines.next().unwrap().starts_with("activityDateTime,jobId,cycleId"), "a header row: {csv}");
    assert!(lines.count() as u64 >= expected, "one record per object");
    // The portal download's other two tables, joined to the summary by changeId.
    let steps = logs_as("csv-steps").await;
    let steps = stdout(&steps);
    assert!(steps.starts_with("changeId,stepNumber,name,provisioningStepType,status,description"), "{steps}");
    assert!(steps.contains("EntryExportAdd"), "{steps}");
    let properties = logs_as("csv-properties").await;
    assert!(stdout(&properties).starts_with("changeId,displayName,oldValue,newValue"), "{}", stdout(&properties));
    let failures = scimlab(&[
        "provision",
        "logs",
        "--job",
        job.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
        "--status",
        "failure",
    ])
    .await;
    assert!(failures.status.success());
    assert_eq!(stdout(&failures), "", "no failures in a clean run");
}

#[actix_web::test]
async fn a_mapping_pasted_from_graph_runs_unchanged_and_unemulated_fields_are_refused_by_name() {
    let app = spawn_app().await;
    let work = tempfile::tempdir().unwrap();
    let job = work.path().join("job.json");
    // As Graph Explorer shows attributeMappings: source as an attributeMappingSource tree
    // (one without `expression`, to be rebuilt), flowBehavior, exportMissingReferences.
    let graph_mappings = json!([
        {"defaultValue": null, "exportMissingReferences": false, "flowBehavior": "FlowWhenChanged", "flowType": "Always",
         "matchingPriority": 1, "targetAttributeName": "userName",
         "source": {"expression": "[userPrincipalName]", "name": "userPrincipalName", "parameters": [], "type": "Attribute"}},
        {"defaultValue": null, "exportMissingReferences": false, "flowBehavior": "FlowWhenChanged", "flowType": "Always",
         "matchingPriority": 0, "targetAttributeName": "displayName",
         "source": {"name": "Join", "type": "Function", "parameters": [
             {"key": "separator", "value": {"name": "/", "type": "Constant", "parameters": []}},
             {"key": "source1", "value": {"name": "surname", "type": "Attribute"}},
             {"key": "source2", "value": {"name": "givenName", "type": "Attribute"}}]}}
    ]);
    let write_job = |mappings: &Value| {
        let spec = json!({
            "name": "graph-paste",
            "target": {"url": app.url(""), "token": TOKEN},
            "source": {"directory": repo_path("fixtures/directory/csv")},
            "assignments": {"groups": ["Engineering Team"]},
            "users": {"attributeMappings": mappings}
        });
        std::fs::write(&job, spec.to_string()).unwrap();
    };
    write_job(&graph_mappings);
    let job_arg = job.to_str().unwrap().to_string();
    let out = scimlab(&["provision", "on-demand", "--user", "ada.lovelace@contoso.com", "--job", &job_arg]).await;
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let found = app.list("/Users", &[("filter", "userName eq \"ada.lovelace@contoso.com\"")]).await.body;
    assert_eq!(found["Resources"][0]["displayName"], "Lovelace/Ada", "{found}");

    let mut always = graph_mappings.clone();
    always[1]["flowBehavior"] = json!("FlowAlways");
    write_job(&always);
    let out = scimlab(&["provision", "run", "--job", &job_arg]).await;
    assert_eq!(out.status.code(), Some(1), "a configuration error: {}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("displayName") && err.contains("FlowAlways") && err.contains("FlowWhenChanged"), "{err}");
}
