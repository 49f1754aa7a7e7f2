//! Request extraction: authentication, SCIM JSON bodies with a size limit, list parameters.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use futures_util::StreamExt;
use serde_json::Value;

use super::error::ApiError;
use super::AppState;
use crate::auth::Principal;
use crate::scim::ScimError;
use crate::service::{ListQuery, ReadOptions};

pub(crate) fn state(req: &HttpRequest) -> Result<web::Data<AppState>, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError(ScimError::internal("application state missing")))
}

/// A request that passed bearer authentication.
pub struct Authenticated;

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(authenticate(req).map(|_| Authenticated))
    }
}

/// The tenant a request addresses: `/tenants/{name}/scim/v2/…`, or the default one.
pub(crate) fn tenant(req: &HttpRequest) -> Result<std::sync::Arc<crate::tenants::Tenant>, ApiError> {
    let state = state(req)?;
    let name = crate::tenants::tenant_of_path(req.path()).unwrap_or(crate::tenants::DEFAULT_TENANT);
    if let Some(tenant) = state.tenants.get(name) {
        return Ok(tenant);
    }
    // Only the administrator learns that a tenant does not exist; anyone else gets the
    // answer a wrong token gets, so tenant names cannot be probed.
    if super::admin::authorize(req, &state).is_ok() {
        return Err(ApiError(ScimError::not_found(format!(
            "no tenant '{name}': create it with PUT /admin/tenants/{name} or under [[tenants]] in the config file"
        ))));
    }
    let header = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    Err(match header {
        None => crate::auth::AuthError::Missing.into(),
        Some(_) => crate::auth::AuthError::Invalid("it matches no configured token".into()).into(),
    })
}

/// The SCIM root of the request's tenant (`/scim/v2` or `/tenants/{name}/scim/v2`).
pub(crate) fn scim_root(req: &HttpRequest) -> String {
    match crate::tenants::tenant_of_path(req.path()) {
        Some(name) => format!("/tenants/{name}{}", super::SCIM_ROOT),
        None => super::SCIM_ROOT.to_string(),
    }
}

pub(crate) fn authenticate(req: &HttpRequest) -> Result<Principal, ApiError> {
    let tenant = tenant(req)?;
    let header = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let principal = tenant.auth.authenticate(header)?;
    tracing::debug!(subject = %principal.subject, "authenticated");
    Ok(principal)
}

/// A JSON request body, read up to the configured size limit.
pub struct ScimBody(pub Value);

/// The raw request body, as read by [`ScimBody`].
#[derive(Clone)]
pub struct RawBody(pub web::Bytes);

impl FromRequest for ScimBody {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = state(req).map(|s| s.limits.max_payload_bytes).unwrap_or(1024 * 1024);
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let mut payload = payload.take();
        let request = req.clone();
        Box::pin(async move {
            if declared.is_some_and(|n| n > limit) {
                return Err(too_large(limit));
            }
            let mut body = web::BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|e| {
                    ApiError(ScimError::invalid_syntax(format!("could not read the request body: {e}")))
                })?;
                if body.len() + chunk.len() > limit {
                    return Err(too_large(limit));
                }
                body.extend_from_slice(&chunk);
            }
            // Kept for request recording, which runs after the handler.
            request.extensions_mut().insert(RawBody(body.clone().freeze()));
            if body.is_empty() {
                return Err(ApiError(ScimError::invalid_syntax("the request body is empty; send a JSON object")));
            }
            crate::scim::strict_json::from_slice(&body)
                .map(ScimBody)
                .map_err(|e| ApiError(ScimError::invalid_syntax(format!("the request body is not valid JSON: {e}"))))
        })
    }
}

fn too_large(limit: usize) -> ApiError {
    ApiError(ScimError::payload_too_large(format!("the request body exceeds {limit} bytes (maxPayloadSize)")))
}

/// Query parameters, names matched case-insensitively (`startIndex`, `startindex`).
pub struct QueryParams(Vec<(String, String)>);

impl QueryParams {
    pub fn parse(req: &HttpRequest) -> Result<Self, ApiError> {
        serde_urlencoded::from_str::<Vec<(String, String)>>(req.query_string())
            .map(QueryParams)
            .map_err(|e| ApiError(ScimError::invalid_syntax(format!("the query string cannot be decoded: {e}"))))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    fn list(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| crate::service::split_list(v))
            .collect()
    }

    fn int(&self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse::<i64>()
                .map(Some)
                .map_err(|_| ApiError(ScimError::invalid_value(format!("{name} must be an integer, not \"{v}\"")))),
        }
    }

    pub fn list_query(&self) -> Result<ListQuery, ApiError> {
        Ok(ListQuery {
            filter: self.get("filter").map(str::to_string),
            sort_by: self.get("sortBy").map(str::to_string),
            sort_order: self.get("sortOrder").map(str::to_string),
            start_index: self.int("startIndex")?,
            count: self.int("count")?,
            cursor: self.get("cursor").map(str::to_string),
            attributes: self.list("attributes"),
            excluded: self.list("excludedAttributes"),
        })
    }

    pub fn read_options(&self, base: String) -> ReadOptions {
        ReadOptions { base, attributes: self.list("attributes"), excluded: self.list("excludedAttributes") }
    }
}

/// The SCIM base URL as the client sees it (used in `location` and `$ref`).
pub fn base_url(req: &HttpRequest, scim_root: &str) -> String {
    if let Some(public) = state(req).ok().and_then(|s| s.public_url.clone()) {
        return format!("{}{scim_root}", public.trim_end_matches('/'));
    }
    format!("{}{scim_root}", request_origin(req))
}

/// `scheme://host` as the client addressed this server, forwarding headers included.
/// Requests without forwarding headers (nearly all) take the answer straight from the
/// request: actix's `connection_info` also formats the peer address and caches all of it,
/// 2.4 % of a `userName eq` list under load (docs/perf.md, round 2, seventh session).
pub(crate) fn request_origin(req: &HttpRequest) -> String {
    const FORWARDING: [&str; 3] = ["forwarded", "x-forwarded-proto", "x-forwarded-host"];
    let headers = req.headers();
    if FORWARDING.iter().any(|name| headers.contains_key(*name)) {
        let info = req.connection_info();
        return format!("{}://{}", info.scheme(), info.host());
    }
    // The same fallbacks, in the same order, as actix's `ConnectionInfo`.
    let scheme = req.uri().scheme_str().unwrap_or(if req.app_config().secure() { "https" } else { "http" });
    let host = match headers.get(header::HOST).and_then(|v| v.to_str().ok()) {
        Some(host) => host,
        None => req.uri().authority().map_or_else(|| req.app_config().host(), |a| a.as_str()),
    };
    format!("{scheme}://{host}")
}
