//! The ARN and wildcard matcher, differentially: `Pattern` (what the authorizer matches
//! resources and actions with) against the reference evaluator's own matcher, for a pattern
//! and a text split from the input at its first NUL byte. A pattern with `?` is one neither
//! accepts (API Gateway documents only `*`): the parser refuses it, and so must the reference.
#![no_main]

use groupgate_shared::Pattern;
use groupgate_shared::reference;
use libfuzzer_sys::fuzz_target;
use serde_json::json;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Some((pattern, candidate)) = text.split_once('\0') else {
        return;
    };
    if pattern.contains('?') {
        let policy =
            json!({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": pattern}]});
        assert!(
            reference::allows(&policy, "any:Action", candidate).is_err(),
            "the reference read the undocumented `?` in {pattern:?}"
        );
        return;
    }
    // Resources match with case; actions without.
    let resource = json!({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": pattern}]});
    assert_eq!(
        Pattern::resource(pattern).matches(candidate),
        reference::allows(&resource, "any:Action", candidate).expect("a plain policy reads"),
        "resource pattern {pattern:?} on {candidate:?}"
    );
    let action = json!({"Statement": [{"Effect": "Allow", "Action": pattern, "Resource": "*"}]});
    assert_eq!(
        Pattern::action(pattern).matches(candidate),
        reference::allows(&action, candidate, "arn:x").expect("a plain policy reads"),
        "action pattern {pattern:?} on {candidate:?}"
    );
});
