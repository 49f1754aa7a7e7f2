//! `/admin`: operator endpoints, protected by the admin token (`--admin-token`), separate
//! from the SCIM credentials so a provisioning client can never reconfigure its target.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::error::ApiError;
use super::{scim_json, AppState};
use crate::faults::FaultPlan;
use crate::recording::{to_har, RecordQuery};
use crate::scim::ScimError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/admin/faults")
            .route(web::get().to(get_faults))
            .route(web::put().to(put_faults))
            .route(web::delete().to(delete_faults)),
    )
    .service(web::resource("/admin/requests").route(web::get().to(requests)).route(web::delete().to(clear_requests)))
    .service(web::resource("/admin/requests.jsonl").route(web::get().to(requests_jsonl)))
    .service(web::resource("/admin/requests.har").route(web::get().to(requests_har)))
    .service(web::resource("/admin").route(web::get().to(page)))
    .service(web::resource("/admin/").route(web::get().to(page)))
    .service(web::resource("/admin/tenants").route(web::get().to(list_tenants)))
    .service(web::resource("/admin/tenants/{name}").route(web::put().to(put_tenant)))
    .service(
        web::resource("/admin/tenants/{name}/faults")
            .route(web::get().to(get_faults))
            .route(web::put().to(put_faults))
            .route(web::delete().to(delete_faults)),
    )
    // After /faults, which it would otherwise capture.
    .service(web::resource("/admin/tenants/{name}/{endpoint}").route(web::get().to(tenant_resources)))
    .configure(super::admin_jobs::configure);
}

async fn recorded(
    req: &HttpRequest,
    state: &AppState,
    query: RecordQuery,
) -> Result<Vec<crate::recording::RequestRecord>, ApiError> {
    authorize(req, state)?;
    match &query.wait {
        Some(wait) => {
            let wait = crate::recording::parse_wait(wait).map_err(|e| ApiError(ScimError::invalid_value(e)))?;
            state.recorder.query_waiting(&query, wait).await.map_err(recorder_unavailable)
        }
        None => state.recorder.query_off_thread(&query).await.map_err(recorder_unavailable),
    }
}

/// The shared ring (PostgreSQL) could not be read or changed.
fn recorder_unavailable(e: crate::store::StoreError) -> ApiError {
    tracing::warn!(error = %e, "request recorder unavailable");
    ApiError(ScimError::unavailable(format!("the request recorder cannot be reached just now: {e}")))
}

/// `GET /admin/requests?since=&status=4xx&method=&path=&limit=`.
async fn requests(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<RecordQuery>,
) -> Result<HttpResponse, ApiError> {
    let records = recorded(&req, &state, q.into_inner()).await?;
    let dropped = state.recorder.dropped();
    Ok(scim_json(
        StatusCode::OK,
        &json!({"enabled": state.recorder.enabled(), "dropped": dropped, "requests": records}),
    ))
}

async fn requests_jsonl(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<RecordQuery>,
) -> Result<HttpResponse, ApiError> {
    let records = recorded(&req, &state, q.into_inner()).await?;
    let body: String = records.iter().filter_map(|r| serde_json::to_string(r).ok()).map(|l| l + "\n").collect();
    Ok(HttpResponse::Ok().content_type("application/x-ndjson").body(body))
}

async fn requests_har(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<RecordQuery>,
) -> Result<HttpResponse, ApiError> {
    let records = recorded(&req, &state, q.into_inner()).await?;
    let base = super::extract::request_origin(&req);
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header(("content-disposition", "attachment; filename=\"scimlab-requests.har\""))
        .body(to_har(&records, &base).to_string()))
}

async fn clear_requests(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    authorize(&req, &state)?;
    // Waits for the recorder's writer first (and asks PostgreSQL when shared): off the worker.
    let recorder = std::sync::Arc::clone(&state.recorder);
    web::block(move || recorder.clear()).await?.map_err(recorder_unavailable)?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /metrics` in the Prometheus text format; needs the admin token when one is set.
pub async fn metrics(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    if state.admin_token.is_some() {
        authorize(&req, &state)?;
    }
    let counts = resource_counts(&state).await?;
    let held: Vec<(String, usize)> = state.tenants.all().iter().map(|t| (t.name.clone(), t.faults.held())).collect();
    let text =
        state.metrics.render(&counts, &held).map_err(|e| ApiError(ScimError::internal(format!("metrics: {e}"))))?;
    Ok(HttpResponse::Ok().content_type(crate::metrics::CONTENT_TYPE).body(text))
}

pub(crate) fn authorize(req: &HttpRequest, state: &AppState) -> Result<(), ApiError> {
    let Some(expected) = &state.admin_token else {
        return Err(ApiError(ScimError::forbidden(
            "the admin API is off: start the server with --admin-token <secret> (or admin_token in the config file)",
        )));
    };
    let given = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    match given {
        Some(token)
            if crate::auth::constant_time_eq(
                secrecy::ExposeSecret::expose_secret(expected).as_bytes(),
                token.as_bytes(),
            ) =>
        {
            Ok(())
        }
        Some(_) => Err(ApiError(ScimError::unauthorized("the admin token is not valid"))),
        None => Err(ApiError(ScimError::unauthorized("the admin API needs 'Authorization: Bearer <admin token>'"))),
    }
}

const ADMIN_PAGE: &str = include_str!("static/admin.html");

/// Shown on the page when the server runs without an admin token (the API answers 403).
const ADMIN_API_OFF: &str = r#"<p id="admin-off" role="alert" style="margin:12px 16px;padding:10px;background:#fff4e5;border:1px solid #b35900">The admin API is off on this server, so this page has nothing to show. Restart it with <code>--admin-token &lt;secret&gt;</code> (or <code>SCIMLAB_ADMIN_TOKEN</code>, or <code>admin_token</code> in the config file), then enter that secret above.</p>"#;

/// The admin page: a static file in the binary; it holds no data and asks for the admin
/// token, then reads the admin API.
async fn page(state: web::Data<AppState>) -> HttpResponse {
    let body = if state.admin_token.is_some() {
        std::borrow::Cow::Borrowed(ADMIN_PAGE)
    } else {
        std::borrow::Cow::Owned(ADMIN_PAGE.replacen("<!--ADMIN-API-OFF-->", ADMIN_API_OFF, 1))
    };
    HttpResponse::Ok().content_type("text/html; charset=utf-8").insert_header(("cache-control", "no-store")).body(body)
}

/// `GET /admin/tenants/{name}/users|groups`: the first 200 in id order, for the admin page.
async fn tenant_resources(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    authorize(&req, &state)?;
    let (name, endpoint) = path.into_inner();
    let kind = crate::scim::ResourceKind::from_endpoint(&endpoint)
        .ok_or_else(|| ApiError(ScimError::not_found(format!("no resource type '{endpoint}': use users or groups"))))?;
    let tenant = named_tenant(&state, &name)?;
    let base = super::extract::base_url(&req, &format!("/tenants/{name}{}", super::SCIM_ROOT));
    let (body, _) = web::block(move || {
        let query = crate::service::ListQuery { count: Some(200), ..Default::default() };
        tenant.service.list(&[kind], &query, &crate::service::ReadOptions { base, ..Default::default() })
    })
    .await
    .map_err(|e| ApiError(ScimError::internal(e.to_string())))??;
    Ok(scim_json(StatusCode::OK, &body))
}

fn parse_plan(body: &[u8]) -> Result<FaultPlan, ApiError> {
    let plan: FaultPlan = serde_json::from_slice(body).map_err(|e| {
        ApiError(ScimError::invalid_syntax(format!(
            "a fault plan is {{\"seed\": n, \"rules\": [{{method, path, rate, after, times, status, retryAfterSeconds, latencyMs, hangSeconds, misbehave}}]}}: {e}"
        )))
    })?;
    plan.check().map_err(|e| ApiError(ScimError::invalid_value(e)))?;
    Ok(plan)
}

fn named_tenant(state: &AppState, name: &str) -> Result<std::sync::Arc<crate::tenants::Tenant>, ApiError> {
    state.tenants.get(name).ok_or_else(|| ApiError(ScimError::not_found(format!("no tenant '{name}'"))))
}

/// Counts per tenant and type, read off the async threads.
async fn resource_counts(state: &AppState) -> Result<Vec<(String, &'static str, usize)>, ApiError> {
    let tenants = state.tenants.all();
    web::block(move || {
        tenants
            .iter()
            .flat_map(|t| {
                crate::scim::ResourceKind::ALL
                    .into_iter()
                    .map(|kind| (t.name.clone(), kind.name(), t.service.store().count(kind).unwrap_or(0)))
            })
            .collect::<Vec<_>>()
    })
    .await
    .map_err(|e| ApiError(ScimError::internal(e.to_string())))
}

async fn list_tenants(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    authorize(&req, &state)?;
    let counts = resource_counts(&state).await?;
    let tenants: Vec<serde_json::Value> = state
        .tenants
        .all()
        .iter()
        .map(|t| {
            let count = |kind: &str| counts.iter().find(|(n, k, _)| *n == t.name && *k == kind).map_or(0, |c| c.2);
            let root = if t.name == crate::tenants::DEFAULT_TENANT {
                super::SCIM_ROOT.to_string()
            } else {
                format!("/tenants/{}{}", t.name, super::SCIM_ROOT)
            };
            json!({"name": t.name, "profile": t.profile.to_string(), "scimRoot": root,
                   "users": count("User"), "groups": count("Group")})
        })
        .collect();
    Ok(scim_json(StatusCode::OK, &json!({"tenants": tenants})))
}

/// Creates or reconfigures a tenant: `{"tokens": [...], "profile": "strict", "faults": {...}}`.
async fn put_tenant(
    req: HttpRequest,
    state: web::Data<AppState>,
    name: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    authorize(&req, &state)?;
    let spec: crate::tenants::TenantSpec = serde_json::from_slice(&body).map_err(|e| {
        ApiError(ScimError::invalid_syntax(format!(
            "a tenant is {{\"tokens\": [\"…\"], \"profile\": \"entra|okta|strict\", \"faults\": {{…}}}}: {e}"
        )))
    })?;
    let tenants = std::sync::Arc::clone(&state.tenants);
    let name = name.into_inner();
    let tenant = web::block(move || tenants.put(&name, &spec))
        .await
        .map_err(|e| ApiError(ScimError::internal(e.to_string())))?
        .map_err(|e| match e {
            crate::tenants::TenantError::Invalid(_) | crate::tenants::TenantError::Auth(_) => {
                ApiError(ScimError::invalid_value(e.to_string()))
            }
            other => ApiError(ScimError::internal(other.to_string())),
        })?;
    tracing::info!(tenant = %tenant.name, profile = %tenant.profile, "tenant configured");
    Ok(scim_json(
        StatusCode::OK,
        &json!({"name": tenant.name, "profile": tenant.profile.to_string(), "scimRoot": format!("/tenants/{}{}", tenant.name, super::SCIM_ROOT)}),
    ))
}

/// The tenant a faults route names (`/admin/tenants/{name}/faults`), or the default
/// tenant (`/admin/faults`).
fn faults_tenant(req: &HttpRequest, state: &AppState) -> Result<std::sync::Arc<crate::tenants::Tenant>, ApiError> {
    named_tenant(state, req.match_info().get("name").unwrap_or(crate::tenants::DEFAULT_TENANT))
}

async fn get_faults(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    authorize(&req, &state)?;
    Ok(scim_json(StatusCode::OK, &json!(faults_tenant(&req, &state)?.faults.plan())))
}

async fn put_faults(req: HttpRequest, state: web::Data<AppState>, body: web::Bytes) -> Result<HttpResponse, ApiError> {
    authorize(&req, &state)?;
    let plan = parse_plan(&body)?;
    let tenant = faults_tenant(&req, &state)?;
    tenant.faults.set(plan.clone());
    tracing::warn!(tenant = %tenant.name, rules = plan.rules.len(), seed = plan.seed, "fault plan replaced");
    Ok(scim_json(StatusCode::OK, &json!(plan)))
}

async fn delete_faults(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    authorize(&req, &state)?;
    faults_tenant(&req, &state)?.faults.set(FaultPlan::default());
    Ok(HttpResponse::NoContent().finish())
}
