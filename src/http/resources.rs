//! Users and Groups handlers: extract, make one service call on the blocking pool, map.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::error::ApiError;
use super::extract::{base_url, scim_root, state, tenant, Authenticated, QueryParams, ScimBody};
use super::{quirks_header, resource_response, scim_json, QUIRKS_HEADER};
use crate::scim::{ResourceKind, ScimError};
use crate::service::{ListQuery, ReadOptions};

/// `/{endpoint}` (by name, so the tenant segment of `/tenants/{tenant}/…` is ignored).
#[derive(serde::Deserialize)]
pub struct EndpointPath {
    endpoint: String,
}

/// `/{endpoint}/{id}`.
#[derive(serde::Deserialize)]
pub struct ResourcePath {
    endpoint: String,
    id: String,
}

fn kind_of(endpoint: &str) -> Result<ResourceKind, ApiError> {
    ResourceKind::from_endpoint(endpoint).ok_or_else(|| {
        ApiError(ScimError::not_found(format!(
            "no resource type at /{endpoint}; this server serves /Users and /Groups"
        )))
    })
}

fn if_match(req: &HttpRequest) -> Option<String> {
    req.headers().get(header::IF_MATCH).and_then(|v| v.to_str().ok()).map(str::to_string)
}

pub async fn create(
    req: HttpRequest,
    _auth: Authenticated,
    path: web::Path<EndpointPath>,
    body: ScimBody,
) -> Result<HttpResponse, ApiError> {
    let kind = kind_of(&path.endpoint)?;
    let opts = QueryParams::parse(&req)?.read_options(base_url(&req, &scim_root(&req)));
    let service = tenant(&req)?.service.clone();
    let outcome = web::block(move || service.create(kind, &body.0, &opts)).await??;
    Ok(resource_response(StatusCode::CREATED, &outcome, true))
}

pub async fn get(
    req: HttpRequest,
    _auth: Authenticated,
    path: web::Path<ResourcePath>,
) -> Result<HttpResponse, ApiError> {
    let ResourcePath { endpoint, id } = path.into_inner();
    let kind = kind_of(&endpoint)?;
    let opts = QueryParams::parse(&req)?.read_options(base_url(&req, &scim_root(&req)));
    let if_none_match = req.headers().get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).map(str::to_string);
    // One key read, from sled's cache when warm: a thread hand-off would cost more than it.
    // A networked store's round trip waits on the blocking pool instead.
    let service = tenant(&req)?.service.clone();
    let outcome = if service.reads_inline() {
        service.get(kind, &id, &opts)?
    } else {
        web::block(move || service.get(kind, &id, &opts)).await??
    };
    if let Some(tags) = if_none_match {
        let current = outcome.etag();
        let weak = |t: &str| t.trim().trim_start_matches("W/").to_string();
        if tags.split(',').any(|t| t.trim() == "*" || weak(t) == weak(&current)) {
            let mut builder = HttpResponse::NotModified();
            if let Ok(etag) = HeaderValue::from_str(&current) {
                builder.insert_header((header::ETAG, etag));
            }
            return Ok(builder.finish());
        }
    }
    Ok(resource_response(StatusCode::OK, &outcome, false))
}

pub async fn replace(
    req: HttpRequest,
    _auth: Authenticated,
    path: web::Path<ResourcePath>,
    body: ScimBody,
) -> Result<HttpResponse, ApiError> {
    let ResourcePath { endpoint, id } = path.into_inner();
    let kind = kind_of(&endpoint)?;
    let opts = QueryParams::parse(&req)?.read_options(base_url(&req, &scim_root(&req)));
    let if_match = if_match(&req);
    let service = tenant(&req)?.service.clone();
    let outcome = web::block(move || service.replace(kind, &id, &body.0, if_match.as_deref(), &opts)).await??;
    Ok(resource_response(StatusCode::OK, &outcome, false))
}

pub async fn patch(
    req: HttpRequest,
    _auth: Authenticated,
    path: web::Path<ResourcePath>,
    body: ScimBody,
) -> Result<HttpResponse, ApiError> {
    let ResourcePath { endpoint, id } = path.into_inner();
    let kind = kind_of(&endpoint)?;
    let opts = QueryParams::parse(&req)?.read_options(base_url(&req, &scim_root(&req)));
    let if_match = if_match(&req);
    let service = tenant(&req)?.service.clone();
    let outcome = web::block(move || service.patch(kind, &id, &body.0, if_match.as_deref(), &opts)).await??;
    Ok(resource_response(StatusCode::OK, &outcome, false))
}

pub async fn delete(
    req: HttpRequest,
    _auth: Authenticated,
    path: web::Path<ResourcePath>,
) -> Result<HttpResponse, ApiError> {
    let ResourcePath { endpoint, id } = path.into_inner();
    let kind = kind_of(&endpoint)?;
    let if_match = if_match(&req);
    let service = tenant(&req)?.service.clone();
    web::block(move || service.delete(kind, &id, if_match.as_deref())).await??;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn list(
    req: HttpRequest,
    _auth: Authenticated,
    path: web::Path<EndpointPath>,
) -> Result<HttpResponse, ApiError> {
    let kind = kind_of(&path.endpoint)?;
    let query = QueryParams::parse(&req)?.list_query()?;
    run_list(&req, vec![kind], query).await
}

pub async fn search(
    req: HttpRequest,
    _auth: Authenticated,
    path: web::Path<EndpointPath>,
    body: ScimBody,
) -> Result<HttpResponse, ApiError> {
    let kind = kind_of(&path.endpoint)?;
    let query = ListQuery::from_search_body(&body.0)?;
    run_list(&req, vec![kind], query).await
}

/// `POST /Bulk` (RFC 7644 §3.7).
pub async fn bulk(req: HttpRequest, _auth: Authenticated, body: ScimBody) -> Result<HttpResponse, ApiError> {
    let opts = ReadOptions { base: base_url(&req, &scim_root(&req)), ..Default::default() };
    let max_operations = state(&req)?.capabilities.bulk_max_operations;
    let tenant = tenant(&req)?;
    let response = web::block(move || {
        // Fault rules on `/Bulk/Users…` fail single operations: a partial Bulk failure.
        let inject = |method: &str, path: &str| {
            let fault = tenant.faults.decide(method, &format!("/Bulk{path}"))?;
            let status = fault.status?;
            Some(crate::scim::ScimError::new(status, None, format!("injected fault ({})", fault.describe())))
        };
        tenant.service.bulk(&body.0, max_operations, &opts, &inject)
    })
    .await??;
    Ok(scim_json(StatusCode::OK, &response))
}

pub async fn search_root(req: HttpRequest, _auth: Authenticated, body: ScimBody) -> Result<HttpResponse, ApiError> {
    let query = ListQuery::from_search_body(&body.0)?;
    run_list(&req, ResourceKind::ALL.to_vec(), query).await
}

async fn run_list(req: &HttpRequest, kinds: Vec<ResourceKind>, query: ListQuery) -> Result<HttpResponse, ApiError> {
    let opts = ReadOptions { base: base_url(req, &scim_root(req)), ..Default::default() };
    let service = tenant(req)?.service.clone();
    // Index lookups and short pages answer inline; scans and sorts go to the blocking pool.
    let prepared = service.prepare_list(&kinds, &query);
    let (body, quirks) = if prepared.cheap {
        service.list_prepared(&kinds, &query, prepared, &opts)?
    } else {
        web::block(move || service.list_prepared(&kinds, &query, prepared, &opts)).await??
    };
    let mut response = scim_json(StatusCode::OK, &body);
    if let Some(q) = quirks_header(&quirks) {
        response.headers_mut().insert(header::HeaderName::from_static(QUIRKS_HEADER), q);
    }
    Ok(response)
}
