//! Applies a tenant's fault plan (see [`crate::faults`]) to its SCIM requests: delay, hang,
//! answer with an error status before the handler runs, or serve the request the way a
//! non-compliant server would (the misbehaviours, listed in docs/scim-server.md).

use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::HttpResponse;
use serde_json::Value;

use super::{extract, scim_json, FAULT_HEADER};
use crate::faults::Misbehaviour;
use crate::scim::{urn, ScimError};

type Served<B> = ServiceResponse<actix_web::body::EitherBody<B>>;

pub fn fault_injector<S, B>(
    mut req: ServiceRequest,
    srv: &S,
) -> impl std::future::Future<Output = Result<Served<B>, actix_web::Error>>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: actix_web::body::MessageBody + 'static,
{
    let decided = extract::tenant(req.request()).ok().and_then(|tenant| {
        let fault = tenant.faults.decide(req.method().as_str(), crate::tenants::path_under_scim_root(req.path()))?;
        Some((fault, tenant))
    });
    let (fault, tenant) = decided.unzip();
    let misbehaviour = fault.as_ref().and_then(|f| f.misbehave);
    if let Some(m) = misbehaviour {
        rewrite_request(&mut req, m);
    }
    let failing = fault.as_ref().is_some_and(|f| f.status.is_some() || f.hang.is_some());
    let (kept, serve) = if failing { (Some(req), None) } else { (None, Some(srv.call(req))) };
    async move {
        let described = fault.as_ref().and_then(|f| HeaderValue::from_str(&f.describe()).ok());
        if let (Some(f), Some(tenant)) = (&fault, &tenant) {
            for how_long in [f.delay, f.hang].into_iter().flatten() {
                tenant.faults.hold(f, how_long).await;
            }
        }
        match (serve, kept, fault) {
            (Some(fut), _, _) => {
                let res = fut.await?;
                let mut res = match misbehaviour {
                    Some(m) => misbehave(res, m).await?,
                    None => res.map_into_left_body(),
                };
                if let Some(v) = described {
                    res.headers_mut().insert(header::HeaderName::from_static(FAULT_HEADER), v);
                }
                Ok(res)
            }
            (None, Some(req), Some(fault)) => {
                let status = fault.status.unwrap_or(503);
                let error = ScimError::new(status, None, format!("injected fault ({})", fault.describe()));
                let code = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
                let mut response = scim_json(code, &error.to_body());
                if let Some(v) = described {
                    response.headers_mut().insert(header::HeaderName::from_static(FAULT_HEADER), v);
                }
                if let Some(seconds) = fault.retry_after {
                    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
                }
                Ok(req.into_response(response).map_into_right_body())
            }
            // `kept` is set exactly when `serve` is not, and only with a fault.
            (None, _, _) => Err(actix_web::error::ErrorInternalServerError("fault injector lost the request")),
        }
    }
}

/// The request-side half of a misbehaviour: parameters the server "does not read", or a
/// write it turns into a read.
fn rewrite_request(req: &mut ServiceRequest, how: Misbehaviour) {
    match how {
        Misbehaviour::IgnoreFilter => drop_parameters(req, &["filter"]),
        Misbehaviour::IgnoreAttributes => drop_parameters(req, &["attributes", "excludedAttributes"]),
        Misbehaviour::IgnorePaging => drop_parameters(req, &["startIndex", "count"]),
        Misbehaviour::PatchIgnored if req.method() == Method::PATCH => req.head_mut().method = Method::GET,
        Misbehaviour::DeleteIgnored if req.method() == Method::DELETE => {
            req.head_mut().method = Method::GET;
            actix_web::HttpMessage::extensions_mut(req).insert(DeleteTurnedIntoRead);
        }
        _ => {}
    }
}

/// Marks a DELETE served as a read, so only its answer becomes a 204.
#[derive(Clone, Copy)]
struct DeleteTurnedIntoRead;

fn drop_parameters(req: &mut ServiceRequest, names: &[&str]) {
    let query: Vec<(String, String)> = serde_urlencoded::from_str::<Vec<(String, String)>>(req.query_string())
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| !names.iter().any(|n| k.eq_ignore_ascii_case(n)))
        .collect();
    let encoded = serde_urlencoded::to_string(&query).unwrap_or_default();
    let path_and_query = if encoded.is_empty() { req.path().to_string() } else { format!("{}?{encoded}", req.path()) };
    if let Ok(uri) = path_and_query.parse::<actix_web::http::Uri>() {
        req.head_mut().uri = uri;
    }
}

/// Rewrites a served response the way a non-compliant server would answer.
async fn misbehave<B: actix_web::body::MessageBody + 'static>(
    res: ServiceResponse<B>,
    how: Misbehaviour,
) -> Result<Served<B>, actix_web::Error> {
    let status = res.status();
    match how {
        Misbehaviour::DropEtag | Misbehaviour::DropLocation => {
            let mut res = res.map_into_left_body();
            let name = if how == Misbehaviour::DropEtag { header::ETAG } else { header::LOCATION };
            res.headers_mut().remove(name);
            Ok(res)
        }
        Misbehaviour::PatchNoContent | Misbehaviour::DeleteIgnored if status == StatusCode::OK => {
            let was_delete = actix_web::HttpMessage::extensions(res.request()).contains::<DeleteTurnedIntoRead>();
            if how == Misbehaviour::DeleteIgnored && !was_delete {
                return Ok(res.map_into_left_body());
            }
            let (req, _) = res.into_parts();
            Ok(ServiceResponse::new(req, HttpResponse::NoContent().finish()).map_into_right_body())
        }
        Misbehaviour::OkWhenMissing if status == StatusCode::NOT_FOUND => {
            let (req, _) = res.into_parts();
            let answer = if req.method() == Method::DELETE {
                HttpResponse::NoContent().finish()
            } else {
                scim_json(StatusCode::OK, &Value::Object(Default::default()))
            };
            Ok(ServiceResponse::new(req, answer).map_into_right_body())
        }
        Misbehaviour::PlainErrors if status.is_client_error() || status.is_server_error() => {
            let (req, _) = res.into_parts();
            let reason = status.canonical_reason().unwrap_or("Error").to_string();
            let plain = HttpResponse::build(status).content_type("text/plain; charset=utf-8").body(reason);
            Ok(ServiceResponse::new(req, plain).map_into_right_body())
        }
        Misbehaviour::WrongTotal
        | Misbehaviour::ConflictAs400
        | Misbehaviour::BareList
        | Misbehaviour::EmptyLists
        | Misbehaviour::NoGroupSchema => rewrite_json(res, how).await,
        _ => Ok(res.map_into_left_body()),
    }
}

/// Misbehaviours that rewrite the JSON body (and perhaps the status).
async fn rewrite_json<B: actix_web::body::MessageBody + 'static>(
    res: ServiceResponse<B>,
    how: Misbehaviour,
) -> Result<Served<B>, actix_web::Error> {
    let mut status = res.status();
    let headers = res.headers().clone();
    let (req, response) = res.into_parts();
    let bytes = actix_web::body::to_bytes(response.into_body())
        .await
        .map_err(|_| actix_web::error::ErrorInternalServerError("could not read the response to rewrite it"))?;
    let mut body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let is_list = body["schemas"].as_array().is_some_and(|s| s.iter().any(|u| u == urn::LIST_RESPONSE));
    match how {
        Misbehaviour::WrongTotal => {
            if let Some(total) = body.get("totalResults").and_then(Value::as_u64) {
                body["totalResults"] = Value::from(total + 7);
            }
        }
        Misbehaviour::ConflictAs400 if status == StatusCode::CONFLICT => {
            status = StatusCode::BAD_REQUEST;
            body["status"] = Value::from("400");
            body["scimType"] = Value::from("invalidValue");
        }
        Misbehaviour::BareList if is_list => body = body["Resources"].take(),
        Misbehaviour::EmptyLists if is_list => {
            body["Resources"] = Value::Array(Vec::new());
            body["totalResults"] = Value::from(0);
            body["itemsPerPage"] = Value::from(0);
        }
        Misbehaviour::NoGroupSchema if is_list => {
            if let Some(resources) = body["Resources"].as_array_mut() {
                resources.retain(|r| r["id"] != urn::GROUP && r["name"] != "Group");
                let n = resources.len();
                body["totalResults"] = Value::from(n);
                body["itemsPerPage"] = Value::from(n);
            }
        }
        _ => {}
    }
    let json = !body.is_null();
    let mut rewritten = if json { scim_json(status, &body) } else { HttpResponse::build(status).body(bytes) };
    for (k, v) in headers.iter().filter(|(k, _)| *k != header::CONTENT_LENGTH && !(json && *k == header::CONTENT_TYPE))
    {
        rewritten.headers_mut().insert(k.clone(), v.clone());
    }
    Ok(ServiceResponse::new(req, rewritten).map_into_right_body())
}
