//! An in-process scimlab for Rust tests: a SCIM server on 127.0.0.1, port 0, with its own
//! temporary store, and an admin client for faults, recorded requests and reset. Dropping
//! the server stops it.
//!
//! ```
//! use scimlab::testing::TestServer;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! actix_web::rt::System::new().block_on(async {
//!     let server = TestServer::builder().token("t0ken").start().await?;
//!     // Point the code under test at `server.base_url()` with `server.token()`; here a
//!     // plain request stands in for it.
//!     let created = reqwest::Client::new()
//!         .post(format!("{}/Users", server.base_url()))
//!         .bearer_auth(server.token())
//!         .header("content-type", "application/scim+json")
//!         .body(r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ada@example.com"}"#)
//!         .send()
//!         .await?;
//!     assert_eq!(created.status().as_u16(), 201);
//!     let seen = server.admin().requests("method=POST&path=/Users").await?;
//!     assert_eq!(seen.len(), 1);
//!     server.admin().reset().await?;
//!     Ok::<_, Box<dyn std::error::Error>>(())
//! })
//! # }
//! ```

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;

use crate::client::{Body, ClientError, HttpOptions, Request, Transport};
use crate::clock::{SystemClock, UuidIds};
use crate::config::Settings;
use crate::faults::FaultPlan;
use crate::service::profile::Profile;
use crate::startup::Application;

const ADMIN_TOKEN: &str = "scimlab-test-admin";

/// How the test server is set up.
pub struct TestServerBuilder {
    settings: Settings,
}

impl TestServer {
    pub fn builder() -> TestServerBuilder {
        TestServerBuilder {
            settings: Settings {
                addr: "127.0.0.1:0".into(),
                data: None,
                tokens: vec!["test-token".into()],
                admin_token: Some(ADMIN_TOKEN.into()),
                workers: Some(1),
                ..Settings::default()
            },
        }
    }
}

impl TestServerBuilder {
    /// The bearer token clients use (default `test-token`).
    pub fn token(mut self, token: &str) -> Self {
        self.settings.tokens = vec![token.into()];
        self
    }

    /// The quirk profile (default `entra`).
    pub fn profile(mut self, profile: Profile) -> Self {
        self.settings.profile = profile;
        self
    }

    /// A seed file loaded at start (and by `reset_and_seed`).
    pub fn seed(mut self, file: impl Into<PathBuf>) -> Self {
        self.settings.seeds.push(file.into());
        self
    }

    /// Faults from the start.
    pub fn faults(mut self, plan: FaultPlan) -> Self {
        self.settings.faults = plan;
        self
    }

    /// Requests kept by the recorder (0 turns recording off).
    pub fn recording(mut self, capacity: usize) -> Self {
        self.settings.record_capacity = capacity;
        self
    }

    /// Starts the server; call it inside an actix (or tokio) runtime.
    pub async fn start(self) -> anyhow::Result<TestServer> {
        let token = self.settings.tokens.first().map(|t| secrecy::ExposeSecret::expose_secret(t).to_string());
        let app = Application::build_with(self.settings, Arc::new(SystemClock), Arc::new(UuidIds))?;
        let base = app.base_url();
        let handle = app.handle();
        actix_web::rt::spawn(app.run_until_stopped());
        let admin = Admin { base: base.replace("/scim/v2", ""), transport: Transport::new(&HttpOptions::default())? };
        Ok(TestServer { base, token: token.unwrap_or_default(), handle, admin })
    }
}

/// A running server; stopped when dropped.
pub struct TestServer {
    base: String,
    token: String,
    handle: actix_web::dev::ServerHandle,
    admin: Admin,
}

impl TestServer {
    /// The SCIM base URL, e.g. `http://127.0.0.1:41234/scim/v2`.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    pub fn admin(&self) -> &Admin {
        &self.admin
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        actix_web::rt::spawn(async move { handle.stop(false).await });
    }
}

/// The admin API of a [`TestServer`].
pub struct Admin {
    base: String,
    transport: Transport,
}

impl Admin {
    async fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, ClientError> {
        let url = format!("{}{path}", self.base);
        let request = Request { bearer: Some(ADMIN_TOKEN), body: body.map(Body::Json), ..Request::new(method, &url) };
        let res = self.transport.send(request).await?;
        if !res.is_success() {
            return Err(ClientError::Http {
                method: method.into(),
                url,
                status: res.status,
                scim_type: None,
                detail: res.body.to_string(),
                retry_after: None,
            });
        }
        Ok(res.body)
    }

    /// Replaces the fault plan (`{"rules": [...]}`).
    pub async fn set_faults(&self, plan: &Value) -> Result<(), ClientError> {
        self.call("PUT", "/admin/faults", Some(plan)).await.map(|_| ())
    }

    /// Recorded requests matching a query string (`method=PATCH&path=/Users&wait=5s`).
    pub async fn requests(&self, query: &str) -> Result<Vec<Value>, ClientError> {
        let url = format!("{}/admin/requests?{query}", self.base);
        let body = self.call("GET", &format!("/admin/requests?{query}"), None).await?;
        match body.get("requests").and_then(Value::as_array) {
            Some(requests) => Ok(requests.clone()),
            None => Err(ClientError::NotScim {
                method: "GET".into(),
                url,
                message: format!("expected {{\"requests\": [...]}}, got {body}"),
            }),
        }
    }

    /// Empties users, groups, recording and faults.
    pub async fn reset(&self) -> Result<(), ClientError> {
        self.call("POST", "/admin/reset", None).await.map(|_| ())
    }

    /// Resets and loads the seed files again.
    pub async fn reset_and_seed(&self) -> Result<(), ClientError> {
        self.call("POST", "/admin/reset?seed=true", None).await.map(|_| ())
    }
}
