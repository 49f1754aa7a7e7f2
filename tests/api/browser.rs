//! The admin page in headless Chromium, driven over WebDriver (chromedriver): a real
//! click-through, not just a 200. `.ci/run` installs Debian's chromium and chromium-driver
//! and sets SCIMLAB_REQUIRE_BROWSER=1, so there a missing browser fails the test; elsewhere
//! the test says it was skipped.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::{poll, spawn_app_with, user_body, GROUP_URN, TOKEN};
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
        // Ready once it answers; the session request below says what went wrong if not.
        let _ = poll(Duration::from_secs(5), || http.get(format!("{base}/status")).send()).await;
        let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,800"]
        }, "goog:loggingPrefs": {"browser": "ALL"}}}});
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

    /// Clicks the element `css` names. The page redraws a table when its content changes, so
    /// the element found may be replaced before the click lands; then it is found again, as a
    /// user would aim again. Any other refusal fails the test.
    async fn click(&self, css: &str) {
        for _ in 0..20 {
            let id = self.find(css).await;
            let res = self.call(reqwest::Method::POST, &format!("/element/{id}/click"), json!({})).await;
            match res["error"].as_str() {
                None => return,
                Some("stale element reference") => continue,
                Some(_) => panic!("clicking {css} failed: {res}"),
            }
        }
        panic!("{css} was redrawn before every one of 20 clicks");
    }

    /// Clicks a button that asks for confirmation, accepts the dialog and returns its text.
    /// A click that lands while the page redraws the table (a cycle ending changes the row's
    /// layout) opens nothing, as it would for a user, who would click again; so does this, and
    /// a button that never opens the dialog fails the test.
    async fn click_and_confirm(&self, css: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            self.click(css).await;
            let dialog = poll(Duration::from_secs(3), || async {
                let text = self.call(reqwest::Method::GET, "/alert/text", Value::Null).await;
                text.as_str().map(str::to_string).ok_or(())
            })
            .await;
            if let Ok(text) = dialog {
                self.call(reqwest::Method::POST, "/alert/accept", json!({})).await;
                return text;
            }
            assert!(Instant::now() < deadline, "clicking {css} never opened a confirmation dialog");
        }
    }

    async fn attribute(&self, css: &str, name: &str) -> String {
        let id = self.find(css).await;
        let value = self.call(reqwest::Method::GET, &format!("/element/{id}/attribute/{name}"), Value::Null).await;
        value.as_str().unwrap_or("").to_string()
    }

    /// Saves a screenshot as a test artifact (under the target directory, never committed).
    async fn screenshot(&self, name: &str) -> std::path::PathBuf {
        use base64::Engine as _;
        let png = self.call(reqwest::Method::GET, "/screenshot", Value::Null).await;
        let bytes = base64::engine::general_purpose::STANDARD.decode(png.as_str().unwrap_or_default()).unwrap();
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("admin-page");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// Errors the page wrote to the browser console (uncaught exceptions, failed scripts).
    async fn console_errors(&self) -> Vec<String> {
        let log = self.call(reqwest::Method::POST, "/se/log", json!({"type": "browser"})).await;
        let entries = log.as_array().cloned().unwrap_or_else(|| panic!("the browser log is not readable: {log}"));
        entries.iter().filter(|e| e["level"] == "SEVERE").map(|e| e["message"].to_string()).collect()
    }

    async fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css).await;
        self.call(reqwest::Method::POST, &format!("/element/{id}/value"), json!({"text": text})).await;
    }

    /// Waits until the element's text contains `needle` (the page refreshes itself).
    async fn wait_text(&self, css: &str, needle: &str) -> String {
        let shown = poll(Duration::from_secs(45), || async {
            let text = self.text(css).await;
            if text.contains(needle) {
                Ok(text)
            } else {
                Err(text)
            }
        })
        .await;
        shown.unwrap_or_else(|text| panic!("{css} never showed {needle:?}; it shows:\n{text}"))
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
    let errors = driver.console_errors().await;
    assert!(errors.is_empty(), "the page logged errors: {errors:?}");
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
    let errors = driver.console_errors().await;
    assert!(errors.is_empty(), "the page logged errors: {errors:?}");
    driver.call(reqwest::Method::DELETE, "", Value::Null).await;
}

#[actix_web::test]
async fn a_hosted_job_is_watched_and_driven_from_its_provisioning_page() {
    if !browser_installed() {
        return;
    }
    // The target serves two creates, then holds the others until its faults are cleared
    // below: the initial cycle is still running, at a known rate, whenever the page opens.
    let slow = json!({"rules": [{"method": "POST", "after": 2, "latencyMs": 600_000}]});
    let lab = HostedJob::start_with("blade", TOKEN, json!({}), |s| {
        s.admin_token = Some(ADMIN.into());
        s.faults = serde_json::from_value(slow).unwrap();
    })
    .await;
    let (host, target) = (&lab.host, &lab.target);
    let driver = lab.open_admin_page().await;

    // Overview: the only job opens by itself; the running cycle shows its progress and rate.
    driver.wait_text("#blade-job", "blade").await;
    let progress = driver.wait_text("#blade-progress", "/s").await;
    assert!(progress.contains('%') && progress.contains("objects"), "percentage and count: {progress}");
    driver.screenshot("1-initial-cycle-running").await;
    target.admin(reqwest::Method::DELETE, "/admin/faults", None).await;
    let status = wait_for(host, "blade", |s| s["initialCycleComplete"] == true).await;
    driver.wait_text("#blade-milestones", "Initial cycle completed").await;
    driver.wait_text("#blade-milestones", "steady state reached").await;
    let stats = driver.wait_text("#blade-stats", "users provisioned").await;
    let created = status["statistics"]["created"].as_u64().unwrap();
    assert!(
        stats.contains(&format!("created\n{created}")),
        "the page says what the API says ({created} created):\n{stats}"
    );
    let chart = driver.attribute("#cycle-chart", "data-key").await;
    assert!(chart.contains(status["lastCycle"]["cycleId"].as_str().unwrap()), "the chart draws the cycle: {chart}");
    let processed = status["recentCycles"][0]["processed"].to_string();
    assert!(driver.text("#cycle-chart").await.contains(&processed), "bar labelled {processed}");
    let mappings = driver.wait_text("#mappings", "matching: userName").await;
    assert!(mappings.contains("[userPrincipalName]") && mappings.contains("Group → Group"), "{mappings}");
    driver.screenshot("2-overview-and-mappings").await;

    // Provisioning Status off and on again, each confirmed.
    assert!(driver
        .click_and_confirm("#jobs-table button[data-action=pause]")
        .await
        .contains("Pause provisioning for blade"));
    driver.wait_text("#blade-state", "Paused").await;
    driver.click_and_confirm("#jobs-table button[data-action=resume]").await;
    driver.wait_text("#job-action-result", "Resume blade: done, now Active").await;
    driver.wait_text("#blade-state", "Active").await;

    // Provision on demand: a changed user goes now, with its steps and exchanges. Commands
    // run in order, each cycle they start before the next: an on-demand answer first proves
    // the resume's cycle is over, so it cannot read the change and send it before the page.
    let barrier = json!({"user": crate::provisioning::BOB});
    let res = host.admin(reqwest::Method::POST, "/admin/jobs/blade/on-demand", Some(&barrier)).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.text().await.unwrap_or_default());
    let mut directory = crate::provisioning::sample_directory();
    crate::provisioning::user_of(&mut directory, crate::provisioning::BOB)["jobTitle"] = json!("Architect");
    std::fs::write(&lab.directory, directory.to_string()).unwrap();
    driver.type_into("#pod-subject", crate::provisioning::BOB).await;
    driver.click("#pod-run").await;
    let result = driver.wait_text("#pod-result", "Bob Builder (User): success").await;
    assert!(result.contains("update") && result.contains("HTTP exchanges"), "{result}");
    driver.click("#pod-result details.exchange:last-of-type summary").await;
    driver.wait_text("#pod-result", "Architect").await;
    let bob = target.list("/Users", &[("filter", "userName eq \"bob.builder@contoso.com\"")]).await.body;
    assert_eq!(bob["Resources"][0]["title"], "Architect", "on demand reached the target");
    driver.screenshot("3-provision-on-demand").await;

    // Logs: filtered by identity and status, a record opened into steps and properties.
    driver.type_into("#log-identity", "bob").await;
    driver.type_into("#log-status", "success").await;
    driver.click("#log-apply").await;
    let api = host.admin(reqwest::Method::GET, "/admin/jobs/blade/logs?identity=bob&status=success", None).await;
    let api: Value = api.json().await.unwrap();
    // The filtered page is all of the filtered records; only then is the table the filtered one.
    let n = api["totalResults"].as_u64().unwrap();
    driver.wait_text("#log-page", &format!("1–{n} of {n}")).await;
    let logs = driver.wait_text("#logs-table", "Bob Builder").await;
    assert!(!logs.contains("Alice"), "only Bob's records: {logs}");
    driver.click("#logs-table tbody tr").await;
    let record = driver.wait_text("#log-record", "Modified properties").await;
    assert!(
        record.contains("Steps") && record.contains("Architect"),
        "the newest record is the on-demand update: {record}"
    );
    driver.screenshot("4-provisioning-log-record").await;

    // Restart with cleared state: a new initial cycle, drawn as the job's first again.
    assert!(driver
        .click_and_confirm("#jobs-table button[data-action='restart?clearState=true']")
        .await
        .contains("Clear the current state of blade"));
    driver.wait_text("#job-action-result", "Restart (clear state) blade: done").await;
    let restarted = wait_for(host, "blade", |s| {
        s["lastCycle"]["cycleId"] != status["lastCycle"]["cycleId"] && s["lastCycle"]["initial"] == true
    })
    .await;
    let new_cycle = restarted["lastCycle"]["cycleId"].as_str().unwrap().to_string();
    let drawn = poll(Duration::from_secs(15), || async {
        let key = driver.attribute("#cycle-chart", "data-key").await;
        if key.contains(&new_cycle) {
            Ok(())
        } else {
            Err(key)
        }
    })
    .await;
    assert!(drawn.is_ok(), "the chart never drew the restarted cycle {new_cycle}");
    driver.screenshot("5-restarted").await;
    let errors = driver.console_errors().await;
    assert!(errors.is_empty(), "the page logged errors: {errors:?}");
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
    wait_for(host, "guarded", |s| s["heldRemovals"].as_u64() >= Some(2) && s["progress"].is_null()).await;
    assert_eq!(active().await, active_before, "nothing removed while held");

    let driver = lab.open_admin_page().await;
    driver.wait_text("#jobs-table", "Allow deletions (").await;
    let question = driver.click_and_confirm("#jobs-table button[data-action=allow-deletions]").await;
    assert!(question.contains("deletion threshold is holding for guarded"), "{question}");
    driver.wait_text("#job-action-result", "Allow deletions guarded: done").await;
    wait_for(host, "guarded", |s| s["heldRemovals"] == 0 && s["lastCycle"]["heldDeletions"] == 0).await;
    let after = active().await;
    assert!(after.as_u64() < active_before.as_u64(), "the removals reached the target: {active_before} → {after}");
    driver.call(reqwest::Method::DELETE, "", Value::Null).await;
}

#[actix_web::test]
async fn the_page_pages_through_a_thousand_records_and_works_from_the_keyboard() {
    if !browser_installed() {
        return;
    }
    let lab = HostedJob::start("large", TOKEN, json!({})).await;
    wait_for(&lab.host, "large", |s| s["initialCycleComplete"] == true).await;
    // 1,050 users arrive; the next cycle creates them all (one record each).
    let users: Vec<Value> = (0..1050)
        .map(|i| crate::provisioning::person(&format!("u-{i:04}"), &format!("Person{i:04}"), "Many", "Staff"))
        .collect();
    std::fs::write(&lab.directory, json!({"users": users, "groups": []}).to_string()).unwrap();
    lab.host.admin(reqwest::Method::POST, "/admin/jobs/large/start", None).await;
    wait_for(&lab.host, "large", |s| s["users"].as_u64() >= Some(1050) && s["progress"].is_null()).await;

    let driver = lab.open_admin_page().await;
    let page = driver.wait_text("#log-page", "1–25 of 1").await;
    let total: u64 = page.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(total >= 1050, "{page}");
    assert_eq!(driver.text("#logs-table tbody").await.lines().count(), 25, "one page in the table");
    driver.click("#log-next").await;
    driver.wait_text("#log-page", &format!("26–50 of {total}")).await;

    // From the keyboard: Enter on a focused record opens it.
    let row = driver.find("#logs-table tbody tr").await;
    driver.call(reqwest::Method::POST, &format!("/element/{row}/value"), json!({"text": "\u{E007}"})).await;
    driver.wait_text("#log-record", "Steps").await;
    let errors = driver.console_errors().await;
    assert!(errors.is_empty(), "the page logged errors: {errors:?}");
    driver.call(reqwest::Method::DELETE, "", Value::Null).await;
}
