//! `/graph/v1.0`: a local stand-in for Microsoft Graph's synchronization API over the hosted
//! jobs (docs/graph-api.md), guarded by the admin token. Answers in Graph's shapes and with
//! Graph's error body (`{"error": {"code", "message", "innerError"}}`).

mod config;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::AppState;
use crate::provision::graph::{synchronization_job, GraphIds};
use crate::provision::host::{Command, HostError, OnDemandSubject};

pub const ROOT: &str = "/graph/v1.0";

pub fn configure(cfg: &mut web::ServiceConfig) {
    let sync = "/graph/v1.0/servicePrincipals/{sp}/synchronization";
    cfg.service(web::resource(format!("{sync}/jobs")).route(web::get().to(list_jobs)))
        .service(web::resource(format!("{sync}/jobs/{{job}}")).route(web::get().to(get_job)))
        .service(
            web::resource(format!("{sync}/jobs/{{job}}/provisionOnDemand")).route(web::post().to(provision_on_demand)),
        )
        .service(
            web::resource(format!("{sync}/jobs/{{job}}/validateCredentials"))
                .route(web::post().to(validate_credentials)),
        )
        .service(
            web::resource(format!("{sync}/jobs/{{job}}/schema"))
                .route(web::get().to(config::get_schema))
                .route(web::put().to(config::put_schema)),
        )
        .service(
            web::resource(format!("{sync}/jobs/{{job}}/schema/parseExpression"))
                .route(web::post().to(config::parse_expression)),
        )
        .service(web::resource(format!("{sync}/jobs/{{job}}/{{action}}")).route(web::post().to(job_action)))
        .service(
            web::resource(format!("{sync}/secrets"))
                .route(web::get().to(config::get_secrets))
                .route(web::put().to(config::put_secrets)),
        )
        .service(web::resource("/graph/v1.0/auditLogs/provisioning").route(web::get().to(config::audit_logs)))
        .service(web::scope("/graph/v1.0").default_service(web::to(not_routed)));
}

/// A Graph error: status, `code` and `message`.
#[derive(Debug)]
pub struct GraphError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl GraphError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> GraphError {
        GraphError {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            code,
            message: message.into(),
        }
    }
    pub fn bad_request(message: impl Into<String>) -> GraphError {
        GraphError::new(400, "invalidRequest", message)
    }
    pub fn not_found(message: impl Into<String>) -> GraphError {
        GraphError::new(404, "itemNotFound", message)
    }
}

impl std::fmt::Display for GraphError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl actix_web::ResponseError for GraphError {
    fn status_code(&self) -> StatusCode {
        self.status
    }
    fn error_response(&self) -> HttpResponse {
        let date = crate::clock::rfc3339(time::OffsetDateTime::now_utc());
        HttpResponse::build(self.status).json(json!({"error": {
            "code": self.code,
            "message": self.message,
            "innerError": {"request-id": uuid::Uuid::new_v4().to_string(), "date": date},
        }}))
    }
}

impl From<HostError> for GraphError {
    fn from(e: HostError) -> GraphError {
        match e {
            HostError::Unknown(_) => GraphError::not_found(e.to_string()),
            HostError::Stopped(_) => GraphError::new(503, "serviceNotAvailable", e.to_string()),
            HostError::Paused(_) | HostError::Standby(_) => GraphError::new(409, "conflict", e.to_string()),
            HostError::Invalid(_) => GraphError::bad_request(e.to_string()),
            HostError::Engine(crate::provision::EngineError::NotFound(m)) => GraphError::not_found(m),
            HostError::Engine(other) => GraphError::new(500, "generalException", other.to_string()),
        }
    }
}

pub type GraphResult = Result<HttpResponse, GraphError>;

/// The admin token, answered in Graph's words.
pub fn authorize(req: &HttpRequest, state: &AppState) -> Result<(), GraphError> {
    super::admin::authorize(req, state).map_err(|e| {
        let status = e.0.status;
        let code = if status == 403 { "accessDenied" } else { "InvalidAuthenticationToken" };
        GraphError::new(status, code, e.0.detail.clone())
    })
}

/// The hosted job behind a service principal id and (when given) a job id.
pub fn resolve(state: &AppState, sp: &str, job_id: Option<&str>) -> Result<(String, GraphIds), GraphError> {
    let mut sp_known = false;
    for name in state.jobs.names() {
        let ids = GraphIds::of(&state.jobs.job(&name)?);
        if ids.service_principal_id.eq_ignore_ascii_case(sp) {
            sp_known = true;
            if job_id.is_none_or(|j| j == ids.job_id) {
                return Ok((name, ids));
            }
        }
    }
    Err(match (sp_known, job_id) {
        (true, Some(job)) => GraphError::not_found(format!("no synchronization job '{job}' under service principal '{sp}'")),
        _ => GraphError::not_found(format!(
            "no service principal '{sp}': `scimlab provision status` and GET /graph/v1.0/servicePrincipals/{{id}}/synchronization/jobs show the ids"
        )),
    })
}

/// The job a request names (`{sp}` and, when the route has it, `{job}`), after the admin
/// token was checked: every Graph handler's first step, as an extractor.
pub struct GraphJob {
    /// The hosted job's name.
    pub name: String,
    pub ids: GraphIds,
    /// The service principal id as the request spelled it.
    pub sp: String,
}

impl actix_web::FromRequest for GraphJob {
    type Error = GraphError;
    type Future = std::future::Ready<Result<GraphJob, GraphError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        std::future::ready((|| {
            let state = req
                .app_data::<web::Data<AppState>>()
                .ok_or_else(|| GraphError::new(500, "generalException", "the server state is missing"))?;
            authorize(req, state)?;
            let sp = req.match_info().get("sp").unwrap_or_default().to_string();
            let (name, ids) = resolve(state, &sp, req.match_info().get("job"))?;
            Ok(GraphJob { name, ids, sp })
        })())
    }
}

pub fn graph_json(status: StatusCode, body: &Value) -> HttpResponse {
    HttpResponse::build(status).content_type("application/json").body(body.to_string())
}

fn job_document(state: &AppState, name: &str, sp: &str) -> Result<Value, GraphError> {
    let job = state.jobs.job(name)?;
    let mut doc = synchronization_job(&job, &state.jobs.status(name)?);
    doc["@odata.context"] = json!(format!("{ROOT}/$metadata#servicePrincipals('{sp}')/synchronization/jobs/$entity"));
    Ok(doc)
}

async fn list_jobs(state: web::Data<AppState>, named: GraphJob) -> GraphResult {
    let sp = named.sp;
    let mut jobs = Vec::new();
    for name in state.jobs.names() {
        if GraphIds::of(&state.jobs.job(&name)?).service_principal_id.eq_ignore_ascii_case(&sp) {
            let mut doc = job_document(&state, &name, &sp)?;
            if let Some(o) = doc.as_object_mut() {
                o.remove("@odata.context");
            }
            jobs.push(doc);
        }
    }
    let context = format!("{ROOT}/$metadata#servicePrincipals('{sp}')/synchronization/jobs");
    Ok(graph_json(StatusCode::OK, &json!({"@odata.context": context, "value": jobs})))
}

async fn get_job(state: web::Data<AppState>, job: GraphJob) -> GraphResult {
    Ok(graph_json(StatusCode::OK, &job_document(&state, &job.name, &job.sp)?))
}

/// Graph's `resetScope` flags, each mapped onto what scimlab's restart resets.
fn restart_command(body: &[u8]) -> Result<Vec<Command>, GraphError> {
    let criteria: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(body).map_err(|e| {
            GraphError::bad_request(format!(
                "restart takes {{\"criteria\": {{\"resetScope\": \"Watermark, Escrows\"}}}}: {e}"
            ))
        })?
    };
    let scope = criteria["criteria"]["resetScope"].as_str().unwrap_or("");
    let flags: Vec<&str> = scope.split(',').map(str::trim).filter(|f| !f.is_empty()).collect();
    let mut commands = Vec::new();
    let mut portal_restart = flags.is_empty();
    for flag in &flags {
        match *flag {
            "None" => commands.push(Command::RunNow),
            "Watermark" | "Escrows" | "QuarantineState" => portal_restart = true,
            "Full" | "ConnectorDataStore" => commands.push(Command::Restart { clear_state: true }),
            "ForceDeletes" => commands.push(Command::AllowDeletions),
            other => {
                return Err(GraphError::bad_request(format!(
                    "resetScope flag '{other}' is not one of None, ConnectorDataStore, Escrows, Watermark, QuarantineState, Full, ForceDeletes"
                )))
            }
        }
    }
    if portal_restart && !commands.iter().any(|c| matches!(c, Command::Restart { .. })) {
        commands.push(Command::Restart { clear_state: false });
    }
    Ok(commands)
}

/// `start`, `pause`, `restart`: 204, as Graph answers.
async fn job_action(req: HttpRequest, state: web::Data<AppState>, job: GraphJob, body: web::Bytes) -> GraphResult {
    let (name, action) = (job.name, req.match_info().get("action").unwrap_or_default().to_string());
    match action.as_str() {
        "start" => state.jobs.start(&name)?,
        "pause" => state.jobs.pause(&name)?,
        "restart" => {
            for command in restart_command(&body)? {
                state.jobs.send(&name, command)?;
            }
        }
        other => {
            return Err(GraphError::new(
                405,
                "notSupported",
                format!(
                "no synchronizationJob action '{other}': start, pause, restart, provisionOnDemand, validateCredentials"
            ),
            ))
        }
    }
    tracing::info!(job = %name, action = %action, "graph job control");
    Ok(HttpResponse::NoContent().finish())
}

/// `provisionOnDemand`: one subject of the job's rule, answered as Graph answers it.
async fn provision_on_demand(state: web::Data<AppState>, job: GraphJob, body: web::Bytes) -> GraphResult {
    let GraphJob { name, ids, .. } = job;
    let shape = "provisionOnDemand takes {\"parameters\": [{\"ruleId\": \"…\", \"subjects\": [{\"objectId\": \"…\", \"objectTypeName\": \"User\"}]}]}";
    let request: Value = serde_json::from_slice(&body).map_err(|e| GraphError::bad_request(format!("{shape}: {e}")))?;
    let parameters = request["parameters"]
        .as_array()
        .filter(|p| p.len() == 1)
        .ok_or_else(|| GraphError::bad_request(format!("{shape} (exactly one parameter)")))?;
    let rule = crate::provision::graph::schema::rule_id(&ids);
    if parameters[0]["ruleId"] != rule.as_str() {
        return Err(GraphError::bad_request(format!(
            "ruleId {} is not a rule of this job; its rule is '{rule}' (GET …/jobs/{}/schema lists it)",
            parameters[0]["ruleId"], ids.job_id
        )));
    }
    let subjects = parameters[0]["subjects"]
        .as_array()
        .filter(|s| s.len() == 1)
        .ok_or_else(|| GraphError::bad_request(format!("{shape} (exactly one subject)")))?;
    let object_id = subjects[0]["objectId"]
        .as_str()
        .filter(|o| !o.is_empty())
        .ok_or_else(|| GraphError::bad_request(format!("{shape}: objectId is missing")))?;
    let subject = match subjects[0]["objectTypeName"].as_str() {
        Some("User") | Some("user") => OnDemandSubject::User(object_id.to_string()),
        Some("Group") | Some("group") => OnDemandSubject::Group(object_id.to_string()),
        other => return Err(GraphError::bad_request(format!("objectTypeName {other:?} is not User or Group"))),
    };
    let traces = state.jobs.provision_on_demand(&name, subject).await?;
    let last = traces
        .last()
        .ok_or_else(|| GraphError::new(500, "generalException", "provisioning on demand produced no result"))?;
    let mut answer = last.to_graph();
    answer["@odata.context"] = json!(format!("{ROOT}/$metadata#microsoft.graph.stringKeyStringValuePair"));
    Ok(graph_json(StatusCode::OK, &answer))
}

/// `validateCredentials`: Test Connection with the saved or the given credentials.
async fn validate_credentials(state: web::Data<AppState>, job: GraphJob, body: web::Bytes) -> GraphResult {
    let name = job.name;
    let request: Value = if body.is_empty() {
        json!({})
    } else {
        serde_json::from_slice(&body).map_err(|e| GraphError::bad_request(format!("validateCredentials takes {{\"useSavedCredentials\": false, \"credentials\": [{{\"key\": \"BaseAddress\", \"value\": \"…\"}}]}}: {e}")))?
    };
    let credentials = request["credentials"].as_array().cloned().unwrap_or_default();
    let probe = if request["useSavedCredentials"] == true || credentials.is_empty() {
        None
    } else {
        let secrets: Vec<crate::provision::graph::secrets::Secret> = serde_json::from_value(Value::Array(credentials))
            .map_err(|e| GraphError::bad_request(format!("credentials are [{{\"key\", \"value\"}}]: {e}")))?;
        let current = state.jobs.job(&name)?;
        let mut spec = current.spec.clone();
        crate::provision::graph::secrets::apply(&mut spec, &secrets)
            .map_err(|e| GraphError::bad_request(e.to_string()))?;
        Some(
            crate::provision::Job::from_spec(spec, current.base_dir)
                .map_err(|e| GraphError::bad_request(e.to_string()))?,
        )
    };
    match state.jobs.test_connection(&name, probe).await {
        Ok(()) => Ok(HttpResponse::NoContent().finish()),
        Err(HostError::Engine(e)) => Err(GraphError::bad_request(format!("the credentials did not work: {e}"))),
        Err(other) => Err(other.into()),
    }
}

async fn not_routed(req: HttpRequest) -> HttpResponse {
    actix_web::ResponseError::error_response(&GraphError::new(
        404,
        "BadRequest",
        format!(
            "Resource not found for the segment in {} {} (scimlab emulates the synchronization API: docs/graph-api.md)",
            req.method(),
            req.path()
        ),
    ))
}
