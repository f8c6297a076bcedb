//! The backend's reading of the caller from the authorizer's fields, in both shapes (our Lambda
//! authorizer's flat context, and a Cognito authorizer's `claims`). Invariant beyond "no
//! panic": a caller it reads has a subject, any role it chooses is one the fields named, and a
//! machine client never has one.
#![no_main]

use std::collections::HashMap;

use groupgate_shared::context::Caller;
use libfuzzer_sys::fuzz_target;

/// Every string anywhere in `value`.
fn strings(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
        serde_json::Value::Object(map) => map.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(fields) = serde_json::from_slice::<HashMap<String, serde_json::Value>>(data) else {
        return;
    };
    let Ok(caller) = Caller::from_authorizer_fields(&fields) else {
        return;
    };
    assert!(!caller.sub.is_empty(), "a caller without a subject");
    if caller.principal_type == groupgate_shared::PrincipalType::Client {
        assert!(caller.role().is_err(), "a machine client with a role");
    }
    if let Ok(role) = caller.role() {
        let mut all = Vec::new();
        fields.values().for_each(|v| strings(v, &mut all));
        assert!(
            all.iter().any(|s| s.contains(role)),
            "role {role:?} came from nowhere"
        );
    }
});
