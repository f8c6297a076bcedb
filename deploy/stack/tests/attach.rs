#![cfg(test)]
//! The authorizer-only stack's template: a reviewed snapshot, what it holds with a new and an
//! existing user pool, and that it stays within what the app stack (and so the bootstrap's
//! boundary and execution policy) already covers.

mod common;

use std::collections::BTreeSet;

use common::{app_template, fixture_api, fixture_groups, settings};
use groupgate_stack as stack;
use groupgate_stack::assets::Assets;
use groupgate_stack::attach::{self, AttachOutput};
use serde_json::Value;

fn template() -> Value {
    attach::build(
        &fixture_groups(),
        &Assets::placeholder(&attach::FUNCTIONS),
        &settings(),
    )
    .to_template()
    .unwrap()
}

fn resources(t: &Value) -> &serde_json::Map<String, Value> {
    t["Resources"].as_object().unwrap()
}

#[test]
fn the_authorizer_only_template_matches_the_reviewed_snapshot() {
    insta::assert_json_snapshot!("authorizer_only", template());
}

#[test]
fn it_holds_the_authorizer_its_table_and_alarms_and_no_api_or_backend() {
    let t = template();
    let types: BTreeSet<&str> = resources(&t)
        .values()
        .map(|r| r["Type"].as_str().unwrap())
        .collect();
    for kind in [
        "AWS::Lambda::Function",
        "AWS::IAM::Role",
        "AWS::DynamoDB::Table",
        "AWS::CloudWatch::Alarm",
    ] {
        assert!(types.contains(kind), "no {kind}");
    }
    assert!(
        types.iter().all(|k| !k.starts_with("AWS::ApiGateway::")),
        "{types:?}"
    );
    let functions = resources(&t)
        .values()
        .filter(|r| r["Type"] == "AWS::Lambda::Function")
        .count();
    assert_eq!(functions, 1);
    assert!(resources(&t).contains_key("AuthorizerErrorsAlarm"));
    assert!(resources(&t).contains_key("AuthorizerThrottlesAlarm"));
}

/// The grant to API Gateway belongs in the API's template, scoped to its authorizer: a grant
/// here could name no API, and so would let any API (of any account) invoke the function.
#[test]
fn it_grants_no_one_the_right_to_invoke_the_authorizer() {
    let t = template();
    assert!(
        resources(&t)
            .values()
            .all(|r| r["Type"] != "AWS::Lambda::Permission")
    );
}

/// Every type here is one the app stack has too: the bootstrap's permissions boundary and
/// execution policy, checked against the app stack, cover this stack as well.
#[test]
fn every_resource_type_is_one_the_app_stack_already_deploys() {
    let app = app_template(&fixture_api(), &settings());
    let app_types: BTreeSet<&str> = resources(&app)
        .values()
        .map(|r| r["Type"].as_str().unwrap())
        .collect();
    let t = template();
    for (id, r) in resources(&t) {
        let kind = r["Type"].as_str().unwrap();
        assert!(
            app_types.contains(kind),
            "{id}: {kind} is not in the app stack"
        );
    }
    let role = &resources(&t)["AuthorizerRole"]["Properties"];
    assert_eq!(
        role["PermissionsBoundary"],
        serde_json::json!({ "Ref": "PermissionsBoundaryArn" })
    );
    assert_eq!(
        role["Path"],
        resources(&app)["AuthorizerRole"]["Properties"]["Path"]
    );
}

#[test]
fn with_an_existing_pool_no_cognito_resource_is_created() {
    let t = template();
    assert_eq!(
        t["Conditions"][attach::CREATES_USER_POOL],
        serde_json::json!({ "Fn::Equals": [{ "Ref": attach::EXISTING_USER_POOL_ID }, ""] })
    );
    let cognito: Vec<_> = resources(&t)
        .iter()
        .filter(|(_, r)| r["Type"].as_str().unwrap().starts_with("AWS::Cognito::"))
        .collect();
    // The pool, two clients, the domain and one group per fixture group.
    assert_eq!(cognito.len(), 4 + fixture_groups().len());
    for (id, r) in cognito {
        assert_eq!(r["Condition"], attach::CREATES_USER_POOL, "{id}");
    }
    let env = &resources(&t)["AuthorizerFunction"]["Properties"]["Environment"]["Variables"];
    for (variable, existing) in [
        ("USER_POOL_ID", attach::EXISTING_USER_POOL_ID),
        ("APP_CLIENT_IDS", attach::EXISTING_APP_CLIENT_IDS),
    ] {
        assert_eq!(env[variable]["Fn::If"][0], attach::CREATES_USER_POOL);
        assert_eq!(
            env[variable]["Fn::If"][2],
            serde_json::json!({ "Ref": existing })
        );
    }
}

#[test]
fn the_existing_pool_parameters_take_only_cognito_ids() {
    let t = template();
    let pattern = |id: &str| matcher(t["Parameters"][id]["AllowedPattern"].as_str().unwrap());
    let pool = pattern(attach::EXISTING_USER_POOL_ID);
    assert!(pool("") && pool("eu-west-1_AbC123def"));
    assert!(!pool("eu-west-1") && !pool("eu-west-1_x y") && !pool("arn:aws:cognito-idp:x"));
    let clients = pattern(attach::EXISTING_APP_CLIENT_IDS);
    assert!(clients("") && clients("abc123") && clients("abc123,def456"));
    assert!(!clients("abc123, def456") && !clients("abc,") && !clients(","));
}

/// The parameters' patterns, as CloudFormation matches them: the whole value.
fn matcher(pattern: &str) -> impl Fn(&str) -> bool {
    let re = regex::Regex::new(pattern).unwrap();
    move |value| re.is_match(value)
}

#[test]
fn the_outputs_are_what_an_api_template_needs_and_exported_by_stack_name() {
    let t = template();
    let outputs = t["Outputs"].as_object().unwrap();
    let keys: BTreeSet<&str> = outputs.keys().map(String::as_str).collect();
    let expected: BTreeSet<&str> = AttachOutput::ALL.iter().map(|o| o.key()).collect();
    assert_eq!(keys, expected);
    for output in AttachOutput::ALL {
        let export = &outputs[output.key()]["Export"]["Name"]["Fn::Sub"];
        if output.exported() {
            assert_eq!(
                export.as_str(),
                Some(attach::export_name("${AWS::StackName}", output.key()).as_str())
            );
        } else {
            assert!(export.is_null(), "{} is not exported", output.key());
        }
    }
    assert_eq!(
        outputs["AuthorizerFunctionArn"]["Value"],
        serde_json::json!({ "Fn::GetAtt": ["AuthorizerFunction", "Arn"] })
    );
    assert_eq!(
        outputs["UserPoolClientId"]["Condition"],
        attach::CREATES_USER_POOL
    );
}

/// The export names `file` imports, as `${<stack name variable>}-<output key>`.
fn imported_outputs(file: &str, stack_name_variable: &str) -> Vec<String> {
    let path = format!("{}/../../{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    let pattern = format!(r"\$\{{{stack_name_variable}\}}-(\w+)");
    regex::Regex::new(&pattern)
        .unwrap()
        .captures_iter(&text)
        .map(|c| c[1].to_owned())
        .collect()
}

/// The SAM and CDK examples import the stack's exports by name: renaming an output, or
/// exporting it no more, must break them here rather than at their deploy.
#[test]
fn the_wiring_examples_import_only_what_the_stack_exports() {
    let t = template();
    let exported: BTreeSet<String> = t["Outputs"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, o)| !o["Export"].is_null())
        .map(|(key, _)| key.clone())
        .collect();
    for (file, variable) in [
        ("examples/sam/template.yaml", "AuthorizerStackName"),
        ("examples/cdk/bin/app.ts", "authorizerStackName"),
    ] {
        let imported = imported_outputs(file, variable);
        assert!(
            imported.iter().any(|key| key == "AuthorizerFunctionArn"),
            "{file} imports no function ARN: {imported:?}"
        );
        for key in &imported {
            assert!(
                exported.contains(key),
                "{file} imports `{key}`, which the stack does not export ({exported:?})"
            );
        }
    }
}

/// Both examples send the token where the authorizer reads it, the app stack's identity source.
#[test]
fn the_wiring_examples_take_the_token_from_the_authorizers_header() {
    let read = |file: &str| {
        std::fs::read_to_string(format!("{}/../../{file}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    };
    let sam = read("examples/sam/template.yaml");
    assert!(sam.contains(&format!(
        "Headers:\n                - {}\n",
        stack::IDENTITY_HEADER
    )));
    let cdk = read("examples/cdk/bin/app.ts");
    assert!(cdk.contains(&format!(
        "IdentitySource.header(\"{}\")",
        stack::IDENTITY_HEADER
    )));
}

/// An existing pool without client ids would leave the authorizer unable to start: the
/// template's rule refuses those parameters before anything is created.
#[test]
fn an_existing_pool_without_app_clients_is_refused_by_a_rule() {
    let t = template();
    let not_empty = |parameter: &str| serde_json::json!({ "Fn::Not": [{ "Fn::Equals": [{ "Ref": parameter }, ""] }] });
    let rules = t["Rules"].as_object().unwrap();
    assert_eq!(rules.len(), 1);
    let rule = rules.values().next().unwrap();
    assert_eq!(
        rule["RuleCondition"],
        not_empty(attach::EXISTING_USER_POOL_ID)
    );
    assert_eq!(
        rule["Assertions"][0]["Assert"],
        not_empty(attach::EXISTING_APP_CLIENT_IDS)
    );
    assert!(
        rule["Assertions"][0]["AssertDescription"]
            .as_str()
            .unwrap()
            .contains(attach::EXISTING_APP_CLIENT_IDS)
    );
}
