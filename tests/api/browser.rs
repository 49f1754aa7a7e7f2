//! The admin page in headless Chromium, driven over WebDriver (chromedriver): a real
//! click-through, not just a 200. `.ci/run` installs Debian's chromium and chromium-driver
//! and sets SCIMLAB_REQUIRE_BROWSER=1, so there a missing browser fails the test; elsewhere
//! the test says it was skipped.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, user_body, GROUP_URN, TOKEN};
use crate::provisioning::hosted::{wait_for, HostedJob};

use crate::helpers::ADMIN_TOKEN as ADMIN;
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

struct Driver {
    http: reqwest::Client,
    base: String,
    session: String,
    child: std::process::Child,
}

impl Driver {
    async fn start() -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = std::process::Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            if http.get(format!("{base}/status")).send().await.is_ok() {
                break;
            }
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
        let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000"]
        }}}});
        let res: Value = http.post(format!("{base}/session")).json(&caps).send().await.unwrap().json().await.unwrap();
        let session = res["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {res}")).to_string();
        Driver { http, base, session, child }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut req = self.http.request(method.clone(), url);
        if method == reqwest::Method::POST {
            req = req.json(&body);
        }
        let res: Value = req.send().await.unwrap().json().await.unwrap();
        res["value"].clone()
    }

    async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", json!({"url": url})).await;
    }

    async fn find(&self, css: &str) -> String {
        let v = self.call(reqwest::Method::POST, "/element", json!({"using": "css selector", "value": css})).await;
        v.as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no element {css}: {v}"))
            .to_string()
    }

    async fn text(&self, css: &str) -> String {
        let id = self.find(css).await;
        self.call(reqwest::Method::GET, &format!("/element/{id}/text"), Value::Null)
            .await
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    async fn click(&self, css: &str) {
        let id = self.find(css).await;
        self.call(reqwest::Method::POST, &format!("/element/{id}/click"), json!({})).await;
    }

    /// Accepts the confirmation dialog a click opened, returning its text.
    async fn accept_confirmation(&self) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let text = self.call(reqwest::Method::GET, "/alert/text", Value::Null).await;
            if let Some(text) = text.as_str() {
                self.call(reqwest::Method::POST, "/alert/accept", json!({})).await;
                return text.to_string();
            }
            assert!(Instant::now() < deadline, "no confirmation dialog opened: {text}");
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css).await;
        self.call(reqwest::Method::POST, &format!("/element/{id}/value"), json!({"text": text})).await;
    }

    /// Waits until the element's text contains `needle` (the page refreshes itself).
    async fn wait_text(&self, css: &str, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let text = self.text(css).await;
            if text.contains(needle) {
                return text;
            }
            assert!(Instant::now() < deadline, "{css} never showed {needle:?}; it shows:\n{text}");
            actix_web::rt::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether the browser is installed; where `.ci/run` requires it, its absence fails the test.
fn browser_installed() -> bool {
    if std::path::Path::new(CHROMEDRIVER).exists() && std::path::Path::new(CHROMIUM).exists() {
        return true;
    }
    assert!(
        std::env::var("SCIMLAB_REQUIRE_BROWSER").is_err(),
        "SCIMLAB_REQUIRE_BROWSER is set but {CHROMIUM} / {CHROMEDRIVER} are missing (apt-get install chromium chromium-driver)"
    );
    eprintln!("skipped: install chromium and chromium-driver to run the admin page test");
    false
}

#[actix_web::test]
async fn the_admin_page_shows_tenants_users_groups_and_request_bodies() {
    if !browser_installed() {
        return;
    }
    let app = spawn_app_with(|s| s.admin_token = Some(ADMIN.into())).await;
    let user = app.post("/Users", user_body("browser@example.com")).await.body;
    app.post(
        "/Groups",
        json!({"schemas": [GROUP_URN], "displayName": "Browser Testers", "members": [{"value": user["id"]}]}),
    )
    .await;

    let driver = Driver::start().await;
    driver.goto(&format!("{}/admin", app.address)).await;
    driver.wait_text("#status", "not connected").await;
    driver.type_into("#token", ADMIN).await;
    driver.click("#connect").await;

    let tenants = driver.wait_text("#tenants-table", "default").await;
    assert!(tenants.contains("/scim/v2"), "{tenants}");
    driver.wait_text("#users-table", "browser@example.com").await;
    let groups = driver.wait_text("#groups-table", "Browser Testers").await;
    assert!(groups.contains("browser Test"), "members are listed by display name: {groups}");
    driver.wait_text("#requests-table", "/scim/v2/Groups").await;

    // Newest first: the first row is the group's creation; its bodies open below.
    driver.click("#requests-table tbody tr").await;
    let detail = driver.wait_text("#request-detail", "Browser Testers").await;
    assert!(detail.contains("POST /scim/v2/Groups") && detail.contains("201"), "{detail}");

    // A query string that does not percent-decode is shown as sent and does not stop the refresh.
    let odd = app.client.get(format!("{}/scim/v2/Users?filter=%E0%A4%A", app.address)).bearer_auth(TOKEN).send().await;
    assert!(odd.is_ok());
    driver.wait_text("#requests-table", "/scim/v2/Users?filter=").await;

    // Live refresh: a request made now appears without a reload.
    app.post("/Users", user_body("late@example.com")).await;
    driver.wait_text("#users-table", "late@example.com").await;
    driver.wait_text("#status", "updated").await;
    driver.call(reqwest::Method::DELETE, "", Value::Null).await;
}

impl HostedJob {
    /// A browser on the host's admin page, connected with the admin token.
    async fn open_admin_page(&self) -> Driver {
        let driver = Driver::start().await;
        driver.goto(&format!("{}/admin", self.host.address)).await;
        driver.type_into("#token", ADMIN).await;
        driver.click("#connect").await;
        driver
    }
}

#[actix_web::test]
async fn a_quarantined_job_is_shown_in_a_banner_with_what_to_do() {
    if !browser_installed() {
        return;
    }
    // The target refuses this token: Entra quarantines at once on refused credentials.
    let lab = HostedJob::start("refused", "not-the-token", json!({})).await;
    let driver = lab.open_admin_page().await;
    let banner = driver.wait_text("#banner", "refused is in quarantine").await;
    assert!(banner.contains("401") || banner.to_lowercase().contains("credential"), "the cause is named: {banner}");
    assert!(banner.contains("restart"), "and what to do: {banner}");
    driver.call(reqwest::Method::DELETE, "", Value::Null).await;
}

#[actix_web::test]
async fn a_hosted_jobs_statistics_and_actions_work_from_the_page() {
    if !browser_installed() {
        return;
    }
    let lab = HostedJob::start("steady", TOKEN, json!({})).await;
    let host = &lab.host;
    let driver = lab.open_admin_page().await;
    let row = driver.wait_text("#jobs-table", "steady state since").await;
    // The page says what the admin API says.
    let status: Value = host.admin(reqwest::Method::GET, "/admin/jobs/steady", None).await.json().await.unwrap();
    let (users, groups, created) = (&status["users"], &status["groups"], &status["statistics"]["created"]);
    assert!(created.as_u64().unwrap() > 0, "{status}");
    assert!(row.contains(&format!("{users} users and {groups} groups provisioned")), "{row}\n{status}");
    assert!(row.contains(&format!("{created} created")), "{row}\n{status}");

    // Actions, each confirmed before it runs: pause, then resume.
    driver.click("#jobs-table button[data-action=pause]").await;
    let question = driver.accept_confirmation().await;
    assert!(question.contains("Pause provisioning for steady"), "{question}");
    driver.wait_text("#job-action-result", "Pause steady: done, now Paused").await;
    driver.wait_text("#jobs-table", "Paused").await;
    let status: Value = host.admin(reqwest::Method::GET, "/admin/jobs/steady", None).await.json().await.unwrap();
    assert_eq!(status["state"], "Paused");
    driver.click("#jobs-table button[data-action=resume]").await;
    driver.accept_confirmation().await;
    driver.wait_text("#job-action-result", "Resume steady: done, now Active").await;

    // Restart with cleared state: the job runs an initial cycle again, matching every object anew.
    let before: Value = host.admin(reqwest::Method::GET, "/admin/jobs/steady", None).await.json().await.unwrap();
    driver.click("#jobs-table button[data-action='restart?clearState=true']").await;
    let question = driver.accept_confirmation().await;
    assert!(question.contains("Clear the current state of steady"), "{question}");
    driver.wait_text("#job-action-result", "Restart (clear state) steady: done").await;
    wait_for(host, "steady", |status| {
        let new_cycle = status["lastCycle"]["cycleId"] != before["lastCycle"]["cycleId"];
        new_cycle && status["lastCycle"]["initial"] == true && status["lastCycle"]["failed"] == 0
    })
    .await;
    driver.call(reqwest::Method::DELETE, "", Value::Null).await;
}

#[actix_web::test]
async fn removals_held_by_the_deletion_threshold_are_allowed_from_the_page() {
    if !browser_installed() {
        return;
    }
    let lab = HostedJob::start("guarded", TOKEN, json!({"options": {"deletionThreshold": 1}})).await;
    let (host, target, directory) = (&lab.host, &lab.target, &lab.directory);
    let source = crate::provisioning::sample_directory();
    wait_for(host, "guarded", |s| s["initialCycleComplete"] == true).await;
    let active = || async {
        target.list("/Users", &[("filter", "active eq true"), ("count", "0")]).await.body["totalResults"].clone()
    };
    let active_before = active().await;

    // Two users leave the directory: two removals, over the threshold of one.
    let mut fewer = source.clone();
    fewer["users"].as_array_mut().unwrap().retain(|u| !matches!(u["givenName"].as_str(), Some("Alice" | "Dave")));
    std::fs::write(directory, fewer.to_string()).unwrap();
    host.admin(reqwest::Method::POST, "/admin/jobs/guarded/start", None).await;
    wait_for(host, "guarded", |s| s["heldRemovals"].as_u64() >= Some(2)).await;
    assert_eq!(active().await, active_before, "nothing removed while held");

    let driver = lab.open_admin_page().await;
    driver.wait_text("#jobs-table", "Allow deletions (").await;
    driver.click("#jobs-table button[data-action=allow-deletions]").await;
    let question = driver.accept_confirmation().await;
    assert!(question.contains("deletion threshold is holding for guarded"), "{question}");
    driver.wait_text("#job-action-result", "Allow deletions guarded: done").await;
    wait_for(host, "guarded", |s| s["heldRemovals"] == 0 && s["lastCycle"]["heldDeletions"] == 0).await;
    let after = active().await;
    assert!(after.as_u64() < active_before.as_u64(), "the removals reached the target: {active_before} → {after}");
    driver.call(reqwest::Method::DELETE, "", Value::Null).await;
}
