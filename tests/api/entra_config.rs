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

/// Runs the binary and insists it succeeded.
async fn ok(args: &[&str]) -> std::process::Output {
    let out = scimlab(args).await;
    assert!(out.status.success(), "scimlab {}: {}", args.join(" "), stderr(&out));
    out
}

fn read_json(path: &std::path::Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[actix_web::test]
async fn a_job_round_trips_through_entras_schema_and_secrets() {
    let work = tempfile::tempdir().unwrap();
    let path = |name: &str| work.path().join(name).to_str().unwrap().to_string();
    let original = read_json(&repo_path("fixtures/jobs/example.json"));

    // job → export (schema and secrets) → import → job: the same mappings, scoping, matching and settings.
    ok(&[
        "provision",
        "export-entra",
        "--job",
        "fixtures/jobs/example.json",
        "--out",
        &path("schema.json"),
        "--include-secrets",
    ])
    .await;
    let secrets = read_json(&work.path().join("schema.secrets.json"));
    let secret =
        |key: &str| secrets["value"].as_array().unwrap().iter().find(|s| s["key"] == key).map(|s| s["value"].clone());
    assert_eq!(secret("BaseAddress"), Some(original["target"]["url"].clone()));
    assert_eq!(secret("SecretToken"), Some(original["target"]["token"].clone()));
    let schema = read_json(&work.path().join("schema.json"));
    let rule = &schema["synchronizationRules"][0];
    assert_eq!(
        (&rule["sourceDirectoryName"], &rule["targetDirectoryName"]),
        (&json!("Azure Active Directory"), &json!("customappsso"))
    );
    let user_mapping = &rule["objectMappings"][0]["attributeMappings"][0];
    assert_eq!(
        (&user_mapping["source"]["type"], &user_mapping["source"]["expression"]),
        (&json!("Attribute"), &json!("[userPrincipalName]")),
        "sources are Graph's attributeMappingSource trees: {user_mapping}"
    );

    let directory = original["source"]["directory"].as_str().unwrap();
    ok(&[
        "provision",
        "import-entra",
        &path("schema.json"),
        "--secrets",
        &path("schema.secrets.json"),
        "--directory",
        directory,
        "--name",
        "example",
        "--out",
        &path("job.json"),
    ])
    .await;
    let imported = read_json(&work.path().join("job.json"));
    // Compared as scimlab reads them: defaults written out or left out are the same job.
    let normal = |v: &Value| {
        let spec: scimlab::provision::job::JobSpec = serde_json::from_value(v.clone()).unwrap();
        serde_json::to_value(spec).unwrap()
    };
    let (original_normal, imported_normal) = (normal(&original), normal(&imported));
    for field in ["users", "groups", "scope"] {
        assert_eq!(imported_normal[field], original_normal[field], "{field} survives the round trip");
    }
    assert_eq!(imported["target"]["url"], original["target"]["url"]);
    assert_eq!(imported["target"]["token"], original["target"]["token"]);
    let spec = |v: &Value| serde_json::from_value::<scimlab::provision::job::JobSpec>(v.clone()).unwrap();
    let (want, got) = (spec(&original).options, spec(&imported).options);
    assert_eq!(want.skip_out_of_scope_deletions, got.skip_out_of_scope_deletions);
    assert_eq!(want.deletion_threshold, got.deletion_threshold);

    // export → import → export is byte-identical.
    ok(&["provision", "export-entra", "--job", &path("job.json"), "--out", &path("schema2.json")]).await;
    assert_eq!(
        std::fs::read_to_string(work.path().join("schema.json")).unwrap(),
        std::fs::read_to_string(work.path().join("schema2.json")).unwrap()
    );
    let masked = read_json(&work.path().join("schema2.secrets.json"));
    assert!(
        masked["value"].as_array().unwrap().iter().any(|s| s["key"] == "SecretToken" && s["value"] == "*"),
        "no token without --include-secrets"
    );

    // The portal's download, imported, is a fixed point after one pass through scimlab.
    ok(&[
        "provision",
        "import-entra",
        "fixtures/entra/synchronization-schema.json",
        "--scope",
        "all",
        "--name",
        "sample",
        "--out",
        &path("sample.json"),
    ])
    .await;
    ok(&["provision", "export-entra", "--job", &path("sample.json"), "--out", &path("sample-schema.json")]).await;
    ok(&[
        "provision",
        "import-entra",
        &path("sample-schema.json"),
        "--secrets",
        &path("sample-schema.secrets.json"),
        "--name",
        "sample",
        "--out",
        &path("sample-again.json"),
    ])
    .await;
    let (first, again) =
        (read_json(&work.path().join("sample.json")), read_json(&work.path().join("sample-again.json")));
    for field in ["users", "groups", "scope"] {
        assert_eq!(first[field], again[field], "{field} of the Entra sample survives");
    }
    ok(&["provision", "export-entra", "--job", &path("sample-again.json"), "--out", &path("sample-schema2.json")])
        .await;
    assert_eq!(
        std::fs::read_to_string(work.path().join("sample-schema.json")).unwrap(),
        std::fs::read_to_string(work.path().join("sample-schema2.json")).unwrap()
    );
}
