//! `scimlab validate URL`: a SCIM endpoint compliance checker. Every check has an id, the
//! RFC or Entra section it comes from, a severity, and on failure the exact exchange. The
//! validator creates its own uniquely named objects and deletes them afterwards (unless
//! `--keep`); it never touches anything it did not create.

mod checks;
mod flow;
pub mod report;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

pub use report::{CheckResult, Exchange, Outcome, Report, Severity};

use crate::scim::ResourceKind;

/// Which interoperability expectations to add to the RFC's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ValidateProfile {
    /// RFC 7643/7644 only.
    Rfc,
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
    http: reqwest::Client,
    pub opts: ValidateOptions,
    /// Unique to this run; every object the validator creates carries it.
    pub run_id: String,
    created: Mutex<Vec<(ResourceKind, String)>>,
    last: Mutex<Option<Exchange>>,
    report: Mutex<Report>,
    /// The target's ServiceProviderConfig (Null when it could not be read).
    pub spc: Value,
}

impl Ctx {
    fn new(opts: ValidateOptions) -> anyhow::Result<Ctx> {
        let http = reqwest::Client::builder().timeout(opts.timeout).build()?;
        let run_id = format!("{:08x}", rand::random::<u32>());
        let report = Report {
            target: opts.base.clone(),
            profile: format!("{:?}", opts.profile).to_lowercase(),
            checks: Vec::new(),
        };
        Ok(Ctx {
            http,
            opts,
            run_id,
            created: Mutex::new(Vec::new()),
            last: Mutex::new(None),
            report: Mutex::new(report),
            spc: Value::Null,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.opts.base.trim_end_matches('/'))
    }

    /// Sends a request (with the token unless `anonymous`) and remembers the exchange.
    pub async fn send_as(
        &self,
        anonymous: bool,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let url = self.url(path);
        let mut req = self.http.request(method.clone(), &url).header("accept", "application/scim+json");
        if !query.is_empty() {
            req = req.query(query);
        }
        if let (Some(token), false) = (&self.opts.token, anonymous) {
            req = req.bearer_auth(token);
        }
        if let Some(b) = body {
            req = req.header("content-type", "application/scim+json").body(b.to_string());
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let shown = if query.is_empty() {
            url.clone()
        } else {
            format!("{url}?{}", serde_urlencoded::to_string(query).unwrap_or_default())
        };
        let resp = match req.send().await {
            Ok(res) => {
                let status = res.status().as_u16();
                let headers = res.headers().clone();
                let text = res.text().await.unwrap_or_default();
                let body = if text.trim().is_empty() {
                    Value::Null
                } else {
                    serde_json::from_str(&text).unwrap_or_else(|_| Value::String(text.chars().take(500).collect()))
                };
                Resp { status, headers, body }
            }
            Err(e) => {
                Resp { status: 0, headers: Default::default(), body: Value::String(format!("request failed: {e}")) }
            }
        };
        if let Ok(mut last) = self.last.lock() {
            *last = Some(Exchange {
                method: method.to_string(),
                url: shown,
                request: body.cloned(),
                status: resp.status,
                response: resp.body.clone(),
            });
        }
        resp
    }

    /// POSTs a body that is not JSON (for error-handling checks).
    pub async fn post_raw(&self, path: &str, text: &str) -> Resp {
        let url = self.url(path);
        let mut req = self.http.post(&url).header("content-type", "application/scim+json").body(text.to_string());
        if let Some(token) = &self.opts.token {
            req = req.bearer_auth(token);
        }
        let (status, headers, body) = match req.send().await {
            Ok(res) => {
                let status = res.status().as_u16();
                let headers = res.headers().clone();
                let text = res.text().await.unwrap_or_default();
                (status, headers, serde_json::from_str(&text).unwrap_or(Value::String(text)))
            }
            Err(e) => (0, Default::default(), Value::String(format!("request failed: {e}"))),
        };
        if let Ok(mut last) = self.last.lock() {
            *last = Some(Exchange {
                method: "POST".into(),
                url,
                request: Some(Value::String(text.to_string())),
                status,
                response: body.clone(),
            });
        }
        Resp { status, headers, body }
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

    /// Records one check's outcome.
    pub fn record(&self, meta: &CheckMeta, started: Instant, outcome: Outcome) {
        let exchange = match &outcome {
            Outcome::Fail { .. } => self.last.lock().ok().and_then(|l| l.clone()),
            _ => None,
        };
        let result = CheckResult {
            id: meta.id.into(),
            group: meta.group.into(),
            title: meta.title.into(),
            source: meta.source.into(),
            severity: meta.severity,
            outcome,
            exchange,
            duration_ms: started.elapsed().as_millis() as u64,
        };
        if let Ok(mut r) = self.report.lock() {
            r.checks.push(result);
        }
    }

    /// Whether a check of this group and severity runs in this profile and selection.
    pub fn wanted(&self, meta: &CheckMeta) -> Option<String> {
        if !self.opts.only.is_empty() && !self.opts.only.iter().any(|g| g.eq_ignore_ascii_case(meta.group)) {
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

/// Runs every selected check against `opts.base` and returns the report.
pub async fn validate(opts: ValidateOptions) -> anyhow::Result<Report> {
    let mut ctx = Ctx::new(opts)?;
    let spc = ctx.get("/ServiceProviderConfig", &[]).await;
    if spc.status == 200 {
        ctx.spc = spc.body;
    }
    checks::run_all(&ctx).await;
    if !ctx.opts.keep {
        ctx.cleanup().await;
    }
    let report = ctx.report.lock().map(|r| r.clone()).unwrap_or_default();
    Ok(report)
}
