//! `/admin`: operator endpoints, protected by the admin token (`--admin-token`), separate
//! from the SCIM credentials so a provisioning client can never reconfigure its target.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::error::ApiError;
use super::{scim_json, AppState};
use crate::faults::FaultPlan;
use crate::scim::ScimError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/admin/faults")
            .route(web::get().to(get_faults))
            .route(web::put().to(put_faults))
            .route(web::delete().to(delete_faults)),
    );
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
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")));
    match given {
        Some(token) if crate::auth::constant_time_eq(token.as_bytes(), expected.as_bytes()) => Ok(()),
        Some(_) => Err(ApiError(ScimError::unauthorized("the admin token is not valid"))),
        None => Err(ApiError(ScimError::unauthorized("the admin API needs 'Authorization: Bearer <admin token>'"))),
    }
}

async fn get_faults(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    authorize(&req, &state)?;
    Ok(scim_json(StatusCode::OK, &json!(state.faults.plan())))
}

async fn put_faults(req: HttpRequest, state: web::Data<AppState>, body: web::Bytes) -> Result<HttpResponse, ApiError> {
    authorize(&req, &state)?;
    let plan: FaultPlan = serde_json::from_slice(&body).map_err(|e| {
        ApiError(ScimError::invalid_syntax(format!(
            "a fault plan is {{\"seed\": n, \"rules\": [{{method, path, rate, after, times, status, retryAfterSeconds, latencyMs, hangSeconds}}]}}: {e}"
        )))
    })?;
    plan.check().map_err(|e| ApiError(ScimError::invalid_value(e)))?;
    state.faults.set(plan.clone());
    tracing::warn!(rules = plan.rules.len(), seed = plan.seed, "fault plan replaced");
    Ok(scim_json(StatusCode::OK, &json!(plan)))
}

async fn delete_faults(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    authorize(&req, &state)?;
    state.faults.set(FaultPlan::default());
    Ok(HttpResponse::NoContent().finish())
}
