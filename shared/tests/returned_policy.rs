//! Issue #22: every policy the authorizer can return uses only what API Gateway documents for a
//! Lambda authorizer's output (`reference::documented`), and means what the authorizer decided.
//! Property test over random valid group policies, random request facts and random method ARNs.

use std::sync::Arc;

use groupgate_shared::reference::{self, Verdict};
use groupgate_shared::{
    GroupPolicy, INVOKE_ACTION, MergedPolicy, MethodArn, PolicyDocument, RequestFacts,
    ReturnedPolicy,
};
use proptest::prelude::*;
use serde_json::{Value, json};

/// A method ARN pattern in the documented form, each field literal or `*`, or cut short by a
/// final `*`; or `*` alone.
fn resource() -> impl Strategy<Value = String> {
    let field = |literal: &'static str| prop_oneof![Just(literal), Just("*")];
    let tail = prop_oneof![
        Just("*/*/*"),
        Just("prod/*"),
        Just("*/GET/*"),
        Just("prod/GET/petstore/v1/pets"),
        Just("*/*/petstore/v1/*"),
        Just("*/POST/petstore/v1/pets"),
        Just("test/*"),
        Just("*/GET/"),
        Just("*/DELETE/petstore/*/pets/*"),
    ];
    let arn = (
        field("aws"),
        field("eu-west-1"),
        field("123456789012"),
        field("a1b2c3"),
        tail,
    )
        .prop_map(|(partition, region, account, api, tail)| {
            format!("arn:{partition}:execute-api:{region}:{account}:{api}/{tail}")
        });
    prop_oneof![1 => Just("*".to_owned()), 6 => arn]
}

fn action() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        Just("execute-api:Invoke"),
        Just("execute-api:*"),
        Just("*"),
        Just("EXECUTE-API:invoke"),
        Just("execute-api:ManageConnections"),
        Just("s3:GetObject"),
    ]
}

fn condition() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        2 => Just(None),
        1 => Just(Some(json!({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}))),
        1 => Just(Some(json!({"NotIpAddress": {"aws:SourceIp": ["192.0.2.0/24"]}}))),
    ]
}

fn statement() -> impl Strategy<Value = Value> {
    (
        prop_oneof![Just("Allow"), Just("Deny")],
        prop::collection::vec(action(), 1..3),
        prop::collection::vec(resource(), 1..4),
        condition(),
        any::<bool>(),
    )
        .prop_map(|(effect, actions, resources, condition, sid)| {
            let mut statement = serde_json::Map::new();
            statement.insert("Effect".into(), json!(effect));
            statement.insert("Action".into(), json!(actions));
            statement.insert("Resource".into(), json!(resources));
            if let Some(condition) = condition {
                statement.insert("Condition".into(), condition);
            }
            if sid {
                statement.insert("Sid".into(), json!("Named"));
            }
            Value::Object(statement)
        })
}

/// A statement the parser refuses: what API Gateway does not document.
fn undocumented() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!({"Effect": "Deny", "Action": "execute-api:Invoke",
            "NotResource": "arn:aws:execute-api:*:*:*/*/POST/*"})),
        Just(json!({"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"})),
        Just(json!({"Effect": "Deny", "Action": "*",
            "Resource": "arn:aws:execute-api:*:*:*/*/GET/petstore/v?/pets"})),
    ]
}

/// A group's policy: valid, or (now and then) with one undocumented statement among valid ones.
fn policy() -> impl Strategy<Value = (Value, bool)> {
    (
        prop::collection::vec(statement(), 1..4),
        prop::option::weighted(0.15, undocumented()),
    )
        .prop_map(|(mut statements, odd)| {
            let valid = odd.is_none();
            statements.extend(odd);
            (
                json!({"Version": "2012-10-17", "Statement": statements}),
                valid,
            )
        })
}

fn method_arn() -> impl Strategy<Value = String> {
    (
        // API Gateway's ARNs are literal: a `?` or `*` in one is a character, never a wildcard.
        prop_oneof![Just("123456789012"), Just("1234?6789012"), Just("*")],
        prop_oneof![Just("a1b2c3"), Just("zz9")],
        prop_oneof![Just("prod"), Just("test")],
        prop_oneof![Just("GET"), Just("POST"), Just("DELETE")],
        prop_oneof![
            Just(""),
            Just("petstore/v1/pets"),
            Just("petstore/v1/pets/7"),
            Just("petstore/v2/status"),
            Just("petstore/v1/x/pets/2"),
        ],
    )
        .prop_map(|(account, api, stage, method, path)| {
            format!("arn:aws:execute-api:eu-west-1:{account}:{api}/{stage}/{method}/{path}")
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_returned_policy_is_documented_and_means_the_decision(
        policies in prop::collection::vec(policy(), 0..4),
        source_ip in prop_oneof![Just(None), Just(Some("10.1.2.3")), Just(Some("192.0.2.7"))],
        request in method_arn(),
        probes in prop::collection::vec(method_arn(), 1..6),
    ) {
        let groups: Vec<Arc<GroupPolicy>> = policies
            .iter()
            .enumerate()
            .map(|(i, (policy, valid))| {
                let parsed = PolicyDocument::from_json(&policy.to_string());
                // The generator's valid policies are valid, and the others are not.
                assert_eq!(parsed.is_ok(), *valid, "{policy}: {parsed:?}");
                Arc::new(GroupPolicy {
                    group: format!("g{i}"),
                    policy: parsed,
                    role_arn: None,
                    precedence: None,
                })
            })
            .collect();
        let facts = RequestFacts::from_source_ip(source_ip);
        let arn = MethodArn::parse(&request).unwrap();
        let returned = ReturnedPolicy::new(MergedPolicy::for_request(groups, &facts), &arn);
        let document: Value = serde_json::from_str(&returned.to_json()).unwrap();

        prop_assert_eq!(reference::documented(&document), Ok(()), "{}", document);
        // API Gateway applies the cached policy to every method of the API: it must give the
        // merge's decision on each, not only on the method asked about.
        for probe in std::iter::once(&request).chain(&probes) {
            let decided = returned.merged().decide(INVOKE_ACTION, probe).is_allow();
            let verdict = reference::evaluate(&document, INVOKE_ACTION, probe);
            prop_assert_eq!(verdict.map(|v| v == Verdict::Allow), Ok(decided), "{} on {}", document, probe);
        }
    }
}
