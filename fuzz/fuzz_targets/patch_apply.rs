//! The PATCH engine through the service: any JSON body is either applied or rejected with a
//! SCIM error, never a panic, and a rejected PATCH leaves the resource as it was.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use scimlab::scim::ResourceKind;
use scimlab::service::{ReadOptions, ScimService};
use serde_json::{json, Value};

struct Fixture {
    service: Arc<ScimService>,
    user: String,
    group: String,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let service = scimlab::bench::temp_service().expect("service");
        let opts = ReadOptions::default();
        let user = service.create(ResourceKind::User, &scimlab::bench::bench_user(1), &opts).expect("user").resource
            ["id"]
            .as_str()
            .unwrap()
            .to_string();
        let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "fuzz",
                          "members": [{"value": user}]});
        let group = service.create(ResourceKind::Group, &body, &opts).expect("group").resource["id"]
            .as_str()
            .unwrap()
            .to_string();
        Fixture { service, user, group }
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<Value>(data) else { return };
    let f = fixture();
    let opts = ReadOptions::default();
    for (kind, id) in [(ResourceKind::User, &f.user), (ResourceKind::Group, &f.group)] {
        let before = f.service.get(kind, id, &opts).expect("exists").resource;
        if f.service.patch(kind, id, &body, None, &opts).is_err() {
            let after = f.service.get(kind, id, &opts).expect("still exists").resource;
            assert_eq!(before, after, "a rejected PATCH changed the resource");
        }
    }
});
