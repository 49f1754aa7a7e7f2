//! A SCIM client over HTTP: what the engine uses to talk to any SCIM endpoint. It records
//! every exchange, so on-demand traces can show the exact requests and responses.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use thiserror::Error;

use super::job::Target;
use crate::filter::Filter;
use crate::scim::ResourceKind;

pub const SCIM_MEDIA_TYPE: &str = "application/scim+json";

/// Exchanges kept for traces and tests (the most recent ones).
pub const EXCHANGE_LOG_CAPACITY: usize = 2_000;

#[derive(Debug, Clone, Error, PartialEq)]
pub enum ClientError {
    #[error("cannot connect to {url}: {message}")]
    Connect { url: String, message: String },
    #[error("{method} {url} timed out")]
    Timeout { method: String, url: String },
    #[error("{method} {url} answered {status}{}: {detail}", scim_type.as_ref().map(|t| format!(" ({t})")).unwrap_or_default())]
    Http {
        method: String,
        url: String,
        status: u16,
        scim_type: Option<String>,
        detail: String,
        /// `Retry-After` of a 429 or 503.
        retry_after: Option<Duration>,
    },
    #[error("{method} {url}: the response is not SCIM: {message}")]
    NotScim { method: String, url: String, message: String },
    #[error("authentication: {0}")]
    Auth(String),
}

impl ClientError {
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Http { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Entra's error code for a provisioning log (§6.4).
    pub fn error_code(&self) -> &'static str {
        match self {
            ClientError::Connect { .. } => "WebExceptionProtocolError",
            ClientError::Timeout { .. } => "Timeout",
            ClientError::NotScim { .. } => "SystemForCrossDomainIdentityManagementServiceIncompatible",
            ClientError::Auth(_) => "Unauthorized",
            ClientError::Http { status, .. } => match status {
                400 => "SystemForCrossDomainIdentityManagementBadRequest",
                401 => "Unauthorized",
                403 => "InsufficientRights",
                404 => "InvalidAnchor",
                405 => "MethodNotAllowed",
                409 => "EntryConflict",
                412 => "PreconditionFailed",
                422 => "UnprocessableEntity",
                429 => "TooManyRequests",
                501 => "NotImplemented",
                _ => "InternalServerError",
            },
        }
    }

    /// Transient failures worth retrying (429, 5xx, timeouts, connection errors).
    pub fn is_transient(&self) -> bool {
        match self {
            ClientError::Connect { .. } | ClientError::Timeout { .. } => true,
            ClientError::Http { status, .. } => *status == 429 || *status >= 500,
            _ => false,
        }
    }
}

/// How transient failures are retried within a cycle. 429 suspends every request of the
/// job for `Retry-After` (capped); 5xx, timeouts and connection errors back off
/// exponentially with jitter. Other 4xx are never retried: they are logged and the object
/// is escrowed for the next cycle.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RetryPolicy {
    /// Attempts per request, the first included.
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
    #[serde(default = "default_base_delay")]
    pub base_delay_ms: u64,
    #[serde(default = "default_max_delay")]
    pub max_delay_ms: u64,
    /// A longer `Retry-After` is cut to this.
    #[serde(default = "default_max_retry_after")]
    pub max_retry_after_seconds: u64,
}

fn default_attempts() -> u32 {
    4
}
fn default_base_delay() -> u64 {
    200
}
fn default_max_delay() -> u64 {
    10_000
}
fn default_max_retry_after() -> u64 {
    300
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: default_attempts(),
            base_delay_ms: default_base_delay(),
            max_delay_ms: default_max_delay(),
            max_retry_after_seconds: default_max_retry_after(),
        }
    }
}

impl RetryPolicy {
    /// Exponential backoff with "equal jitter": half fixed, half random, so concurrent
    /// workers that failed together do not retry together.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = self.base_delay_ms.saturating_mul(1u64 << attempt.saturating_sub(1).min(20));
        let capped = exp.min(self.max_delay_ms);
        let half = capped / 2;
        Duration::from_millis(half + rand::random::<u64>() % (half + 1))
    }
}

/// `Retry-After` as delay-seconds or an HTTP-date (RFC 9110 §10.2.3).
pub fn parse_retry_after(value: &str, now: time::OffsetDateTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc2822).ok()?;
    Some(Duration::try_from(at - now).unwrap_or(Duration::ZERO))
}

/// Pause/resume for a job: while paused, no request is sent; a paused cycle continues
/// where it stopped once resumed.
#[derive(Clone)]
pub struct PauseGate {
    paused: Arc<tokio::sync::watch::Sender<bool>>,
}

impl Default for PauseGate {
    fn default() -> Self {
        PauseGate { paused: Arc::new(tokio::sync::watch::channel(false).0) }
    }
}

impl PauseGate {
    pub fn pause(&self) {
        self.paused.send_replace(true);
    }

    pub fn resume(&self) {
        self.paused.send_replace(false);
    }

    pub fn is_paused(&self) -> bool {
        *self.paused.borrow()
    }

    /// Returns at once when running, or when resumed.
    pub async fn wait_running(&self) {
        let mut rx = self.paused.subscribe();
        // The sender lives in `self`, so the channel cannot close while we wait.
        let _ = rx.wait_for(|paused| !paused).await;
    }
}

/// One request and its response, as sent and received.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Exchange {
    pub method: String,
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<Value>,
    pub status: u16,
    #[serde(skip_serializing_if = "Value::is_null")]
    pub response: Value,
}

#[derive(Clone)]
pub struct ScimClient {
    http: reqwest::Client,
    base: String,
    target: Target,
    /// The bearer token; an async lock so concurrent requests fetch an OAuth token once.
    bearer: Arc<tokio::sync::Mutex<Option<String>>>,
    exchanges: Arc<Mutex<Vec<Exchange>>>,
    retry: RetryPolicy,
    /// Set by a 429: no request of this job leaves before it.
    hold_until: Arc<Mutex<Option<tokio::time::Instant>>>,
    pub gate: PauseGate,
    /// `aadOptscim062020` given in the tenant URL.
    pub url_flag_compliant: bool,
}

/// Splits Entra behaviour flags off a tenant URL: `https://x/scim/v2/?aadOptscim062020`.
pub fn split_tenant_url(url: &str) -> (String, bool) {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let compliant = query.split('&').any(|p| p.eq_ignore_ascii_case("aadOptscim062020"));
    (base.trim_end_matches('/').to_string(), compliant)
}

impl ScimClient {
    pub fn new(target: &Target) -> Result<Self, ClientError> {
        Self::with_retry(target, RetryPolicy::default())
    }

    pub fn with_retry(target: &Target, retry: RetryPolicy) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(target.timeout_seconds.max(1)))
            .build()
            .map_err(|e| ClientError::Connect { url: target.url.clone(), message: e.to_string() })?;
        let (base, url_flag_compliant) = split_tenant_url(&target.url);
        Ok(ScimClient {
            http,
            base,
            target: target.clone(),
            bearer: Arc::new(tokio::sync::Mutex::new(target.token.clone())),
            exchanges: Arc::new(Mutex::new(Vec::new())),
            retry,
            hold_until: Arc::new(Mutex::new(None)),
            gate: PauseGate::default(),
            url_flag_compliant,
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// How many exchanges are recorded (bounded by [`EXCHANGE_LOG_CAPACITY`]).
    pub fn exchange_count(&self) -> usize {
        self.exchanges.lock().map(|e| e.len()).unwrap_or_default()
    }

    /// Exchanges recorded so far (and forgets them).
    pub fn take_exchanges(&self) -> Vec<Exchange> {
        self.exchanges.lock().map(|mut e| std::mem::take(&mut *e)).unwrap_or_default()
    }

    async fn token(&self) -> Result<String, ClientError> {
        let mut bearer = self.bearer.lock().await;
        if let Some(t) = bearer.as_ref() {
            return Ok(t.clone());
        }
        let Some(oauth) = &self.target.oauth else {
            return Err(ClientError::Auth("no token configured".into()));
        };
        let mut form = vec![
            ("grant_type", "client_credentials"),
            ("client_id", oauth.client_id.as_str()),
            ("client_secret", oauth.client_secret.as_str()),
        ];
        if let Some(scope) = &oauth.scope {
            form.push(("scope", scope.as_str()));
        }
        let body = serde_urlencoded::to_string(&form).map_err(|e| ClientError::Auth(e.to_string()))?;
        let res = self
            .http
            .post(&oauth.token_url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .map_err(|e| ClientError::Auth(format!("token request to {} failed: {e}", oauth.token_url)))?;
        let status = res.status().as_u16();
        let json: Value =
            res.json().await.map_err(|e| ClientError::Auth(format!("token response is not JSON: {e}")))?;
        let token = json
            .get("access_token")
            .and_then(Value::as_str)
            .ok_or_else(|| ClientError::Auth(format!("token endpoint answered {status} without access_token")))?;
        *bearer = Some(token.to_string());
        Ok(token.to_string())
    }

    fn url(&self, kind: ResourceKind, id: Option<&str>) -> String {
        match id {
            Some(id) => format!("{}/{}/{}", self.base, kind.endpoint(), urlencode_path(id)),
            None => format!("{}/{}", self.base, kind.endpoint()),
        }
    }

    /// Waits while the job is paused or held by a 429.
    async fn wait_ready(&self) {
        loop {
            self.gate.wait_running().await;
            let hold = self.hold_until.lock().ok().and_then(|h| *h);
            match hold {
                Some(until) if until > tokio::time::Instant::now() => tokio::time::sleep_until(until).await,
                _ => return,
            }
        }
    }

    /// Sends one request under the retry policy.
    async fn send(
        &self,
        method: reqwest::Method,
        url: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<(u16, Value), ClientError> {
        let mut attempt = 0;
        loop {
            self.wait_ready().await;
            attempt += 1;
            match self.send_once(method.clone(), url, query, body).await {
                // An expired OAuth token: fetch a fresh one once.
                Err(ClientError::Http { status: 401, .. }) if self.target.oauth.is_some() && attempt == 1 => {
                    *self.bearer.lock().await = None;
                }
                Err(e) if e.is_transient() && attempt < self.retry.max_attempts => match &e {
                    ClientError::Http { status: 429, retry_after, .. } => {
                        let cap = Duration::from_secs(self.retry.max_retry_after_seconds);
                        let wait = retry_after.unwrap_or_else(|| self.retry.backoff(attempt)).min(cap);
                        tracing::warn!(url, wait_ms = wait.as_millis() as u64, "429: the job holds all requests");
                        if let Ok(mut hold) = self.hold_until.lock() {
                            let until = tokio::time::Instant::now() + wait;
                            *hold = Some(hold.map_or(until, |h| h.max(until)));
                        }
                    }
                    _ => tokio::time::sleep(self.retry.backoff(attempt)).await,
                },
                other => return other,
            }
        }
    }

    async fn send_once(
        &self,
        method: reqwest::Method,
        url: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<(u16, Value), ClientError> {
        let token = self.token().await?;
        let mut req = self.http.request(method.clone(), url).bearer_auth(token).header("accept", SCIM_MEDIA_TYPE);
        if !query.is_empty() {
            req = req.query(query);
        }
        if let Some(b) = body {
            req = req.header("content-type", SCIM_MEDIA_TYPE).body(b.to_string());
        }
        let shown_url = if query.is_empty() {
            url.to_string()
        } else {
            format!("{url}?{}", serde_urlencoded::to_string(query).unwrap_or_default())
        };
        let res = req.send().await.map_err(|e| {
            if e.is_timeout() {
                ClientError::Timeout { method: method.to_string(), url: shown_url.clone() }
            } else {
                ClientError::Connect { url: shown_url.clone(), message: root_cause(&e) }
            }
        })?;
        let status = res.status().as_u16();
        let retry_after = res
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, time::OffsetDateTime::now_utc()));
        let text =
            res.text().await.map_err(|e| ClientError::Connect { url: shown_url.clone(), message: e.to_string() })?;
        let parsed: Result<Value, _> =
            if text.trim().is_empty() { Ok(Value::Null) } else { serde_json::from_str(&text) };
        let response = match &parsed {
            Ok(v) => v.clone(),
            Err(_) => Value::String(text.chars().take(500).collect()),
        };
        if let Ok(mut ex) = self.exchanges.lock() {
            if ex.len() >= EXCHANGE_LOG_CAPACITY {
                // Bounded: a 100k-object cycle must not keep every body in memory.
                ex.drain(..EXCHANGE_LOG_CAPACITY / 2);
            }
            ex.push(Exchange {
                method: method.to_string(),
                url: shown_url.clone(),
                request: body.cloned(),
                status,
                response: response.clone(),
            });
        }
        if !(200..300).contains(&status) {
            let detail =
                response.get("detail").and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| match &response {
                    Value::String(s) => s.clone(),
                    Value::Null => String::new(),
                    v => v.to_string(),
                });
            let scim_type = response.get("scimType").and_then(Value::as_str).map(str::to_string);
            return Err(ClientError::Http {
                method: method.to_string(),
                url: shown_url,
                status,
                scim_type,
                detail,
                retry_after,
            });
        }
        match parsed {
            Ok(v) => Ok((status, v)),
            Err(e) => Err(ClientError::NotScim { method: method.to_string(), url: shown_url, message: e.to_string() }),
        }
    }

    /// `GET /Users?filter=…` (groups with `excludedAttributes=members`, as Entra does).
    pub async fn find(&self, kind: ResourceKind, filter: &Filter) -> Result<Vec<Value>, ClientError> {
        let mut query = vec![("filter", filter.to_string())];
        if kind == ResourceKind::Group {
            query.insert(0, ("excludedAttributes", "members".to_string()));
        }
        let url = self.url(kind, None);
        let (_, body) = self.send(reqwest::Method::GET, &url, &query, None).await?;
        let Some(resources) = body.get("Resources").or_else(|| body.get("resources")) else {
            if body.get("totalResults").and_then(Value::as_u64) == Some(0) {
                return Ok(Vec::new());
            }
            return Err(ClientError::NotScim {
                method: "GET".into(),
                url,
                message: "a filter query must answer a ListResponse with 'Resources'".into(),
            });
        };
        Ok(resources.as_array().cloned().unwrap_or_default())
    }

    /// Every resource of a type, page by page (`startIndex`/`count`), until `totalResults`
    /// are read or a page comes back empty.
    pub async fn list_all(&self, kind: ResourceKind, page_size: usize) -> Result<Vec<Value>, ClientError> {
        let url = self.url(kind, None);
        let mut all = Vec::new();
        loop {
            let query = [("startIndex", (all.len() + 1).to_string()), ("count", page_size.max(1).to_string())];
            let (_, body) = self.send(reqwest::Method::GET, &url, &query, None).await?;
            let page = body.get("Resources").and_then(Value::as_array).cloned().unwrap_or_default();
            let total = body.get("totalResults").and_then(Value::as_u64).ok_or_else(|| ClientError::NotScim {
                method: "GET".into(),
                url: url.clone(),
                message: "a list response must carry 'totalResults'".into(),
            })? as usize;
            let empty = page.is_empty();
            all.extend(page);
            if empty || all.len() >= total {
                return Ok(all);
            }
        }
    }

    /// `GET /Users/{id}`; `None` for 404.
    pub async fn get(&self, kind: ResourceKind, id: &str) -> Result<Option<Value>, ClientError> {
        let query =
            if kind == ResourceKind::Group { vec![("excludedAttributes", "members".to_string())] } else { Vec::new() };
        match self.send(reqwest::Method::GET, &self.url(kind, Some(id)), &query, None).await {
            Ok((_, body)) => Ok(Some(body)),
            Err(ClientError::Http { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `POST /Users`; returns the created resource (it must carry an `id`).
    pub async fn create(&self, kind: ResourceKind, body: &Value) -> Result<Value, ClientError> {
        let url = self.url(kind, None);
        let (_, created) = self.send(reqwest::Method::POST, &url, &[], Some(body)).await?;
        if created.get("id").and_then(Value::as_str).is_none() {
            return Err(ClientError::NotScim {
                method: "POST".into(),
                url,
                message: "the created resource has no 'id'".into(),
            });
        }
        Ok(created)
    }

    /// `PATCH /Users/{id}` with a PatchOp body.
    pub async fn patch(&self, kind: ResourceKind, id: &str, operations: Vec<Value>) -> Result<(), ClientError> {
        let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": operations});
        self.send(reqwest::Method::PATCH, &self.url(kind, Some(id)), &[], Some(&body)).await.map(|_| ())
    }

    /// `DELETE /Users/{id}`; `false` when it was already gone.
    pub async fn delete(&self, kind: ResourceKind, id: &str) -> Result<bool, ClientError> {
        match self.send(reqwest::Method::DELETE, &self.url(kind, Some(id)), &[], None).await {
            Ok(_) => Ok(true),
            Err(ClientError::Http { status: 404, .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

fn urlencode_path(id: &str) -> String {
    id.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

fn root_cause(e: &dyn std::error::Error) -> String {
    let mut cause = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        cause = s.to_string();
        source = s.source();
    }
    cause
}
