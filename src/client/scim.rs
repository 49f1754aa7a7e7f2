//! A SCIM client for one endpoint: resource operations (find, list, get, create, patch,
//! delete) under a retry policy, with bearer or OAuth credentials and an exchange log.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use super::gate::{PauseGate, RateHold};
use super::transport::{Body, HttpOptions, Request, Response, Transport};
use super::{ClientError, Exchange, ExchangeLog, OAuthClient, RetryPolicy, TlsOptions};
use crate::clock::Clock;
use crate::scim::ResourceKind;

/// How to authenticate to the endpoint.
#[derive(Debug, Clone, PartialEq)]
pub enum Credentials {
    Bearer(String),
    OAuth(OAuthClient),
}

/// Everything needed to reach one SCIM endpoint.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// Base URL; Entra flags in the query (`?aadOptscim062020`) are split off.
    pub url: String,
    pub credentials: Credentials,
    pub timeout: Duration,
    pub tls: TlsOptions,
}

#[derive(Clone)]
pub struct ScimClient {
    transport: Transport,
    base: String,
    credentials: Credentials,
    /// The bearer token in use; an async lock so concurrent requests fetch an OAuth token once.
    bearer: Arc<tokio::sync::Mutex<Option<String>>>,
    exchanges: Arc<ExchangeLog>,
    retry: RetryPolicy,
    hold: RateHold,
    clock: Arc<dyn Clock>,
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
    pub fn new(endpoint: &Endpoint, retry: RetryPolicy, clock: Arc<dyn Clock>) -> Result<Self, ClientError> {
        let transport =
            Transport::new(&HttpOptions { tls: endpoint.tls.clone(), ..HttpOptions::with_timeout(endpoint.timeout) })?;
        let (base, url_flag_compliant) = split_tenant_url(&endpoint.url);
        let bearer = match &endpoint.credentials {
            Credentials::Bearer(token) => Some(token.clone()),
            Credentials::OAuth(_) => None,
        };
        Ok(ScimClient {
            transport,
            base,
            credentials: endpoint.credentials.clone(),
            bearer: Arc::new(tokio::sync::Mutex::new(bearer)),
            exchanges: Arc::new(ExchangeLog::default()),
            retry,
            hold: RateHold::default(),
            clock,
            gate: PauseGate::default(),
            url_flag_compliant,
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// How many exchanges are kept (bounded by [`super::EXCHANGE_LOG_CAPACITY`]).
    pub fn exchange_count(&self) -> usize {
        self.exchanges.len()
    }

    /// Exchanges recorded so far (and forgets them).
    pub fn take_exchanges(&self) -> Vec<Exchange> {
        self.exchanges.take()
    }

    async fn token(&self) -> Result<String, ClientError> {
        let mut bearer = self.bearer.lock().await;
        if let Some(t) = bearer.as_ref() {
            return Ok(t.clone());
        }
        let Credentials::OAuth(oauth) = &self.credentials else {
            return Err(ClientError::Auth("no token configured".into()));
        };
        let token = oauth.fetch_token(&self.transport).await?;
        *bearer = Some(token.clone());
        Ok(token)
    }

    fn url(&self, kind: ResourceKind, id: Option<&str>) -> String {
        match id {
            Some(id) => format!("{}/{}/{}", self.base, kind.endpoint(), urlencode_path(id)),
            None => format!("{}/{}", self.base, kind.endpoint()),
        }
    }

    /// Sends one request under the retry policy.
    async fn send(
        &self,
        method: &str,
        url: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<(u16, Value), ClientError> {
        let mut attempt = 0;
        loop {
            self.gate.wait_running().await;
            self.hold.wait().await;
            attempt += 1;
            match self.send_once(method, url, query, body).await {
                // An expired OAuth token: fetch a fresh one once.
                Err(ClientError::Http { status: 401, .. })
                    if matches!(self.credentials, Credentials::OAuth(_)) && attempt == 1 =>
                {
                    *self.bearer.lock().await = None;
                }
                Err(e) if e.is_transient() && attempt < self.retry.max_attempts => match &e {
                    ClientError::Http { status: 429, retry_after, .. } => {
                        let cap = Duration::from_secs(self.retry.max_retry_after_seconds);
                        let wait = retry_after.unwrap_or_else(|| self.retry.backoff(attempt)).min(cap);
                        tracing::warn!(url, wait_ms = wait.as_millis() as u64, "429: the job holds all requests");
                        self.hold.extend(wait);
                    }
                    _ => tokio::time::sleep(self.retry.backoff(attempt)).await,
                },
                other => return other,
            }
        }
    }

    async fn send_once(
        &self,
        method: &str,
        url: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<(u16, Value), ClientError> {
        let token = self.token().await?;
        let request = Request { method, url, query, bearer: Some(&token), body: body.map(Body::Scim), headers: &[] };
        let shown_url = request.shown_url();
        let res = self.transport.send(request).await?;
        if self.exchanges.keeps() {
            self.exchanges.push(Exchange {
                method: method.to_string(),
                url: shown_url.clone(),
                request: body.cloned(),
                status: res.status,
                response: res.body.clone(),
            });
        }
        self.interpret(method, shown_url, res)
    }

    fn interpret(&self, method: &str, url: String, res: Response) -> Result<(u16, Value), ClientError> {
        if !res.is_success() {
            let retry_after =
                res.header("retry-after").and_then(|v| super::retry::parse_retry_after(&v, self.clock.now()));
            let detail =
                res.body.get("detail").and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| match &res.body {
                    Value::String(s) => s.clone(),
                    Value::Null => String::new(),
                    v => v.to_string(),
                });
            let scim_type = res.body.get("scimType").and_then(Value::as_str).map(str::to_string);
            return Err(ClientError::Http {
                method: method.to_string(),
                url,
                status: res.status,
                scim_type,
                detail,
                retry_after,
            });
        }
        match res.not_json {
            None => Ok((res.status, res.body)),
            Some(message) => Err(ClientError::NotScim { method: method.to_string(), url, message }),
        }
    }

    /// `GET /Users?filter=…` (groups with `excludedAttributes=members`, as Entra does); the
    /// filter is sent exactly as given.
    pub async fn find(&self, kind: ResourceKind, filter: &str) -> Result<Vec<Value>, ClientError> {
        let mut query = vec![("filter", filter.to_string())];
        if kind == ResourceKind::Group {
            query.insert(0, ("excludedAttributes", "members".to_string()));
        }
        let url = self.url(kind, None);
        let (_, body) = match self.send("GET", &url, &query, None).await {
            // A collection that answers 404 to a query is not a SCIM endpoint at all: Entra
            // quarantines the job for it (docs/entra-behaviour.md §1.3), it is not a missing object.
            Err(ClientError::Http { status: 404, url, .. }) => return Err(ClientError::NotScim {
                method: "GET".into(),
                url,
                message:
                    "SCIM compliance issue: a filter query answered 404 Not Found instead of 200 OK with a ListResponse"
                        .into(),
            }),
            other => other?,
        };
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
    /// are read or a page comes back empty; each page goes to `visit` as it arrives.
    pub async fn list_pages<E: From<ClientError>>(
        &self,
        kind: ResourceKind,
        page_size: usize,
        mut visit: impl FnMut(Vec<Value>) -> Result<(), E>,
    ) -> Result<(), E> {
        let url = self.url(kind, None);
        let mut seen = 0;
        loop {
            let query = [("startIndex", (seen + 1).to_string()), ("count", page_size.max(1).to_string())];
            let (_, mut body) = self.send("GET", &url, &query, None).await?;
            let total = body.get("totalResults").and_then(Value::as_u64).ok_or_else(|| ClientError::NotScim {
                method: "GET".into(),
                url: url.clone(),
                message: "a list response must carry 'totalResults'".into(),
            })? as usize;
            let page = match body.get_mut("Resources").map(Value::take) {
                Some(Value::Array(page)) => page,
                _ => Vec::new(),
            };
            let empty = page.is_empty();
            seen += page.len();
            visit(page)?;
            if empty || seen >= total {
                return Ok(());
            }
        }
    }

    /// Keeps no exchange log: for a client whose traffic nobody is shown (a source read
    /// page by page would otherwise keep the last 2,000 pages).
    pub fn without_exchange_log(mut self) -> Self {
        self.exchanges = Arc::new(ExchangeLog::off());
        self
    }

    /// Keeps exchanges only while a [`ScimClient::trace_exchanges`] guard is alive.
    pub fn exchanges_on_request(mut self) -> Self {
        self.exchanges = Arc::new(ExchangeLog::on_request());
        self
    }

    /// Keeps this client's exchanges until the guard is dropped.
    pub fn trace_exchanges(&self) -> super::Tracing {
        self.exchanges.trace()
    }

    /// `GET /Users/{id}`; `None` for 404.
    pub async fn get(&self, kind: ResourceKind, id: &str) -> Result<Option<Value>, ClientError> {
        let query =
            if kind == ResourceKind::Group { vec![("excludedAttributes", "members".to_string())] } else { Vec::new() };
        match self.send("GET", &self.url(kind, Some(id)), &query, None).await {
            Ok((_, body)) => Ok(Some(body)),
            Err(ClientError::Http { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `POST /Users`; returns the created resource (it must carry an `id`).
    pub async fn create(&self, kind: ResourceKind, body: &Value) -> Result<Value, ClientError> {
        let url = self.url(kind, None);
        let (_, created) = self.send("POST", &url, &[], Some(body)).await?;
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
        let body = json!({"schemas": [crate::scim::urn::PATCH_OP], "Operations": operations});
        self.send("PATCH", &self.url(kind, Some(id)), &[], Some(&body)).await.map(|_| ())
    }

    /// `DELETE /Users/{id}`; `false` when it was already gone.
    pub async fn delete(&self, kind: ResourceKind, id: &str) -> Result<bool, ClientError> {
        match self.send("DELETE", &self.url(kind, Some(id)), &[], None).await {
            Ok(_) => Ok(true),
            Err(ClientError::Http { status: 404, .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// Percent-encodes an id for a path segment (RFC 3986 unreserved characters stay).
fn urlencode_path(id: &str) -> String {
    const UNRESERVED: &percent_encoding::AsciiSet =
        &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
    percent_encoding::utf8_percent_encode(id, UNRESERVED).to_string()
}
