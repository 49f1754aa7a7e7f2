//! Test harness: an in-process scimlab on 127.0.0.1:0 with its own temporary sled directory.

use std::sync::Arc;

use reqwest::header::HeaderMap;
use serde_json::{json, Value};

use scimlab::clock::{SystemClock, UuidIds};
use scimlab::config::Settings;
use scimlab::service::profile::Profile;
use scimlab::startup::Application;

pub const TOKEN: &str = "test-token";
/// The admin token of every test server that turns the admin API on.
pub const ADMIN_TOKEN: &str = "test-admin-token";
pub const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE_URN: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const PATCH_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub token: Option<String>,
    _dir: tempfile::TempDir,
    handle: actix_web::dev::ServerHandle,
    /// The server task; it ends once storage is flushed and released.
    task: std::sync::Mutex<Option<actix_web::rt::task::JoinHandle<anyhow::Result<()>>>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        actix_web::rt::spawn(async move { handle.stop(false).await });
    }
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
    }

    pub fn detail(&self) -> String {
        self.body["detail"].as_str().unwrap_or_default().to_string()
    }

    pub fn scim_type(&self) -> String {
        self.body["scimType"].as_str().unwrap_or_default().to_string()
    }

    /// Asserts a SCIM error response with this status (and scimType when given).
    #[track_caller]
    pub fn assert_error(&self, status: u16, scim_type: Option<&str>) {
        assert_eq!(self.status, status, "body: {}", self.body);
        assert_eq!(self.body["schemas"], json!(["urn:ietf:params:scim:api:messages:2.0:Error"]), "{}", self.body);
        assert_eq!(self.body["status"], json!(status.to_string()), "status is a string: {}", self.body);
        if let Some(t) = scim_type {
            assert_eq!(self.scim_type(), t, "body: {}", self.body);
        }
        assert_eq!(self.header("content-type").as_deref(), Some("application/scim+json"));
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_strict_app() -> TestApp {
    spawn_app_with(|s| s.profile = Profile::Strict).await
}

pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut settings = Settings {
        addr: "127.0.0.1:0".into(),
        data: Some(dir.path().join("data")),
        tokens: vec![TOKEN.into()],
        workers: Some(1),
        ..Settings::default()
    };
    configure(&mut settings);
    crate::database::configure(&mut settings);
    // sled releases a data directory's file lock from a background thread shortly after
    // its last handle drops, so a restart on the same directory may find it still held:
    // try again until the lock is free (a condition, not a guess at a duration).
    let built = poll(std::time::Duration::from_secs(2), || {
        let built = Application::build_with(settings.clone(), Arc::new(SystemClock), Arc::new(UuidIds));
        async move {
            match built {
                Err(e) if !format!("{e:#}").contains("lock") => panic!("app does not build: {e:#}"),
                other => other,
            }
        }
    })
    .await;
    let app = built.unwrap_or_else(|e| panic!("app does not build: {e:#}"));
    let address = format!("{}://127.0.0.1:{}", app.scheme(), app.port());
    let handle = app.handle();
    let task = std::sync::Mutex::new(Some(actix_web::rt::spawn(app.run_until_stopped())));
    // Idle connections are dropped before actix's 5 s keep-alive closes them, so a request
    // after a pause never goes out on a connection the server is closing.
    let client =
        reqwest::Client::builder().pool_idle_timeout(std::time::Duration::from_secs(2)).build().expect("a client");
    TestApp { address, client, token: Some(TOKEN.into()), _dir: dir, handle, task }
}

/// A throwaway CA and a server certificate for 127.0.0.1 and localhost, as PEM files in
/// a temporary directory: `ca.pem`, `cert.pem`, `key.pem`.
pub struct TestCerts {
    pub dir: tempfile::TempDir,
}

impl TestCerts {
    pub fn new() -> TestCerts {
        Self::for_names(&["127.0.0.1", "localhost"], time::OffsetDateTime::now_utc() - time::Duration::hours(1), 30)
    }

    pub fn for_names(names: &[&str], not_before: time::OffsetDateTime, days: i64) -> TestCerts {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let certs = scimlab::cli::cert::DevCertificates::generate(&names, not_before, days).expect("certificates");
        let dir = tempfile::tempdir().expect("temp dir");
        certs.write(dir.path(), false).expect("certificates written");
        TestCerts { dir }
    }

    pub fn ca(&self) -> std::path::PathBuf {
        self.dir.path().join("ca.pem")
    }

    pub fn tls_files(&self) -> scimlab::config::TlsFiles {
        scimlab::config::TlsFiles { cert: self.dir.path().join("cert.pem"), key: self.dir.path().join("key.pem") }
    }

    /// A test client that trusts this CA only.
    pub fn client(&self) -> reqwest::Client {
        let pem = std::fs::read(self.ca()).expect("ca.pem");
        reqwest::Client::builder()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("a PEM certificate"))
            .build()
            .expect("client")
    }
}

/// A scimlab serving HTTPS with `certs`, and a test client that trusts their CA.
pub async fn spawn_https_app(certs: &TestCerts, configure: impl FnOnce(&mut Settings)) -> TestApp {
    let tls = certs.tls_files();
    let mut app = spawn_app_with(move |s| {
        s.tls = Some(tls);
        configure(s);
    })
    .await;
    app.client = certs.client();
    app
}

impl TestApp {
    /// Stops the server and waits until it has flushed and released its storage, so a
    /// new server can open the same data directory at once.
    pub async fn handle_stop(&self) {
        self.handle.stop(true).await;
        let task = self.task.lock().ok().and_then(|mut t| t.take());
        if let Some(task) = task {
            task.await.expect("the server task ends").expect("the server stops cleanly");
        }
    }

    /// A request to the admin API with [`ADMIN_TOKEN`]; the body is JSON when given.
    pub async fn admin(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> reqwest::Response {
        let mut req = self.client.request(method, format!("{}{path}", self.address)).bearer_auth(ADMIN_TOKEN);
        if let Some(body) = body {
            req = req.json(body);
        }
        req.send().await.expect("the admin API answers")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/scim/v2{path}", self.address)
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let mut req = self.client.request(method, self.url(path));
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.header("content-type", "application/scim+json").body(body.to_string());
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let res = req.send().await.expect("request sent");
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let text = res.text().await.expect("body read");
        let body =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        Resp { status, headers, body }
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send(reqwest::Method::GET, path, None, &[]).await
    }
    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.send(reqwest::Method::POST, path, Some(&body), &[]).await
    }
    pub async fn put(&self, path: &str, body: Value) -> Resp {
        self.send(reqwest::Method::PUT, path, Some(&body), &[]).await
    }
    pub async fn patch(&self, path: &str, body: Value) -> Resp {
        self.send(reqwest::Method::PATCH, path, Some(&body), &[]).await
    }
    pub async fn delete(&self, path: &str) -> Resp {
        self.send(reqwest::Method::DELETE, path, None, &[]).await
    }

    /// PATCH with a PatchOp envelope around `ops`.
    pub async fn patch_ops(&self, path: &str, ops: Value) -> Resp {
        self.patch(path, json!({"schemas": [PATCH_URN], "Operations": ops})).await
    }

    /// GET with a raw (already encoded or plain) query string.
    pub async fn list(&self, path: &str, query: &[(&str, &str)]) -> Resp {
        let mut req = self.client.get(self.url(path)).query(query);
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        let res = req.send().await.expect("request sent");
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let body = res.json().await.unwrap_or(Value::Null);
        Resp { status, headers, body }
    }

    pub async fn create_user(&self, user_name: &str) -> Value {
        let res = self.post("/Users", user_body(user_name)).await;
        assert_eq!(res.status, 201, "{}", res.body);
        res.body
    }

    pub async fn create_group(&self, name: &str, member_ids: &[&str]) -> Value {
        let members: Vec<Value> = member_ids.iter().map(|id| json!({"value": id})).collect();
        let res = self.post("/Groups", json!({"schemas": [GROUP_URN], "displayName": name, "members": members})).await;
        assert_eq!(res.status, 201, "{}", res.body);
        res.body
    }
}

pub fn user_body(user_name: &str) -> Value {
    let local = user_name.split('@').next().unwrap_or(user_name);
    json!({
        "schemas": [USER_URN],
        "userName": user_name,
        "name": {"givenName": local, "familyName": "Test"},
        "displayName": format!("{local} Test"),
        "active": true,
        "emails": [{"value": user_name, "type": "work", "primary": true}]
    })
}

pub fn id_of(resource: &Value) -> String {
    resource["id"].as_str().expect("resource has an id").to_string()
}

/// `scimlab serve --addr 127.0.0.1:0 ARGS` as a child process (blocking); returns it and its
/// ready line, which says where it listens.
pub fn serve_process(args: &[&str]) -> (std::process::Child, Value) {
    serve_process_with(args, |_| {})
}

/// [`serve_process`] with the command adjusted first (environment, a piped stderr).
pub fn serve_process_with(
    args: &[&str],
    adjust: impl FnOnce(&mut std::process::Command),
) -> (std::process::Child, Value) {
    use std::io::BufRead;
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_scimlab"));
    crate::database::isolate(&mut command, &args.iter().map(|a| a.to_string()).collect::<Vec<_>>());
    command
        .args(["serve", "--addr", "127.0.0.1:0"])
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    adjust(&mut command);
    let mut child = command.spawn().expect("scimlab starts");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("piped stdout")).read_line(&mut line).expect("a ready line");
    let ready: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("ready line {line:?}: {e}"));
    assert_eq!(ready["event"], "ready", "{line}");
    (child, ready)
}

/// How long a poll waits between two looks.
const POLL_INTERVAL: std::time::Duration = std::time::Duration::from_millis(25);

/// Looks with `probe` until it answers `Ok` or `timeout` has passed, and returns its last
/// answer (the `Err` says what was seen instead). The one place tests wait for something
/// another task or process does: each look is a condition, the pause between looks only
/// spares the machine, nothing is ordered by it.
pub async fn poll<T, E, Fut>(timeout: std::time::Duration, mut probe: impl FnMut() -> Fut) -> Result<T, E>
where
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let answer = probe().await;
        if answer.is_ok() || std::time::Instant::now() >= deadline {
            return answer;
        }
        actix_web::rt::time::sleep(POLL_INTERVAL).await;
    }
}
