//! The IAM policy parser. Invariant beyond "no panic": a policy that parses serializes, through
//! the full-fidelity serializer, to one that parses to the same thing.
#![no_main]

use groupgate_shared::PolicyDocument;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(policy) = PolicyDocument::from_json(text) else {
        return;
    };
    let written = serde_json::to_string(&policy).expect("a parsed policy serializes");
    let again = PolicyDocument::from_json(&written).expect("a written policy parses again");
    assert_eq!(
        policy, again,
        "the round trip changed the policy: {written}"
    );
});
