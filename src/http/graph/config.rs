//! The Graph endpoints that read or change a job's configuration (schema, secrets,
//! parseExpression) and the provisioning log (`/auditLogs/provisioning`).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};

use super::{authorize, graph_json, GraphError, GraphJob, GraphResult, ROOT};
use crate::http::AppState;
use crate::provision::graph::{odata, schema, secrets, GraphIds};

pub async fn get_schema(state: web::Data<AppState>, job: GraphJob) -> GraphResult {
    let mut doc = schema::export(&state.jobs.job(&job.name)?.spec, &job.ids);
    let (sp, id) = (&job.sp, &job.ids.job_id);
    doc["@odata.context"] =
        json!(format!("{ROOT}/$metadata#servicePrincipals('{sp}')/synchronization/jobs('{id}')/schema/$entity"));
    Ok(graph_json(StatusCode::OK, &doc))
}

/// `PUT …/schema`: the job's mappings and scoping become the schema's; the next cycle is a
/// full one (the configuration changed), as in Entra.
pub async fn put_schema(state: web::Data<AppState>, job: GraphJob, body: web::Bytes) -> GraphResult {
    let name = job.name;
    let text = std::str::from_utf8(&body).map_err(|_| GraphError::bad_request("the schema is not UTF-8 JSON"))?;
    let current = state.jobs.job(&name)?.spec;
    let (changed, notes) =
        schema::apply(&current, text, "the request body").map_err(|e| GraphError::bad_request(e.to_string()))?;
    state.jobs.reconfigure(&name, changed).await?;
    for note in &notes {
        tracing::warn!(job = %name, "schema: {note}");
    }
    tracing::info!(job = %name, "schema replaced over the Graph API; the next cycle is a full one");
    Ok(HttpResponse::NoContent().finish())
}

/// `parseExpression`: the expression's tree, and its value for `testInputObject`.
pub async fn parse_expression(state: web::Data<AppState>, _job: GraphJob, body: web::Bytes) -> GraphResult {
    let request: Value = serde_json::from_slice(&body)
        .map_err(|e| GraphError::bad_request(format!("parseExpression takes {{\"expression\": \"…\", \"testInputObject\": {{\"properties\": [{{\"key\", \"value\"}}]}}}}: {e}")))?;
    let expression =
        request["expression"].as_str().ok_or_else(|| GraphError::bad_request("'expression' (a string) is missing"))?;
    let program = match crate::provision::expr::Program::compile(expression) {
        Ok(p) => p,
        Err(e) => {
            let failed = json!({"error": {"code": "ParsingFailed", "message": e.to_string()}, "parsingSucceeded": false,
                                "evaluationSucceeded": false, "evaluationResult": null, "parsedExpression": null});
            return Ok(graph_json(StatusCode::OK, &failed));
        }
    };
    let parsed = schema::source_tree(expression);
    let properties = request["testInputObject"]["properties"].as_array();
    let (evaluated, result, error) = match properties {
        None => (false, Value::Null, Value::Null),
        Some(properties) => {
            let mut source = Map::new();
            for p in properties {
                if let Some(key) = p["key"].as_str() {
                    source.insert(key.to_string(), p["value"].clone());
                }
            }
            let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(rand::random());
            let mut ctx = crate::provision::expr::EvalContext {
                source: &source,
                now: state.clock.now(),
                rng: &mut rng,
                default_domain: "",
                taken: None,
                redacted: false,
            };
            match program.evaluate(&mut ctx) {
                Ok(v) if v.is_null() => (true, json!([]), Value::Null),
                Ok(v) => (true, json!(v.as_list()), Value::Null),
                Err(e) => (false, Value::Null, json!({"code": "EvaluationFailed", "message": e.to_string()})),
            }
        }
    };
    Ok(graph_json(
        StatusCode::OK,
        &json!({"error": error, "parsingSucceeded": true, "evaluationSucceeded": evaluated,
                "evaluationResult": result, "parsedExpression": parsed}),
    ))
}

/// `GET …/secrets`: the settings Entra keeps as secrets; the token masked.
pub async fn get_secrets(state: web::Data<AppState>, job: GraphJob) -> GraphResult {
    Ok(graph_json(StatusCode::OK, &secrets::export(&state.jobs.job(&job.name)?.spec, false)))
}

/// `PUT …/secrets`: target URL and token, scope, out-of-scope deletions and the deletion
/// threshold of every job of the service principal.
pub async fn put_secrets(state: web::Data<AppState>, job: GraphJob, body: web::Bytes) -> GraphResult {
    let name = job.name;
    let body: secrets::SecretsBody = serde_json::from_slice(&body).map_err(|e| {
        GraphError::bad_request(format!(
            "secrets are {{\"value\": [{{\"key\": \"BaseAddress\", \"value\": \"https://…\"}}, …]}}: {e}"
        ))
    })?;
    let mut spec = state.jobs.job(&name)?.spec;
    let notes = secrets::apply(&mut spec, &body.value).map_err(|e| GraphError::bad_request(e.to_string()))?;
    state.jobs.reconfigure(&name, spec).await?;
    for note in &notes {
        tracing::info!(job = %name, "secrets: {note}");
    }
    Ok(HttpResponse::NoContent().finish())
}

const DEFAULT_TOP: usize = 100;
const MAX_TOP: usize = 1000;

/// `GET /auditLogs/provisioning`: every hosted job's records as provisioningObjectSummary,
/// newest first, `$filter`ed and paged with `$top` and an opaque `$skiptoken`.
pub async fn audit_logs(req: HttpRequest, state: web::Data<AppState>) -> GraphResult {
    authorize(&req, &state)?;
    let query: Vec<(String, String)> = serde_urlencoded::from_str(req.query_string())
        .map_err(|e| GraphError::bad_request(format!("the query string does not decode: {e}")))?;
    let option = |name: &str| query.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str());
    if let Some((unsupported, _)) = query
        .iter()
        .find(|(k, _)| !["$filter", "$top", "$skiptoken", "$orderby"].iter().any(|known| k.eq_ignore_ascii_case(known)))
    {
        return Err(GraphError::new(
            400,
            "notSupported",
            format!("query option '{unsupported}' is not supported here; use $filter, $top, $skiptoken, $orderby"),
        ));
    }
    let filter = option("$filter").map(odata::parse).transpose().map_err(GraphError::bad_request)?;
    let top = match option("$top") {
        None => DEFAULT_TOP,
        Some(t) => t.parse::<usize>().ok().filter(|t| (1..=MAX_TOP).contains(t)).ok_or_else(|| {
            GraphError::bad_request(format!("$top must be a whole number from 1 to {MAX_TOP}, not '{t}'"))
        })?,
    };
    let skip = match option("$skiptoken") {
        None => 0,
        Some(token) => decode_skiptoken(token).ok_or_else(|| {
            GraphError::bad_request("$skiptoken is not one this server issued; follow @odata.nextLink as given")
        })?,
    };
    let ascending = match option("$orderby").map(|o| o.trim().to_ascii_lowercase()) {
        None => false,
        Some(o) if o == "activitydatetime desc" => false,
        Some(o) if o == "activitydatetime" || o == "activitydatetime asc" => true,
        Some(o) => {
            return Err(GraphError::new(400, "notSupported", format!("$orderby '{o}': only activityDateTime asc|desc")))
        }
    };
    // Every job's records are read, decoded, filtered and sorted: after a large cycle that
    // is seconds of work, kept off the worker that other connections wait on.
    let app = state.clone();
    let (more, page) = web::block(move || -> Result<(bool, Vec<Value>), GraphError> {
        let mut records = Vec::new();
        for name in app.jobs.names() {
            let ids = GraphIds::of(&app.jobs.job(&name)?);
            for entry in app.jobs.logs(&name)? {
                let mut record = entry.to_graph();
                record["jobId"] = json!(ids.job_id);
                record["servicePrincipal"] = json!({"id": ids.service_principal_id, "displayName": name});
                if filter.as_ref().is_none_or(|f| f.matches(&record)) {
                    records.push(record);
                }
            }
        }
        records.sort_by(|a, b| a["activityDateTime"].as_str().cmp(&b["activityDateTime"].as_str()));
        if !ascending {
            records.reverse();
        }
        let more = records.len() > skip + top;
        Ok((more, records.into_iter().skip(skip).take(top).collect()))
    })
    .await
    .map_err(|e| GraphError::new(500, "generalException", format!("reading provisioning logs: {e}")))??;
    let mut body = json!({"@odata.context": format!("{ROOT}/$metadata#auditLogs/provisioning"), "value": page});
    if more {
        let mut next: Vec<(String, String)> =
            query.into_iter().filter(|(k, _)| !k.eq_ignore_ascii_case("$skiptoken")).collect();
        next.push(("$skiptoken".into(), encode_skiptoken(skip + top)));
        let base = state.public_url.clone().unwrap_or_else(|| crate::http::extract::request_origin(&req));
        let encoded = serde_urlencoded::to_string(&next).unwrap_or_default();
        body["@odata.nextLink"] = json!(format!("{base}{ROOT}/auditLogs/provisioning?{encoded}"));
    }
    Ok(graph_json(StatusCode::OK, &body))
}

fn encode_skiptoken(offset: usize) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("scimlab-offset:{offset}"))
}

fn decode_skiptoken(token: &str) -> Option<usize> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token).ok()?;
    String::from_utf8(bytes).ok()?.strip_prefix("scimlab-offset:")?.parse().ok()
}
