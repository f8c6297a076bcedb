#![cfg(test)]
//! `groupgate bootstrap` then `groupgate deploy`, end to end against moto's server over the
//! wire: a deploy, a second deploy with no change, the seeding and the cache flush.
//!
//! Where moto falls short, the gap is named and covered another way:
//! - its CloudFormation skips `AWS::ApiGateway::Account`, so the test first shows that deploy
//!   refuses a region whose API Gateway has no CloudWatch role, then sets it as the skipped
//!   resource would;
//! - its CloudFormation ignores the artifact bucket's `VersioningConfiguration`, so versioning
//!   is turned on after the bootstrap as the template asks (a deploy refuses an unversioned
//!   bucket: it could not pin what it checked);
//! - its change sets compute no outputs: the deploy derives them from the stack's resources
//!   (`outputs_from_resources`, for emulators only);
//! - it refuses an unchanged template at `CreateChangeSet`, where AWS returns a FAILED change
//!   set (both are handled in `cloudformation`, and tested in `tests/cloudformation.rs`);
//! - it has no `FlushStageAuthorizersCache` (nor the stage, which its CloudFormation skips): the
//!   acceptance run shows the call is made and fails there; a mocked API Gateway checks the two
//!   flushes and their arguments;
//! - its CloudFormation skips the stage, so `CreateDeployment` on the stage name (the redeploy
//!   after an update removed API parts) creates the stage in moto where AWS moves it;
//! - it keeps the checksum a writer sends without checking it against the bytes, where S3
//!   refuses a mismatch; the planted objects here are written without a SHA-256, or with their
//!   own;
//! - its Lambda reads a function's key, not the `S3ObjectVersion` the template pins, so the
//!   pinned version is checked in the stack's template and read back from S3.

use std::path::PathBuf;
use std::sync::LazyLock;
use std::time::Duration;

use aws_sdk_apigateway::operation::flush_stage_authorizers_cache::FlushStageAuthorizersCacheOutput;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use groupgate_cli::operations::bootstrap::{self as bootstrapping, BootstrapParams};
use groupgate_cli::operations::cloudformation::{Outcome, Polling};
use groupgate_cli::operations::deploy::{DeployRequest, deploy, flush_authorizer_cache};
use groupgate_cli::stack::{self, groups};
use groupgate_testkit::{Moto, unique};

const FAST: Polling = Polling {
    interval: Duration::from_millis(50),
    limit: Duration::from_secs(60),
};

/// A folder of stand-in zips, one per function, for a deploy that never runs them.
fn stand_in_assets(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(unique("groupgate-assets"));
    for function in stack::FUNCTIONS {
        std::fs::create_dir_all(dir.join(function)).unwrap();
        std::fs::write(
            dir.join(function).join("bootstrap.zip"),
            format!("stand-in zip of {function} {tag}"),
        )
        .unwrap();
    }
    dir
}

static POLICIES: LazyLock<PathBuf> = LazyLock::new(groups::default_dir);

/// One stack's deploy inputs: stand-in zips, an output folder, the committed settings and a
/// fresh stack name.
struct Inputs {
    assets: PathBuf,
    out: PathBuf,
    settings: stack::Settings,
    name: String,
    /// A first deploy must name where the hosted UI sends users: it has no default.
    parameters: Vec<String>,
}

impl Inputs {
    fn new(tag: &str) -> Self {
        Self {
            assets: stand_in_assets(tag),
            out: std::env::temp_dir().join(unique("out")),
            settings: stack::Settings::load(&stack::Settings::default_path()).unwrap(),
            name: unique("groupgate"),
            parameters: vec!["HostedUiCallbackUrl=https://app.example.com/callback".to_owned()],
        }
    }

    fn request(&self) -> DeployRequest<'_> {
        DeployRequest {
            stack_name: &self.name,
            policies: &POLICIES,
            assets_dir: &self.assets,
            settings: &self.settings,
            parameters: &self.parameters,
            allow_destructive: false,
            out: &self.out,
            flush_wait: Duration::ZERO,
            outputs_from_resources: true,
            polling: FAST,
        }
    }
}

fn deployer() -> groupgate_stack::bootstrap::Deployer {
    groupgate_stack::bootstrap::Deployer {
        repository: "groupgate/groupgate".into(),
        repository_id: "456789".into(),
        owner_id: "123456".into(),
        environment: "production".into(),
        branch: "main".into(),
        workflow: ".github/workflows/deploy.yml".into(),
    }
}

async fn bootstrap(aws: &aws_config::SdkConfig) {
    let params = BootstrapParams {
        deployer: deployer(),
        oidc_provider_arn: None,
        stack_name_prefix: "groupgate".into(),
    };
    bootstrapping::bootstrap(aws, params, FAST).await.unwrap();
    // What the bucket's VersioningConfiguration does, which moto's CloudFormation ignores.
    let s3 = aws_sdk_s3::Client::new(aws);
    s3.put_bucket_versioning()
        .bucket(artifact_bucket(&s3).await)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn a_region_that_is_not_bootstrapped_is_refused_with_the_command_to_run() {
    let moto = Moto::start().await;
    let aws = moto.sdk_config_in_new_account().await;
    let inputs = Inputs::new("a");
    let error = deploy(&aws, &inputs.request())
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("is not bootstrapped"), "{error}");
    assert!(error.contains("groupgate bootstrap"), "{error}");
    assert!(error.contains("groupgate-assets-"), "{error}");
}

#[tokio::test]
async fn bootstrap_then_deploy_then_an_unchanged_redeploy() {
    let moto = Moto::start().await;
    let aws = moto.sdk_config_in_new_account().await;
    bootstrap(&aws).await;
    let inputs = Inputs::new("b");

    // The bootstrap named its logging role in API Gateway's account setting.
    let account = aws_sdk_apigateway::Client::new(&aws)
        .get_account()
        .send()
        .await
        .unwrap();
    assert!(
        account
            .cloudwatch_role_arn
            .unwrap_or_default()
            .contains(":role/groupgate-bootstrap/"),
        "the bootstrap sets API Gateway's CloudWatch role"
    );

    let first = deploy(&aws, &inputs.request()).await.unwrap();
    assert_eq!(first.outcome, Outcome::Created);
    assert_eq!(first.uploaded.len(), 2, "{:?}", first.uploaded);
    // Every definition of the policies folder, by key, whatever it holds.
    let keys: Vec<String> = groups::load(&POLICIES)
        .unwrap()
        .into_iter()
        .map(|d| d.key)
        .collect();
    assert_eq!(first.seeded, keys);
    assert_eq!(first.flushes, Ok(0), "a new stage has no cache to flush");

    // The zips are in the bootstrap's bucket under their content-addressed keys.
    let s3 = aws_sdk_s3::Client::new(&aws);
    let bucket = s3
        .list_buckets()
        .send()
        .await
        .unwrap()
        .buckets
        .unwrap_or_default()
        .into_iter()
        .filter_map(|b| b.name)
        .find(|b| b.starts_with("groupgate-assets-"))
        .unwrap();
    for key in &first.uploaded {
        s3.head_object()
            .bucket(&bucket)
            .key(key)
            .send()
            .await
            .unwrap();
    }

    // The policy table holds every group with the role ARN the stack created for it.
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    let table = &first.outputs.policy_table_name;
    let items = dynamodb
        .scan()
        .table_name(table)
        .send()
        .await
        .unwrap()
        .items
        .unwrap();
    assert_eq!(items.len(), keys.len());
    // Every group's item names its role; a scope's has none (a machine client has no role).
    for item in items
        .iter()
        .filter(|i| !i["group"].as_s().unwrap().starts_with("scope:"))
    {
        let role = item["role_arn"].as_s().unwrap();
        assert!(
            role.contains(&format!(":role/groupgate/{}/groups/", inputs.name)),
            "{role}"
        );
    }
    let pets = dynamodb
        .scan()
        .table_name(&first.outputs.pets_table_name)
        .select(aws_sdk_dynamodb::types::Select::Count)
        .send()
        .await
        .unwrap();
    assert!(pets.count > 1, "the default pets are seeded");
    // The stack's description, as `groupgate describe --stack` prints it.
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(inputs.out.join("stack.json")).unwrap()).unwrap();
    assert_eq!(
        written["policy_table_name"].as_str(),
        Some(first.outputs.policy_table_name.as_str())
    );
    assert!(written["group_role_arns"]["admin"].is_string(), "{written}");
    assert!(written.get("local").is_none(), "{written}");

    // The same build again: nothing to upload, no stack change, seeded again, and the flush is
    // attempted (moto has no FlushStageAuthorizersCache).
    let second = deploy(&aws, &inputs.request()).await.unwrap();
    assert_eq!(second.outcome, Outcome::NoChanges);
    assert!(second.uploaded.is_empty(), "{:?}", second.uploaded);
    assert!(!second.redeployed);
    assert_eq!(second.seeded, keys);
    let flush = second.flushes.unwrap_err();
    assert!(flush.contains("FlushStageAuthorizersCache"), "{flush}");

    // A new build uploads only its new zips and updates the stack.
    let rebuilt = stand_in_assets("c");
    let mut request = inputs.request();
    request.assets_dir = &rebuilt;
    let third = deploy(&aws, &request).await.unwrap();
    assert_eq!(third.outcome, Outcome::Updated);
    assert_eq!(third.uploaded.len(), 2);
}

#[tokio::test]
async fn an_unknown_parameter_is_refused_before_anything_is_deployed() {
    let moto = Moto::start().await;
    let aws = moto.sdk_config_in_new_account().await;
    bootstrap(&aws).await;
    let inputs = Inputs::new("d");
    let parameters = [
        "AuthorizerResultTtl=0".to_owned(),
        "HostedUiCallbackUrl=https://app.example.com/callback".to_owned(),
    ];
    let mut request = inputs.request();
    request.parameters = &parameters;
    let error = deploy(&aws, &request).await.unwrap_err().to_string();
    assert!(
        error.contains("the template has no parameter `AuthorizerResultTtl`"),
        "{error}"
    );
    let cfn = aws_sdk_cloudformation::Client::new(&aws);
    assert!(
        cfn.describe_stacks()
            .stack_name(&inputs.name)
            .send()
            .await
            .is_err(),
        "no stack was created"
    );
}

#[tokio::test]
async fn a_bootstrap_older_than_the_tool_is_refused_before_anything_is_deployed() {
    let moto = Moto::start().await;
    let aws = moto.sdk_config_in_new_account().await;
    bootstrap(&aws).await;
    let s3 = aws_sdk_s3::Client::new(&aws);
    let bucket = artifact_bucket(&s3).await;
    // The bootstrap tags its bucket with its version (moto's CloudFormation applies it).
    let tags = s3
        .get_bucket_tagging()
        .bucket(&bucket)
        .send()
        .await
        .unwrap()
        .tag_set;
    let version = tags
        .iter()
        .find(|t| t.key == groupgate_stack::bootstrap::VERSION_TAG)
        .map(|t| t.value.clone());
    assert_eq!(
        version,
        Some(groupgate_stack::bootstrap::BOOTSTRAP_VERSION.to_string())
    );

    let cfn = aws_sdk_cloudformation::Client::new(&aws);
    let inputs = Inputs::new("v");
    // The first bootstrap had no tag at all: version 1.
    s3.delete_bucket_tagging()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let error = deploy(&aws, &inputs.request())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("is version 1, older than this tool needs"),
        "{error}"
    );
    assert!(error.contains("groupgate bootstrap"), "{error}");
    assert!(
        cfn.describe_stacks()
            .stack_name(&inputs.name)
            .send()
            .await
            .is_err(),
        "no stack was created"
    );

    // A tag that is not a number is named, not read as some version.
    s3.put_bucket_tagging()
        .bucket(&bucket)
        .tagging(
            aws_sdk_s3::types::Tagging::builder()
                .tag_set(
                    aws_sdk_s3::types::Tag::builder()
                        .key(groupgate_stack::bootstrap::VERSION_TAG)
                        .value("two")
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let error = deploy(&aws, &inputs.request())
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("is `two`, not a version number"), "{error}");
}

/// The artifact bucket the bootstrap made in `aws`'s account.
async fn artifact_bucket(s3: &aws_sdk_s3::Client) -> String {
    s3.list_buckets()
        .send()
        .await
        .unwrap()
        .buckets
        .unwrap_or_default()
        .into_iter()
        .filter_map(|b| b.name)
        .find(|b| b.starts_with("groupgate-assets-"))
        .unwrap()
}

/// Each function's code in the deployed template: (key, pinned version).
async fn deployed_code(cfn: &aws_sdk_cloudformation::Client, name: &str) -> Vec<(String, String)> {
    let body = cfn
        .get_template()
        .stack_name(name)
        .send()
        .await
        .unwrap()
        .template_body
        .unwrap();
    let template: serde_json::Value = serde_json::from_str(&body).unwrap();
    template["Resources"]
        .as_object()
        .unwrap()
        .values()
        .filter(|r| r["Type"] == "AWS::Lambda::Function")
        .map(|r| {
            let code = &r["Properties"]["Code"];
            (
                code["S3Key"].as_str().unwrap().to_owned(),
                code["S3ObjectVersion"]
                    .as_str()
                    .unwrap_or_else(|| panic!("no S3ObjectVersion pinned: {code}"))
                    .to_owned(),
            )
        })
        .collect()
}

/// Issue 20 (3): an object planted at an asset's key (other code, under the key the next build
/// will have) is not shipped because the key exists: its SHA-256 is not the local zip's, so the
/// deploy writes the zip again and the template pins that version. A second plant, after the
/// first deploy, is caught the same way.
#[tokio::test]
async fn a_planted_object_at_an_asset_key_is_not_shipped() {
    let moto = Moto::start().await;
    let aws = moto.sdk_config_in_new_account().await;
    bootstrap(&aws).await;
    let inputs = Inputs::new("planted");
    let s3 = aws_sdk_s3::Client::new(&aws);
    let bucket = artifact_bucket(&s3).await;
    let assets = stack::assets::Assets::from_dir(&inputs.assets, &stack::FUNCTIONS).unwrap();
    let plant = |body: &'static [u8]| {
        let (s3, bucket, assets) = (s3.clone(), bucket.clone(), assets.clone());
        async move {
            for asset in &assets.assets {
                s3.put_object()
                    .bucket(&bucket)
                    .key(&asset.s3_key)
                    .body(body.to_vec().into())
                    .send()
                    .await
                    .unwrap();
            }
        }
    };
    let shipped = |key: String, version: String| {
        let (s3, bucket) = (s3.clone(), bucket.clone());
        async move {
            s3.get_object()
                .bucket(&bucket)
                .key(&key)
                .version_id(&version)
                .send()
                .await
                .unwrap()
                .body
                .collect()
                .await
                .unwrap()
                .into_bytes()
        }
    };
    let local = |key: &str| {
        let asset = assets.assets.iter().find(|a| a.s3_key == key).unwrap();
        std::fs::read(&asset.path).unwrap()
    };

    plant(b"planted code").await;
    let first = deploy(&aws, &inputs.request()).await.unwrap();
    assert_eq!(first.outcome, Outcome::Created);
    assert_eq!(first.uploaded.len(), 2, "both planted keys written again");
    let cfn = aws_sdk_cloudformation::Client::new(&aws);
    let code = deployed_code(&cfn, &inputs.name).await;
    assert_eq!(code.len(), 2);
    for (key, version) in code {
        assert_eq!(shipped(key.clone(), version).await, local(&key), "{key}");
    }

    // Planted again over the deployed zips: the next deploy writes them again, pins the new
    // versions, and so updates the functions.
    plant(b"planted later").await;
    let second = deploy(&aws, &inputs.request()).await.unwrap();
    assert_eq!(second.uploaded.len(), 2);
    assert_eq!(second.outcome, Outcome::Updated);
    for (key, version) in deployed_code(&cfn, &inputs.name).await {
        assert_eq!(shipped(key.clone(), version).await, local(&key), "{key}");
    }

    // Nothing planted: the same versions, no stack change.
    let third = deploy(&aws, &inputs.request()).await.unwrap();
    assert!(third.uploaded.is_empty(), "{:?}", third.uploaded);
    assert_eq!(third.outcome, Outcome::NoChanges);
}

/// An API with a GET and (when `with_post`) a POST on `/pets`, and a deployment on stage
/// `prod` that depends on them, named as the stack names its own (a new name for a new API).
fn api_template(with_post: bool) -> String {
    let method = |verb: &str| {
        serde_json::json!({
            "Type": "AWS::ApiGateway::Method",
            "Properties": {
                "RestApiId": {"Ref": "Api"},
                "ResourceId": {"Ref": "Pets"},
                "HttpMethod": verb,
                "AuthorizationType": "NONE",
                // moto's CloudFormation builds only integrations with a method and a URI.
                "Integration": {
                    "Type": "HTTP",
                    "IntegrationHttpMethod": verb,
                    "Uri": "https://pets.example.com/pets",
                },
            },
        })
    };
    let mut resources = serde_json::json!({
        "Api": {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Name": "pets"}},
        "Pets": {"Type": "AWS::ApiGateway::Resource", "Properties": {
            "RestApiId": {"Ref": "Api"},
            "ParentId": {"Fn::GetAtt": ["Api", "RootResourceId"]},
            "PathPart": "pets",
        }},
        "PetsGet": method("GET"),
    });
    let mut methods = vec!["PetsGet"];
    if with_post {
        resources["PetsPost"] = method("POST");
        methods.push("PetsPost");
    }
    let deployment = if with_post {
        "DeploymentA"
    } else {
        "DeploymentB"
    };
    resources[deployment] = serde_json::json!({
        "Type": "AWS::ApiGateway::Deployment",
        "DependsOn": methods,
        "Properties": {"RestApiId": {"Ref": "Api"}, "StageName": "prod"},
    });
    serde_json::json!({"Resources": resources}).to_string()
}

/// Issue 19 (6): the update that removes a method moves the stage to the stack's new
/// deployment before CloudFormation deletes the method (its cleanup phase), so the stage would
/// go on serving it; the deploy then deploys the stage again. Over the wire: moto's change set
/// lists the removal, and moto's API Gateway moves the stage. (The product stack's only
/// removable methods, the CORS preflights, are MOCK integrations moto's CloudFormation cannot
/// build, so a small API stands in for it.)
#[tokio::test]
async fn an_update_that_removes_a_method_deploys_the_stage_again() {
    use groupgate_cli::operations::cloudformation::{StackRequest, deploy_stack};
    use groupgate_cli::operations::deploy::redeploy_after_removals;
    let moto = Moto::start().await;
    let aws = moto.sdk_config().await;
    let cfn = aws_sdk_cloudformation::Client::new(&aws);
    let apigateway = aws_sdk_apigateway::Client::new(&aws);
    let name = unique("api").replace('-', "");
    let request = |template| StackRequest {
        name: &name,
        template_body: template,
        template_url: None,
        parameters: Vec::new(),
        capabilities: Vec::new(),
        role_arn: None,
        protected: &[],
        allow_destructive: false,
    };
    let (with_post, without_post) = (api_template(true), api_template(false));

    let created = deploy_stack(&cfn, &request(&with_post), FAST)
        .await
        .unwrap();
    assert_eq!(created.outcome, Outcome::Created);
    let api = cfn
        .describe_stack_resource()
        .stack_name(&name)
        .logical_resource_id("Api")
        .send()
        .await
        .unwrap()
        .stack_resource_detail
        .unwrap()
        .physical_resource_id
        .unwrap();
    assert_eq!(
        redeploy_after_removals(&apigateway, &created, &api, "prod")
            .await
            .unwrap(),
        None,
        "a new stack has nothing removed"
    );

    let updated = deploy_stack(&cfn, &request(&without_post), FAST)
        .await
        .unwrap();
    assert_eq!(updated.outcome, Outcome::Updated);
    let redeployed = redeploy_after_removals(&apigateway, &updated, &api, "prod")
        .await
        .unwrap()
        .expect("a new deployment after removing PetsPost");
    let stage = apigateway
        .get_stage()
        .rest_api_id(&api)
        .stage_name("prod")
        .send()
        .await
        .unwrap();
    assert_eq!(stage.deployment_id.as_deref(), Some(redeployed.as_str()));
    let deployment = apigateway
        .get_deployment()
        .rest_api_id(&api)
        .deployment_id(&redeployed)
        .send()
        .await
        .unwrap();
    assert_eq!(
        deployment.description.as_deref(),
        Some("groupgate: after removing PetsPost")
    );
}

#[tokio::test]
async fn the_cache_is_flushed_twice_on_the_stage_with_the_wait_between() {
    let flush = mock!(aws_sdk_apigateway::Client::flush_stage_authorizers_cache)
        .match_requests(|r| r.rest_api_id() == Some("a1b2c3") && r.stage_name() == Some("prod"))
        .then_output(|| FlushStageAuthorizersCacheOutput::builder().build());
    let apigateway = mock_client!(aws_sdk_apigateway, RuleMode::MatchAny, [&flush]);
    let flushes = flush_authorizer_cache(&apigateway, "a1b2c3", "prod", Duration::from_millis(1))
        .await
        .unwrap();
    assert_eq!(flushes, 2);
    assert_eq!(flush.num_calls(), 2);
}
