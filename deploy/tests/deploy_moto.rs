#![cfg(test)]
//! `groupgate bootstrap` then `groupgate deploy`, end to end against moto's server over the
//! wire: a deploy, a second deploy with no change, the seeding and the cache flush.
//!
//! Where moto falls short, the gap is named and covered another way:
//! - its CloudFormation skips `AWS::ApiGateway::Account`, so the test first shows that deploy
//!   refuses a region whose API Gateway has no CloudWatch role, then sets it as the skipped
//!   resource would;
//! - its change sets compute no outputs: the deploy derives them from the stack's resources
//!   (`outputs_from_resources`, for emulators only);
//! - it refuses an unchanged template at `CreateChangeSet`, where AWS returns a FAILED change
//!   set (both are handled in `cloudformation`, and tested in `tests/cloudformation.rs`);
//! - it has no `FlushStageAuthorizersCache` (nor the stage, which its CloudFormation skips): the
//!   rehearsal shows the call is made and fails there; a mocked API Gateway checks the two
//!   flushes and their arguments.

use std::path::PathBuf;
use std::sync::LazyLock;
use std::time::Duration;

use aws_sdk_apigateway::operation::flush_stage_authorizers_cache::FlushStageAuthorizersCacheOutput;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use deploy::operations::cloudformation::{Outcome, Polling};
use deploy::operations::deploy::{DeployRequest, deploy, flush_authorizer_cache};
use deploy::operations::{self, BootstrapParams};
use deploy::stack::{self, groups};
use groupgate_testkit::{Moto, unique};

const FAST: Polling = Polling {
    interval: Duration::from_millis(50),
    attempts: 1200,
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
}

impl Inputs {
    fn new(tag: &str) -> Self {
        Self {
            assets: stand_in_assets(tag),
            out: std::env::temp_dir().join(unique("out")),
            settings: stack::Settings::load(&stack::Settings::default_path()).unwrap(),
            name: unique("groupgate"),
        }
    }

    fn request(&self) -> DeployRequest<'_> {
        DeployRequest {
            stack_name: &self.name,
            policies: &POLICIES,
            assets_dir: &self.assets,
            settings: &self.settings,
            parameters: &[],
            allow_destructive: false,
            out: &self.out,
            flush_wait: Duration::ZERO,
            outputs_from_resources: true,
            polling: FAST,
        }
    }
}

fn deployer() -> deploy::stack::bootstrap::Deployer {
    deploy::stack::bootstrap::Deployer {
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
    operations::bootstrap(aws, params, FAST).await.unwrap();
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
    assert_eq!(first.seeded, ["admin", "pet-veterinarian", "pet-viewer"]);
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
    let table = &first.outputs["PolicyTableName"];
    let items = dynamodb
        .scan()
        .table_name(table)
        .send()
        .await
        .unwrap()
        .items
        .unwrap();
    assert_eq!(items.len(), 3);
    for item in &items {
        let role = item["role_arn"].as_s().unwrap();
        assert!(
            role.contains(&format!(":role/groupgate/{}/groups/", inputs.name)),
            "{role}"
        );
    }
    let pets = dynamodb
        .scan()
        .table_name(&first.outputs["PetsTableName"])
        .select(aws_sdk_dynamodb::types::Select::Count)
        .send()
        .await
        .unwrap();
    assert!(pets.count > 1, "the default pets are seeded");
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(inputs.out.join("outputs.json")).unwrap()).unwrap();
    assert_eq!(written["PolicyTableName"], first.outputs["PolicyTableName"]);

    // The same build again: nothing to upload, no stack change, seeded again, and the flush is
    // attempted (moto has no FlushStageAuthorizersCache).
    let second = deploy(&aws, &inputs.request()).await.unwrap();
    assert_eq!(second.outcome, Outcome::NoChanges);
    assert!(second.uploaded.is_empty(), "{:?}", second.uploaded);
    assert_eq!(second.seeded.len(), 3);
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
    let parameters = ["AuthorizerResultTtl=0".to_owned()];
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
