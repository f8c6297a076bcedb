#![cfg(test)]
//! The IAM evaluator against IAM's documented examples: one table of (policies, boundary,
//! request, expected decision, deciding statements) in `fixtures/iam_cases.json`, each case
//! citing the page it comes from.

use groupgate_testkit::iam::{Decision, Policy, Principal, Request, wildcard};
use serde_json::Value;

fn request(case: &Value) -> Request {
    let r = &case["request"];
    let mut request = Request::new(
        "arn:aws:iam::111122223333:role/tester",
        r["action"].as_str().unwrap(),
        r["resource"].as_str().unwrap(),
    );
    if let Some(context) = r["context"].as_object() {
        for (key, values) in context {
            let values: Vec<&str> = values
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            request = request.with(key, &values);
        }
    }
    request
}

#[test]
fn the_evaluator_decides_iams_documented_examples_as_iam_does() {
    let cases: Vec<Value> = serde_json::from_str(include_str!("fixtures/iam_cases.json")).unwrap();
    assert!(cases.len() >= 20);
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let policies = case["policies"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
            .map(|(i, p)| Policy::parse(&format!("p{i}"), p).unwrap())
            .collect();
        let boundary = case
            .get("boundary")
            .map(|b| Policy::parse("boundary", b).unwrap());
        let principal = Principal {
            name: "tester".into(),
            policies,
            boundary,
        };
        let decision = principal.decide(&request(case));
        let by: Vec<String> = case["by"]
            .as_array()
            .map(|a| a.iter().map(|v| v.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default();
        let (kind, decided_by) = match &decision {
            Decision::Allow { identity, .. } => ("Allow", identity.clone()),
            Decision::ExplicitDeny(by) => ("ExplicitDeny", by.clone()),
            Decision::NoAllow => ("NoAllow", Vec::new()),
            Decision::OutsideBoundary(by) => ("OutsideBoundary", by.clone()),
        };
        assert_eq!(kind, case["expect"], "{name}: {decision}");
        assert_eq!(decided_by, by, "{name}: {decision}");
    }
}

#[test]
fn an_unmodelled_condition_operator_is_refused_not_ignored() {
    let policy = serde_json::json!({"Statement": {"Effect": "Deny", "Action": "*", "Resource": "*",
        "Condition": {"NumericLessThan": {"s3:max-keys": "10"}}}});
    let error = Policy::parse("p", &policy).unwrap_err().to_string();
    assert!(
        error.contains("`NumericLessThan` is not modelled"),
        "{error}"
    );
}

#[test]
fn a_statement_with_a_principal_is_refused_as_an_identity_policy() {
    let policy = serde_json::json!({"Statement": {"Effect": "Allow", "Principal": "*",
        "Action": "*", "Resource": "*"}});
    assert!(Policy::parse("p", &policy).is_err());
}

#[test]
fn wildcards_match_as_iam_globs() {
    for (pattern, text, ignore_case, expected) in [
        ("*", "", false, true),
        ("a*b", "ab", false, true),
        ("a*b", "axxb", false, true),
        ("a*b", "axxbc", false, false),
        ("a?c", "abc", false, true),
        ("a?c", "ac", false, false),
        ("*:*", "s3:GetObject", false, true),
        ("S3:Get*", "s3:getobject", true, true),
        ("S3:Get*", "s3:getobject", false, false),
        ("arn:aws:s3:::b/*", "arn:aws:s3:::b", false, false),
        ("**a", "bba", false, true),
    ] {
        assert_eq!(
            wildcard(pattern, text, ignore_case),
            expected,
            "{pattern} ~ {text}"
        );
    }
}
