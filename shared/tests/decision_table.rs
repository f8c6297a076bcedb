#![cfg(test)]
//! Runs `fixtures/decision_table.json`: policies + request -> decision + reason.
//!
//! Each case is also checked through the policy the authorizer would return to API Gateway:
//! re-read and evaluated on its own, it must give the same answer.

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use groupgate_shared::{
    GroupPolicy, INVOKE_ACTION, MergedPolicy, MethodArn, PolicyDocument, RequestFacts,
    ReturnedPolicy,
};
use serde::Deserialize;

#[derive(Deserialize)]
struct Table {
    policies: HashMap<String, serde_json::Value>,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    groups: Vec<String>,
    method: String,
    path: String,
    #[serde(default)]
    source_ip: Option<String>,
    expect: String,
    reason: String,
}

fn group(name: &str, policy: &serde_json::Value) -> Arc<GroupPolicy> {
    let text = match policy {
        serde_json::Value::String(text) => text.clone(),
        document => document.to_string(),
    };
    let item = HashMap::from([
        ("group".to_owned(), AttributeValue::S(name.to_owned())),
        ("policy".to_owned(), AttributeValue::S(text)),
    ]);
    Arc::new(GroupPolicy::from_item(&item).unwrap())
}

#[test]
fn decision_table() {
    let table: Table =
        serde_json::from_str(include_str!("../../fixtures/decision_table.json")).unwrap();
    assert!(table.cases.len() >= 25);
    let mut failures = Vec::new();
    for case in &table.cases {
        let groups: Vec<_> = case
            .groups
            .iter()
            .filter_map(|g| table.policies.get(g).map(|p| group(g, p)))
            .collect();
        let facts = RequestFacts {
            source_ip: case.source_ip.as_ref().map(|ip| ip.parse().unwrap()),
        };
        let arn = MethodArn::for_request(
            "eu-west-1",
            "123456789012",
            "a1b2c3",
            "prod",
            &case.method,
            &case.path,
        )
        .unwrap();
        let policy = ReturnedPolicy::new(MergedPolicy::for_request(groups, &facts), &arn);
        let decision = policy.merged().decide(INVOKE_ACTION, arn.as_str());
        if decision.as_str() != case.expect || decision.reason().to_string() != case.reason {
            failures.push(format!(
                "{}: got {} ({}), wanted {} ({})",
                case.name,
                decision.as_str(),
                decision.reason(),
                case.expect,
                case.reason
            ));
        }

        let rendered = policy.to_json();
        let document: serde_json::Value = serde_json::from_str(&rendered).unwrap();
        if let Err(why) = groupgate_shared::reference::documented(&document) {
            failures.push(format!(
                "{}: the returned policy {rendered} is not documented: {why}",
                case.name
            ));
        }
        let returned = PolicyDocument::from_json(&rendered).unwrap();
        let cached = MergedPolicy::from_document("returned", returned, &RequestFacts::default());
        let again = cached.decide(INVOKE_ACTION, arn.as_str());
        if again.as_str() != case.expect {
            failures.push(format!(
                "{}: the returned policy {rendered} gives {}",
                case.name,
                again.as_str()
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}
