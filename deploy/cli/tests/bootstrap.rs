#![cfg(test)]
//! The bootstrap stack's template: a reviewed snapshot, the properties that protect an account
//! checked one by one, and a create in moto's CloudFormation.

mod common;

use std::time::Duration;

use aws_sdk_cloudformation::types::Capability;
use groupgate_cli::operations::cloudformation::{Outcome, Polling, StackRequest, deploy_stack};
use groupgate_cli::stack::bootstrap;
use groupgate_testkit::{Moto, unique};
use serde_json::{Value, json};

fn template() -> Value {
    bootstrap::build().to_template().unwrap()
}

fn properties<'a>(t: &'a Value, id: &str) -> &'a Value {
    &t["Resources"][id]["Properties"]
}

fn statements(role: &Value) -> &Vec<Value> {
    role["Policies"][0]["PolicyDocument"]["Statement"]
        .as_array()
        .unwrap()
}

#[test]
fn the_bootstrap_template_matches_the_reviewed_snapshot() {
    insta::assert_json_snapshot!("bootstrap", template());
}

#[test]
fn the_artifact_bucket_is_versioned_encrypted_private_tls_only_and_expires_old_versions() {
    let t = template();
    let bucket = properties(&t, "ArtifactBucket");
    assert_eq!(bucket["VersioningConfiguration"]["Status"], "Enabled");
    assert_eq!(
        bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
            ["SSEAlgorithm"],
        "AES256"
    );
    for setting in [
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    ] {
        assert_eq!(
            bucket["PublicAccessBlockConfiguration"][setting], true,
            "{setting}"
        );
    }
    assert_eq!(
        bucket["LifecycleConfiguration"]["Rules"][0]["NoncurrentVersionExpiration"]["NoncurrentDays"],
        30
    );
    assert_eq!(
        bucket["BucketName"],
        json!({"Fn::Sub": "groupgate-assets-${AWS::AccountId}-${AWS::Region}"})
    );
    let policy = &properties(&t, "ArtifactBucketPolicy")["PolicyDocument"]["Statement"][0];
    assert_eq!(policy["Effect"], "Deny");
    assert_eq!(
        policy["Condition"],
        json!({"Bool": {"aws:SecureTransport": "false"}})
    );
}

#[test]
fn only_the_repositorys_environment_can_assume_the_deploy_role() {
    let t = template();
    let role = properties(&t, "DeployRole");
    let statement = &role["AssumeRolePolicyDocument"]["Statement"][0];
    assert_eq!(statement["Action"], "sts:AssumeRoleWithWebIdentity");
    assert_eq!(
        statement["Principal"]["Federated"],
        json!({"Fn::If": ["CreateOidcProvider", {"Ref": "GitHubOidcProvider"}, {"Ref": "GitHubOidcProviderArn"}]})
    );
    let condition = &statement["Condition"]["StringEquals"];
    assert_eq!(
        condition["token.actions.githubusercontent.com:aud"],
        "sts.amazonaws.com"
    );
    assert_eq!(
        condition["token.actions.githubusercontent.com:sub"],
        json!({"Fn::Join": ["", ["repo:", {"Ref": "GitHubRepository"}, ":environment:", {"Ref": "GitHubEnvironment"}]]})
    );
    // The account's existing provider is reused when given: it is account-wide.
    assert_eq!(
        t["Resources"]["GitHubOidcProvider"]["Condition"],
        "CreateOidcProvider"
    );
}

#[test]
fn the_deploy_role_may_pass_only_the_execution_role_and_not_touch_the_bootstrap_stack() {
    let t = template();
    let s = statements(properties(&t, "DeployRole"));
    let pass = s.iter().find(|s| s["Action"] == "iam:PassRole").unwrap();
    assert_eq!(
        pass["Resource"],
        json!([{"Fn::GetAtt": ["ExecutionRole", "Arn"]}])
    );
    assert_eq!(
        pass["Condition"]["StringEquals"]["iam:PassedToService"],
        "cloudformation.amazonaws.com"
    );
    let deny = s.iter().find(|s| s["Effect"] == "Deny").unwrap();
    assert!(
        deny["Resource"][0]["Fn::Sub"]
            .as_str()
            .unwrap()
            .ends_with(":stack/groupgate-bootstrap/*")
    );
    assert!(
        !s.iter()
            .any(|s| s["Action"].to_string().contains("iam:Create"))
    );
}

#[test]
fn the_execution_role_creates_roles_only_under_the_product_path_with_the_boundary() {
    let t = template();
    let s = statements(properties(&t, "ExecutionRole"));
    let create = s
        .iter()
        .find(|s| s["Sid"] == "CreateRolesOnlyWithTheBoundary")
        .unwrap();
    assert_eq!(
        create["Condition"],
        json!({"StringEquals": {"iam:PermissionsBoundary": {"Ref": "PermissionsBoundary"}}})
    );
    assert!(
        create["Resource"][0]["Fn::Sub"]
            .as_str()
            .unwrap()
            .ends_with(":role/groupgate/*")
    );
    // Its own and the deploy role live on another path, out of its reach.
    for id in ["ExecutionRole", "DeployRole", "ApiGatewayCloudWatchRole"] {
        assert_eq!(properties(&t, id)["Path"], "/groupgate-bootstrap/", "{id}");
        assert!(
            properties(&t, id)["RoleName"]["Fn::Sub"]
                .as_str()
                .unwrap()
                .ends_with("-${AWS::Region}"),
            "{id}: IAM names are global, so they carry the region"
        );
    }
    let kinds: Vec<&Value> = t["Resources"]
        .as_object()
        .unwrap()
        .values()
        .map(|r| &r["Type"])
        .collect();
    assert!(kinds.contains(&&json!("AWS::ApiGateway::Account")));
}

/// moto creates what it implements and skips the rest without failing the stack.
const SKIPPED_BY_MOTO: &[&str] = &[
    "ApiGatewayAccount",
    "ArtifactBucketPolicy",
    "GitHubOidcProvider",
];

#[tokio::test]
async fn the_bootstrap_stack_reaches_create_complete_in_moto() {
    let moto = Moto::start().await;
    let cfn = aws_sdk_cloudformation::Client::new(&moto.sdk_config_in_new_account().await);
    let name = unique("bootstrap").replace('-', "");
    let t = template();
    let body = t.to_string();
    let request = StackRequest {
        name: &name,
        template_body: &body,
        template_url: None,
        parameters: vec![("GitHubRepository".into(), "groupgate/groupgate".into())],
        capabilities: vec![Capability::CapabilityNamedIam],
        role_arn: None,
        protected: &[],
        allow_destructive: false,
    };
    let polling = Polling {
        interval: Duration::from_millis(50),
        attempts: 600,
    };
    assert_eq!(
        deploy_stack(&cfn, &request, polling).await.unwrap().outcome,
        Outcome::Created
    );
    let skipped = common::not_created(&cfn, &name, &t).await;
    assert_eq!(
        skipped,
        SKIPPED_BY_MOTO.iter().map(|id| id.to_string()).collect(),
        "moto's skipped set changed"
    );
}
