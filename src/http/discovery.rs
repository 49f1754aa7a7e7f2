//! Discovery endpoints (RFC 7644 §4). Readable without a token only when configured so.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::error::ApiError;
use super::extract::{authenticate, base_url, state};
use super::scim_json;
use crate::scim::discovery::{self as docs, list_response, resource_type_doc, schema_doc};
use crate::scim::schema::Schema;
use crate::scim::ScimError;

fn guard(req: &HttpRequest) -> Result<web::Data<super::AppState>, ApiError> {
    let state = state(req)?;
    if !state.public_discovery {
        authenticate(req)?;
    }
    Ok(state)
}

fn all_schemas(state: &super::AppState) -> Vec<&Schema> {
    let mut out: Vec<&Schema> = Vec::new();
    for rt in state.service.resource_types() {
        out.push(&rt.core);
        out.extend(rt.extensions.iter().map(|e| &e.schema));
    }
    out
}

pub async fn service_provider_config(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let state = guard(&req)?;
    let mut res = scim_json(
        StatusCode::OK,
        &docs::service_provider_config(&state.capabilities, &base_url(&req, &super::extract::scim_root(&req))),
    );
    if let Ok(limits) = actix_web::http::header::HeaderValue::from_str(&state.capabilities.filter_limits_header()) {
        res.headers_mut().insert(actix_web::http::header::HeaderName::from_static("x-scimlab-filter-limits"), limits);
    }
    Ok(res)
}

pub async fn resource_types(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let state = guard(&req)?;
    let base = base_url(&req, &super::extract::scim_root(&req));
    let docs = state.service.resource_types().iter().map(|rt| resource_type_doc(rt, &base)).collect();
    Ok(scim_json(StatusCode::OK, &list_response(docs)))
}

pub async fn resource_type(req: HttpRequest, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let state = guard(&req)?;
    let base = base_url(&req, &super::extract::scim_root(&req));
    let rt = state
        .service
        .resource_types()
        .into_iter()
        .find(|rt| rt.kind.name().eq_ignore_ascii_case(&id))
        .ok_or_else(|| ApiError(ScimError::not_found(format!("no resource type \"{id}\"; known: User, Group"))))?;
    Ok(scim_json(StatusCode::OK, &resource_type_doc(rt, &base)))
}

pub async fn schemas(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let state = guard(&req)?;
    let base = base_url(&req, &super::extract::scim_root(&req));
    let docs = all_schemas(&state).into_iter().map(|s| schema_doc(s, &base)).collect();
    Ok(scim_json(StatusCode::OK, &list_response(docs)))
}

pub async fn schema(req: HttpRequest, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let state = guard(&req)?;
    let base = base_url(&req, &super::extract::scim_root(&req));
    let schema = all_schemas(&state)
        .into_iter()
        .find(|s| s.id.eq_ignore_ascii_case(&id))
        .ok_or_else(|| ApiError(ScimError::not_found(format!("no schema \"{id}\""))))?;
    Ok(scim_json(StatusCode::OK, &schema_doc(schema, &base)))
}
