//! The one place an HTTP client is built and a request leaves the process: TLS trust,
//! timeouts, the SCIM media type, and the classification of transport failures.

use std::time::Duration;

use reqwest::header::HeaderMap;
use serde_json::Value;

use super::{ClientError, TlsOptions};

pub const SCIM_MEDIA_TYPE: &str = "application/scim+json";

/// How a [`Transport`] is built.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Per-request timeout.
    pub timeout: Duration,
    pub tls: TlsOptions,
    /// Idle connections kept per host (load generators raise it to their concurrency).
    pub pool_max_idle_per_host: Option<usize>,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions { timeout: Duration::from_secs(30), tls: TlsOptions::default(), pool_max_idle_per_host: None }
    }
}

impl HttpOptions {
    pub fn with_timeout(timeout: Duration) -> HttpOptions {
        HttpOptions { timeout, ..HttpOptions::default() }
    }
}

/// An HTTP client with scimlab's TLS and timeout settings. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Transport {
    http: reqwest::Client,
}

/// A request body.
#[derive(Debug, Clone, Copy)]
pub enum Body<'a> {
    /// Sent as `application/scim+json`.
    Scim(&'a Value),
    /// Sent as `application/json` (webhooks).
    Json(&'a Value),
    /// Raw text sent as `application/scim+json` (to test how a server handles bad JSON).
    RawScim(&'a str),
    /// `application/x-www-form-urlencoded` (OAuth token requests).
    Form(&'a str),
}

/// One request, described without reqwest types leaking to callers.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub method: &'a str,
    pub url: &'a str,
    pub query: &'a [(&'a str, String)],
    pub bearer: Option<&'a str>,
    pub body: Option<Body<'a>>,
    pub headers: &'a [(&'a str, &'a str)],
}

impl<'a> Request<'a> {
    pub fn new(method: &'a str, url: &'a str) -> Request<'a> {
        Request { method, url, query: &[], bearer: None, body: None, headers: &[] }
    }

    /// The URL with its query, as shown in logs and reports.
    pub fn shown_url(&self) -> String {
        if self.query.is_empty() {
            self.url.to_string()
        } else {
            let query: Vec<(&str, &str)> = self.query.iter().map(|(k, v)| (*k, v.as_str())).collect();
            format!("{}?{}", self.url, serde_urlencoded::to_string(query).unwrap_or_default())
        }
    }
}

/// A response whatever its status: the body parsed as JSON when it is JSON.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    /// JSON body; `Null` when empty; the text (cut to 500 characters) when not JSON.
    pub body: Value,
    /// Why the body is not JSON, when it is not (and is not empty).
    pub not_json: Option<String>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

impl Transport {
    pub fn new(options: &HttpOptions) -> Result<Transport, ClientError> {
        let mut builder = reqwest::Client::builder().timeout(options.timeout);
        if let Some(idle) = options.pool_max_idle_per_host {
            builder = builder.pool_max_idle_per_host(idle);
        }
        builder = options.tls.apply(builder)?;
        if options.tls.insecure_skip_verify {
            tracing::warn!(
                "TLS certificate verification is off (insecureSkipVerify): use only against a development server"
            );
        }
        let http = builder.build().map_err(|e| ClientError::Setup(format!("cannot build the HTTP client: {e}")))?;
        Ok(Transport { http })
    }

    /// The underlying client, for load generators that drive requests themselves.
    pub fn reqwest(&self) -> &reqwest::Client {
        &self.http
    }

    /// Sends one request; any HTTP status is a response, only transport failures are errors.
    pub async fn send(&self, request: Request<'_>) -> Result<Response, ClientError> {
        let method = reqwest::Method::from_bytes(request.method.as_bytes())
            .map_err(|_| ClientError::Setup(format!("'{}' is not an HTTP method", request.method)))?;
        let mut req = self.http.request(method, request.url).header("accept", SCIM_MEDIA_TYPE);
        if !request.query.is_empty() {
            req = req.query(request.query);
        }
        if let Some(token) = request.bearer {
            req = req.bearer_auth(token);
        }
        req = match request.body {
            Some(Body::Scim(v)) => req.header("content-type", SCIM_MEDIA_TYPE).body(v.to_string()),
            Some(Body::Json(v)) => req.header("content-type", "application/json").body(v.to_string()),
            Some(Body::RawScim(text)) => req.header("content-type", SCIM_MEDIA_TYPE).body(text.to_string()),
            Some(Body::Form(text)) => {
                req.header("content-type", "application/x-www-form-urlencoded").body(text.to_string())
            }
            None => req,
        };
        for (name, value) in request.headers {
            req = req.header(*name, *value);
        }
        let shown = request.shown_url();
        let res = req.send().await.map_err(|e| ClientError::from_transport(request.method, &shown, &e))?;
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let text = res.text().await.map_err(|e| ClientError::from_transport(request.method, &shown, &e))?;
        let (body, not_json) = if text.trim().is_empty() {
            (Value::Null, None)
        } else {
            match serde_json::from_str(&text) {
                Ok(v) => (v, None),
                Err(e) => (Value::String(text.chars().take(500).collect()), Some(e.to_string())),
            }
        };
        Ok(Response { status, headers, body, not_json })
    }
}
