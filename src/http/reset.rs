//! docs/test-target.md, Reset. `POST /admin/reset` and `POST /admin/tenants/{name}/reset`: a test target back to a known
//! state between tests, in milliseconds. Users, groups, the request recording and the
//! tenant's faults are emptied; tokens and settings stay; `?seed=true` loads the server's seed
//! files of that tenant again (`--seed` for the default tenant, `seeds` of a `[[tenants]]`).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::admin::authorize;
use super::error::ApiError;
use super::{scim_json, AppState};
use crate::faults::FaultPlan;
use crate::scim::ScimError;
use crate::tenants::DEFAULT_TENANT;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/admin/reset").route(web::post().to(reset_default)))
        .service(web::resource("/admin/tenants/{name}/reset").route(web::post().to(reset_tenant)));
}

#[derive(Deserialize)]
struct ResetQuery {
    #[serde(default)]
    seed: bool,
}

async fn reset_default(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<ResetQuery>,
) -> Result<HttpResponse, ApiError> {
    reset(&req, &state, DEFAULT_TENANT, q.seed).await
}

async fn reset_tenant(
    req: HttpRequest,
    state: web::Data<AppState>,
    name: web::Path<String>,
    q: web::Query<ResetQuery>,
) -> Result<HttpResponse, ApiError> {
    reset(&req, &state, &name, q.seed).await
}

async fn reset(req: &HttpRequest, state: &AppState, name: &str, seed: bool) -> Result<HttpResponse, ApiError> {
    authorize(req, state)?;
    let tenant =
        state.tenants.get(name).ok_or_else(|| ApiError(ScimError::not_found(format!("no tenant '{name}'"))))?;
    let seeds = std::sync::Arc::clone(&tenant.seeds);
    let service = std::sync::Arc::clone(&tenant.service);
    let seeded = web::block(move || -> Result<usize, ScimError> {
        service.reset()?;
        let mut created = 0;
        if seed {
            for (path, resources) in seeds.iter() {
                created += crate::service::seed::apply(&service, path, resources)
                    .map_err(|e| ScimError::internal(e.to_string()))?
                    .created;
            }
        }
        Ok(created)
    })
    .await
    .map_err(|e| ApiError(ScimError::internal(e.to_string())))?
    .map_err(ApiError)?;
    tenant.faults.set(FaultPlan::default());
    let (recorder, tenant_name) = (std::sync::Arc::clone(&state.recorder), name.to_string());
    let cleared = web::block(move || recorder.clear_tenant(&tenant_name)).await?;
    if let Err(e) = cleared {
        return Err(ApiError(ScimError::unavailable(format!(
            "the tenant was reset, but its recorded requests could not be cleared: {e}"
        ))));
    }
    tracing::info!(tenant = %name, seeded, "reset");
    Ok(scim_json(StatusCode::OK, &json!({"tenant": name, "seeded": seeded})))
}
