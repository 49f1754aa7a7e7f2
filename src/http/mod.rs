//! The actix-web adapter: routes, extraction, responses. The only module that knows actix.
//!
//! RFC 7644 §3.2 endpoint table, as served under `/scim/v2`:
//!
//! | Resource               | Endpoint                | Operations                 |
//! |------------------------|-------------------------|----------------------------|
//! | User                   | /Users                  | GET, POST, PUT, PATCH, DELETE |
//! | Group                  | /Groups                 | GET, POST, PUT, PATCH, DELETE |
//! | Self                   | /Me                     | 501 (not supported yet)    |
//! | Service provider config| /ServiceProviderConfig  | GET                        |
//! | Resource type          | /ResourceTypes          | GET                        |
//! | Schema                 | /Schemas                | GET                        |
//! | Bulk                   | /Bulk                   | POST                       |
//! | Search                 | [prefix]/.search        | POST                       |

mod admin;
mod admin_jobs;
mod discovery;
pub mod error;
mod extract;
mod fault_injection;
mod graph;
mod reset;
mod resources;
pub mod tls;

use std::sync::Arc;
use std::time::Instant;

use actix_web::dev::Service;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};

use crate::scim::discovery::Capabilities;
use crate::scim::{ScimError, MEDIA_TYPE};
use crate::service::profile::Leniency;
use crate::service::{Outcome, ScimService};
use error::ApiError;

/// Where the SCIM API is mounted.
pub const SCIM_ROOT: &str = "/scim/v2";
/// Where the other tenants' SCIM APIs are mounted.
pub const TENANT_SCIM_ROOT: &str = "/tenants/{tenant}/scim/v2";
/// Response header naming the leniencies a request needed.
pub const QUIRKS_HEADER: &str = "x-scimlab-quirks";

#[derive(Debug, Clone, Copy)]
pub struct HttpLimits {
    pub max_payload_bytes: usize,
}

pub struct AppState {
    /// The default tenant's service (discovery documents are the same for every tenant).
    pub service: Arc<ScimService>,
    pub capabilities: Capabilities,
    pub limits: HttpLimits,
    /// Discovery endpoints readable without a token.
    pub public_discovery: bool,
    /// Fixed external base URL (behind a proxy); otherwise taken from the request.
    pub public_url: Option<String>,
    /// Bearer token of the `/admin` API (off when absent).
    pub admin_token: Option<secrecy::SecretString>,
    /// Provisioning jobs hosted by this server.
    pub jobs: Arc<crate::provision::host::JobHost>,
    /// Recorded SCIM requests and responses.
    pub recorder: Arc<crate::recording::Recorder>,
    /// Every tenant, the default one included.
    pub tenants: Arc<crate::tenants::Tenants>,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The time recorded requests carry.
    pub clock: Arc<dyn crate::clock::Clock>,
}

/// Response header naming the fault that was injected into a response.
pub const FAULT_HEADER: &str = "x-scimlab-fault";

/// Mounts every route; used by the server and by in-process tests alike.
pub fn configure(cfg: &mut web::ServiceConfig) {
    // SCIM first: routes are tried in order, and a SCIM request should not be matched
    // against every admin and Graph pattern before its own.
    cfg.service(scim_scope(SCIM_ROOT)).service(scim_scope(TENANT_SCIM_ROOT));
    cfg.configure(reset::configure);
    cfg.configure(admin::configure);
    cfg.configure(graph::configure);
    cfg.service(web::resource("/metrics").route(web::get().to(admin::metrics)));
    cfg.default_service(web::to(not_found));
}

/// Counts the request for `/metrics` and records the SCIM exchange (see
/// [`crate::recording`]); outermost, so injected faults and
/// the quirks a request needed are in the record.
pub fn request_recorder<S, B>(
    req: actix_web::dev::ServiceRequest,
    srv: &S,
) -> impl std::future::Future<Output = Result<actix_web::dev::ServiceResponse<actix_web::body::BoxBody>, actix_web::Error>>
where
    S: Service<actix_web::dev::ServiceRequest, Response = actix_web::dev::ServiceResponse<B>, Error = actix_web::Error>,
    B: actix_web::body::MessageBody + 'static,
{
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let recorder = state.as_ref().map(|s| Arc::clone(&s.recorder)).filter(|r| r.enabled());
    let clock = state.as_ref().map(|s| Arc::clone(&s.clock));
    let metrics = state.map(|s| Arc::clone(&s.metrics));
    let started = Instant::now();
    // A standard method clones without allocating.
    let method = req.method().clone();
    // Only a recording server pays for copying the request's head; the recorder's thread
    // redacts it.
    let captured = recorder.as_ref().zip(clock).map(|(_, clock)| {
        (
            crate::clock::rfc3339(clock.now()),
            req.path().to_string(),
            req.query_string().to_string(),
            header_pairs(req.headers()),
        )
    });
    let fut = srv.call(req);
    async move {
        let res = fut.await?;
        if let Some(metrics) = &metrics {
            let route = route_label(res.request().path());
            metrics.observe_request(method.as_str(), route, res.status().as_u16(), started.elapsed().as_secs_f64());
        }
        let (Some(recorder), Some((at, path, query, request_headers))) = (recorder, captured) else {
            return Ok(res.map_into_boxed_body());
        };
        let raw_request = res.request().extensions().get::<extract::RawBody>().map(|b| b.0.clone());
        let (http_req, response) = res.into_parts();
        let (head, body) = response.into_parts();
        let bytes = actix_web::body::to_bytes(body)
            .await
            .map_err(|_| actix_web::error::ErrorInternalServerError("could not read the response to record it"))?;
        let header = |name: &str| head.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        // Parsing, redacting and encoding happen on the recorder's thread.
        recorder.submit(crate::recording::Capture {
            record: crate::recording::RequestRecord {
                seq: 0,
                at,
                tenant: crate::tenants::tenant_of_path(&path).unwrap_or(crate::tenants::DEFAULT_TENANT).to_string(),
                method: method.to_string(),
                path,
                query,
                request_headers,
                request_body: None,
                status: head.status().as_u16(),
                response_headers: header_pairs(head.headers()),
                response_body: None,
                latency_ms: started.elapsed().as_secs_f64() * 1000.0,
                quirks: header(QUIRKS_HEADER).map(|q| q.split(", ").map(str::to_string).collect()).unwrap_or_default(),
                fault: header(FAULT_HEADER),
            },
            request_body: raw_request,
            response_body: bytes.clone(),
        });
        let response = head.set_body(actix_web::body::BoxBody::new(bytes));
        Ok(actix_web::dev::ServiceResponse::new(http_req, response))
    }
}

/// Headers as text pairs, for the recorder (which redacts them on its own thread).
fn header_pairs(headers: &actix_web::http::header::HeaderMap) -> Vec<(String, String)> {
    headers.iter().map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("[binary]").to_owned())).collect()
}

/// The SCIM API under `root` (the default tenant's and the per-tenant mount).
fn scim_scope(
    root: &str,
) -> actix_web::Scope<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<actix_web::body::BoxBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let not_allowed = || web::to(method_not_allowed);
    web::scope(root)
        .wrap_fn(fault_injection::fault_injector)
        .wrap_fn(request_recorder)
        .service(
            web::resource("/ServiceProviderConfig")
                .route(web::get().to(discovery::service_provider_config))
                .default_service(not_allowed()),
        )
        // Static prefixes: a request elsewhere is turned away by a string comparison, before
        // the `{id}` pattern's regular expression runs.
        .service(
            web::scope("/ResourceTypes")
                .service(
                    web::resource("").route(web::get().to(discovery::resource_types)).default_service(not_allowed()),
                )
                .service(
                    web::resource("/{id}")
                        .route(web::get().to(discovery::resource_type))
                        .default_service(not_allowed()),
                ),
        )
        .service(
            web::scope("/Schemas")
                .service(web::resource("").route(web::get().to(discovery::schemas)).default_service(not_allowed()))
                .service(web::resource("/{id}").route(web::get().to(discovery::schema)).default_service(not_allowed())),
        )
        .service(web::resource("/.search").route(web::post().to(resources::search_root)).default_service(not_allowed()))
        .service(web::resource("/Bulk").route(web::post().to(resources::bulk)).default_service(not_allowed()))
        .service(web::resource("/Me").to(not_implemented))
        // `/{endpoint}`, `/{endpoint}/.search`, `/{endpoint}/{id}`, and whatever else is under the root.
        .default_service(web::to(resources::dispatch))
}

/// The SCIM route pattern a path was served by, as the metrics label it (ids never become
/// labels). Worked out from the path's segments: asking actix for the matched pattern walks
/// the route table with its regexes again, on every request.
fn route_label(path: &str) -> &'static str {
    macro_rules! route {
        ($suffix:literal) => {
            ($suffix, concat!("/scim/v2", $suffix), concat!("/tenants/{tenant}/scim/v2", $suffix))
        };
    }
    const ROUTES: [(&str, &str, &str); 12] = [
        route!(""),
        route!("/ServiceProviderConfig"),
        route!("/ResourceTypes"),
        route!("/ResourceTypes/{id}"),
        route!("/Schemas"),
        route!("/Schemas/{id}"),
        route!("/.search"),
        route!("/Bulk"),
        route!("/Me"),
        route!("/{endpoint}"),
        route!("/{endpoint}/.search"),
        route!("/{endpoint}/{id}"),
    ];
    let (tenant, rest) = match path.strip_prefix(SCIM_ROOT) {
        Some(rest) => (false, rest),
        None => {
            let after = path.strip_prefix("/tenants/").and_then(|p| p.split_once('/')).map(|(_, rest)| rest);
            match after.and_then(|rest| rest.strip_prefix(&SCIM_ROOT[1..])) {
                Some(rest) => (true, rest),
                None => return "unmatched",
            }
        }
    };
    let mut segments = rest.split('/').filter(|s| !s.is_empty());
    let pattern = match (segments.next(), segments.next(), segments.next()) {
        (None, _, _) => "",
        (Some(one), None, _) => ROUTES[1..9].iter().map(|r| r.0).find(|r| r[1..] == *one).unwrap_or("/{endpoint}"),
        (Some("ResourceTypes"), Some(_), None) => "/ResourceTypes/{id}",
        (Some("Schemas"), Some(_), None) => "/Schemas/{id}",
        (Some(_), Some(".search"), None) => "/{endpoint}/.search",
        (Some(_), Some(_), None) => "/{endpoint}/{id}",
        _ => return "unmatched",
    };
    ROUTES.iter().find(|r| r.0 == pattern).map_or("unmatched", |r| if tenant { r.2 } else { r.1 })
}

/// A request id unique in this process and across restarts: a random prefix chosen once and
/// a counter (no random draw, so no system call, per request).
fn next_request_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static PREFIX: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let prefix = *PREFIX.get_or_init(rand::random);
    format!("{prefix:08x}{:016x}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Logs one line per request with its method, path, status, latency and request id (sent
/// back as `x-request-id`). One event, no span: a span per request cost as much as the line.
pub fn request_logger<S, B>(
    req: actix_web::dev::ServiceRequest,
    srv: &S,
) -> impl std::future::Future<Output = Result<actix_web::dev::ServiceResponse<B>, actix_web::Error>>
where
    S: Service<actix_web::dev::ServiceRequest, Response = actix_web::dev::ServiceResponse<B>, Error = actix_web::Error>,
{
    let started = Instant::now();
    let fut = srv.call(req);
    async move {
        let mut res = fut.await?;
        let request_id = next_request_id();
        let status = res.status().as_u16();
        let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        let (method, path) = (res.request().method(), res.request().path());
        let line = crate::telemetry::RequestLine {
            method: method.as_str(),
            path,
            status,
            latency_ms,
            request_id: &request_id,
        };
        // The same line through tracing where the fast writer does not run (a colour terminal,
        // tests, an embedding host): crate::telemetry holds the two formats equal.
        if !crate::telemetry::write_request_line(&line) {
            if status >= 500 {
                tracing::error!(%method, path, status, latency_ms, request_id, "request failed");
            } else {
                tracing::info!(%method, path, status, latency_ms, request_id, "request");
            }
        }
        if let Ok(v) = HeaderValue::from_str(&request_id) {
            res.headers_mut().insert(header::HeaderName::from_static("x-request-id"), v);
        }
        Ok(res)
    }
}

pub(crate) async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError(ScimError::not_found(format!(
        "no such endpoint: {} {} (the SCIM API is under {SCIM_ROOT})",
        req.method(),
        req.path()
    ))))
}

pub(crate) async fn method_not_allowed(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError(ScimError::method_not_allowed(format!("{} is not supported on {}", req.method(), req.path()))))
}

async fn not_implemented(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    extract::authenticate(&req)?;
    Err(ApiError(ScimError::not_implemented(format!("{} is not supported by this server yet", req.path()))))
}

/// A SCIM JSON response with the right media type.
pub(crate) fn scim_json(status: StatusCode, body: &impl std::fmt::Display) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE)))
        .body(body.to_string())
}

pub(crate) fn quirks_header(quirks: &[Leniency]) -> Option<HeaderValue> {
    if quirks.is_empty() {
        return None;
    }
    let names: Vec<&str> = quirks.iter().map(|q| q.name()).collect();
    HeaderValue::from_str(&names.join(", ")).ok()
}

/// A single-resource response: body, `ETag`, and `Location` where the RFC asks for it.
pub(crate) fn resource_response<R: std::fmt::Display>(
    status: StatusCode,
    outcome: &Outcome<R>,
    with_location: bool,
) -> HttpResponse {
    let mut builder = HttpResponse::build(status);
    builder.insert_header((header::CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE)));
    if let Ok(etag) = HeaderValue::from_str(&outcome.etag()) {
        builder.insert_header((header::ETAG, etag));
    }
    if with_location {
        if let Ok(location) = HeaderValue::from_str(&outcome.location) {
            builder.insert_header((header::LOCATION, location));
        }
    }
    if let Some(q) = quirks_header(&outcome.quirks) {
        builder.insert_header((header::HeaderName::from_static(QUIRKS_HEADER), q));
    }
    builder.body(outcome.resource.to_string())
}

#[cfg(test)]
mod tests {
    use super::route_label;

    #[test]
    fn route_labels_name_the_pattern_never_the_id() {
        assert_eq!(route_label("/scim/v2/Users/8c1e"), "/scim/v2/{endpoint}/{id}");
        assert_eq!(route_label("/scim/v2/Groups"), "/scim/v2/{endpoint}");
        assert_eq!(route_label("/scim/v2/Schemas/urn:x"), "/scim/v2/Schemas/{id}");
        assert_eq!(route_label("/scim/v2/ServiceProviderConfig"), "/scim/v2/ServiceProviderConfig");
        assert_eq!(route_label("/scim/v2/Users/.search"), "/scim/v2/{endpoint}/.search");
        assert_eq!(route_label("/tenants/acme/scim/v2/Users/1"), "/tenants/{tenant}/scim/v2/{endpoint}/{id}");
        assert_eq!(route_label("/tenants/acme/scim/v2"), "/tenants/{tenant}/scim/v2");
        assert_eq!(route_label("/scim/v2/a/b/c"), "unmatched");
        assert_eq!(route_label("/elsewhere"), "unmatched");
    }
}
