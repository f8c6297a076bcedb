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

/// Joins a template's `Fn::Join` of literals and parameter `Ref`s with `parameters`' values.
fn join(value: &Value, parameters: &[(&str, &str)]) -> String {
    let parts = value["Fn::Join"][1].as_array().unwrap();
    parts
        .iter()
        .map(|p| match p {
            Value::String(s) => s.clone(),
            _ => {
                let name = p["Ref"].as_str().unwrap();
                parameters
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
                    .unwrap_or_else(|| panic!("no value for parameter {name}"))
            }
        })
        .collect()
}

#[test]
fn only_the_deploy_workflow_on_main_of_the_repository_by_its_ids_can_assume_the_deploy_role() {
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
    let deployer = bootstrap::Deployer {
        repository: "octo-org/groupgate".into(),
        repository_id: "456789".into(),
        owner_id: "123456".into(),
        environment: "production".into(),
        branch: "main".into(),
        workflow: ".github/workflows/deploy.yml".into(),
    };
    let values = [
        ("GitHubRepository", "octo-org/groupgate"),
        ("GitHubRepositoryId", "456789"),
        ("GitHubOwnerId", "123456"),
        ("GitHubEnvironment", "production"),
        ("GitHubBranch", "main"),
        ("DeployWorkflow", ".github/workflows/deploy.yml"),
    ];
    let subject = join(
        &condition["token.actions.githubusercontent.com:sub"],
        &values,
    );
    // The exact claim GitHub writes under the subject template `groupgate bootstrap` prints.
    assert_eq!(
        subject,
        "repository_owner_id:123456:repository_id:456789:environment:production:ref:refs/heads/main:job_workflow_ref:octo-org/groupgate/.github/workflows/deploy.yml@refs/heads/main"
    );
    assert_eq!(subject, deployer.subject());
    assert_eq!(
        deployer.subject_template()["include_claim_keys"],
        json!(bootstrap::SUBJECT_CLAIMS)
    );
    // A run on another branch carries that branch in `ref` and `job_workflow_ref`.
    let other = bootstrap::Deployer {
        branch: "feature".into(),
        ..deployer.clone()
    };
    assert_ne!(other.subject(), subject);
    // The account's existing provider is reused when there is one: it is account-wide, and
    // kept when this stack is deleted.
    let provider = &t["Resources"]["GitHubOidcProvider"];
    assert_eq!(provider["Condition"], "CreateOidcProvider");
    assert_eq!(provider["DeletionPolicy"], "RetainExceptOnCreate");
    assert_eq!(provider["UpdateReplacePolicy"], "Retain");
}

#[test]
fn the_deploy_role_may_pass_only_the_execution_role_and_not_touch_the_bootstrap_stack() {
    let t = template();
    let s = statements(properties(&t, "DeployRole"));
    let pass = s
        .iter()
        .find(|s| s["Action"] == json!(["iam:PassRole"]))
        .unwrap();
    assert_eq!(
        pass["Resource"],
        json!([{"Fn::GetAtt": ["ExecutionRole", "Arn"]}])
    );
    assert_eq!(
        pass["Condition"]["StringEquals"]["iam:PassedToService"],
        "cloudformation.amazonaws.com"
    );
    let deny = s
        .iter()
        .find(|s| s["Sid"] == "NotTheBootstrapStack")
        .unwrap();
    assert_eq!(deny["Effect"], "Deny");
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
            .ends_with(":role/groupgate/${StackNamePrefix}*")
    );
    // Its own and the deploy role live on another path, out of its reach.
    for id in ["ExecutionRole", "DeployRole", "ApiGatewayCloudWatchRole"] {
        assert_eq!(properties(&t, id)["Path"], "/groupgate-bootstrap/", "{id}");
    }
    for id in ["ExecutionRole", "DeployRole"] {
        assert!(
            properties(&t, id)["RoleName"]["Fn::Sub"]
                .as_str()
                .unwrap()
                .ends_with("-${AWS::Region}"),
            "{id}: IAM names are global, so they carry the region"
        );
    }
}

#[test]
fn the_api_gateway_logging_role_outlives_the_stack_and_the_setting_is_made_by_the_command() {
    let t = template();
    let role = &t["Resources"]["ApiGatewayCloudWatchRole"];
    // The account setting keeps naming it after a stack delete; a generated name lets the
    // next bootstrap make another one without colliding with the kept one.
    assert_eq!(role["DeletionPolicy"], "RetainExceptOnCreate");
    assert!(role["Properties"].get("RoleName").is_none());
    // The setting is made through the API after the stack, with retries (CloudFormation's
    // `AWS::ApiGateway::Account` fails while the new role propagates).
    let kinds: Vec<&Value> = t["Resources"]
        .as_object()
        .unwrap()
        .values()
        .map(|r| &r["Type"])
        .collect();
    assert!(!kinds.contains(&&json!("AWS::ApiGateway::Account")));
    assert_eq!(
        t["Outputs"]["ApiGatewayCloudWatchRoleArn"]["Value"],
        json!({"Fn::GetAtt": ["ApiGatewayCloudWatchRole", "Arn"]})
    );
}

/// moto creates what it implements and skips the rest without failing the stack.
const SKIPPED_BY_MOTO: &[&str] = &["ArtifactBucketPolicy", "GitHubOidcProvider"];

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
        parameters: vec![
            ("GitHubRepository".into(), "groupgate/groupgate".into()),
            ("GitHubRepositoryId".into(), "456789".into()),
            ("GitHubOwnerId".into(), "123456".into()),
        ],
        capabilities: vec![Capability::CapabilityNamedIam],
        role_arn: None,
        protected: &[],
        allow_destructive: false,
    };
    let polling = Polling {
        interval: Duration::from_millis(50),
        limit: Duration::from_secs(30),
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

/// `groupgate bootstrap`'s account-wide parts, against moto (IAM, CloudFormation, S3,
/// API Gateway) and, for API Gateway's refusals while IAM propagates, aws-smithy-mocks: moto
/// never refuses a role it has just created.
mod lifecycle {
    use std::time::Duration;

    use aws_sdk_apigateway::operation::get_account::GetAccountOutput;
    use aws_sdk_apigateway::operation::update_account::{UpdateAccountError, UpdateAccountOutput};
    use aws_sdk_apigateway::types::error::BadRequestException;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use groupgate_cli::operations::bootstrap::{
        self as operations, BootstrapParams, LoggingRole, set_api_gateway_logging_role,
    };
    use groupgate_cli::operations::cloudformation::Polling;
    use groupgate_cli::stack::bootstrap;
    use groupgate_testkit::Moto;

    const FAST: Polling = Polling {
        interval: Duration::from_millis(1),
        limit: Duration::from_millis(600),
    };

    fn params() -> BootstrapParams {
        BootstrapParams {
            deployer: bootstrap::Deployer {
                repository: "octo-org/groupgate".into(),
                repository_id: "456789".into(),
                owner_id: "123456".into(),
                environment: "production".into(),
                branch: "main".into(),
                workflow: ".github/workflows/deploy.yml".into(),
            },
            oidc_provider_arn: None,
            stack_name_prefix: "groupgate".into(),
        }
    }

    async fn parameter(cfn: &aws_sdk_cloudformation::Client, key: &str) -> String {
        let stacks = cfn
            .describe_stacks()
            .stack_name(bootstrap::STACK_NAME)
            .send()
            .await
            .unwrap();
        stacks.stacks()[0]
            .parameters()
            .iter()
            .find(|p| p.parameter_key() == Some(key))
            .and_then(|p| p.parameter_value())
            .unwrap_or_default()
            .to_owned()
    }

    #[tokio::test]
    async fn a_second_region_reuses_the_accounts_github_provider_without_a_flag() {
        let moto = Moto::start().await;
        let aws = moto.sdk_config_in_new_account().await;
        // The provider the first region's bootstrap made (and a stack delete keeps).
        let iam = aws_sdk_iam::Client::new(&aws);
        let arn = iam
            .create_open_id_connect_provider()
            .url("https://token.actions.githubusercontent.com")
            .client_id_list("sts.amazonaws.com")
            .send()
            .await
            .unwrap()
            .open_id_connect_provider_arn
            .unwrap();
        operations::bootstrap(&aws, params(), FAST).await.unwrap();
        let cfn = aws_sdk_cloudformation::Client::new(&aws);
        assert_eq!(parameter(&cfn, "GitHubOidcProviderArn").await, arn);
        // Bootstrapping again keeps using it.
        operations::bootstrap(&aws, params(), FAST).await.unwrap();
        assert_eq!(parameter(&cfn, "GitHubOidcProviderArn").await, arn);
    }

    #[tokio::test]
    async fn a_github_provider_without_the_sts_audience_is_refused_by_name() {
        let moto = Moto::start().await;
        let aws = moto.sdk_config_in_new_account().await;
        aws_sdk_iam::Client::new(&aws)
            .create_open_id_connect_provider()
            .url("https://token.actions.githubusercontent.com")
            .client_id_list("https://github.com/octo-org")
            .send()
            .await
            .unwrap();
        let error = operations::bootstrap(&aws, params(), FAST)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("does not accept the audience `sts.amazonaws.com`"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn bad_ids_are_refused_before_anything_is_deployed() {
        let moto = Moto::start().await;
        let aws = moto.sdk_config_in_new_account().await;
        let mut p = params();
        p.deployer.repository_id = "octo-org/groupgate".into();
        let error = operations::bootstrap(&aws, p, FAST)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("`--repository-id octo-org/groupgate` is not a number"),
            "{error}"
        );
        let cfn = aws_sdk_cloudformation::Client::new(&aws);
        assert!(
            cfn.describe_stacks()
                .stack_name(bootstrap::STACK_NAME)
                .send()
                .await
                .is_err()
        );
    }

    fn bad_request() -> UpdateAccountError {
        UpdateAccountError::BadRequestException(
            BadRequestException::builder()
                .message("The role ARN does not have required permissions set to API Gateway")
                .build(),
        )
    }

    #[tokio::test]
    async fn the_logging_role_is_set_once_api_gateway_stops_refusing_it_while_iam_propagates() {
        let moto = Moto::start().await;
        let iam = aws_sdk_iam::Client::new(&moto.sdk_config_in_new_account().await);
        let get = mock!(aws_sdk_apigateway::Client::get_account)
            .then_output(|| GetAccountOutput::builder().build());
        let update = mock!(aws_sdk_apigateway::Client::update_account)
            .sequence()
            .error(bad_request)
            .times(2)
            .output(|| UpdateAccountOutput::builder().build())
            .build();
        let apigateway = mock_client!(aws_sdk_apigateway, RuleMode::MatchAny, [&get, &update]);
        let role = "arn:aws:iam::123456789012:role/groupgate-bootstrap/logs";
        let outcome = set_api_gateway_logging_role(&apigateway, &iam, role, FAST)
            .await
            .unwrap();
        assert_eq!(outcome, LoggingRole::Set);
        assert_eq!(update.num_calls(), 3, "two refusals, then accepted");
    }

    #[tokio::test]
    async fn another_applications_working_logging_role_is_left_alone() {
        let moto = Moto::start().await;
        let iam = aws_sdk_iam::Client::new(&moto.sdk_config_in_new_account().await);
        let theirs = iam
            .create_role()
            .role_name("billing-apigw-logs")
            .assume_role_policy_document("{}")
            .send()
            .await
            .unwrap()
            .role
            .unwrap()
            .arn;
        let current = theirs.clone();
        let get = mock!(aws_sdk_apigateway::Client::get_account).then_output(move || {
            GetAccountOutput::builder()
                .cloudwatch_role_arn(current.clone())
                .build()
        });
        let update = mock!(aws_sdk_apigateway::Client::update_account)
            .then_output(|| UpdateAccountOutput::builder().build());
        let apigateway = mock_client!(aws_sdk_apigateway, RuleMode::MatchAny, [&get, &update]);
        let ours = "arn:aws:iam::123456789012:role/groupgate-bootstrap/logs";
        let outcome = set_api_gateway_logging_role(&apigateway, &iam, ours, FAST)
            .await
            .unwrap();
        assert_eq!(outcome, LoggingRole::KeptExisting(theirs));
        assert_eq!(update.num_calls(), 0);
    }

    #[tokio::test]
    async fn a_setting_naming_a_deleted_role_is_replaced() {
        let moto = Moto::start().await;
        let iam = aws_sdk_iam::Client::new(&moto.sdk_config_in_new_account().await);
        let get = mock!(aws_sdk_apigateway::Client::get_account).then_output(|| {
            GetAccountOutput::builder()
                .cloudwatch_role_arn("arn:aws:iam::123456789012:role/gone")
                .build()
        });
        let update = mock!(aws_sdk_apigateway::Client::update_account)
            .then_output(|| UpdateAccountOutput::builder().build());
        let apigateway = mock_client!(aws_sdk_apigateway, RuleMode::MatchAny, [&get, &update]);
        let ours = "arn:aws:iam::123456789012:role/groupgate-bootstrap/logs";
        let outcome = set_api_gateway_logging_role(&apigateway, &iam, ours, FAST)
            .await
            .unwrap();
        assert_eq!(outcome, LoggingRole::Set);
        assert_eq!(update.num_calls(), 1);
    }
}
