//! The IAM policy parser. Invariants beyond "no panic": a policy that parses serializes, through
//! the full-fidelity serializer, to one that parses to the same thing; and it holds none of what
//! API Gateway does not document for an authorizer's policy (`NotAction`, `NotResource`, `?`).
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
    let value: serde_json::Value = serde_json::from_str(&written).expect("written JSON reads");
    let statements = value["Statement"].as_array().expect("a written list");
    for key in ["NotAction", "NotResource"] {
        assert!(
            statements.iter().all(|s| s.get(key).is_none()),
            "{key} parsed: {written}"
        );
    }
    for statement in &policy.statements {
        let patterns = statement
            .action
            .patterns()
            .iter()
            .chain(statement.resource.patterns());
        for pattern in patterns {
            assert!(!pattern.as_str().contains('?'), "`?` parsed: {written}");
        }
    }
    let again = PolicyDocument::from_json(&written).expect("a written policy parses again");
    assert_eq!(
        policy, again,
        "the round trip changed the policy: {written}"
    );
});
