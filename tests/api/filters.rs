//! Filters over HTTP: every operator on every attribute type, index and scan agreement,
//! /.search endpoints.

use serde_json::{json, Value};

use crate::helpers::*;

async fn seed(app: &TestApp) -> Vec<String> {
    let people = [
        ("ann@alpha.com", "Ann", "Engineer", true, "2001", "EXT-A"),
        ("bob@beta.org", "Bob", "Manager", false, "2002", "ext-b"),
        ("cyd@alpha.com", "Cyd", "Engineer", true, "2003", "EXT-C"),
        ("dee@gamma.net", "Dee", "Director", true, "2004", "EXT-D"),
    ];
    let mut ids = Vec::new();
    for (user_name, given, title, active, emp, ext) in people {
        let body = json!({
            "schemas": [USER_URN, ENTERPRISE_URN],
            "userName": user_name,
            "externalId": ext,
            "name": {"givenName": given, "familyName": "Example"},
            "title": title,
            "active": active,
            "emails": [{"value": user_name, "type": "work", "primary": true}, {"value": format!("{given}@home.example"), "type": "home"}],
            ENTERPRISE_URN: {"employeeNumber": emp}
        });
        let res = app.post("/Users", body).await;
        assert_eq!(res.status, 201, "{}", res.body);
        ids.push(id_of(&res.body));
    }
    ids
}

fn user_names(res: &Resp) -> Vec<String> {
    let mut v: Vec<String> = res.body["Resources"]
        .as_array()
        .unwrap_or(&vec![])
        .iter()
        .map(|r| r["userName"].as_str().unwrap_or("").to_string())
        .collect();
    v.sort();
    v
}

#[actix_web::test]
async fn every_operator_on_every_attribute_type() {
    let app = spawn_app().await;
    let ids = seed(&app).await;
    let created_at = app.get(&format!("/Users/{}", ids[0])).await.body["meta"]["created"].as_str().unwrap().to_string();
    let emp = format!("{ENTERPRISE_URN}:employeeNumber");
    let cases: Vec<(String, Vec<&str>)> = vec![
        // string, case-insensitive
        ("userName eq \"ANN@ALPHA.COM\"".into(), vec!["ann@alpha.com"]),
        ("userName ne \"ann@alpha.com\"".into(), vec!["bob@beta.org", "cyd@alpha.com", "dee@gamma.net"]),
        ("userName co \"ALPHA\"".into(), vec!["ann@alpha.com", "cyd@alpha.com"]),
        ("userName sw \"B\"".into(), vec!["bob@beta.org"]),
        ("userName ew \".NET\"".into(), vec!["dee@gamma.net"]),
        ("userName gt \"c\"".into(), vec!["cyd@alpha.com", "dee@gamma.net"]),
        ("userName ge \"cyd@alpha.com\"".into(), vec!["cyd@alpha.com", "dee@gamma.net"]),
        ("userName lt \"b\"".into(), vec!["ann@alpha.com"]),
        ("userName le \"bob@beta.org\"".into(), vec!["ann@alpha.com", "bob@beta.org"]),
        ("title pr".into(), vec!["ann@alpha.com", "bob@beta.org", "cyd@alpha.com", "dee@gamma.net"]),
        ("nickName pr".into(), vec![]),
        // string, case-exact
        ("externalId eq \"EXT-A\"".into(), vec!["ann@alpha.com"]),
        ("externalId eq \"ext-a\"".into(), vec![]),
        ("externalId sw \"EXT\"".into(), vec!["ann@alpha.com", "cyd@alpha.com", "dee@gamma.net"]),
        // boolean
        ("active eq true".into(), vec!["ann@alpha.com", "cyd@alpha.com", "dee@gamma.net"]),
        ("active ne true".into(), vec!["bob@beta.org"]),
        // dateTime
        (
            format!("meta.created ge \"{created_at}\""),
            vec!["ann@alpha.com", "bob@beta.org", "cyd@alpha.com", "dee@gamma.net"],
        ),
        (format!("meta.created lt \"{created_at}\""), vec![]),
        (
            "meta.lastModified gt \"2000-01-01T00:00:00Z\"".into(),
            vec!["ann@alpha.com", "bob@beta.org", "cyd@alpha.com", "dee@gamma.net"],
        ),
        // complex and multi-valued
        ("name.givenName eq \"cyd\"".into(), vec!["cyd@alpha.com"]),
        ("emails.value eq \"bob@home.example\"".into(), vec!["bob@beta.org"]),
        ("emails eq \"BOB@home.example\"".into(), vec!["bob@beta.org"]),
        ("emails[type eq \"work\" and value co \"alpha\"]".into(), vec!["ann@alpha.com", "cyd@alpha.com"]),
        ("emails[type eq \"home\" and value sw \"dee\"]".into(), vec!["dee@gamma.net"]),
        ("emails[type eq \"work\"].value eq \"dee@gamma.net\"".into(), vec!["dee@gamma.net"]),
        // extension
        (format!("{emp} eq \"2002\""), vec!["bob@beta.org"]),
        (format!("{emp} gt \"2002\""), vec!["cyd@alpha.com", "dee@gamma.net"]),
        // logic
        ("title eq \"Engineer\" and active eq true".into(), vec!["ann@alpha.com", "cyd@alpha.com"]),
        ("title eq \"Manager\" or title eq \"Director\"".into(), vec!["bob@beta.org", "dee@gamma.net"]),
        ("not (title eq \"Engineer\")".into(), vec!["bob@beta.org", "dee@gamma.net"]),
        ("userName sw \"a\" or userName sw \"b\" and active eq true".into(), vec!["ann@alpha.com"]),
        ("(userName sw \"a\" or userName sw \"b\") and active eq false".into(), vec!["bob@beta.org"]),
        (format!("id eq \"{}\"", ids[3]), vec!["dee@gamma.net"]),
        (format!("id eq \"{}\" or id eq \"{}\"", ids[0], ids[1]), vec!["ann@alpha.com", "bob@beta.org"]),
    ];
    for (filter, expected) in cases {
        let res = app.list("/Users", &[("filter", &filter)]).await;
        assert_eq!(res.status, 200, "{filter}: {}", res.body);
        assert_eq!(user_names(&res), expected, "{filter}");
        assert_eq!(res.body["totalResults"], expected.len(), "{filter}");
    }
}

#[actix_web::test]
async fn indexed_and_scanned_evaluation_agree() {
    let app = spawn_app().await;
    seed(&app).await;
    // Each pair: an index-answerable filter and a logically equal one that forces a scan.
    let pairs = [
        ("userName eq \"cyd@alpha.com\"", "userName eq \"cyd@alpha.com\" or nickName pr"),
        ("userName sw \"cyd\"", "userName sw \"cyd\" or nickName pr"),
        ("emails.value eq \"ann@home.example\"", "emails.value eq \"ann@home.example\" or nickName pr"),
        ("externalId eq \"EXT-D\"", "externalId eq \"EXT-D\" or nickName pr"),
        (
            "userName eq \"ANN@alpha.com\" and active eq true",
            "not (not (userName eq \"ANN@alpha.com\" and active eq true))",
        ),
    ];
    for (indexed, scanned) in pairs {
        let a = app.list("/Users", &[("filter", indexed)]).await;
        let b = app.list("/Users", &[("filter", scanned)]).await;
        assert_eq!(a.body["totalResults"], 1, "{indexed}");
        assert_eq!(a.body["Resources"], b.body["Resources"], "{indexed} vs {scanned}");
    }
}

#[actix_web::test]
async fn group_member_filters_answer_which_groups_a_user_is_in() {
    let app = spawn_app().await;
    let ids = seed(&app).await;
    app.create_group("Alpha", &[&ids[0], &ids[2]]).await;
    app.create_group("Beta", &[&ids[1]]).await;
    app.create_group("Everyone", &[&ids[0], &ids[1], &ids[2], &ids[3]]).await;
    let names = |res: &Resp| -> Vec<String> {
        let mut v: Vec<String> = res.body["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["displayName"].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    let res = app
        .list("/Groups", &[("filter", &format!("members[value eq \"{}\"]", ids[0])), ("excludedAttributes", "members")])
        .await;
    assert_eq!(names(&res), ["Alpha", "Everyone"]);
    let res = app.list("/Groups", &[("filter", &format!("members.value eq \"{}\"", ids[1]))]).await;
    assert_eq!(names(&res), ["Beta", "Everyone"]);
    let res =
        app.list("/Groups", &[("filter", &format!("members[value eq \"{}\"] and displayName sw \"E\"", ids[2]))]).await;
    assert_eq!(names(&res), ["Everyone"]);
    let res = app.list("/Groups", &[("filter", "displayName co \"a\"")]).await;
    assert_eq!(names(&res), ["Alpha", "Beta"]);
}

#[actix_web::test]
async fn search_endpoints_take_a_search_request_body() {
    let app = spawn_app().await;
    seed(&app).await;
    app.create_group("Alpha Team", &[]).await;
    let body = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "attributes": ["userName", "title"],
        "filter": "title eq \"Engineer\"",
        "sortBy": "userName",
        "sortOrder": "descending",
        "startIndex": 1,
        "count": 10
    });
    let res = app.post("/Users/.search", body).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.body["totalResults"], 2);
    assert_eq!(res.body["Resources"][0]["userName"], "cyd@alpha.com");
    assert!(res.body["Resources"][0].get("emails").is_none());
    let groups = app.post("/Groups/.search", json!({"filter": "displayName sw \"alpha\""})).await;
    assert_eq!(groups.body["totalResults"], 1);
    // Root search spans resource types; a filter that applies to one type only is fine.
    let root = app.post("/.search", json!({"filter": "userName sw \"a\" or displayName sw \"a\""})).await;
    assert_eq!(root.status, 200, "{}", root.body);
    let kinds: Vec<Value> =
        root.body["Resources"].as_array().unwrap().iter().map(|r| r["meta"]["resourceType"].clone()).collect();
    assert!(kinds.contains(&json!("User")) && kinds.contains(&json!("Group")), "{kinds:?}");
    let only_users = app.post("/.search", json!({"filter": "userName sw \"a\""})).await;
    assert_eq!(only_users.body["totalResults"], 1);
    app.post("/.search", json!({"filter": "nosuch eq 1"})).await.assert_error(400, Some("invalidFilter"));
    app.post("/Users/.search", json!({"count": "ten"})).await.assert_error(400, Some("invalidValue"));
    let get_search = app.get("/Users/.search").await;
    assert_eq!(get_search.status, 405);
}

#[actix_web::test]
async fn invalid_filters_are_400_invalid_filter_with_a_position_or_name() {
    let app = spawn_app_with(|s| {
        s.filter_max_length = 100;
        s.filter_max_depth = 3;
    })
    .await;
    let cases = [
        ("userName eq", "column"),
        ("userName xx \"a\"", "column 10"),
        ("nosuch eq \"a\"", "nosuch"),
        ("active gt true", "boolean"),
        ("userName eq \"x\" and", "column"),
        ("((((a pr))))", "nests"),
    ];
    for (filter, mention) in cases {
        let res = app.list("/Users", &[("filter", filter)]).await;
        res.assert_error(400, Some("invalidFilter"));
        assert!(res.detail().contains(mention), "{filter}: {}", res.detail());
    }
    let long = format!("userName eq \"{}\"", "x".repeat(200));
    let res = app.list("/Users", &[("filter", &long)]).await;
    res.assert_error(400, Some("invalidFilter"));
    assert!(res.detail().contains("limit is 100"));
    let spc = app.get("/ServiceProviderConfig").await;
    let limits = spc.header("x-scimlab-filter-limits").unwrap_or_default();
    assert!(limits.starts_with("maxLength=100; maxDepth=3"), "the configured limits are published: {limits}");
}

#[actix_web::test]
async fn passwords_cannot_be_filtered_or_sorted_on() {
    let app = spawn_app().await;
    let mut body = user_body("pw@example.com");
    body["password"] = json!("hunter2");
    assert_eq!(app.post("/Users", body).await.status, 201);
    for filter in ["password sw \"$\"", "password pr", "userName eq \"pw@example.com\" and password co \"a\""] {
        let res = app.list("/Users", &[("filter", filter)]).await;
        res.assert_error(400, Some("invalidFilter"));
        assert!(res.detail().contains("never returned"), "{filter}: {}", res.detail());
    }
    let sorted = app.list("/Users", &[("sortBy", "password")]).await;
    sorted.assert_error(400, Some("invalidFilter"));
}

#[actix_web::test]
async fn scans_skip_by_text_without_changing_what_matches() {
    let app = spawn_app().await;
    let titled = |user: &str, title: &str, given: &str| {
        let mut body = user_body(user);
        body["title"] = json!(title);
        body["name"] = json!({"givenName": given, "familyName": "Scan"});
        body
    };
    for (user, title, given) in [
        ("plain@example.com", "Manager", "Ann"),
        ("other@example.com", "Engineer", "Ann"),
        // The Kelvin sign lower-cases to an ASCII 'k': a byte search alone would miss it.
        ("kelvin@example.com", "\u{212A}ELVIN lead", "Bo"),
        ("quoted@example.com", "Head \"of\" Manager\\s", "Cy"),
    ] {
        assert_eq!(app.post("/Users", titled(user, title, given)).await.status, 201);
    }
    let names = |filter: &'static str| {
        let app = &app;
        async move {
            let res = app.list("/Users", &[("filter", filter)]).await;
            assert_eq!(res.status, 200, "{filter}: {}", res.body);
            let mut names: Vec<String> = res.body["Resources"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["userName"].as_str().unwrap().to_string())
                .collect();
            names.sort();
            names
        }
    };
    assert_eq!(names("title eq \"manager\" and name.givenName co \"an\"").await, ["plain@example.com"]);
    assert_eq!(names("title co \"kelvin\"").await, ["kelvin@example.com"], "case mapping, not bytes");
    assert_eq!(names("title co \"manager\"").await, ["plain@example.com", "quoted@example.com"]);
    assert_eq!(names("title co \"engineer\" or title co \"lead\"").await, ["kelvin@example.com", "other@example.com"]);
    assert_eq!(names("not (title co \"manager\") and name.familyName eq \"scan\"").await.len(), 2);
    assert!(names("title eq \"nobody\"").await.is_empty());
}
