//! Entra expression compiler and evaluator: never panic, whatever the text or the values.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rand::SeedableRng;
use scimlab::provision::expr::{EvalContext, Program};
use serde_json::{json, Map, Value};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(program) = Program::compile(text) else { return };
    let source: Map<String, Value> = json!({
        "givenName": "Zoë", "surname": "Ŝmith", "mail": "zoe@contoso.com", "employeeId": "00042",
        "proxyAddresses": ["SMTP:zoe@contoso.com", "smtp:z@contoso.com"], "accountEnabled": true,
        "hireDate": "2024-02-29T08:00:00Z", "extensionAttribute1": ""
    })
    .as_object()
    .cloned()
    .unwrap_or_default();
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let mut ctx = EvalContext {
        source: &source,
        now: time::OffsetDateTime::UNIX_EPOCH,
        rng: &mut rng,
        default_domain: "contoso.com",
        taken: None,
        redacted: false,
    };
    let _ = program.evaluate(&mut ctx);
});
