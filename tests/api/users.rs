use serde_json::{json, Value};

use crate::helpers::*;

#[actix_web::test]
async fn create_returns_201_with_location_etag_and_the_full_resource() {
    let app = spawn_app().await;
    let res = app.post("/Users", user_body("bjensen@example.com")).await;
    assert_eq!(res.status, 201, "{}", res.body);
    let id = id_of(&res.body);
    assert_eq!(res.header("location"), Some(app.url(&format!("/Users/{id}"))));
    assert_eq!(res.header("content-type").as_deref(), Some("application/scim+json"));
    assert_eq!(res.header("etag").as_deref(), Some("W/\"1\""));
    assert_eq!(res.body["userName"], "bjensen@example.com");
    assert_eq!(res.body["schemas"], json!([USER_URN]));
    assert_eq!(res.body["meta"]["resourceType"], "User");
    assert_eq!(res.body["meta"]["version"], "W/\"1\"");
    assert_eq!(res.body["meta"]["location"], app.url(&format!("/Users/{id}")));
    assert_eq!(res.body["meta"]["created"], res.body["meta"]["lastModified"]);
    let fetched = app.get(&format!("/Users/{id}")).await;
    assert_eq!(fetched.status, 200);
    assert_eq!(fetched.body, res.body);
}

#[actix_web::test]
async fn get_delete_and_get_again_gives_404() {
    let app = spawn_app().await;
    let id = id_of(&app.create_user("gone@example.com").await);
    let del = app.delete(&format!("/Users/{id}")).await;
    assert_eq!(del.status, 204);
    assert_eq!(del.body, serde_json::Value::Null);
    app.get(&format!("/Users/{id}")).await.assert_error(404, None);
    app.delete(&format!("/Users/{id}")).await.assert_error(404, None);
}

#[actix_web::test]
async fn user_name_is_unique_case_insensitively() {
    let app = spawn_app().await;
    app.create_user("Alice@Example.com").await;
    let dup = app.post("/Users", user_body("alice@example.COM")).await;
    dup.assert_error(409, Some("uniqueness"));
    assert!(dup.detail().contains("userName"), "{}", dup.detail());
    // After a rename the old name is free again.
    let bob = id_of(&app.create_user("bob@example.com").await);
    let renamed = app
        .patch_ops(
            &format!("/Users/{bob}"),
            json!([{"op": "replace", "path": "userName", "value": "robert@example.com"}]),
        )
        .await;
    assert_eq!(renamed.status, 200);
    assert_eq!(app.post("/Users", user_body("BOB@example.com")).await.status, 201);
    // Renaming onto a taken name is a conflict too.
    app.patch_ops(
        &format!("/Users/{bob}"),
        json!([{"op": "replace", "path": "userName", "value": "ALICE@example.com"}]),
    )
    .await
    .assert_error(409, Some("uniqueness"));
}

#[actix_web::test]
async fn password_is_accepted_but_never_returned() {
    let app = spawn_app().await;
    let mut body = user_body("secret@example.com");
    body["password"] = json!("t1meMa$heen");
    let res = app.post("/Users", body).await;
    assert_eq!(res.status, 201);
    assert!(res.body.get("password").is_none());
    let id = id_of(&res.body);
    assert!(app.get(&format!("/Users/{id}")).await.body.get("password").is_none());
    let asked = app.list(&format!("/Users/{id}"), &[("attributes", "password,userName")]).await;
    assert!(asked.body.get("password").is_none());
    // Not even its presence can be probed with a filter.
    app.list("/Users", &[("filter", "password pr")]).await.assert_error(400, Some("invalidFilter"));
}

#[actix_web::test]
async fn put_replaces_ignores_read_only_attributes_and_rejects_a_different_id() {
    let app = spawn_app().await;
    let created = app.create_user("put@example.com").await;
    let id = id_of(&created);
    let replacement = json!({
        "schemas": [USER_URN],
        "id": id,
        "userName": "put@example.com",
        "title": "Engineer",
        "meta": {"created": "1999-01-01T00:00:00Z"},
        "groups": [{"value": "not-a-group"}]
    });
    let res = app.put(&format!("/Users/{id}"), replacement).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.body["title"], "Engineer");
    assert!(res.body.get("name").is_none(), "PUT replaces: attributes not sent are gone");
    assert!(res.body.get("groups").is_none(), "groups is read-only and computed");
    assert_eq!(res.body["meta"]["created"], created["meta"]["created"], "meta is read-only");
    assert_eq!(res.body["meta"]["version"], "W/\"2\"");
    let other = json!({"schemas": [USER_URN], "id": "someone-else", "userName": "put@example.com"});
    app.put(&format!("/Users/{id}"), other).await.assert_error(400, Some("mutability"));
    app.put("/Users/nope", user_body("x@example.com")).await.assert_error(404, None);
}

#[actix_web::test]
async fn bad_bodies_get_400_naming_the_problem() {
    let app = spawn_app().await;
    let raw = app
        .client
        .post(app.url("/Users"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/scim+json")
        .body("{\"userName\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 400);
    assert_eq!(raw.headers()["content-type"], "application/scim+json");
    let body: serde_json::Value = raw.json().await.unwrap();
    assert_eq!(body["scimType"], "invalidSyntax");

    let cases = [
        (json!({"userName": "a"}), "invalidSyntax", "schemas"),
        (json!({"schemas": [USER_URN]}), "invalidValue", "userName"),
        (json!({"schemas": [USER_URN], "userName": 42}), "invalidValue", "userName"),
        (json!({"schemas": [USER_URN], "userName": "a", "active": "maybe"}), "invalidValue", "active"),
        (json!({"schemas": [USER_URN], "userName": "a", "emails": [{"value": 1}]}), "invalidValue", "emails.value"),
        (json!({"schemas": [USER_URN], "userName": "a", "name": "Ann"}), "invalidValue", "name"),
        (json!({"schemas": [USER_URN], "userName": "a", "favouriteColour": "blue"}), "invalidValue", "favouriteColour"),
        (json!({"schemas": [USER_URN], "userName": "a", "name": {"nick": "x"}}), "invalidValue", "name.nick"),
        (json!({"schemas": [USER_URN], "userName": "a", "employeeNumber": "1"}), "invalidValue", ENTERPRISE_URN),
        (
            json!({"schemas": [USER_URN], "userName": "a", "urn:example:unknown:1.0:User": {"x": 1}}),
            "invalidValue",
            "urn:example:unknown",
        ),
        (
            json!({"schemas": [USER_URN], "userName": "a", "emails": [{"value": "a@x", "primary": true}, {"value": "b@x", "primary": true}]}),
            "invalidValue",
            "primary",
        ),
        (json!({"schemas": ["urn:example:not-core"], "userName": "a"}), "invalidValue", "urn:example:not-core"),
        (json!(["not", "an", "object"]), "invalidSyntax", "object"),
    ];
    for (body, scim_type, mention) in cases {
        let res = app.post("/Users", body.clone()).await;
        res.assert_error(400, Some(scim_type));
        assert!(res.detail().contains(mention), "{body}: detail {:?} should mention {mention}", res.detail());
    }
    assert_eq!(app.list("/Users", &[]).await.body["totalResults"], 0, "nothing half-written");
}

#[actix_web::test]
async fn attribute_names_are_case_insensitive_on_input() {
    let app = spawn_app().await;
    let res = app
        .post("/Users", json!({"SCHEMAS": [USER_URN], "UserName": "case@example.com", "NAME": {"GIVENNAME": "Ann"}}))
        .await;
    assert_eq!(res.status, 201, "{}", res.body);
    assert_eq!(res.body["userName"], "case@example.com");
    assert_eq!(res.body["name"]["givenName"], "Ann");
}

#[actix_web::test]
async fn list_counts_total_before_paging_and_pages_by_start_index() {
    let app = spawn_app().await;
    for i in 0..7 {
        app.create_user(&format!("user{i}@example.com")).await;
    }
    let page = app.list("/Users", &[("startIndex", "3"), ("count", "2")]).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.body["schemas"], json!(["urn:ietf:params:scim:api:messages:2.0:ListResponse"]));
    assert_eq!(page.body["totalResults"], 7);
    assert_eq!(page.body["itemsPerPage"], 2);
    assert_eq!(page.body["startIndex"], 3);
    assert_eq!(page.body["Resources"].as_array().unwrap().len(), 2);
    let tail = app.list("/Users", &[("startIndex", "7"), ("count", "5")]).await;
    assert_eq!(tail.body["Resources"].as_array().unwrap().len(), 1);
    let none = app.list("/Users", &[("count", "0")]).await;
    assert_eq!(none.body["totalResults"], 7);
    assert_eq!(none.body["Resources"], json!([]));
    let beyond = app.list("/Users", &[("startIndex", "100")]).await;
    assert_eq!(beyond.body["totalResults"], 7);
    assert_eq!(beyond.body["Resources"], json!([]));
    let low = app.list("/Users", &[("startIndex", "0"), ("count", "-3")]).await;
    assert_eq!(low.body["startIndex"], 1);
    assert_eq!(low.body["Resources"], json!([]));
    // With a filter, totals are the filtered set.
    let filtered =
        app.list("/Users", &[("filter", "userName sw \"user1\" or userName sw \"user2\""), ("count", "1")]).await;
    assert_eq!(filtered.body["totalResults"], 2);
    assert_eq!(filtered.body["itemsPerPage"], 1);
    app.list("/Users", &[("count", "many")]).await.assert_error(400, Some("invalidValue"));
}

#[actix_web::test]
async fn pages_walk_every_user_exactly_once() {
    let app = spawn_app().await;
    for i in 0..9 {
        app.create_user(&format!("walk{i}@example.com")).await;
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut start = 1;
    loop {
        let page =
            app.list("/Users", &[("startIndex", &start.to_string()), ("count", "4"), ("sortBy", "userName")]).await;
        let items = page.body["Resources"].as_array().unwrap().clone();
        if items.is_empty() {
            break;
        }
        for item in &items {
            assert!(seen.insert(id_of(item)));
        }
        start += items.len();
    }
    assert_eq!(seen.len(), 9);
}

#[actix_web::test]
async fn count_above_max_results_is_clamped() {
    let app = spawn_app_with(|s| s.max_results = 3).await;
    for i in 0..5 {
        app.create_user(&format!("clamp{i}@example.com")).await;
    }
    let res = app.list("/Users", &[("count", "1000")]).await;
    assert_eq!(res.body["totalResults"], 5);
    assert_eq!(res.body["itemsPerPage"], 3);
    let spc = app.get("/ServiceProviderConfig").await;
    assert_eq!(spc.body["filter"]["maxResults"], 3);
}

#[actix_web::test]
async fn sort_by_orders_ascending_descending_and_puts_missing_values_last() {
    let app = spawn_app().await;
    for (name, title) in
        [("carol@x.org", Some("b")), ("alice@x.org", Some("C")), ("bob@x.org", None), ("dave@x.org", Some("a"))]
    {
        let mut body = user_body(name);
        if let Some(t) = title {
            body["title"] = json!(t);
        }
        assert_eq!(app.post("/Users", body).await.status, 201);
    }
    let names = |res: &Resp, attr: &str| -> Vec<String> {
        res.body["Resources"].as_array().unwrap().iter().map(|r| r[attr].as_str().unwrap_or("-").to_string()).collect()
    };
    let asc = app.list("/Users", &[("sortBy", "userName")]).await;
    assert_eq!(names(&asc, "userName"), ["alice@x.org", "bob@x.org", "carol@x.org", "dave@x.org"]);
    let desc = app.list("/Users", &[("sortBy", "userName"), ("sortOrder", "descending")]).await;
    assert_eq!(names(&desc, "userName"), ["dave@x.org", "carol@x.org", "bob@x.org", "alice@x.org"]);
    let by_title = app.list("/Users", &[("sortBy", "title")]).await;
    assert_eq!(names(&by_title, "title"), ["a", "b", "C", "-"], "case-insensitive order, missing last");
    let by_title_desc = app.list("/Users", &[("sortBy", "title"), ("sortOrder", "descending")]).await;
    assert_eq!(names(&by_title_desc, "title"), ["C", "b", "a", "-"]);
    let by_email = app.list("/Users", &[("sortBy", "emails"), ("count", "1")]).await;
    assert_eq!(names(&by_email, "userName"), ["alice@x.org"]);
    app.list("/Users", &[("sortBy", "nosuch")]).await.assert_error(400, Some("invalidValue"));
    app.list("/Users", &[("sortBy", "userName"), ("sortOrder", "sideways")])
        .await
        .assert_error(400, Some("invalidValue"));
}

#[actix_web::test]
async fn attributes_and_excluded_attributes_shape_every_read() {
    let app = spawn_app().await;
    let mut body = user_body("shape@example.com");
    body["schemas"] = json!([USER_URN, ENTERPRISE_URN]);
    body[ENTERPRISE_URN] = json!({"department": "R&D", "employeeNumber": "7"});
    let created = app.send(reqwest::Method::POST, "/Users?attributes=userName", Some(&body), &[]).await;
    assert_eq!(created.status, 201);
    let keys = |v: &serde_json::Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&created.body), ["id", "schemas", "userName"]);
    let id = id_of(&created.body);
    let path = format!("/Users/{id}");

    let one = app.list(&path, &[("attributes", "name.givenName,emails")]).await;
    assert_eq!(keys(&one.body), ["emails", "id", "name", "schemas"]);
    assert_eq!(one.body["name"], json!({"givenName": "shape"}));

    let ext = app.list(&path, &[("attributes", &format!("{ENTERPRISE_URN}:department"))]).await;
    assert_eq!(ext.body[ENTERPRISE_URN], json!({"department": "R&D"}));

    let without = app.list(&path, &[("excludedAttributes", "emails,name.familyName,meta")]).await;
    assert!(without.body.get("emails").is_none());
    assert!(without.body.get("meta").is_none());
    assert_eq!(without.body["name"], json!({"givenName": "shape"}));
    assert_eq!(without.body["id"], id, "id is returned always");

    let listed = app.list("/Users", &[("attributes", "userName")]).await;
    assert_eq!(keys(&listed.body["Resources"][0]), ["id", "schemas", "userName"]);

    let put = app
        .send(
            reqwest::Method::PUT,
            &format!("{path}?excludedAttributes=emails"),
            Some(&user_body("shape@example.com")),
            &[],
        )
        .await;
    assert_eq!(put.status, 200);
    assert!(put.body.get("emails").is_none());
    let patched = app
        .send(
            reqwest::Method::PATCH,
            &format!("{path}?attributes=title"),
            Some(&json!({"schemas": [PATCH_URN], "Operations": [{"op": "add", "path": "title", "value": "Boss"}]})),
            &[],
        )
        .await;
    assert_eq!(patched.status, 200);
    assert_eq!(keys(&patched.body), ["id", "schemas", "title"]);
    app.list(&path, &[("attributes", "nosuch")]).await.assert_error(400, Some("invalidValue"));
}

#[actix_web::test]
async fn etags_drive_conditional_requests() {
    let app = spawn_app().await;
    let id = id_of(&app.create_user("etag@example.com").await);
    let path = format!("/Users/{id}");
    let not_modified = app.send(reqwest::Method::GET, &path, None, &[("if-none-match", "W/\"1\"")]).await;
    assert_eq!(not_modified.status, 304);
    let op = json!({"schemas": [PATCH_URN], "Operations": [{"op": "replace", "path": "title", "value": "x"}]});
    let stale = app.send(reqwest::Method::PATCH, &path, Some(&op), &[("if-match", "W/\"7\"")]).await;
    stale.assert_error(412, None);
    let fresh = app.send(reqwest::Method::PATCH, &path, Some(&op), &[("if-match", "W/\"1\"")]).await;
    assert_eq!(fresh.status, 200);
    assert_eq!(fresh.header("etag").as_deref(), Some("W/\"2\""));
    let modified = app.send(reqwest::Method::GET, &path, None, &[("if-none-match", "W/\"1\"")]).await;
    assert_eq!(modified.status, 200);
    app.send(reqwest::Method::DELETE, &path, None, &[("if-match", "W/\"1\"")]).await.assert_error(412, None);
    assert_eq!(app.send(reqwest::Method::DELETE, &path, None, &[("if-match", "*")]).await.status, 204);
}

#[actix_web::test]
async fn data_survives_a_restart_on_the_same_directory() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let id = {
        let app = spawn_app_with(|s| s.data = Some(data.clone())).await;
        let id = id_of(&app.create_user("durable@example.com").await);
        app.handle_stop().await;
        id
    };
    let app = spawn_app_with(|s| s.data = Some(data.clone())).await;
    let res = app.get(&format!("/Users/{id}")).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.body["userName"], "durable@example.com");
}

#[actix_web::test]
async fn cursor_paging_walks_everything_once_even_under_concurrent_writes() {
    let app = spawn_app().await;
    let spc = app.get("/ServiceProviderConfig").await.body;
    assert_eq!(spc["pagination"]["cursor"], true, "RFC 9865 support is advertised");
    let mut before = Vec::new();
    for i in 0..7 {
        before.push(id_of(&app.create_user(&format!("cur{i}@example.com")).await));
    }
    let filter = "userName sw \"cur\"";
    let pages = walk_cursor_under_writes(&app, &[("filter", filter)], &before, "cur-new@example.com").await;
    assert!(pages.iter().all(|p| p.get("startIndex").is_none()), "cursor pages carry no startIndex");

    let bad = app.list("/Users", &[("cursor", "not-a-cursor")]).await;
    bad.assert_error(400, Some("invalidCursor"));
    let first = app.list("/Users", &[("filter", filter), ("count", "2"), ("cursor", "")]).await;
    let next = first.body["nextCursor"].as_str().unwrap().to_string();
    let other_filter = app.list("/Users", &[("filter", "userName pr"), ("cursor", &next)]).await;
    other_filter.assert_error(400, Some("invalidCursor"));
    assert!(other_filter.detail().contains("different"), "{}", other_filter.detail());
    app.list("/Users", &[("cursor", ""), ("startIndex", "2")]).await.assert_error(400, Some("invalidValue"));
    let searched = app
        .post("/Users/.search", json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": filter, "count": 2, "cursor": ""}))
        .await;
    assert_eq!(searched.status, 200, "{}", searched.body);
    assert!(searched.body["nextCursor"].is_string());
}

#[actix_web::test]
async fn an_attribute_given_twice_is_refused_naming_it() {
    let app = spawn_app().await;
    let res = app
        .client
        .post(app.url("/Users"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/scim+json")
        .body(format!(r#"{{"schemas":["{USER_URN}"],"userName":"first@example.com","USERNAME":"second@example.com"}}"#))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 400);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["scimType"], "invalidSyntax", "{body}");
    assert!(body["detail"].as_str().unwrap().contains("USERNAME"), "{body}");
    assert_eq!(app.list("/Users", &[("count", "0")]).await.body["totalResults"], 0, "nothing stored");
}

#[actix_web::test]
async fn look_alike_user_names_are_one_user_name() {
    let app = spawn_app().await;
    for (first, look_alike) in [
        ("\u{00C4}nne@example.com", "A\u{0308}nne@example.com"),
        ("stra\u{00DF}e@example.com", "STRASSE@example.com"),
        ("bob@example.com", "\u{FF42}\u{FF4F}\u{FF42}@example.com"),
        ("carl@example.com", "car\u{200B}l@example.com"),
        ("dora@example.com", " dora@example.com "),
        // Equal once lower-cased, as `userName eq` compares them: a letter newer than the
        // case-folding tables, and a Greek capital with prosgegrammeni before a perispomeni.
        ("\u{A7CE}va@example.com", "\u{A7CF}va@example.com"),
        ("\u{1FBC}\u{342}ri@example.com", "\u{1FB3}\u{342}ri@example.com"),
    ] {
        let created = app.post("/Users", user_body(first)).await;
        assert_eq!(created.status, 201, "{first}: {}", created.body);
        assert_eq!(created.body["userName"], first, "stored as sent");
        app.post("/Users", user_body(look_alike)).await.assert_error(409, Some("uniqueness"));
    }
    for lower_cased in ["\u{A7CF}va@example.com", "\u{1FB3}\u{342}ri@example.com", "STRASSE@example.com"] {
        let filter = format!("userName eq \"{lower_cased}\"");
        let found = app.list("/Users", &[("filter", filter.as_str())]).await;
        let expected = if lower_cased.starts_with("STRASSE") { 0 } else { 1 };
        assert_eq!(found.body["totalResults"], expected, "{filter}: {}", found.body);
    }
    let nul = app.post("/Users", user_body("eve\u{0000}@example.com")).await;
    nul.assert_error(400, Some("invalidValue"));
    assert!(nul.detail().contains("control character"), "{}", nul.detail());
}

#[actix_web::test]
async fn unsorted_pages_after_deletes_walk_the_remaining_users_once_with_the_right_total() {
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for i in 0..12 {
        ids.push(id_of(&app.create_user(&format!("left{i:02}@example.com")).await));
    }
    for gone in [&ids[0], &ids[5], &ids[11]] {
        assert_eq!(app.delete(&format!("/Users/{gone}")).await.status, 204);
    }
    let mut seen = Vec::new();
    for start in [1, 5, 9, 13] {
        let page = app.list("/Users", &[("startIndex", &start.to_string()), ("count", "4")]).await;
        assert_eq!(page.body["totalResults"], 9, "the total counts what is left");
        let items = page.body["Resources"].as_array().unwrap().clone();
        assert_eq!(page.body["itemsPerPage"], items.len());
        seen.extend(items.iter().map(id_of));
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!((seen.len(), unique.len()), (9, 9), "every remaining user once: {seen:?}");
    assert!(!seen.contains(&ids[0]) && !seen.contains(&ids[5]) && !seen.contains(&ids[11]));
}

#[actix_web::test]
async fn unfiltered_cursor_pages_read_a_key_range_and_still_walk_everything_once_under_writes() {
    let app = spawn_app().await;
    let mut before = Vec::new();
    for i in 0..8 {
        before.push(id_of(&app.create_user(&format!("range{i}@example.com")).await));
    }
    let pages = walk_cursor_under_writes(&app, &[], &before, "range-new@example.com").await;
    assert!(pages.iter().all(|p| p["totalResults"] == 8), "one created and one deleted between pages: still 8");
}

/// Walks the cursor pages of `query` three at a time; after the first page, creates
/// `new_user` and deletes a user of `before` not seen yet. Every user that stayed comes
/// back exactly once, the deleted one never. Returns the pages.
async fn walk_cursor_under_writes(
    app: &TestApp,
    query: &[(&str, &str)],
    before: &[String],
    new_user: &str,
) -> Vec<serde_json::Value> {
    let (mut seen, mut pages, mut cursor, mut deleted) = (Vec::new(), Vec::new(), String::new(), None);
    loop {
        let mut q: Vec<(&str, &str)> = query.to_vec();
        q.extend([("count", "3"), ("cursor", cursor.as_str())]);
        let res = app.list("/Users", &q).await;
        assert_eq!(res.status, 200, "{}", res.body);
        seen.extend(res.body["Resources"].as_array().unwrap().iter().map(id_of));
        if deleted.is_none() {
            app.create_user(new_user).await;
            let victim = before.iter().find(|id| !seen.contains(id)).unwrap().clone();
            assert_eq!(app.delete(&format!("/Users/{victim}")).await.status, 204);
            deleted = Some(victim);
        }
        let next = res.body["nextCursor"].as_str().map(str::to_string);
        pages.push(res.body);
        match next {
            Some(next) => cursor = next,
            None => break,
        }
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "no user twice: {seen:?}");
    let deleted = deleted.unwrap();
    assert!(!seen.contains(&deleted), "a deleted user is not returned");
    assert!(
        before.iter().filter(|id| **id != deleted).all(|id| seen.contains(id)),
        "every user that stayed is returned"
    );
    pages
}

#[actix_web::test]
async fn deep_start_index_pages_match_the_id_order_and_follow_deletes() {
    let app = spawn_app().await;
    // 1,100 users through /Bulk, 100 a request.
    for chunk in 0..11 {
        let operations: Vec<serde_json::Value> = (0..100)
            .map(|i| {
                json!({"method": "POST", "path": "/Users", "bulkId": format!("b{i}"),
                            "data": user_body(&format!("deep{:04}@example.com", chunk * 100 + i))})
            })
            .collect();
        let res = app
            .post(
                "/Bulk",
                json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": operations}),
            )
            .await;
        assert_eq!(res.status, 200, "{}", res.body);
    }
    async fn all_ids(app: &TestApp) -> Vec<String> {
        let (mut ids, mut cursor) = (Vec::new(), String::new());
        loop {
            let res = app.list("/Users", &[("count", "500"), ("cursor", &cursor)]).await;
            ids.extend(res.body["Resources"].as_array().unwrap().iter().map(id_of));
            match res.body["nextCursor"].as_str() {
                Some(next) => cursor = next.to_string(),
                None => return ids,
            }
        }
    }
    async fn page_at(app: &TestApp, start: usize) -> Vec<String> {
        let res = app.list("/Users", &[("startIndex", &start.to_string()), ("count", "10")]).await;
        res.body["Resources"].as_array().unwrap().iter().map(id_of).collect()
    }
    let ids = all_ids(&app).await;
    assert_eq!(ids.len(), 1100);
    assert_eq!(page_at(&app, 1025).await, ids[1024..1034], "a page past the first checkpoints");
    assert_eq!(page_at(&app, 600).await, ids[599..609]);
    // A delete before the page moves it by one.
    assert_eq!(app.delete(&format!("/Users/{}", ids[3])).await.status, 204);
    let after: Vec<String> = ids.iter().filter(|id| **id != ids[3]).cloned().collect();
    assert_eq!(page_at(&app, 1025).await, after[1024..1034]);
    assert!(page_at(&app, 1200).await.is_empty(), "past the end");
}

/// GET by id renders stored JSON text directly; a list with `excludedAttributes` renders
/// through a JSON tree. Excluding an attribute no resource has, both must send the same
/// bytes for every shape of resource.
#[actix_web::test]
async fn get_by_id_sends_the_same_bytes_as_the_resource_in_a_list() {
    let app = spawn_app().await;
    let full = json!({
        "schemas": [USER_URN, ENTERPRISE_URN],
        "userName": "Bytes@Example.com",
        "externalId": "ext-1",
        "name": {"givenName": "Zoë", "familyName": "O\"Quote\\Back", "formatted": "Zoë \u{1F600}"},
        "displayName": "Line\nBreak\ttab",
        "emails": [{"value": "bytes@example.com", "type": "work", "primary": true}],
        "phoneNumbers": [{"value": "+1 555 0100", "type": "mobile"}],
        "active": true,
        "password": "Secret-123!",
        ENTERPRISE_URN: {"employeeNumber": "701", "costCenter": "4130", "manager": {"value": "m-1"}}
    });
    let user = app.post("/Users", full).await.body["id"].as_str().unwrap().to_string();
    let plain = app.post("/Users", user_body("plain@example.com")).await.body["id"].as_str().unwrap().to_string();
    let group = app
        .post("/Groups", json!({"schemas": [GROUP_URN], "displayName": "Bytes", "members": [{"value": user}]}))
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let empty = app.post("/Groups", json!({"schemas": [GROUP_URN], "displayName": "Empty"})).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    for (endpoint, id) in [("Users", &user), ("Users", &plain), ("Groups", &group), ("Groups", &empty)] {
        let text = |path: String| {
            let request = app.client.get(app.url(&path)).bearer_auth(TOKEN);
            async move { request.send().await.unwrap().text().await.unwrap() }
        };
        let by_id = text(format!("/{endpoint}/{id}")).await;
        let absent = if endpoint == "Users" { "nickName" } else { "externalId" };
        let tree_path = format!("/{endpoint}?filter=id%20eq%20%22{id}%22&excludedAttributes={absent}");
        let listed: Value = serde_json::from_str(&text(tree_path).await).unwrap();
        let in_list = serde_json::to_string(&listed["Resources"][0]).unwrap();
        assert_eq!(by_id, in_list, "{endpoint}/{id}");
    }
    // The plain user is in no group: no `groups`; the member is in one; no password anywhere.
    let member: Value = serde_json::from_str(
        &app.client
            .get(app.url(&format!("/Users/{user}")))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(member["groups"][0]["value"], group.as_str());
    assert!(member.get("password").is_none() && member[ENTERPRISE_URN]["employeeNumber"] == "701");
}

/// An index-answered filter under the default projection is answered as text; with any
/// `excludedAttributes` the same list goes through the JSON tree. Excluding an attribute no
/// resource has, both must send the same bytes, whatever the filter, match count or page.
#[actix_web::test]
async fn an_indexed_list_sends_the_same_bytes_as_the_tree_path() {
    let app = spawn_app().await;
    let mut body = user_body("List@Example.com");
    body[ENTERPRISE_URN] = json!({"employeeNumber": "9", "department": "R&D \"quoted\""});
    body["active"] = json!(true);
    let listed = app.post("/Users", body).await.body["id"].as_str().unwrap().to_string();
    app.post("/Users", user_body("other@example.com")).await;
    app.post("/Groups", json!({"schemas": [GROUP_URN], "displayName": "Listed", "members": [{"value": listed}]})).await;
    let text = |path: String| {
        let request = app.client.get(app.url(&path)).bearer_auth(TOKEN);
        async move {
            let res = request.send().await.unwrap();
            (res.status().as_u16(), res.text().await.unwrap())
        }
    };
    let cases = [
        ("Users", r#"userName eq "list@example.com""#, "", 1),
        ("Users", r#"userName eq "nobody@example.com""#, "", 0),
        ("Users", r#"userName eq "list@example.com" or userName eq "other@example.com""#, "", 2),
        ("Users", r#"userName eq "list@example.com" or userName eq "other@example.com""#, "&startIndex=2&count=1", 1),
        ("Users", r#"emails[type eq "work" and value eq "list@example.com"]"#, "", 1),
        ("Users", r#"userName eq "list@example.com" and not (active eq true)"#, "", 0),
        ("Users", r#"externalId eq "missing" or id eq "LISTED""#, "", 1),
        ("Users", r#"userName eq "list@example.com" and id eq "LISTED""#, "", 1),
        ("Users", r#"userName eq "list@example.com" and meta.resourceType eq "User""#, "", 1),
        ("Users", r#"userName eq "list@example.com" and meta.lastModified lt "2000-01-01T00:00:00Z""#, "", 0),
        ("Groups", r#"displayName eq "listed""#, "", 1),
    ];
    for (endpoint, filter, paging, expected) in cases {
        let filter = filter.replace("LISTED", &listed);
        let query = format!("/{endpoint}?filter={}{paging}", urlencoding(&filter));
        let (status, fast) = text(query.clone()).await;
        let absent = if endpoint == "Users" { "nickName" } else { "externalId" };
        let (_, tree) = text(format!("{query}&excludedAttributes={absent}")).await;
        assert_eq!(status, 200, "{filter}: {fast}");
        assert_eq!(fast, tree, "{endpoint} {filter} {paging}");
        let parsed: Value = serde_json::from_str(&fast).unwrap();
        assert_eq!(parsed["Resources"].as_array().unwrap().len(), expected, "{filter} {paging}: {fast}");
    }
}

fn urlencoding(text: &str) -> String {
    text.bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}
