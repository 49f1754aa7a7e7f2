//! `userName eq` and group `displayName eq` are answered from the uniqueness entry, and fall
//! back to the equality index for resources written before that entry's present form.

use std::sync::Arc;

use serde_json::{json, Value};

use super::{ListQuery, ReadOptions, ScimService, ServiceConfig};
use crate::clock::{FixedClock, SequentialIds};
use crate::scim::ResourceKind;
use crate::store::SledStore;
use crate::store::{Expect, IndexKey, MemberChanges, Store, WriteRequest};

fn service() -> (ScimService, Arc<SledStore>) {
    let store = Arc::new(SledStore::temporary().expect("a temporary store"));
    let clock = Arc::new(FixedClock::new(time::macros::datetime!(2026-11-30 12:00 UTC)));
    let service = ScimService::new(store.clone(), clock, Arc::new(SequentialIds::new("u")), ServiceConfig::default());
    (service, store)
}

/// A record as an older version wrote it: its index entry, and `unique` as given.
fn write_legacy(store: &SledStore, kind: ResourceKind, id: &str, attr: &str, value: &str, unique: Vec<IndexKey>) {
    let doc = json!({ attr: value });
    let request = WriteRequest {
        kind,
        id: id.into(),
        expect: Expect::Absent,
        created: "2026-01-01T00:00:00Z".into(),
        modified: "2026-01-01T00:00:00Z".into(),
        doc,
        index: vec![IndexKey::new(attr, value.to_lowercase())],
        unique,
        members: MemberChanges::default(),
    };
    store.write(request).expect("the legacy record is written");
}

fn found(service: &ScimService, kind: ResourceKind, filter: &str) -> Vec<String> {
    let query = ListQuery { filter: Some(filter.into()), ..Default::default() };
    let (body, _) = service.list(&[kind], &query, &ReadOptions::default()).expect("the list answers");
    let resources = body["Resources"].as_array().cloned().unwrap_or_default();
    resources.iter().filter_map(|r| r["id"].as_str().map(str::to_string)).collect::<Vec<_>>()
}

#[test]
fn a_group_written_without_a_uniqueness_entry_is_still_found_by_display_name() {
    let (service, store) = service();
    write_legacy(&store, ResourceKind::Group, "g-legacy", "displayName", "Sales", vec![]);
    assert_eq!(found(&service, ResourceKind::Group, r#"displayName eq "SALES""#), ["g-legacy"]);
    assert!(found(&service, ResourceKind::Group, r#"displayName eq "Sale""#).is_empty());
}

#[test]
fn a_user_whose_uniqueness_entry_has_an_older_form_is_still_found_by_user_name() {
    let (service, store) = service();
    // Folded without lower-casing first, this letter kept its upper-case form.
    let stale = IndexKey::new("userName", "\u{A7CE}x");
    write_legacy(&store, ResourceKind::User, "u-legacy", "userName", "\u{A7CE}X", vec![stale]);
    assert_eq!(found(&service, ResourceKind::User, "userName eq \"\u{A7CF}x\""), ["u-legacy"]);
}

#[test]
fn a_user_with_a_present_entry_is_found_through_it_and_a_near_miss_is_not() {
    let (service, _) = service();
    let created = service
        .create(ResourceKind::User, &user(" Alice@Example.com"), &ReadOptions::default())
        .expect("the user is created");
    let id = created.resource["id"].as_str().unwrap_or_default().to_string();
    assert_eq!(found(&service, ResourceKind::User, r#"userName eq " ALICE@example.COM""#), [id.as_str()]);
    // Same uniqueness key (spaces trimmed), but `eq` compares the whole value.
    assert!(found(&service, ResourceKind::User, r#"userName eq "alice@example.com""#).is_empty());
}

fn user(name: &str) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name})
}
