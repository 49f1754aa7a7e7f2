//! `/admin/jobs`: the hosted provisioning jobs (`serve --job`), as the admin page and
//! scripts drive them: status, control, provision on demand, logs and mappings.
//! Documented in docs/admin-api.md.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::admin::authorize;
use super::error::ApiError;
use super::{scim_json, AppState};
use crate::provision::engine::EngineError;
use crate::provision::host::{Command, HostError, OnDemandSubject};
use crate::provision::log_query::{LogFilterText, LogFormat};
use crate::scim::ScimError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/admin/jobs").route(web::get().to(list_jobs)))
        .service(web::resource("/admin/jobs/{name}").route(web::get().to(job_status)))
        .service(web::resource("/admin/jobs/{name}/logs").route(web::get().to(job_logs)))
        .service(web::resource("/admin/jobs/{name}/mappings").route(web::get().to(job_mappings)))
        .service(web::resource("/admin/jobs/{name}/on-demand").route(web::post().to(on_demand)))
        .service(web::resource("/admin/jobs/{name}/{action}").route(web::post().to(job_action)));
}

fn host_error(e: HostError) -> ApiError {
    match e {
        HostError::Unknown(_) => ApiError(ScimError::not_found(e.to_string())),
        HostError::Stopped(_) => ApiError(ScimError::unavailable(e.to_string())),
        HostError::Paused(_) | HostError::Standby(_) => ApiError(ScimError::new(409, None, e.to_string())),
        HostError::Invalid(_) => ApiError(ScimError::invalid_value(e.to_string())),
        HostError::Engine(EngineError::NotFound(detail)) => ApiError(ScimError::not_found(detail)),
        HostError::Engine(e @ (EngineError::Disabled(_) | EngineError::Paused)) => {
            ApiError(ScimError::new(409, None, e.to_string()))
        }
        HostError::Engine(e) => ApiError(ScimError::internal(e.to_string())),
    }
}

async fn list_jobs(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    authorize(&req, &state)?;
    let statuses = state.jobs.statuses().map_err(host_error)?;
    Ok(scim_json(StatusCode::OK, &json!({"jobs": statuses})))
}

async fn job_status(
    req: HttpRequest,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    authorize(&req, &state)?;
    Ok(scim_json(StatusCode::OK, &json!(state.jobs.status(&name).map_err(host_error)?)))
}

/// Paging and format of a log query; the filters are [`LogFilterText`].
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct LogPage {
    #[serde(default = "first")]
    start_index: usize,
    #[serde(default = "default_count")]
    count: usize,
    format: Option<String>,
}

fn first() -> usize {
    1
}
fn default_count() -> usize {
    100
}
const MAX_LOG_PAGE: usize = 1000;

/// `GET /admin/jobs/{job}/logs?status=&action=&identity=&since=&until=&cycleId=`: newest
/// first, `startIndex`/`count` paged (at most 1000 a page), or with `format=jsonl|csv|
/// csv-steps|csv-properties` every matching record as a download, oldest first as the CLI
/// writes it.
async fn job_logs(
    req: HttpRequest,
    state: web::Data<AppState>,
    name: web::Path<String>,
    filter: web::Query<LogFilterText>,
    page: web::Query<LogPage>,
) -> Result<HttpResponse, ApiError> {
    authorize(&req, &state)?;
    let filter = filter.parse().map_err(|e| ApiError(ScimError::invalid_value(e)))?;
    let format = page.format.as_deref().map(LogFormat::parse).transpose();
    let format = format.map_err(|e| ApiError(ScimError::invalid_value(e)))?;
    if page.start_index == 0 || page.count > MAX_LOG_PAGE {
        return Err(ApiError(ScimError::invalid_value(format!(
            "startIndex starts at 1 and count is at most {MAX_LOG_PAGE} (got startIndex={}, count={})",
            page.start_index, page.count
        ))));
    }
    // Every record of the job is read, decoded and filtered: after a large cycle that is
    // seconds of work, kept off the worker that other connections wait on.
    let page = page.into_inner();
    let answer = web::block(move || -> Result<LogsAnswer, ApiError> {
        let logs = state.jobs.logs(&name).map_err(host_error)?;
        let matching: Vec<_> = logs.into_iter().filter(|e| filter.matches(e)).collect();
        if let Some(format) = format {
            let body =
                format.render(&matching).map_err(|e| ApiError(ScimError::internal(format!("writing logs: {e}"))))?;
            let file = format!("attachment; filename=\"{}-provisioning-logs.{}\"", name.as_str(), format.extension());
            return Ok(LogsAnswer::Download { content_type: format.content_type(), file, body });
        }
        let records: Vec<_> =
            matching.iter().rev().skip(page.start_index - 1).take(page.count).map(|l| l.to_graph()).collect();
        Ok(LogsAnswer::Page(json!({"totalResults": matching.len(), "startIndex": page.start_index,
                "itemsPerPage": records.len(), "logs": records})))
    })
    .await??;
    Ok(match answer {
        LogsAnswer::Download { content_type, file, body } => {
            HttpResponse::Ok().content_type(content_type).insert_header(("content-disposition", file)).body(body)
        }
        LogsAnswer::Page(page) => scim_json(StatusCode::OK, &page),
    })
}

/// A logs request's answer, built on the blocking pool.
enum LogsAnswer {
    Download { content_type: &'static str, file: String, body: String },
    Page(serde_json::Value),
}

/// `GET /admin/jobs/{job}/mappings`: the portal's attribute-mapping table, read-only.
async fn job_mappings(
    req: HttpRequest,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    authorize(&req, &state)?;
    let job = state.jobs.job(&name).map_err(host_error)?;
    Ok(scim_json(StatusCode::OK, &crate::provision::mapping_view::describe(&job)))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct OnDemandRequest {
    user: Option<String>,
    group: Option<String>,
}

/// `POST /admin/jobs/{job}/on-demand` with `{"user": key}` or `{"group": key}`: provisions
/// it now and answers every step, value and HTTP exchange (members first for a group).
async fn on_demand(
    req: HttpRequest,
    state: web::Data<AppState>,
    name: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    authorize(&req, &state)?;
    let asked: OnDemandRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError(ScimError::invalid_syntax(format!(
            "provision on demand takes {{\"user\": \"objectId, userPrincipalName or mail\"}} or {{\"group\": \"objectId or displayName\"}}: {e}"
        )))
    })?;
    let subject = match (asked.user, asked.group) {
        (Some(user), None) if !user.trim().is_empty() => OnDemandSubject::User(user.trim().to_string()),
        (None, Some(group)) if !group.trim().is_empty() => OnDemandSubject::Group(group.trim().to_string()),
        _ => {
            return Err(ApiError(ScimError::invalid_value(
                "name exactly one non-empty \"user\" or \"group\" to provision on demand",
            )))
        }
    };
    let traces = state.jobs.provision_on_demand(&name, subject).await.map_err(host_error)?;
    tracing::info!(job = %name, objects = traces.len(), "provisioned on demand");
    Ok(scim_json(StatusCode::OK, &json!({"traces": traces})))
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct RestartQuery {
    #[serde(default)]
    clear_state: bool,
}

/// `start`, `pause`, `resume`, `restart[?clearState=true]`, `allow-deletions`.
async fn job_action(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    query: web::Query<RestartQuery>,
) -> Result<HttpResponse, ApiError> {
    authorize(&req, &state)?;
    let (name, action) = path.into_inner();
    let jobs = &state.jobs;
    match action.as_str() {
        "start" => jobs.start(&name),
        "pause" => jobs.pause(&name),
        "resume" => jobs.resume(&name),
        "restart" => jobs.send(&name, Command::Restart { clear_state: query.clear_state }),
        "allow-deletions" => jobs.send(&name, Command::AllowDeletions),
        other => {
            return Err(ApiError(ScimError::not_found(format!(
                "no job action '{other}': use start, pause, resume, restart, allow-deletions or on-demand"
            ))))
        }
    }
    .map_err(host_error)?;
    tracing::info!(job = %name, action = %action, "job control");
    Ok(scim_json(StatusCode::ACCEPTED, &json!(state.jobs.status(&name).map_err(host_error)?)))
}
