//! A hosted job driven only through the Graph-shaped API under /graph/v1.0 (docs/graph-api.md),
//! as a script written against Microsoft Graph would drive Entra: secrets, schema, start,
//! status, pause, restart with a reset scope, provision on demand, parseExpression and the
//! provisioning log with $filter and paging.

use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with, TestApp, ADMIN_TOKEN, TOKEN};
use crate::provisioning::{sample_directory, user_of, BOB};

const SP: &str = "6c0f0d7e-8a4d-4f55-9f0c-0a1b2c3d4e5f";
const JOB: &str = "scim.0123456789abcdef0123456789abcdef";

struct Graph<'a> {
    app: &'a TestApp,
}

impl Graph<'_> {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let url =
            if path.starts_with("http") { path.to_string() } else { format!("{}/graph/v1.0{path}", self.app.address) };
        let mut req = self.app.client.request(method, url).bearer_auth(ADMIN_TOKEN);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }
    async fn get(&self, path: &str) -> Value {
        let (status, body) = self.call(reqwest::Method::GET, path, None).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }
    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }
    async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::PUT, path, Some(body)).await
    }
    fn job(rest: &str) -> String {
        format!("/servicePrincipals/{SP}/synchronization/jobs/{JOB}{rest}")
    }
    /// Polls the job until `done` holds.
    async fn wait(&self, done: impl Fn(&Value) -> bool) -> Value {
        // Generous: on PostgreSQL every state write is a round trip, and CI shares two cores.
        let reached = crate::helpers::poll(std::time::Duration::from_secs(60), || async {
            let job = self.get(&Graph::job("")).await;
            if done(&job) {
                Ok(job)
            } else {
                Err(job)
            }
        })
        .await;
        reached.unwrap_or_else(|job| panic!("the job never got there: {job}"))
    }
}

/// A target and a host whose job starts with a wrong token and fixed Graph ids.
async fn lab(work: &tempfile::TempDir, data: Option<std::path::PathBuf>) -> (TestApp, std::path::PathBuf) {
    let directory = work.path().join("directory.json");
    if !directory.exists() {
        std::fs::write(&directory, sample_directory().to_string()).unwrap();
    }
    let job = work.path().join("job.json");
    let spec = json!({"name": "graphed", "target": {"url": "http://127.0.0.1:9/scim/v2", "token": "wrong"},
                      "source": {"directory": directory}, "scope": "assigned", "assignments": {"groups": ["Eng"]},
                      "graph": {"servicePrincipalId": SP, "jobId": JOB}});
    std::fs::write(&job, spec.to_string()).unwrap();
    let data = data.unwrap_or_else(|| work.path().join("host-data"));
    let host = spawn_app_with(|s| {
        s.admin_token = Some(ADMIN_TOKEN.into());
        s.jobs = vec![job.clone()];
        s.data = Some(data.clone());
    })
    .await;
    (host, data)
}

#[actix_web::test]
async fn a_hosted_job_is_configured_and_driven_through_the_graph_api() {
    let target = spawn_app().await;
    let work = tempfile::tempdir().unwrap();
    let (host, data) = lab(&work, None).await;
    let graph = Graph { app: &host };

    // The job is listed under its service principal; the first cycle could not connect.
    let jobs = graph.get(&format!("/servicePrincipals/{SP}/synchronization/jobs")).await;
    assert_eq!(jobs["value"][0]["id"], JOB, "{jobs}");
    let job = graph.wait(|j| j["status"]["code"] == "Quarantine").await;
    assert_eq!(job["status"]["quarantine"]["reason"], "EncounteredQuarantineException", "{job}");

    // Credentials: the wrong ones fail validation; the right ones are saved as secrets.
    let (status, body) = graph.post(&Graph::job("/validateCredentials"), json!({"useSavedCredentials": true})).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"]["code"].is_string() && body["error"]["innerError"]["request-id"].is_string(), "{body}");
    let right = json!([{"key": "BaseAddress", "value": target.url("")}, {"key": "SecretToken", "value": TOKEN}]);
    let (status, _) = graph
        .post(&Graph::job("/validateCredentials"), json!({"useSavedCredentials": false, "credentials": right}))
        .await;
    assert_eq!(status, 204);
    let secrets = json!({"value": [
        {"key": "BaseAddress", "value": target.url("")}, {"key": "SecretToken", "value": TOKEN},
        {"key": "SyncAll", "value": "false"},
        {"key": "SyncNotificationSettings", "value": "{\"Enabled\":false,\"DeleteThresholdEnabled\":true,\"DeleteThresholdValue\":50}"}]});
    let (status, body) = graph.put(&format!("/servicePrincipals/{SP}/synchronization/secrets"), secrets).await;
    assert_eq!(status, 204, "{body}");
    let listed = graph.get(&format!("/servicePrincipals/{SP}/synchronization/secrets")).await;
    assert!(
        listed["value"].as_array().unwrap().iter().any(|s| s["key"] == "SecretToken" && s["value"] == "*"),
        "masked: {listed}"
    );

    // The schema: exported, changed (title becomes upper case) and put back.
    let mut schema = graph.get(&Graph::job("/schema")).await;
    let rule_id = schema["synchronizationRules"][0]["id"].as_str().unwrap().to_string();
    let users = schema["synchronizationRules"][0]["objectMappings"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|m| m["sourceObjectName"] == "User")
        .unwrap();
    let title = users["attributeMappings"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|m| m["targetAttributeName"] == "title")
        .unwrap();
    assert_eq!(title["source"]["expression"], "[jobTitle]");
    title["source"] = json!({"expression": "ToUpper([jobTitle])", "name": "ToUpper", "type": "Function",
                             "parameters": [{"key": "source", "value": {"expression": "[jobTitle]", "name": "jobTitle", "type": "Attribute", "parameters": []}}]});
    let (status, body) = graph.put(&Graph::job("/schema"), schema.clone()).await;
    assert_eq!(status, 204, "{body}");
    let again = graph.get(&Graph::job("/schema")).await;
    assert!(again.to_string().contains("ToUpper([jobTitle])"), "the new mapping is the job's");
    let mut broken = schema.clone();
    broken["synchronizationRules"][0]["objectMappings"][0]["attributeMappings"][0]["source"] =
        json!({"expression": "Nope([x])"});
    let (status, body) = graph.put(&Graph::job("/schema"), broken).await;
    assert_eq!(status, 400, "a schema that does not compile is refused: {body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("Nope"), "{body}");

    // Start: the quarantine lifts and the cycle provisions with the new mapping. A cycle
    // may already have run with the fixed secrets (a reconfiguration makes the next cycle
    // due): wait for a successful execution after the start, not for any.
    let before = graph.get(&Graph::job("")).await["status"]["lastSuccessfulExecution"].clone();
    let (status, _) = graph.post(&Graph::job("/start"), json!({})).await;
    assert_eq!(status, 204);
    let job = graph
        .wait(|j| {
            j["status"]["code"] == "Active"
                && j["status"]["lastSuccessfulExecution"].is_object()
                && j["status"]["lastSuccessfulExecution"] != before
        })
        .await;
    let counts = &job["status"]["synchronizedEntryCountByType"];
    assert_eq!(counts[0], json!({"key": "user to User", "value": 2}), "{job}");
    assert_eq!(job["synchronizationJobSettings"][0]["value"], "50", "the threshold from the secrets");
    let alice = target.list("/Users", &[("filter", "userName eq \"alice.ångström@contoso.com\"")]).await.body;
    assert_eq!(alice["Resources"][0]["title"], "LEAD", "{alice}");

    // Pause, then restart with a reset scope: a new cycle runs.
    let (status, _) = graph.post(&Graph::job("/pause"), json!({})).await;
    assert_eq!(status, 204);
    let paused = graph.get(&Graph::job("")).await;
    assert_eq!((&paused["schedule"]["state"], &paused["status"]["code"]), (&json!("Paused"), &json!("Paused")));
    graph.post(&Graph::job("/start"), json!({})).await;
    let before =
        graph.wait(|j| j["status"]["code"] == "Active").await["status"]["lastExecution"]["activityIdentifier"].clone();
    let (status, _) = graph
        .post(&Graph::job("/restart"), json!({"criteria": {"resetScope": "Watermark, Escrows, QuarantineState"}}))
        .await;
    assert_eq!(status, 204);
    graph.wait(|j| j["status"]["lastExecution"]["activityIdentifier"] != before).await;
    let (status, body) = graph.post(&Graph::job("/restart"), json!({"criteria": {"resetScope": "Everything"}})).await;
    assert_eq!(status, 400, "{body}");

    // Provision on demand: Bob's change goes now; Graph's answer carries the result.
    // Commands are handled in order, each cycle they start before the next: an on-demand
    // answer proves the start's and the restart's cycles are over, so none of them can
    // read the change below and send it before the on-demand does.
    let barrier =
        json!({"parameters": [{"ruleId": rule_id, "subjects": [{"objectId": BOB, "objectTypeName": "User"}]}]});
    assert_eq!(graph.post(&Graph::job("/provisionOnDemand"), barrier).await.0, 200);
    let mut directory = sample_directory();
    user_of(&mut directory, BOB)["jobTitle"] = json!("Chief");
    std::fs::write(work.path().join("directory.json"), directory.to_string()).unwrap();
    let on_demand =
        json!({"parameters": [{"ruleId": rule_id, "subjects": [{"objectId": BOB, "objectTypeName": "User"}]}]});
    let (status, body) = graph.post(&Graph::job("/provisionOnDemand"), on_demand).await;
    assert_eq!(status, 200, "{body}");
    let key: Value = serde_json::from_str(body["key"].as_str().unwrap()).unwrap();
    assert_eq!(key["result"], "Success", "{body}");
    let bob = target.list("/Users", &[("filter", "userName eq \"bob.builder@contoso.com\"")]).await.body;
    assert_eq!(bob["Resources"][0]["title"], "CHIEF");
    let wrong_rule =
        json!({"parameters": [{"ruleId": "nope", "subjects": [{"objectId": BOB, "objectTypeName": "User"}]}]});
    assert_eq!(graph.post(&Graph::job("/provisionOnDemand"), wrong_rule).await.0, 400);

    // parseExpression, backed by the expression evaluator.
    let parse = json!({"expression": "Join(\".\", [givenName], [surname])",
                       "testInputObject": {"properties": [{"key": "givenName", "value": "Ada"}, {"key": "surname", "value": "Lovelace"}]}});
    let (status, parsed) = graph.post(&Graph::job("/schema/parseExpression"), parse).await;
    assert_eq!(status, 200, "{parsed}");
    assert_eq!((&parsed["parsingSucceeded"], &parsed["evaluationResult"]), (&json!(true), &json!(["Ada.Lovelace"])));
    assert_eq!(parsed["parsedExpression"]["name"], "Join");
    let (_, failed) =
        graph.post(&Graph::job("/schema/parseExpression"), json!({"expression": "Join(\".\", [a]"})).await;
    assert_eq!(failed["parsingSucceeded"], false, "{failed}");

    // The provisioning log: $filter, $top and the nextLink.
    let filter =
        format!("jobId eq '{JOB}' and provisioningAction eq 'create' and provisioningStatusInfo/status eq 'success'");
    let (status, page) = graph
        .call(reqwest::Method::GET, &format!("/auditLogs/provisioning?$filter={}&$top=1", urlencode(&filter)), None)
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["value"].as_array().unwrap().len(), 1);
    assert_eq!(page["value"][0]["servicePrincipal"]["id"], SP);
    let next = page["@odata.nextLink"].as_str().expect("more than one record, so a next link").to_string();
    let (_, second) = graph.call(reqwest::Method::GET, &next, None).await;
    assert_eq!(second["value"][0]["provisioningAction"], "create");
    assert_ne!(second["value"][0]["id"], page["value"][0]["id"]);
    let dated = "activityDateTime gt 2000-01-01 and activityDateTime lt 2999-01-01";
    let (_, all) =
        graph.call(reqwest::Method::GET, &format!("/auditLogs/provisioning?$filter={}", urlencode(dated)), None).await;
    assert!(all["value"].as_array().unwrap().len() >= 3, "{all}");
    let (status, bad) = graph.call(reqwest::Method::GET, "/auditLogs/provisioning?$filter=jobId%20eq", None).await;
    assert_eq!((status, bad["error"]["code"].as_str()), (400, Some("invalidRequest")), "{bad}");
    assert_eq!(graph.call(reqwest::Method::GET, "/auditLogs/provisioning?$select=id", None).await.0, 400);

    // Unknown ids and missing tokens answer in Graph's error shape.
    let (status, body) = graph.call(reqwest::Method::GET, "/servicePrincipals/nope/synchronization/jobs", None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("itemNotFound")));
    assert_eq!(
        graph
            .call(reqwest::Method::GET, &format!("/servicePrincipals/{SP}/synchronization/jobs/scim.nope"), None)
            .await
            .0,
        404
    );
    let anonymous = host
        .client
        .get(format!("{}/graph/v1.0/servicePrincipals/{SP}/synchronization/jobs", host.address))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
    let body: Value = anonymous.json().await.unwrap();
    assert_eq!(body["error"]["code"], "InvalidAuthenticationToken");

    // A restarted server runs the schema and secrets set over Graph, not the job file's.
    host.handle_stop().await;
    let (restarted, _) = lab(&work, Some(data)).await;
    let graph = Graph { app: &restarted };
    let schema = graph.get(&Graph::job("/schema")).await;
    assert!(schema.to_string().contains("ToUpper([jobTitle])"), "the PUT schema survived the restart");
    let job = graph.wait(|j| j["status"]["lastExecution"].is_object()).await;
    assert_eq!(job["status"]["code"], "Active", "and the saved credentials: {job}");
}

fn urlencode(text: &str) -> String {
    serde_urlencoded::to_string([("x", text)]).unwrap().trim_start_matches("x=").to_string()
}
