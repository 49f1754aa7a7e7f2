//! Which reads a request's own thread answers (`PreparedList::cheap`, `get_is_cheap`):
//! exact index lookups, short unfiltered pages near the front, and single records, but
//! never a walk that may build the deep-page checkpoints (a walk over every key, which held
//! an actix worker for seconds at 1M users and reset the connections waiting on it,
//! docs/perf.md round 2, seventh session) nor a group's members.

use std::sync::Arc;

use super::{ListQuery, ScimService, ServiceConfig};
use crate::clock::{FixedClock, SequentialIds};
use crate::scim::ResourceKind;
use crate::store::SledStore;

fn service() -> ScimService {
    let store = Arc::new(SledStore::temporary().expect("a temporary store"));
    let clock = Arc::new(FixedClock::new(time::macros::datetime!(2026-12-01 12:00 UTC)));
    ScimService::new(store, clock, Arc::new(SequentialIds::new("u")), ServiceConfig::default())
}

fn cheap(service: &ScimService, query: ListQuery) -> bool {
    service.prepare_list(&[ResourceKind::User], &query).cheap
}

#[test]
fn short_pages_near_the_front_are_inline_and_deeper_ones_are_not() {
    let service = service();
    let page = |start_index: i64| ListQuery { start_index: Some(start_index), count: Some(100), ..Default::default() };
    assert!(cheap(&service, page(1)));
    assert!(cheap(&service, page(512)), "position 511 is before the first checkpoint");
    assert!(!cheap(&service, page(513)), "position 512 starts from a checkpoint, which may need building");
    assert!(!cheap(&service, page(7_920)));
    assert!(!cheap(&service, ListQuery { count: Some(1000), ..page(1) }), "a long page");
    assert!(!cheap(&service, ListQuery { count: None, ..page(1) }), "the default page size is long");
}

#[test]
fn exact_lookups_are_inline_and_scans_are_not() {
    let service = service();
    let filtered = |filter: &str| ListQuery { filter: Some(filter.into()), ..Default::default() };
    assert!(cheap(&service, filtered(r#"userName eq "a@example.com""#)));
    assert!(cheap(&service, filtered(r#"externalId eq "7" or id eq "u1""#)));
    assert!(!cheap(&service, filtered(r#"userName sw "a""#)));
    assert!(!cheap(&service, filtered(r#"title eq "Engineer""#)), "title has no index: a scan");
    assert!(!cheap(&service, filtered("userName eq")), "does not parse: listing reports it");
    let groups = |query: ListQuery| service.prepare_list(&[ResourceKind::Group], &query).cheap;
    assert!(!groups(filtered(r#"displayName eq "Sales""#)), "renders the members");
    let without_members = ListQuery { excluded: vec!["members".into()], ..filtered(r#"displayName eq "Sales""#) };
    assert!(groups(without_members), "as Entra asks");
}

#[test]
fn a_user_is_read_inline_and_a_group_only_without_its_members() {
    use super::ReadOptions;
    let service = service();
    let names = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let excluding = |list: &[&str]| ReadOptions { excluded: names(list), ..Default::default() };
    let only = |list: &[&str]| ReadOptions { attributes: names(list), ..Default::default() };
    assert!(service.get_is_cheap(ResourceKind::User, &ReadOptions::default()));
    assert!(!service.get_is_cheap(ResourceKind::Group, &ReadOptions::default()), "members are read");
    assert!(service.get_is_cheap(ResourceKind::Group, &excluding(&["members"])));
    assert!(service.get_is_cheap(ResourceKind::Group, &only(&["displayName"])));
    assert!(!service.get_is_cheap(ResourceKind::Group, &only(&["displayName", "members.value"])));
    assert!(!service.get_is_cheap(ResourceKind::Group, &excluding(&["externalId"])));
    assert!(!service.get_is_cheap(ResourceKind::Group, &excluding(&["members.display"])), "members are still read");
    let urn = "urn:ietf:params:scim:schemas:core:2.0:Group:members";
    assert!(service.get_is_cheap(ResourceKind::Group, &excluding(&[urn])));
}
