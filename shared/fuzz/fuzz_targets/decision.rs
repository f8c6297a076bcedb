//! The decision: group policies and a request from the input, decided by `MergedPolicy`, and
//! the policy returned to API Gateway (`ReturnedPolicy`, as the authorizer renders it) evaluated
//! by the independent reference evaluator. They must agree, and the returned policy must use
//! only what API Gateway documents for an authorizer's output (`reference::documented`). Input:
//! JSON `{"policies": [policy...], "arn": "...", "ip": "..."}`.
#![no_main]

use std::sync::Arc;

use groupgate_shared::{
    GroupPolicy, INVOKE_ACTION, MergedPolicy, MethodArn, PolicyDocument, RequestFacts,
    ReturnedPolicy,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let Some(policies) = input.get("policies").and_then(|p| p.as_array()) else {
        return;
    };
    let Some(arn) = input.get("arn").and_then(|a| a.as_str()) else {
        return;
    };
    let Ok(arn) = MethodArn::parse(arn) else {
        return;
    };
    let facts = RequestFacts::from_source_ip(input.get("ip").and_then(|i| i.as_str()));
    let groups = policies
        .iter()
        .enumerate()
        .map(|(i, p)| {
            Arc::new(GroupPolicy {
                group: format!("g{i}"),
                policy: PolicyDocument::from_json(&p.to_string()),
                role_arn: None,
                precedence: None,
            })
        })
        .collect();
    let policy = ReturnedPolicy::new(MergedPolicy::for_request(groups, &facts), &arn);
    let decided = policy
        .merged()
        .decide(INVOKE_ACTION, arn.as_str())
        .is_allow();
    let returned = serde_json::to_value(&policy).expect("the policy renders");
    if let Err(why) = groupgate_shared::reference::documented(&returned) {
        panic!("the returned policy is not documented ({why}): {returned}");
    }
    let reference = groupgate_shared::reference::allows(&returned, INVOKE_ACTION, arn.as_str())
        .expect("the returned policy reads");
    assert_eq!(decided, reference, "returned {returned}");
});
