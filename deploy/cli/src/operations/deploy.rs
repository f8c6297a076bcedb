//! `groupgate deploy`: the whole deploy of a product stack, the way `cdk deploy` does it.
//!
//! 1. Check that the account and region are bootstrapped: the artifact bucket is there, in this
//!    region, and API Gateway has a CloudWatch role for the stage's access logs.
//! 2. Synthesize the template from `policies/`, the built zips and the settings, and decide the
//!    change set ([`cloudformation::plan`]): a stack that needs a person, or a parameter without
//!    a default that nobody gives, is refused here, before anything is uploaded.
//! 3. Make sure each zip in the bucket is the local one ([`upload_assets`]), and pin the object
//!    version the template deploys.
//! 4. Create and execute a change set through the bootstrap's execution role
//!    ([`cloudformation::execute`]), refusing to replace or delete what holds data.
//! 5. If the update removed methods, resources or gateway responses, deploy the stage again
//!    ([`redeploy_stage`]).
//! 6. Read the outputs ([`StackOutputs`]: a missing or malformed one stops the deploy), write
//!    the stack's description (`stack.json`, as `groupgate describe` prints it), seed the
//!    policy table with the role ARNs they name, and the pets.
//! 7. Flush the stage's authorizer cache twice, the function's own policy cache TTL apart, so
//!    that a changed group policy applies within that TTL.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use aws_config::SdkConfig;
use aws_sdk_cloudformation::types::Capability;
use sha2::{Digest, Sha256};

use super::cloudformation::{self, Outcome, Polling, StackRequest};
use super::{seed, write_json};
use crate::stack::bootstrap::Bootstrapped;
use crate::stack::groups::{self, GroupDefinition};
use crate::stack::{self, Settings, StackOutputs, assets::Assets};

/// CloudFormation takes a template inline up to this many bytes; a larger one goes through S3.
const MAX_INLINE_TEMPLATE: usize = 51_200;

/// What to deploy, and how.
pub struct DeployRequest<'a> {
    pub stack_name: &'a str,
    pub policies: &'a Path,
    /// Where cargo-lambda wrote the zips (`<dir>/<function>/bootstrap.zip`).
    pub assets_dir: &'a Path,
    pub settings: &'a Settings,
    /// `Key=Value` overrides of the template's other parameters.
    pub parameters: &'a [String],
    pub allow_destructive: bool,
    /// Where the template, asset manifest and the stack's description are written.
    pub out: &'a Path,
    /// How long to wait between the two authorizer cache flushes.
    pub flush_wait: Duration,
    /// For emulators only: derive the outputs from the stack's resources when the stack reports
    /// none (moto's change sets compute no outputs).
    pub outputs_from_resources: bool,
    pub polling: Polling,
}

/// What a deploy did.
#[derive(Debug)]
pub struct DeployReport {
    pub outcome: Outcome,
    /// The S3 keys uploaded (the others held the same bytes already).
    pub uploaded: Vec<String>,
    /// Whether the stage was deployed again after the update removed API parts.
    pub redeployed: bool,
    pub outputs: StackOutputs,
    /// The groups written to the policy table.
    pub seeded: Vec<String>,
    /// How many authorizer cache flushes succeeded, or why one failed.
    pub flushes: Result<u32, String>,
}

/// The account, partition and region the SDK environment deploys to.
pub struct Target {
    pub partition: String,
    pub account: String,
    pub region: String,
}

impl Target {
    /// Asks STS who the caller is: the account and partition come from its ARN.
    pub async fn of(aws: &SdkConfig) -> anyhow::Result<Self> {
        let region = aws
            .region()
            .map(ToString::to_string)
            .context("no region: set AWS_REGION (or a profile's region)")?;
        let identity = aws_sdk_sts::Client::new(aws)
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| crate::aws::failed("STS GetCallerIdentity", e))?;
        let arn = identity.arn.unwrap_or_default();
        let partition = arn
            .strip_prefix("arn:")
            .and_then(|rest| rest.split(':').next())
            .filter(|p| !p.is_empty())
            .with_context(|| format!("STS named the caller `{arn}`, which is not an ARN"))?
            .to_owned();
        let account = identity
            .account
            .context("STS GetCallerIdentity named no account")?;
        Ok(Self {
            partition,
            account,
            region,
        })
    }
}

/// Checks that `target` is bootstrapped, and returns where the bootstrap's parts are.
pub async fn check_bootstrapped(aws: &SdkConfig, target: &Target) -> anyhow::Result<Bootstrapped> {
    let found = Bootstrapped::resolve(&target.partition, &target.account, &target.region);
    let region = &target.region;
    let run_bootstrap = format!(
        "run `groupgate bootstrap --repository OWNER/NAME` once in account {} and region {region}",
        target.account
    );
    let s3 = aws_sdk_s3::Client::new(aws);
    let location = s3
        .get_bucket_location()
        .bucket(&found.bucket)
        .send()
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "{region} is not bootstrapped: the artifact bucket `{}` cannot be read ({}); {run_bootstrap}",
                found.bucket,
                crate::aws::cause(&e)
            )
        })?;
    // S3 reports us-east-1 as no constraint, and eu-west-1 as `EU` in old buckets.
    let bucket_region = match location.location_constraint.as_ref().map(|c| c.as_str()) {
        None | Some("") => "us-east-1",
        Some("EU") => "eu-west-1",
        Some(other) => other,
    };
    if bucket_region != region {
        anyhow::bail!(
            "the artifact bucket `{}` is in {bucket_region}, not {region}; {run_bootstrap}",
            found.bucket
        );
    }
    let version = bootstrap_version(&s3, &found.bucket).await?;
    if version < stack::bootstrap::BOOTSTRAP_VERSION {
        anyhow::bail!(
            "the bootstrap in {region} is version {version}, older than this tool needs ({}): its roles lack permissions this deploy uses, and the update would fail and roll back; {run_bootstrap} again",
            stack::bootstrap::BOOTSTRAP_VERSION
        );
    }
    let account = aws_sdk_apigateway::Client::new(aws)
        .get_account()
        .send()
        .await
        .map_err(|e| crate::aws::failed(format!("API Gateway GetAccount in {region}"), e))?;
    if account.cloudwatch_role_arn.is_none_or(|arn| arn.is_empty()) {
        anyhow::bail!(
            "API Gateway in {region} has no CloudWatch role, so the stage's access logs would fail; {run_bootstrap}"
        );
    }
    Ok(found)
}

/// The bootstrap's version, from its artifact bucket's tag: 1 for a bucket with no tag set or
/// without the tag (the first bootstrap had none), or whose tags the deploy role may not read
/// (the first bootstrap did not grant it); an error for a tag that is not a number.
async fn bootstrap_version(s3: &aws_sdk_s3::Client, bucket: &str) -> anyhow::Result<u32> {
    use aws_sdk_s3::error::ProvideErrorMetadata as _;
    let tag = stack::bootstrap::VERSION_TAG;
    let tags = match s3.get_bucket_tagging().bucket(bucket).send().await {
        Ok(tagging) => tagging.tag_set,
        Err(e) if e.code() == Some("NoSuchTagSet") => Vec::new(),
        // A deploy role of the first bootstrap may not read the tags at all.
        Err(e) if e.code() == Some("AccessDenied") => return Ok(1),
        Err(e) => {
            return Err(crate::aws::failed(
                format!("reading the artifact bucket `{bucket}`'s tags"),
                e,
            ));
        }
    };
    match tags.iter().find(|t| t.key == tag) {
        None => Ok(1),
        Some(t) => t.value.parse().map_err(|_| {
            anyhow::anyhow!(
                "the artifact bucket `{bucket}`'s tag `{tag}` is `{}`, not a version number",
                t.value
            )
        }),
    }
}

/// Deploys the stack as [`DeployRequest`] says, in the SDK environment's account and region.
pub async fn deploy(aws: &SdkConfig, request: &DeployRequest<'_>) -> anyhow::Result<DeployReport> {
    let target = Target::of(aws).await?;
    let name = request.stack_name;
    println!(
        "deploying {name} to account {} in {}",
        target.account, target.region
    );
    let bootstrapped = check_bootstrapped(aws, &target).await?;
    let folder = seed::PolicyFolder::load(request.policies, request.settings)?;
    let groups = &folder.groups;
    let cfn = aws_sdk_cloudformation::Client::new(aws);
    if !folder.cedar_pools.is_empty() {
        // Policies naming pools by id (Verified Permissions' form) are checked against the
        // stack's pool before anything changes; a stack not created yet has none.
        let own = match cloudformation::stack_status(&cfn, name).await? {
            Some(_) => cloudformation::read_outputs(&cfn, name)
                .await?
                .remove(stack::Output::UserPoolId.key()),
            None => None,
        };
        folder.check_named_pools(own.as_deref(), request.settings)?;
    }
    let (deployed, uploaded) = update_stack(aws, request, &target, &bootstrapped, groups).await?;
    let outcome = deployed.outcome;

    let outputs = stack_outputs(&cfn, request, &target, groups).await?;
    let outputs = super::write_description(request.out, outputs)?;
    folder.check_named_pools(Some(&outputs.user_pool_id), request.settings)?;

    let apigateway = aws_sdk_apigateway::Client::new(aws);
    let (api, stage) = (&outputs.rest_api_id, &outputs.stage_name);
    let redeployed = redeploy_after_removals(&apigateway, &deployed, api, stage)
        .await?
        .is_some();
    let seeded = seed_tables(aws, name, folder.seed(), &outputs).await?;
    let flushes = if outcome == Outcome::Created {
        // A new stage has no cached results to flush.
        Ok(0)
    } else {
        flush_authorizer_cache(&apigateway, api, stage, request.flush_wait).await
    };
    if let Err(e) = &flushes {
        println!(
            "{name}: WARNING: the authorizer cache was not flushed ({e}); changed group policies apply once API Gateway's cached results expire, within {} s",
            request.settings.authorizer_ttl_seconds
        );
    }
    println!(
        "{name}: deployed ({}); API at {}",
        match outcome {
            Outcome::Created => "created",
            Outcome::Updated => "updated",
            Outcome::NoChanges => "no stack changes",
        },
        outputs.api_url
    );
    Ok(DeployReport {
        outcome,
        uploaded,
        redeployed,
        outputs,
        seeded,
        flushes,
    })
}

/// Synthesizes the template, decides the change set, uploads the zips (pinning the versions
/// checked), writes the template and asset manifest to `--out`, and executes the change set.
/// Returns what the change set did and the keys uploaded.
async fn update_stack(
    aws: &SdkConfig,
    request: &DeployRequest<'_>,
    target: &Target,
    bootstrapped: &Bootstrapped,
    groups: &[GroupDefinition],
) -> anyhow::Result<(cloudformation::Deployed, Vec<String>)> {
    let assets = Assets::from_dir(request.assets_dir, &stack::FUNCTIONS)?;
    let api = request.settings.api()?;
    let mut template = stack::build(groups, &api, &assets, request.settings).to_template()?;
    let parameters = parameters(&template, bootstrapped, request.parameters)?;
    let synthesized = serde_json::to_string(&template)?;
    let cfn = aws_sdk_cloudformation::Client::new(aws);
    let mut stack_request = StackRequest {
        name: request.stack_name,
        template_body: &synthesized,
        template_url: None,
        parameters,
        capabilities: vec![Capability::CapabilityIam],
        role_arn: Some(&bootstrapped.execution_role_arn),
        protected: stack::DATA_RESOURCES,
        allow_destructive: request.allow_destructive,
    };
    let plan = cloudformation::plan(&cfn, &stack_request).await?;

    let s3 = aws_sdk_s3::Client::new(aws);
    let stored = upload_assets(&s3, &bootstrapped.bucket, &assets).await?;
    pin_versions(&mut template, &stored)?;
    write_json(&request.out.join("template.json"), &template)?;
    write_json(
        &request.out.join("assets.json"),
        &serde_json::to_value(&assets)?,
    )?;
    let body = serde_json::to_string(&template)?;
    stack_request.template_body = &body;
    if body.len() > MAX_INLINE_TEMPLATE {
        let url = upload_template(&s3, &bootstrapped.bucket, target, request.stack_name, &body);
        stack_request.template_url = Some(url.await?);
    }
    let deployed = cloudformation::execute(&cfn, &stack_request, plan, request.polling)
        .await
        .map_err(|e| unfollowed_advice(e, &request.settings.stage))?;
    let uploaded = stored
        .into_iter()
        .filter(|s| s.uploaded)
        .map(|s| s.key)
        .collect();
    Ok((deployed, uploaded))
}

/// The deployed stack's outputs, checked; derived from its resources when they are missing and
/// the request says so (emulators: moto's change sets compute no outputs, and its updates only
/// those of the resources it creates).
async fn stack_outputs(
    cfn: &aws_sdk_cloudformation::Client,
    request: &DeployRequest<'_>,
    target: &Target,
    groups: &[GroupDefinition],
) -> anyhow::Result<StackOutputs> {
    let name = request.stack_name;
    let outputs = cloudformation::read_outputs(cfn, name).await?;
    match StackOutputs::from_outputs(name, &outputs) {
        Ok(outputs) => Ok(outputs),
        Err(e) if request.outputs_from_resources => {
            println!("{name}: {e}; deriving the outputs from its resources");
            outputs_from_resources(cfn, target, request.settings, groups, name).await
        }
        Err(e) => Err(e.into()),
    }
}

/// Seeds the policy table with every group and the role the outputs name for it, and the pets
/// table with the default pets if it is empty. Returns the groups written.
async fn seed_tables(
    aws: &SdkConfig,
    name: &str,
    policies: seed::Seed<'_>,
    outputs: &StackOutputs,
) -> anyhow::Result<Vec<String>> {
    let dynamodb = aws_sdk_dynamodb::Client::new(aws);
    let policy_table = &outputs.policy_table_name;
    let roles = &outputs.group_role_arns;
    let report = seed::seed(&dynamodb, policy_table, policies, roles, true).await?;
    for group in &report.written {
        println!("{name}: wrote the policy of group `{group}` to {policy_table}");
    }
    for group in &report.removed {
        println!("{name}: removed group `{group}` from {policy_table}: no longer defined");
    }
    let pets_table = &outputs.pets_table_name;
    if super::pets::seed_defaults(&dynamodb, pets_table).await? {
        println!("{name}: seeded the default pets into {pets_table}");
    }
    Ok(report.written)
}

/// The template's parameters: the bucket and boundary from the bootstrap, then the overrides,
/// each of which must name a parameter of the template.
fn parameters(
    template: &serde_json::Value,
    bootstrapped: &Bootstrapped,
    overrides: &[String],
) -> anyhow::Result<Vec<(String, String)>> {
    let known = template
        .get("Parameters")
        .and_then(serde_json::Value::as_object)
        .context("the template has no parameters")?;
    let mut parameters = BTreeMap::from([
        ("ArtifactBucket".to_owned(), bootstrapped.bucket.clone()),
        (
            "PermissionsBoundaryArn".to_owned(),
            bootstrapped.boundary_arn.clone(),
        ),
    ]);
    for pair in overrides {
        let (key, value) = pair
            .split_once('=')
            .with_context(|| format!("`--parameter {pair}` is not KEY=VALUE"))?;
        if !known.contains_key(key) {
            let names: Vec<&str> = known.keys().map(String::as_str).collect();
            anyhow::bail!(
                "`--parameter {pair}`: the template has no parameter `{key}` (it has {})",
                names.join(", ")
            );
        }
        if parameters.contains_key(key) {
            anyhow::bail!("`--parameter {pair}`: `{key}` comes from the bootstrap");
        }
        parameters.insert(key.to_owned(), value.to_owned());
    }
    Ok(parameters.into_iter().collect())
}

/// One zip in the artifact bucket, as the deploy left it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAsset {
    pub key: String,
    /// The object version holding the local zip's bytes, which the template deploys.
    pub version_id: String,
    /// Whether this deploy wrote it (else the bucket held the same bytes already).
    pub uploaded: bool,
}

/// Makes sure each zip's key in `bucket` holds the local zip, and returns the object version
/// that does.
///
/// An object is never trusted because its key exists: someone who can write to the bucket
/// could have planted other code there, under the key the next build will have. It is reused
/// only when S3's SHA-256 of its whole content equals the local zip's; S3 computes or checks
/// that checksum itself when the object is written, so it cannot be claimed for other bytes
/// (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html>).
/// Anything else is overwritten with the local zip. The version is then pinned in the template
/// (`S3ObjectVersion`, see [`pin_versions`]), so what was checked is what Lambda reads, even if
/// the key is written again before CloudFormation gets to it. Checking rather than writing
/// with `If-None-Match` keeps an unchanged deploy unchanged (the same version each time), and a
/// key planted before the first upload cannot block the deploy.
pub async fn upload_assets(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    assets: &Assets,
) -> anyhow::Result<Vec<StoredAsset>> {
    use base64::Engine as _;
    let mut stored = Vec::new();
    for asset in &assets.assets {
        let key = &asset.s3_key;
        let bytes = std::fs::read(&asset.path)
            .with_context(|| format!("reading `{}`", asset.path.display()))?;
        let sha256 = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&bytes));
        let head = s3
            .head_object()
            .bucket(bucket)
            .key(key)
            .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
            .send()
            .await;
        let existing = match head {
            Ok(head) => Some(head),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_not_found()) => None,
            Err(e) => {
                return Err(crate::aws::failed(
                    format!("S3 HeadObject s3://{bucket}/{key}"),
                    e,
                ));
            }
        };
        if let Some(head) = &existing {
            if head.checksum_sha256.as_deref() == Some(sha256.as_str()) {
                let version_id = object_version(bucket, key, head.version_id.as_deref())?;
                println!("s3://{bucket}/{key} is already there (SHA-256 matches)");
                stored.push(StoredAsset {
                    key: key.clone(),
                    version_id,
                    uploaded: false,
                });
                continue;
            }
            println!(
                "WARNING: s3://{bucket}/{key} holds other bytes than {} (someone wrote it): replacing it",
                asset.path.display()
            );
        }
        println!(
            "uploading {} ({} bytes) to s3://{bucket}/{key}",
            asset.path.display(),
            bytes.len()
        );
        let version_id = put(s3, bucket, key, bytes).await?;
        stored.push(StoredAsset {
            key: key.clone(),
            version_id: object_version(bucket, key, version_id.as_deref())?,
            uploaded: true,
        });
    }
    Ok(stored)
}

/// The version S3 named, refused when there is none: without one, the template could not pin
/// what was checked.
fn object_version(bucket: &str, key: &str, version: Option<&str>) -> anyhow::Result<String> {
    version
        .filter(|v| !v.is_empty() && *v != "null")
        .map(str::to_owned)
        .with_context(|| {
            format!(
                "s3://{bucket}/{key} has no object version: the artifact bucket must be versioned (the bootstrap's is); run `groupgate bootstrap`"
            )
        })
}

/// Pins each function's code to the object version in `stored` (`S3ObjectVersion`, which
/// Lambda reads instead of the key's latest version:
/// <https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-lambda-function-code.html>).
/// A function whose key this deploy did not check is refused.
pub fn pin_versions(
    template: &mut serde_json::Value,
    stored: &[StoredAsset],
) -> anyhow::Result<()> {
    let resources = template
        .get_mut("Resources")
        .and_then(serde_json::Value::as_object_mut)
        .context("the template has no resources")?;
    for (id, resource) in resources.iter_mut() {
        if resource.get("Type").and_then(serde_json::Value::as_str) != Some("AWS::Lambda::Function")
        {
            continue;
        }
        let Some(code) = resource
            .get_mut("Properties")
            .and_then(|p| p.get_mut("Code"))
            .and_then(serde_json::Value::as_object_mut)
        else {
            continue;
        };
        let Some(key) = code.get("S3Key").and_then(serde_json::Value::as_str) else {
            continue;
        };
        let asset = stored.iter().find(|s| s.key == key).with_context(|| {
            format!("function `{id}` deploys `{key}`, which this deploy did not check")
        })?;
        code.insert(
            "S3ObjectVersion".to_owned(),
            serde_json::Value::String(asset.version_id.clone()),
        );
    }
    Ok(())
}

/// Writes an object with its SHA-256, which S3 checks before it stores it (and keeps, for
/// [`upload_assets`] to compare); returns the object version it made.
async fn put(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    bytes: Vec<u8>,
) -> anyhow::Result<Option<String>> {
    use base64::Engine as _;
    let checksum = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&bytes));
    let put = s3
        .put_object()
        .bucket(bucket)
        .key(key)
        .checksum_algorithm(aws_sdk_s3::types::ChecksumAlgorithm::Sha256)
        .checksum_sha256(checksum)
        .body(bytes.into())
        .send()
        .await
        .map_err(|e| crate::aws::failed(format!("S3 PutObject s3://{bucket}/{key}"), e))?;
    Ok(put.version_id)
}

/// Uploads a template too large to pass inline; returns the URL CloudFormation reads it from.
async fn upload_template(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    target: &Target,
    stack_name: &str,
    body: &str,
) -> anyhow::Result<String> {
    let digest = crate::stack::assets::hex(&Sha256::digest(body.as_bytes()));
    let key = format!("groupgate/templates/{stack_name}/{digest}.json");
    put(s3, bucket, &key, body.as_bytes().to_vec()).await?;
    let suffix = if target.partition == "aws-cn" {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    Ok(format!(
        "https://{bucket}.s3.{}.{suffix}/{key}",
        target.region
    ))
}

/// The outputs the steps after the stack update need, derived from the stack's resources the
/// way the template's `Outputs` compute them. Only for emulators, whose change sets compute no
/// outputs.
pub async fn outputs_from_resources(
    cfn: &aws_sdk_cloudformation::Client,
    target: &Target,
    settings: &Settings,
    groups: &[GroupDefinition],
    name: &str,
) -> anyhow::Result<StackOutputs> {
    let resources = cfn
        .list_stack_resources()
        .stack_name(name)
        .send()
        .await
        .map_err(|e| cloudformation::failed(&format!("ListStackResources {name}"), e))?
        .stack_resource_summaries
        .unwrap_or_default();
    let physical: BTreeMap<String, String> = resources
        .into_iter()
        .filter_map(|r| Some((r.logical_resource_id?, r.physical_resource_id?)))
        .collect();
    let id = |logical: &str| {
        physical
            .get(logical)
            .cloned()
            .with_context(|| format!("{name}: no resource `{logical}` to derive outputs from"))
    };
    let Target {
        partition,
        account,
        region,
    } = target;
    let group_role_arns = groups
        .iter()
        .filter(|g| matches!(g.subject, groups::Subject::Group(_)))
        .map(|g| {
            let role = id(&format!("GroupRole{}", g.logical_name()))?;
            let arn = format!(
                "arn:{partition}:iam::{account}:role{}{name}/groups/{role}",
                crate::stack::bootstrap::APP_ROLE_PATH
            );
            Ok((g.key.clone(), arn))
        })
        .collect::<anyhow::Result<_>>()?;
    // moto's CloudFormation skips the Cognito resources: their ids say so, and nothing after
    // the deploy uses them.
    let skipped = |logical: &str| {
        id(logical).unwrap_or_else(|_| format!("({logical} not created by the emulator)"))
    };
    let api = id("RestApi")?;
    let stage = &settings.stage;
    Ok(StackOutputs {
        api_url: format!("https://{api}.execute-api.{region}.amazonaws.com/{stage}"),
        rest_api_id: api,
        stage_name: stage.clone(),
        region: region.clone(),
        user_pool_id: skipped("UserPool"),
        user_pool_client_id: skipped("UserPoolClient"),
        operator_client_id: skipped("OperatorClient"),
        policy_table_name: id("PolicyTable")?,
        pets_table_name: id("PetsTable")?,
        group_role_arns,
        hosted_ui_url: None,
        machine_client_id: id("MachineClient").ok(),
    })
}

/// The API parts an update removed or replaced that the stage may still serve: logical ids of
/// the change set's removed (or replaced) methods, resources, authorizers and gateway responses.
///
/// The stage moves to the new deployment (named by [`stack::api_digest`]) while CloudFormation
/// updates the stack; removed resources are deleted only afterwards, in
/// `UPDATE_COMPLETE_CLEANUP_IN_PROGRESS` ("removal of old resources ... after a successful stack
/// update":
/// <https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/view-stack-events.html#cfn-console-view-stack-data-resources-status-codes>),
/// so the new deployment's snapshot of the API still holds them and the stage keeps serving a
/// removed route until the API is deployed again.
pub fn removed_api_parts(changes: &[aws_sdk_cloudformation::types::ResourceChange]) -> Vec<String> {
    use aws_sdk_cloudformation::types::{ChangeAction, Replacement};
    changes
        .iter()
        .filter(|c| {
            c.resource_type
                .as_deref()
                .is_some_and(|t| stack::DEPLOYED_API_TYPES.contains(&t))
                && (c.action == Some(ChangeAction::Remove)
                    || matches!(
                        c.replacement,
                        Some(Replacement::True | Replacement::Conditional)
                    ))
        })
        .filter_map(|c| c.logical_resource_id.clone())
        .collect()
}

/// What is left to do by hand when the tool stopped following an update that removes API parts:
/// the stage keeps serving them until the API is deployed again, which the next push (seeing
/// no changes) will not do.
pub fn unfollowed_advice(error: anyhow::Error, stage: &str) -> anyhow::Error {
    let removed = error
        .downcast_ref::<cloudformation::Unfollowed>()
        .map(|u| removed_api_parts(&u.changes))
        .unwrap_or_default();
    if removed.is_empty() {
        return error;
    }
    anyhow::anyhow!(
        "{error:#}; once the update settles, the stage still serves the removed {}: deploy the API again with `aws apigateway create-deployment --rest-api-id <the stack's RestApiId output> --stage-name {stage}` (the next push sees no changes and will not)",
        removed.join(", ")
    )
}

/// Deploys the API again on `stage` when the update `deployed` removed API parts
/// ([`removed_api_parts`]), so that the stage stops serving them; returns the new deployment's
/// id, `None` when there was nothing to do.
///
/// API Gateway `CreateDeployment` with the stage's name moves the stage to the new deployment,
/// keeping its settings (<https://docs.aws.amazon.com/apigateway/latest/api/API_CreateDeployment.html>).
/// The next update that changes the API moves the stage back to a deployment of the stack's
/// own. A failure fails the deploy: the stage would go on serving what was removed.
pub async fn redeploy_after_removals(
    apigateway: &aws_sdk_apigateway::Client,
    deployed: &cloudformation::Deployed,
    rest_api_id: &str,
    stage: &str,
) -> anyhow::Result<Option<String>> {
    let removed = removed_api_parts(&deployed.changes);
    if deployed.outcome != Outcome::Updated || removed.is_empty() {
        return Ok(None);
    }
    let removed = removed.join(", ");
    let deployment = apigateway
        .create_deployment()
        .rest_api_id(rest_api_id)
        .stage_name(stage)
        .description(format!("groupgate: after removing {removed}"))
        .send()
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "API Gateway CreateDeployment on {rest_api_id}/{stage}: {}; the stage still serves what the update removed ({removed}): run `aws apigateway create-deployment --rest-api-id {rest_api_id} --stage-name {stage}`",
                crate::aws::cause(&e)
            )
        })?;
    let id = deployment.id.unwrap_or_default();
    println!(
        "deployed {rest_api_id}/{stage} again ({id}): the update removed {removed}, which the stage no longer serves"
    );
    Ok(Some(id))
}

/// Flushes the stage's authorizer cache, waits `wait` (the authorizer's own policy cache TTL,
/// during which a warm authorizer may still answer with the old policy and API Gateway would
/// cache that answer again), then flushes again. Returns how many flushes were made.
pub async fn flush_authorizer_cache(
    apigateway: &aws_sdk_apigateway::Client,
    rest_api_id: &str,
    stage: &str,
    wait: Duration,
) -> Result<u32, String> {
    for attempt in 1..=2 {
        if attempt == 2 {
            println!(
                "flushing the authorizer cache again in {} s, once the authorizer's own policy cache has expired",
                wait.as_secs()
            );
            tokio::time::sleep(wait).await;
        }
        apigateway
            .flush_stage_authorizers_cache()
            .rest_api_id(rest_api_id)
            .stage_name(stage)
            .send()
            .await
            .map_err(|e| {
                format!(
                    "FlushStageAuthorizersCache on {rest_api_id}/{stage}: {}",
                    crate::aws::cause(&e)
                )
            })?;
        println!("flushed the authorizer cache of {rest_api_id}/{stage}");
    }
    Ok(2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudformation::types::{ChangeAction, Replacement, ResourceChange};

    fn change(
        id: &str,
        kind: &str,
        action: ChangeAction,
        replacement: Option<Replacement>,
    ) -> ResourceChange {
        ResourceChange::builder()
            .logical_resource_id(id)
            .resource_type(kind)
            .action(action)
            .set_replacement(replacement)
            .build()
    }

    /// A deploy that stopped following an update which removes a method says how to deploy the
    /// API again by hand; one whose update removes no API part, or that failed otherwise, adds
    /// nothing.
    #[test]
    fn an_unfollowed_update_that_removes_api_parts_says_how_to_deploy_the_api_again() {
        let unfollowed = |changes: Vec<ResourceChange>| {
            anyhow::Error::new(cloudformation::Unfollowed {
                changes,
                error: anyhow::anyhow!("gave up after 40 min"),
            })
        };
        let removes = unfollowed(vec![change(
            "ApiPetsOptions",
            "AWS::ApiGateway::Method",
            ChangeAction::Remove,
            None,
        )]);
        let text = format!("{:#}", unfollowed_advice(removes, "prod"));
        assert!(
            text.contains("the stage still serves the removed ApiPetsOptions")
                && text.contains("aws apigateway create-deployment")
                && text.contains("--stage-name prod")
                && text.contains("gave up after 40 min"),
            "{text}"
        );
        let keeps = unfollowed(vec![change(
            "PetsTable",
            "AWS::DynamoDB::Table",
            ChangeAction::Modify,
            None,
        )]);
        assert!(!format!("{:#}", unfollowed_advice(keeps, "prod")).contains("create-deployment"));
        let other = anyhow::anyhow!("AccessDenied");
        assert_eq!(
            format!("{:#}", unfollowed_advice(other, "prod")),
            "AccessDenied"
        );
    }

    #[test]
    fn only_removed_or_replaced_api_parts_call_for_a_new_deployment() {
        let changes = [
            change(
                "ApiPetsOptions",
                "AWS::ApiGateway::Method",
                ChangeAction::Remove,
                None,
            ),
            change(
                "Default4xxResponse",
                "AWS::ApiGateway::GatewayResponse",
                ChangeAction::Remove,
                None,
            ),
            change(
                "ApiPets",
                "AWS::ApiGateway::Resource",
                ChangeAction::Modify,
                Some(Replacement::True),
            ),
            // The stack's own deployment moves on every change: not a reason.
            change(
                "RestApiDeploymentabc",
                "AWS::ApiGateway::Deployment",
                ChangeAction::Remove,
                None,
            ),
            // Changed in place: the new deployment, made after it, serves it.
            change(
                "ApiPetsGet",
                "AWS::ApiGateway::Method",
                ChangeAction::Modify,
                Some(Replacement::False),
            ),
            change(
                "PetsTable",
                "AWS::DynamoDB::Table",
                ChangeAction::Remove,
                None,
            ),
            change(
                "ApiPetsPost",
                "AWS::ApiGateway::Method",
                ChangeAction::Add,
                None,
            ),
        ];
        assert_eq!(
            removed_api_parts(&changes),
            ["ApiPetsOptions", "Default4xxResponse", "ApiPets"]
        );
        assert!(removed_api_parts(&[]).is_empty());
    }

    #[test]
    fn every_function_is_pinned_to_the_version_checked() {
        let mut template = serde_json::json!({"Resources": {
            "Authorizer": {"Type": "AWS::Lambda::Function",
                "Properties": {"Code": {"S3Bucket": {"Ref": "ArtifactBucket"}, "S3Key": "groupgate/authorizer/a.zip"}}},
            "Table": {"Type": "AWS::DynamoDB::Table", "Properties": {}},
        }});
        let stored = [StoredAsset {
            key: "groupgate/authorizer/a.zip".into(),
            version_id: "v1".into(),
            uploaded: false,
        }];
        pin_versions(&mut template, &stored).unwrap();
        assert_eq!(
            template["Resources"]["Authorizer"]["Properties"]["Code"]["S3ObjectVersion"],
            "v1"
        );

        let mut unchecked = serde_json::json!({"Resources": {
            "Backend": {"Type": "AWS::Lambda::Function",
                "Properties": {"Code": {"S3Bucket": "b", "S3Key": "groupgate/backend/b.zip"}}},
        }});
        let error = pin_versions(&mut unchecked, &stored)
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "function `Backend` deploys `groupgate/backend/b.zip`, which this deploy did not check"
        );
    }

    #[test]
    fn an_object_without_a_version_cannot_be_pinned() {
        for version in [None, Some(""), Some("null")] {
            let error = object_version("b", "k", version).unwrap_err().to_string();
            assert!(error.contains("must be versioned"), "{error}");
        }
        assert_eq!(object_version("b", "k", Some("v1")).unwrap(), "v1");
    }
}
