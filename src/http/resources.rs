//! Users and Groups handlers: extract, make one service call on the blocking pool, map.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::error::ApiError;
use super::extract::{base_url, scim_root, state, tenant, Authenticated, QueryParams, ScimBody};
use super::{quirks_header, resource_response, scim_json, QUIRKS_HEADER};
use crate::scim::{ResourceKind, ScimError};
use crate::service::{ListQuery, ReadOptions};

/// Where a request under a SCIM root goes, read from the path's segments after the root.
/// Worked out by hand rather than by route patterns: actix-web matches a pattern with a
/// `{segment}` by regular expression, and trying the three resource patterns cost a tenth
/// of a GET by id (docs/perf.md, round 2).
#[derive(Debug, PartialEq, Eq)]
enum ResourceRoute {
    /// `/{endpoint}`
    Endpoint(String),
    /// `/{endpoint}/.search`
    Search(String),
    /// `/{endpoint}/{id}`
    Resource(String, String),
}

impl ResourceRoute {
    /// `rest` is the path after the SCIM root; None when it has no such shape. Segments are
    /// percent-decoded, as route patterns decode them.
    fn parse(rest: &str) -> Option<ResourceRoute> {
        let decode = |segment: &str| {
            let decoded = percent_encoding::percent_decode_str(segment).decode_utf8().ok()?;
            (!segment.is_empty()).then(|| decoded.into_owned())
        };
        let mut segments = rest.strip_prefix('/')?.split('/');
        let endpoint = decode(segments.next()?)?;
        let route = match segments.next() {
            None => ResourceRoute::Endpoint(endpoint),
            Some(".search") => ResourceRoute::Search(endpoint),
            Some(id) => ResourceRoute::Resource(endpoint, decode(id)?),
        };
        segments.next().is_none().then_some(route)
    }
}

/// Serves `/{endpoint}`, `/{endpoint}/.search` and `/{endpoint}/{id}` under a SCIM root:
/// the method decides (405 before anything else), then the token (401), then the body.
pub async fn dispatch(req: HttpRequest, payload: web::Payload) -> Result<HttpResponse, ApiError> {
    use actix_web::http::Method;
    use actix_web::FromRequest;
    let Some(route) = ResourceRoute::parse(req.match_info().unprocessed()) else {
        return super::not_found(req).await;
    };
    let method = req.method().clone();
    let allowed = match &route {
        ResourceRoute::Endpoint(_) => [Method::GET, Method::POST].contains(&method),
        ResourceRoute::Search(_) => method == Method::POST,
        ResourceRoute::Resource(..) => [Method::GET, Method::PUT, Method::PATCH, Method::DELETE].contains(&method),
    };
    if !allowed {
        return super::method_not_allowed(req).await;
    }
    super::extract::authenticate(&req)?;
    let needs_body = [Method::POST, Method::PUT, Method::PATCH].contains(&method);
    let body = match needs_body {
        true => Some(ScimBody::from_request(&req, &mut payload.into_inner()).await?),
        false => None,
    };
    match (route, body) {
        (ResourceRoute::Endpoint(endpoint), None) => list(&req, kind_of(&endpoint)?).await,
        (ResourceRoute::Endpoint(endpoint), Some(body)) => create(&req, kind_of(&endpoint)?, body).await,
        (ResourceRoute::Search(endpoint), Some(body)) => search(&req, kind_of(&endpoint)?, body).await,
        (ResourceRoute::Resource(endpoint, id), None) if method == Method::GET => {
            get(&req, kind_of(&endpoint)?, id).await
        }
        (ResourceRoute::Resource(endpoint, id), None) => delete(&req, kind_of(&endpoint)?, id).await,
        (ResourceRoute::Resource(endpoint, id), Some(body)) if method == Method::PUT => {
            replace(&req, kind_of(&endpoint)?, id, body).await
        }
        (ResourceRoute::Resource(endpoint, id), Some(body)) => patch(&req, kind_of(&endpoint)?, id, body).await,
        (ResourceRoute::Search(_), None) => super::method_not_allowed(req).await,
    }
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

async fn create(req: &HttpRequest, kind: ResourceKind, body: ScimBody) -> Result<HttpResponse, ApiError> {
    let opts = QueryParams::parse(req)?.read_options(base_url(req, &scim_root(req)));
    let service = tenant(req)?.service.clone();
    let outcome = web::block(move || service.create(kind, &body.0, &opts)).await??;
    Ok(resource_response(StatusCode::CREATED, &outcome, true))
}

async fn get(req: &HttpRequest, kind: ResourceKind, id: String) -> Result<HttpResponse, ApiError> {
    let opts = QueryParams::parse(req)?.read_options(base_url(req, &scim_root(req)));
    let if_none_match = req.headers().get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).map(str::to_string);
    // One key read, from sled's cache when warm: a thread hand-off would cost more than it.
    // A networked store's round trip, or a group's members, wait on the blocking pool.
    let service = tenant(req)?.service.clone();
    let outcome = if service.get_is_cheap(kind, &opts) {
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

async fn replace(req: &HttpRequest, kind: ResourceKind, id: String, body: ScimBody) -> Result<HttpResponse, ApiError> {
    let opts = QueryParams::parse(req)?.read_options(base_url(req, &scim_root(req)));
    let if_match = if_match(req);
    let service = tenant(req)?.service.clone();
    let outcome = web::block(move || service.replace(kind, &id, &body.0, if_match.as_deref(), &opts)).await??;
    Ok(resource_response(StatusCode::OK, &outcome, false))
}

async fn patch(req: &HttpRequest, kind: ResourceKind, id: String, body: ScimBody) -> Result<HttpResponse, ApiError> {
    let opts = QueryParams::parse(req)?.read_options(base_url(req, &scim_root(req)));
    let if_match = if_match(req);
    let service = tenant(req)?.service.clone();
    let outcome = web::block(move || service.patch(kind, &id, &body.0, if_match.as_deref(), &opts)).await??;
    Ok(resource_response(StatusCode::OK, &outcome, false))
}

async fn delete(req: &HttpRequest, kind: ResourceKind, id: String) -> Result<HttpResponse, ApiError> {
    let if_match = if_match(req);
    let service = tenant(req)?.service.clone();
    web::block(move || service.delete(kind, &id, if_match.as_deref())).await??;
    Ok(HttpResponse::NoContent().finish())
}

async fn list(req: &HttpRequest, kind: ResourceKind) -> Result<HttpResponse, ApiError> {
    let query = QueryParams::parse(req)?.list_query()?;
    run_list(req, vec![kind], query).await
}

async fn search(req: &HttpRequest, kind: ResourceKind, body: ScimBody) -> Result<HttpResponse, ApiError> {
    let query = ListQuery::from_search_body(&body.0)?;
    run_list(req, vec![kind], query).await
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
