//! The journal of a staged write, a write a crash interrupted, and writers racing for one
//! uniqueness key.

use std::sync::Arc;

use serde_json::json;

use super::*;
use crate::scim::ResourceKind;
use crate::store::sled_store::{resource_key, unique_key};
use crate::store::{Expect, IndexKey, Lookup, MemberChanges, Store, StoredResource, WriteRequest};

fn create(name: &str, id: &str) -> WriteRequest {
    WriteRequest {
        kind: ResourceKind::User,
        id: id.into(),
        expect: Expect::Absent,
        created: "2026-11-30T00:00:00Z".into(),
        modified: "2026-11-30T00:00:00Z".into(),
        doc: json!({ "userName": name }),
        index: vec![IndexKey::new("userName", name)],
        unique: vec![IndexKey::new("userName", name)],
        members: MemberChanges::default(),
    }
}

#[test]
fn the_journal_decodes_what_it_encoded_and_names_a_cut() {
    let ops: Vec<Op<'_>> = vec![
        (TreeName::Index, b"Uuser\0a\0id", Some(b"")),
        (TreeName::Resources, b"Uid", Some(b"{\"id\":\"id\"}")),
        (TreeName::Unique, b"Uold", None),
    ];
    let bytes = encode(&ops);
    assert_eq!(decode(&bytes).expect("decodes"), ops);
    let cut = decode(&bytes[..bytes.len() - 1]).expect_err("a cut entry is refused");
    assert!(cut.to_string().contains("cut short"), "{cut}");
}

#[test]
fn a_write_journalled_before_a_crash_is_completed_at_the_next_open() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let name = IndexKey::new("userName", "ada");
    {
        let db = sled::open(dir.path()).expect("the database opens");
        let store = SledStore::open(&db, "t").expect("the store opens");
        // What a create journals, and a crash before any of it is applied.
        let record = StoredResource {
            kind: ResourceKind::User,
            id: "u-1".into(),
            version: 1,
            seq: 1,
            created: "2026-11-30T00:00:00Z".into(),
            modified: "2026-11-30T00:00:00Z".into(),
            doc: json!({ "userName": "ada" }),
            index: vec![name.clone()],
            unique: vec![name.clone()],
        };
        let record = serde_json::to_vec(&record).expect("the record encodes");
        let unique = unique_key(ResourceKind::User, &name);
        let resource = resource_key(ResourceKind::User, "u-1");
        let ops: Vec<Op<'_>> =
            vec![(TreeName::Resources, &resource, Some(&record)), (TreeName::Unique, &unique, Some(b"u-1"))];
        store.pending.insert(PENDING_KEY, encode(&ops)).expect("the journal is written");
        db.flush().expect("the journal is on disk");
        assert!(store.get(ResourceKind::User, "u-1").expect("reads").is_none());
    }
    let db = sled::open(dir.path()).expect("the database opens again");
    let store = SledStore::open(&db, "t").expect("the store opens again");
    let found = store.get(ResourceKind::User, "u-1").expect("reads").expect("the interrupted create is complete");
    assert_eq!(found.version, 1);
    let owner = store.lookup(ResourceKind::User, &Lookup::Unique(name)).expect("the uniqueness entry answers");
    assert_eq!(owner, ["u-1"]);
    assert!(store.pending.get(PENDING_KEY).expect("reads").is_none(), "the journal entry is gone");
}

/// Eight writers try each of 300 names; each name must end with exactly one owner. Without
/// the write lock two writers both find a name free and both create it.
#[test]
fn racing_creates_of_one_name_leave_exactly_one_owner() {
    let store = Arc::new(SledStore::temporary().expect("a temporary store"));
    let writers: Vec<_> = (0..8)
        .map(|writer| {
            let store = store.clone();
            std::thread::spawn(move || {
                let mut created = 0;
                for n in 0..300 {
                    let request = create(&format!("user{n}"), &format!("w{writer}-{n}"));
                    match store.write(request) {
                        Ok(_) => created += 1,
                        Err(StoreError::Unique { .. }) => {}
                        Err(e) => panic!("an unexpected store error: {e}"),
                    }
                }
                created
            })
        })
        .collect();
    let created: usize = writers.into_iter().map(|w| w.join().expect("a writer finished")).sum();
    assert_eq!(created, 300, "one create per name succeeds");
    assert_eq!(store.count(ResourceKind::User).expect("counts"), 300);
}
