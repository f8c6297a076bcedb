//! `groupgate bootstrap`: the bootstrap stack ([`crate::stack::bootstrap`]) created or updated
//! in the environment's account and region, the artifact bucket a deleted bootstrap stack kept
//! adopted again, API Gateway's logging role named in the account's setting, and the one-time
//! GitHub setup the deploy role's trust needs.

use std::path::Path;

use anyhow::Context as _;

use super::{cloudformation, deploy};
use crate::aws;
use crate::stack::bootstrap;

/// Writes the bootstrap stack's template to `<out>/bootstrap.json`.
pub fn synth(out: &Path) -> anyhow::Result<()> {
    let template = bootstrap::build().to_template()?;
    let path = out.join("bootstrap.json");
    super::write_json(&path, &template)?;
    println!("wrote {}", path.display());
    Ok(())
}

/// The bootstrap stack's parameters: who may deploy (the repository, its and its owner's
/// numeric ids, the environment, branch and workflow of the deploy job), the account's GitHub
/// OIDC provider if it is to be given by hand, and the product stacks' prefix.
pub struct BootstrapParams {
    pub deployer: bootstrap::Deployer,
    pub oidc_provider_arn: Option<String>,
    pub stack_name_prefix: String,
}

/// Checks what `groupgate bootstrap` is given before anything is deployed.
fn check_deployer(d: &bootstrap::Deployer) -> anyhow::Result<()> {
    let repository_ok = d
        .repository
        .split_once('/')
        .is_some_and(|(owner, name)| !owner.is_empty() && !name.is_empty() && !name.contains('/'));
    if !repository_ok {
        anyhow::bail!("`--repository {}` is not `owner/name`", d.repository);
    }
    for (flag, value) in [
        ("--repository-id", &d.repository_id),
        ("--owner-id", &d.owner_id),
    ] {
        if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
            anyhow::bail!(
                "`{flag} {value}` is not a number: `gh api repos/{} --jq '.id, .owner.id'` prints both",
                d.repository
            );
        }
    }
    for (flag, value) in [
        ("--environment", &d.environment),
        ("--branch", &d.branch),
        ("--workflow", &d.workflow),
    ] {
        // GitHub writes a `:` in a claim as `%3A`; refusing it keeps the subject exact.
        if value.is_empty() || value.contains(':') {
            anyhow::bail!("`{flag} {value}` must be non-empty and hold no `:`");
        }
    }
    Ok(())
}

/// The account's GitHub OIDC provider, if it has one: IAM providers are account-wide, so a
/// second region (or a re-bootstrap after a stack delete, which keeps the provider) reuses it.
/// Refuses one that does not accept STS's audience: the deploy role could never be assumed.
async fn existing_oidc_provider(iam: &aws_sdk_iam::Client) -> anyhow::Result<Option<String>> {
    let listed = iam
        .list_open_id_connect_providers()
        .send()
        .await
        .map_err(|e| aws::failed("IAM ListOpenIDConnectProviders", e))?;
    let suffix = format!(":oidc-provider/{}", bootstrap::GITHUB_OIDC);
    let Some(arn) = listed
        .open_id_connect_provider_list
        .unwrap_or_default()
        .into_iter()
        .filter_map(|p| p.arn)
        .find(|arn| arn.ends_with(&suffix))
    else {
        return Ok(None);
    };
    let provider = iam
        .get_open_id_connect_provider()
        .open_id_connect_provider_arn(&arn)
        .send()
        .await
        .map_err(|e| aws::failed(format!("IAM GetOpenIDConnectProvider `{arn}`"), e))?;
    let audience = bootstrap::OIDC_AUDIENCE;
    if !provider.client_id_list().iter().any(|c| c == audience) {
        anyhow::bail!(
            "the account's GitHub OIDC provider `{arn}` does not accept the audience `{audience}`; add it (aws iam add-client-id-to-open-id-connect-provider --open-id-connect-provider-arn {arn} --client-id {audience}) and bootstrap again"
        );
    }
    Ok(Some(arn))
}

/// Creates or updates the bootstrap stack in the SDK environment's account and region, names
/// its logging role in API Gateway's account setting, and prints the one-time GitHub setup.
pub async fn bootstrap(
    aws: &aws_config::SdkConfig,
    params: BootstrapParams,
    polling: cloudformation::Polling,
) -> anyhow::Result<()> {
    let d = &params.deployer;
    check_deployer(d)?;
    let template = bootstrap::build().to_template()?;
    let region = aws.region().map(ToString::to_string).unwrap_or_default();
    println!("bootstrapping {} in {region}", bootstrap::STACK_NAME);
    let cfn = aws_sdk_cloudformation::Client::new(aws);
    let iam = aws_sdk_iam::Client::new(aws);
    let name = bootstrap::STACK_NAME;
    let exists = cloudformation::stack_status(&cfn, name).await?.is_some();
    // A provider this very stack created stays in it; otherwise an existing one is reused.
    let created_here = exists && stack_created_provider(&cfn, name).await?;
    let provider = match (&params.oidc_provider_arn, created_here) {
        (Some(arn), _) => Some(arn.clone()),
        (None, true) => None,
        (None, false) => existing_oidc_provider(&iam).await?,
    };
    if let Some(arn) = &provider {
        println!("using the account's GitHub OIDC provider {arn}");
    }
    let mut parameters = vec![
        ("GitHubRepository".to_owned(), d.repository.clone()),
        ("GitHubRepositoryId".to_owned(), d.repository_id.clone()),
        ("GitHubOwnerId".to_owned(), d.owner_id.clone()),
        ("GitHubEnvironment".to_owned(), d.environment.clone()),
        ("GitHubBranch".to_owned(), d.branch.clone()),
        ("DeployWorkflow".to_owned(), d.workflow.clone()),
        (
            "StackNamePrefix".to_owned(),
            params.stack_name_prefix.clone(),
        ),
        (
            "GitHubOidcProviderArn".to_owned(),
            provider.unwrap_or_default(),
        ),
    ];
    parameters.sort();
    let target = deploy::Target::of(aws).await?;
    if !exists {
        adopt_retained_bucket(aws, &cfn, &target, &template, polling).await?;
    }
    let body = serde_json::to_string(&template)?;
    let request = cloudformation::StackRequest {
        name,
        template_body: &body,
        template_url: None,
        parameters,
        capabilities: vec![aws_sdk_cloudformation::types::Capability::CapabilityNamedIam],
        role_arn: None,
        protected: &["ArtifactBucket"],
        allow_destructive: false,
    };
    cloudformation::deploy_stack(&cfn, &request, polling).await?;
    // From the stack's resources rather than its outputs, which emulators do not compute.
    let role = &bootstrap_role_arn(&cfn, &target, "ApiGatewayCloudWatchRole").await?;
    let deploy_role = bootstrap_role_arn(&cfn, &target, "DeployRole").await?;
    let apigateway = aws_sdk_apigateway::Client::new(aws);
    match set_api_gateway_logging_role(&apigateway, &iam, role, polling).await? {
        LoggingRole::Set => println!("API Gateway in {region} logs with {role}"),
        LoggingRole::KeptExisting(other) => println!(
            "API Gateway in {region} already logs with {other} (set by another application): left as it is"
        ),
    }
    println!("{name} is ready in {region}: deploy a product stack with `groupgate deploy`");
    print_github_setup(d, &deploy_role);
    Ok(())
}

/// The ARN of one of the bootstrap stack's roles, from its physical id (the role's name).
async fn bootstrap_role_arn(
    cfn: &aws_sdk_cloudformation::Client,
    target: &deploy::Target,
    logical_id: &str,
) -> anyhow::Result<String> {
    let name = bootstrap::STACK_NAME;
    let resources = cfn
        .list_stack_resources()
        .stack_name(name)
        .send()
        .await
        .map_err(|e| cloudformation::failed(&format!("ListStackResources {name}"), e))?;
    let role = resources
        .stack_resource_summaries()
        .iter()
        .find(|r| r.logical_resource_id() == Some(logical_id))
        .and_then(|r| r.physical_resource_id())
        .with_context(|| format!("{name} has no `{logical_id}`"))?;
    Ok(format!(
        "arn:{}:iam::{}:role{}{role}",
        target.partition,
        target.account,
        bootstrap::BOOTSTRAP_ROLE_PATH
    ))
}

/// Whether the bootstrap stack itself holds the GitHub OIDC provider.
async fn stack_created_provider(
    cfn: &aws_sdk_cloudformation::Client,
    name: &str,
) -> anyhow::Result<bool> {
    let described = cfn
        .describe_stacks()
        .stack_name(name)
        .send()
        .await
        .map_err(|e| cloudformation::failed(&format!("DescribeStacks {name}"), e))?;
    Ok(described
        .stacks()
        .first()
        .map(|s| s.parameters())
        .unwrap_or_default()
        .iter()
        .any(|p| {
            p.parameter_key() == Some("GitHubOidcProviderArn")
                && p.parameter_value().unwrap_or_default().is_empty()
        }))
}

/// The artifact bucket is kept when the bootstrap stack is deleted, and its name is fixed, so
/// a new bootstrap stack would fail with "already exists". When there is no bootstrap stack
/// and this account owns the bucket, it is imported into a new stack first (an IMPORT change
/// set of the bucket alone), so the stack manages it again; the update that follows adds the
/// rest. A bucket of that name owned by another account is refused: the deploy would upload
/// the functions' code to it.
/// <https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/resource-import-new-stack.html>
async fn adopt_retained_bucket(
    aws: &aws_config::SdkConfig,
    cfn: &aws_sdk_cloudformation::Client,
    account: &deploy::Target,
    template: &serde_json::Value,
    polling: cloudformation::Polling,
) -> anyhow::Result<()> {
    let name = bootstrap::STACK_NAME;
    if cloudformation::stack_status(cfn, name).await?.is_some() {
        return Ok(());
    }
    let Some(bucket) = retained_bucket(aws, account).await? else {
        return Ok(());
    };
    println!("{name}: adopting the retained artifact bucket {bucket}");
    create_import_change_set(cfn, template, &bucket).await?;
    wait_for_import_change_set(cfn, &bucket, polling).await?;
    cfn.execute_change_set()
        .stack_name(name)
        .change_set_name(IMPORT_CHANGE_SET)
        .send()
        .await
        .map_err(|e| cloudformation::failed("ExecuteChangeSet (IMPORT)", e))?;
    for _ in 0..polling.attempts() {
        match cloudformation::stack_status(cfn, name).await? {
            Some(s) if s.as_str() == "IMPORT_COMPLETE" => return Ok(()),
            Some(s) if s.as_str().ends_with("_IN_PROGRESS") => {
                tokio::time::sleep(polling.interval).await
            }
            other => anyhow::bail!(
                "{name}: importing {bucket} ended in {}",
                other.map_or("no stack".to_owned(), |s| s.as_str().to_owned())
            ),
        }
    }
    anyhow::bail!("{name}: the import did not settle")
}

/// The change set that imports the retained artifact bucket.
const IMPORT_CHANGE_SET: &str = "groupgate-adopt-bucket";

/// The artifact bucket's name when it exists and this account owns it; `None` when there is no
/// such bucket. A bucket of that name owned by another account is refused.
async fn retained_bucket(
    aws: &aws_config::SdkConfig,
    account: &deploy::Target,
) -> anyhow::Result<Option<String>> {
    let bucket = bootstrap::bucket_name(&account.account, &account.region);
    let s3 = aws_sdk_s3::Client::new(aws);
    match s3
        .head_bucket()
        .bucket(&bucket)
        .expected_bucket_owner(&account.account)
        .send()
        .await
    {
        Ok(_) => Ok(Some(bucket)),
        Err(e) if e.as_service_error().is_some_and(|e| e.is_not_found()) => Ok(None),
        Err(e) => anyhow::bail!(
            "the artifact bucket name `{bucket}` is taken, and not by account {} ({}); delete that bucket or bootstrap another account",
            account.account,
            aws::cause(&e)
        ),
    }
}

/// An IMPORT change set of the bootstrap template's bucket alone, naming `bucket`.
async fn create_import_change_set(
    cfn: &aws_sdk_cloudformation::Client,
    template: &serde_json::Value,
    bucket: &str,
) -> anyhow::Result<()> {
    use aws_sdk_cloudformation::types::{ChangeSetType, ResourceToImport};
    let bucket_only = serde_json::json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": template.get("Description"),
        "Resources": { "ArtifactBucket": template.pointer("/Resources/ArtifactBucket") },
    });
    cfn.create_change_set()
        .stack_name(bootstrap::STACK_NAME)
        .change_set_name(IMPORT_CHANGE_SET)
        .change_set_type(ChangeSetType::Import)
        .template_body(bucket_only.to_string())
        .resources_to_import(
            ResourceToImport::builder()
                .resource_type("AWS::S3::Bucket")
                .logical_resource_id("ArtifactBucket")
                .resource_identifier("BucketName", bucket)
                .build(),
        )
        .send()
        .await
        .map_err(|e| cloudformation::failed("CreateChangeSet (IMPORT)", e))?;
    Ok(())
}

/// Waits until the import change set can be executed; refuses one that failed.
async fn wait_for_import_change_set(
    cfn: &aws_sdk_cloudformation::Client,
    bucket: &str,
    polling: cloudformation::Polling,
) -> anyhow::Result<()> {
    use aws_sdk_cloudformation::types::ChangeSetStatus;
    let name = bootstrap::STACK_NAME;
    for _ in 0..polling.attempts() {
        let described = cfn
            .describe_change_set()
            .stack_name(name)
            .change_set_name(IMPORT_CHANGE_SET)
            .send()
            .await
            .map_err(|e| cloudformation::failed("DescribeChangeSet", e))?;
        match described.status {
            Some(ChangeSetStatus::CreateComplete) => return Ok(()),
            Some(ChangeSetStatus::Failed) => anyhow::bail!(
                "{name}: importing {bucket} failed: {}",
                described.status_reason.unwrap_or_default()
            ),
            _ => tokio::time::sleep(polling.interval).await,
        }
    }
    anyhow::bail!("{name}: the import change set did not settle")
}

/// What happened to API Gateway's account setting.
#[derive(Debug, PartialEq, Eq)]
pub enum LoggingRole {
    Set,
    /// Another application's role was there and still exists: kept.
    KeptExisting(String),
}

/// Names `role` in API Gateway's account setting (one per account and region), unless another
/// application set a role that still exists: any working role serves every stage's access
/// logs, and replacing it could break that application. A setting naming a deleted role is
/// replaced: it serves no one.
///
/// API Gateway refuses a role IAM has not propagated yet ("The role ARN does not have required
/// permissions set to API Gateway"), which is why CloudFormation's `AWS::ApiGateway::Account`
/// fails on a first bootstrap (aws-cdk#2194): this retries with backoff for about two minutes.
pub async fn set_api_gateway_logging_role(
    apigateway: &aws_sdk_apigateway::Client,
    iam: &aws_sdk_iam::Client,
    role: &str,
    polling: cloudformation::Polling,
) -> anyhow::Result<LoggingRole> {
    use aws_sdk_apigateway::types::{Op, PatchOperation};
    let account = apigateway
        .get_account()
        .send()
        .await
        .map_err(|e| aws::failed("API Gateway GetAccount", e))?;
    if let Some(current) = account.cloudwatch_role_arn.filter(|a| !a.is_empty()) {
        if current == role {
            return Ok(LoggingRole::Set);
        }
        let name = current.rsplit('/').next().unwrap_or_default();
        match iam.get_role().role_name(name).send().await {
            Ok(_) => return Ok(LoggingRole::KeptExisting(current)),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_no_such_entity_exception()) =>
            {
                println!(
                    "API Gateway's setting names {current}, which no longer exists: replacing it"
                );
            }
            Err(e) => {
                return Err(aws::failed(
                    format!("IAM GetRole `{name}` (the role API Gateway's setting names)"),
                    e,
                ));
            }
        }
    }
    let mut wait = polling.interval;
    let mut last = String::new();
    for _ in 0..8 {
        let updated = apigateway
            .update_account()
            .patch_operations(
                PatchOperation::builder()
                    .op(Op::Replace)
                    .path("/cloudwatchRoleArn")
                    .value(role)
                    .build(),
            )
            .send()
            .await;
        match updated {
            Ok(_) => return Ok(LoggingRole::Set),
            // The new role has not reached API Gateway yet: IAM is eventually consistent.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_bad_request_exception()) =>
            {
                last = aws::cause(&e);
                println!(
                    "API Gateway does not accept {role} yet; retrying in {} s",
                    wait.as_secs()
                );
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(std::time::Duration::from_secs(30));
            }
            Err(e) => return Err(aws::failed("API Gateway UpdateAccount", e)),
        }
    }
    anyhow::bail!("API Gateway kept refusing {role} as its CloudWatch role: {last}")
}

/// The one-time GitHub setup the deploy role's trust needs.
fn print_github_setup(d: &bootstrap::Deployer, role: &str) {
    println!(
        "\nOnce, in GitHub (the deploy role trusts only this subject):\n\
         1. Set the repository's OIDC subject template:\n   \
            gh api -X PUT repos/{repo}/actions/oidc/customization/sub --input - <<<'{template}'\n\
         2. Create the environment `{env}` with a deployment branch rule for `{branch}` only.\n\
         3. Set the repository variables AWS_DEPLOY_ROLE_ARN={role} and AWS_REGION.\n\
         The deploy job's token must then carry\n   sub = {subject}",
        repo = d.repository,
        template = d.subject_template(),
        env = d.environment,
        branch = d.branch,
        subject = d.subject(),
    );
}
