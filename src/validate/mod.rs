//! `scimlab validate URL`: a SCIM endpoint compliance checker. Every check has an id, the
//! RFC or Entra section it comes from, a severity, and on failure the exact exchange. The
//! validator creates its own uniquely named objects and deletes them afterwards (unless
//! `--keep`); it never touches anything it did not create.

mod checks;
mod flow;
pub mod registry;
pub mod report;
pub mod suites;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

pub use report::{CheckResult, Outcome, Report, Severity};
pub use suites::{Suite, SuiteReport};

use crate::client::{Body, Exchange, ExchangeLog, HttpOptions, Request, TlsOptions, Transport};

use crate::scim::ResourceKind;

/// Which interoperability expectations to add to the RFC's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ValidateProfile {
    /// RFC 7643/7644 only (as `serve --profile strict`).
    #[value(alias = "rfc")]
    Strict,
    /// RFC plus what Microsoft Entra ID sends and expects.
    Entra,
    /// RFC plus what Okta relies on.
    Okta,
}

#[derive(Debug, Clone)]
pub struct ValidateOptions {
    pub base: String,
    pub token: Option<String>,
    pub profile: ValidateProfile,
    /// Check groups to run (`users`, `groups`, …); empty runs all.
    pub only: Vec<String>,
    pub keep: bool,
    pub timeout: Duration,
    /// A PEM file of a CA to trust besides the platform's (`--ca-cert`).
    pub ca_cert: Option<std::path::PathBuf>,
    /// Accept any certificate (`--insecure`).
    pub insecure: bool,
    /// Run exactly a vendor's suite (its checks, in its profile) and report by its tests.
    pub suite: Option<Suite>,
    /// Get the bearer token with OAuth client credentials (and check the endpoint's grant).
    pub oauth: Option<crate::client::OAuthClient>,
}

impl ValidateOptions {
    /// Every check in `profile`, with a static token, nothing kept.
    pub fn new(base: impl Into<String>, token: Option<String>, profile: ValidateProfile) -> ValidateOptions {
        ValidateOptions {
            base: base.into(),
            token,
            profile,
            only: Vec::new(),
            keep: false,
            timeout: Duration::from_secs(15),
            ca_cert: None,
            insecure: false,
            suite: None,
            oauth: None,
        }
    }
}

/// A response as the checks see it.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
    }

    pub fn resources(&self) -> Vec<Value> {
        self.body.get("Resources").and_then(Value::as_array).cloned().unwrap_or_default()
    }

    pub fn total(&self) -> Option<u64> {
        self.body.get("totalResults").and_then(Value::as_u64)
    }

    pub fn id(&self) -> String {
        self.body.get("id").and_then(Value::as_str).unwrap_or_default().to_string()
    }
}

/// Why a check failed: what it expected and what it saw.
#[derive(Debug)]
pub struct Failure {
    pub expected: String,
    pub actual: String,
}

pub type CheckResultOf = Result<(), Failure>;

/// `fail!("expected", "actual")`-style helper.
pub fn fail(expected: impl Into<String>, actual: impl Into<String>) -> Failure {
    Failure { expected: expected.into(), actual: actual.into() }
}

/// Expects `status`, describing the response otherwise.
pub fn expect_status(r: &Resp, status: u16) -> CheckResultOf {
    if r.status == status {
        Ok(())
    } else {
        let detail = r.body.get("detail").and_then(Value::as_str).map(|d| format!(": {d}")).unwrap_or_default();
        Err(fail(format!("HTTP {status}"), format!("HTTP {}{detail}", r.status)))
    }
}

/// The state of one validation run.
pub struct Ctx {
    transport: Transport,
    pub opts: ValidateOptions,
    /// Unique to this run; every object the validator creates carries it.
    pub run_id: String,
    created: Mutex<Vec<(ResourceKind, String)>>,
    exchanges: ExchangeLog,
    report: Mutex<Report>,
    /// The target's ServiceProviderConfig (Null when it could not be read).
    pub spc: Value,
    /// What the OAuth token endpoint granted, or why it did not (with `--oauth-token-url`).
    pub oauth_grant: Option<Result<crate::client::AccessToken, String>>,
}

/// When a check started: its clock, and the first exchange that belongs to it.
#[derive(Debug, Clone, Copy)]
pub struct Started {
    at: Instant,
    mark: u64,
}

impl Ctx {
    fn new(opts: ValidateOptions) -> Result<Ctx, crate::client::ClientError> {
        let transport = Transport::new(&HttpOptions {
            tls: TlsOptions::with_ca(opts.ca_cert.clone(), opts.insecure),
            ..HttpOptions::with_timeout(opts.timeout)
        })?;
        let run_id = format!("{:08x}", rand::random::<u32>());
        let report = Report {
            target: opts.base.clone(),
            profile: format!("{:?}", opts.profile).to_lowercase(),
            checks: Vec::new(),
            suite: None,
        };
        Ok(Ctx {
            transport,
            opts,
            run_id,
            created: Mutex::new(Vec::new()),
            exchanges: ExchangeLog::default(),
            report: Mutex::new(report),
            spc: Value::Null,
            oauth_grant: None,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.opts.base.trim_end_matches('/'))
    }

    /// Marks the start of a check: exchanges after this point are its evidence.
    pub fn begin(&self) -> Started {
        Started { at: Instant::now(), mark: self.exchanges.mark() }
    }

    /// Whether any request was sent since the check started.
    pub fn made_requests_since(&self, started: Started) -> bool {
        self.exchanges.mark() > started.mark
    }

    /// Sends a request (with the token unless `anonymous`) and logs the exchange. A
    /// transport failure is a response with status 0 and the cause as its body.
    pub async fn send_as(
        &self,
        anonymous: bool,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let query: Vec<(&str, String)> = query.iter().map(|(k, v)| (*k, v.to_string())).collect();
        let bearer = if anonymous { None } else { self.opts.token.as_deref() };
        self.exchange(method.as_str(), path, &query, bearer, body.map(Body::Scim), headers).await
    }

    async fn exchange(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, String)],
        bearer: Option<&str>,
        body: Option<Body<'_>>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let url = self.url(path);
        let request = Request { method, url: &url, query, bearer, body, headers };
        let shown = request.shown_url();
        let resp = match self.transport.send(request).await {
            Ok(res) => Resp { status: res.status, headers: res.headers, body: res.body },
            Err(e) => Resp { status: 0, headers: Default::default(), body: Value::String(e.to_string()) },
        };
        let sent = match body {
            Some(Body::Scim(v) | Body::Json(v)) => Some(v.clone()),
            Some(Body::RawScim(t) | Body::Form(t)) => Some(Value::String(t.to_string())),
            None => None,
        };
        self.exchanges.push(Exchange {
            method: method.to_string(),
            url: shown,
            request: sent,
            status: resp.status,
            response: resp.body.clone(),
        });
        resp
    }

    /// POSTs a body that is not JSON (for error-handling checks).
    pub async fn post_raw(&self, path: &str, text: &str) -> Resp {
        self.exchange("POST", path, &[], self.opts.token.as_deref(), Some(Body::RawScim(text)), &[]).await
    }

    pub async fn send(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> Resp {
        self.send_as(false, method, path, &[], body, &[]).await
    }

    pub async fn get(&self, path: &str, query: &[(&str, &str)]) -> Resp {
        self.send_as(false, reqwest::Method::GET, path, query, None, &[]).await
    }

    /// POSTs a resource and, when it was created, remembers it for cleanup.
    pub async fn create(&self, kind: ResourceKind, body: &Value) -> Resp {
        let r = self.send(reqwest::Method::POST, &format!("/{}", kind.endpoint()), Some(body)).await;
        if r.status == 201 || (r.status == 200 && !r.id().is_empty()) {
            if let Ok(mut c) = self.created.lock() {
                c.push((kind, r.id()));
            }
        }
        r
    }

    pub async fn patch(&self, kind: ResourceKind, id: &str, ops: Value) -> Resp {
        let body = serde_json::json!({"schemas": [crate::scim::urn::PATCH_OP], "Operations": ops});
        self.send(reqwest::Method::PATCH, &format!("/{}/{id}", kind.endpoint()), Some(&body)).await
    }

    /// A unique userName for this run.
    pub fn user_name(&self, label: &str) -> String {
        format!("scimlab-validate-{}-{label}@example.com", self.run_id)
    }

    /// Remembers an object created some other way (e.g. through /Bulk) for cleanup.
    pub fn remember(&self, kind: ResourceKind, id: &str) {
        if let Ok(mut c) = self.created.lock() {
            c.push((kind, id.to_string()));
        }
    }

    pub fn forget(&self, id: &str) {
        if let Ok(mut c) = self.created.lock() {
            c.retain(|(_, i)| i != id);
        }
    }

    /// Records one check's outcome; a failure carries the last exchange the check made.
    pub fn record(&self, meta: &CheckMeta, started: Started, outcome: Outcome) {
        let exchange = match &outcome {
            Outcome::Fail { .. } => self.exchanges.last_since(started.mark),
            _ => None,
        };
        self.record_with(meta, started, outcome, exchange);
    }

    /// Records one check's outcome with the exchange that shows it (or none).
    pub fn record_with(&self, meta: &CheckMeta, started: Started, outcome: Outcome, exchange: Option<Exchange>) {
        let result = CheckResult {
            id: meta.id.into(),
            group: meta.group.into(),
            title: meta.title.into(),
            source: meta.source.into(),
            severity: meta.severity,
            outcome,
            exchange,
            duration_ms: started.at.elapsed().as_millis() as u64,
            references: suites::references_of(meta.id),
        };
        if let Ok(mut r) = self.report.lock() {
            r.checks.push(result);
        }
    }

    /// Whether a check of this group and severity runs in this profile and selection.
    pub fn wanted(&self, meta: &CheckMeta) -> Option<String> {
        let selected = |name: &String| name.eq_ignore_ascii_case(meta.group) || name.eq_ignore_ascii_case(meta.id);
        if !self.opts.only.is_empty() && !self.opts.only.iter().any(selected) {
            return Some(format!("not selected by --only {}", self.opts.only.join(",")));
        }
        if meta.severity == Severity::EntraInterop && self.opts.profile != ValidateProfile::Entra {
            return Some("Entra interoperability check (run with --profile entra)".into());
        }
        if meta.severity == Severity::OktaInterop && self.opts.profile != ValidateProfile::Okta {
            return Some("Okta interoperability check (run with --profile okta)".into());
        }
        None
    }

    /// The ServiceProviderConfig says this feature is supported.
    pub fn supports(&self, feature: &str) -> bool {
        self.spc.get(feature).and_then(|f| f.get("supported")).and_then(Value::as_bool).unwrap_or(false)
    }

    async fn cleanup(&self) {
        let created: Vec<(ResourceKind, String)> = self.created.lock().map(|c| c.clone()).unwrap_or_default();
        // Groups first, so members are not deleted out from under them.
        for kind in [ResourceKind::Group, ResourceKind::User] {
            for (_, id) in created.iter().filter(|(k, _)| *k == kind) {
                let r = self.send(reqwest::Method::DELETE, &format!("/{}/{id}", kind.endpoint()), None).await;
                if r.status != 204 && r.status != 404 && r.status != 200 {
                    tracing::warn!(id, status = r.status, "could not delete a validator object");
                }
            }
        }
    }
}

/// What describes a check in the report.
pub struct CheckMeta {
    pub id: &'static str,
    pub group: &'static str,
    pub title: &'static str,
    pub source: &'static str,
    pub severity: Severity,
}

pub use registry::GROUPS;

/// Why a validation could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum ValidateError {
    #[error("--only {0}: no such check group or check id; groups: {groups}; check ids: {ids}", groups = GROUPS.join(", "), ids = registry::CHECKS.iter().map(|c| c.id).collect::<Vec<_>>().join(", "))]
    UnknownSelection(String),
    #[error("{0}")]
    Unreachable(String),
    #[error("--suite runs exactly the vendor's tests; drop --only (or drop --suite and pick checks with --only)")]
    SuiteWithOnly,
    #[error("cannot get a token with OAuth client credentials: {0}")]
    NoToken(String),
    #[error(transparent)]
    Client(#[from] crate::client::ClientError),
}

/// Runs every selected check against `opts.base` and returns the report.
pub async fn validate(mut opts: ValidateOptions) -> Result<Report, ValidateError> {
    if let Some(name) = opts.only.iter().find(|n| !registry::is_known(n)) {
        return Err(ValidateError::UnknownSelection(name.clone()));
    }
    if let Some(suite) = opts.suite {
        if !opts.only.is_empty() {
            return Err(ValidateError::SuiteWithOnly);
        }
        opts.profile = suite.profile();
        opts.only = suite.check_ids();
    }
    let mut ctx = Ctx::new(opts)?;
    if let Some(client) = ctx.opts.oauth.clone() {
        let grant = client.fetch(&ctx.transport).await.map_err(|e| e.to_string());
        match (&grant, &ctx.opts.token) {
            (Ok(granted), None) => ctx.opts.token = Some(granted.token.clone()),
            (Err(e), None) => return Err(ValidateError::NoToken(e.clone())),
            _ => {}
        }
        ctx.oauth_grant = Some(grant);
    }
    let spc = ctx.get("/ServiceProviderConfig", &[]).await;
    if spc.status == 200 && spc.body.is_object() {
        ctx.spc = spc.body;
    } else {
        ctx.preflight(&spc).await?;
    }
    checks::run_all(&ctx).await;
    if !ctx.opts.keep {
        ctx.cleanup().await;
    }
    let mut report = ctx.report.lock().map(|r| r.clone()).unwrap_or_default();
    if let Some(suite) = ctx.opts.suite {
        // Only the suite's checks are reported, not every check it left out.
        let ids = suite.check_ids();
        report.checks.retain(|c| ids.contains(&c.id));
        report.suite = Some(SuiteReport::evaluate(suite, &report));
    }
    Ok(report)
}

impl Ctx {
    /// When discovery did not answer, tells an endpoint that is merely non-compliant (its
    /// `/Users` answers a ListResponse: the checks will say what is wrong) from one that
    /// cannot be validated at all (unreachable, refusing the token, or not SCIM).
    async fn preflight(&self, spc: &Resp) -> Result<(), ValidateError> {
        let base = &self.opts.base;
        if spc.status == 0 {
            let cause = spc.body.as_str().unwrap_or("no answer");
            return Err(ValidateError::Unreachable(format!("cannot reach {base}: {cause}")));
        }
        let users = self.get("/Users", &[("count", "1")]).await;
        match users.status {
            200 if users.body.get("Resources").is_some() || users.body.get("totalResults").is_some() => Ok(()),
            401 | 403 => Err(ValidateError::Unreachable(format!(
                "{base} refused the request ({}): pass the endpoint's bearer token with --token or SCIMLAB_TARGET_TOKEN",
                users.status
            ))),
            status => Err(ValidateError::Unreachable(format!(
                "{base} does not answer as a SCIM endpoint: GET /ServiceProviderConfig answered {}, GET /Users answered {status}; \
                 the URL must be the SCIM root (the path under which /Users and /Groups exist, for example https://host/scim/v2)",
                spc.status
            ))),
        }
    }
}
