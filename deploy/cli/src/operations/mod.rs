//! What an operator runs against a stack: synthesizing its template and asset manifest,
//! seeding its policy table, and getting a token.
//!
//! - [`cloudformation`]: a template deployed as a stack through a change set;
//! - [`deploy`]: `groupgate deploy`, from the built zips to a seeded, flushed stack;
//! - [`seed`]: writes the group policies to the policy table;
//! - [`token`]: an access token for a user through the operator client's admin flow.

pub mod cloudformation;
pub mod deploy;
pub mod seed;
pub mod token;

use std::path::Path;

use anyhow::Context as _;

use crate::stack::{self, Settings, assets::Assets, groups};

/// Writes `path` as pretty JSON, creating its folder.
fn write_json(path: &Path, value: &serde_json::Value) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating `{}`", dir.display()))?;
    }
    let text = serde_json::to_string_pretty(value)? + "\n";
    std::fs::write(path, text).with_context(|| format!("writing `{}`", path.display()))
}

/// Writes the bootstrap stack's template to `<out>/bootstrap.json`.
pub fn synth_bootstrap(out: &Path) -> anyhow::Result<()> {
    let template = stack::bootstrap::build().to_template()?;
    let path = out.join("bootstrap.json");
    write_json(&path, &template)?;
    println!("wrote {}", path.display());
    Ok(())
}

/// Writes `<out>/template.json` and `<out>/assets.json` from the group definitions in
/// `policies`, the zips in `assets_dir` (or stand-in keys when `assets_dir` is `None`) and the
/// settings.
pub fn synth(
    out: &Path,
    policies: &Path,
    assets_dir: Option<&Path>,
    settings: &Settings,
) -> anyhow::Result<()> {
    let groups = groups::load(policies)?;
    let assets = match assets_dir {
        Some(dir) => Assets::from_dir(dir, &stack::FUNCTIONS)?,
        None => Assets::placeholder(&stack::FUNCTIONS),
    };
    let template = stack::build(&groups, &assets, settings).to_template()?;
    write_json(&out.join("template.json"), &template)?;
    write_json(&out.join("assets.json"), &serde_json::to_value(&assets)?)?;
    println!(
        "wrote {}/template.json and {}/assets.json",
        out.display(),
        out.display()
    );
    Ok(())
}

/// Where `seed-policies` writes: a deployed stack (its outputs name the table and the roles), or
/// a table with roles given by hand.
pub enum SeedTarget {
    Stack(String),
    Table { table: String, group_roles: String },
}

/// Validates every definition in `policies`, then writes them to the target's table with its
/// group roles, removing groups no longer defined unless `prune` is off. A group whose role is
/// not given keeps the role already stored.
pub async fn seed_policies(
    aws: &aws_config::SdkConfig,
    target: SeedTarget,
    policies: &Path,
    prune: bool,
) -> anyhow::Result<()> {
    let groups = groups::load(policies)?;
    let (table, group_roles) = match target {
        SeedTarget::Table { table, group_roles } => (table, group_roles),
        SeedTarget::Stack(name) => {
            let cfn = aws_sdk_cloudformation::Client::new(aws);
            let outputs = cloudformation::read_outputs(&cfn, &name).await?;
            let output =
                |key: &str| cloudformation::output(&outputs, &name, key).map(str::to_owned);
            (output("PolicyTableName")?, output("GroupRoleArns")?)
        }
    };
    let roles = seed::parse_group_roles(&group_roles).map_err(anyhow::Error::msg)?;
    let client = aws_sdk_dynamodb::Client::new(aws);
    let report = seed::seed(&client, &table, &groups, &roles, prune).await?;
    for group in &report.written {
        println!("wrote policy of group `{group}`");
    }
    for group in &report.removed {
        println!(
            "removed group `{group}` (no longer in {})",
            policies.display()
        );
    }
    Ok(())
}

/// Where `token` finds the pool and the operator client: a stack description file (the local
/// stack's `.local/stack.json`), or a deployed stack's outputs.
pub enum TokenSource<'a> {
    File(&'a Path),
    Stack(&'a str),
}

/// Prints an access token for `user`, from the pool and operator client of `source`. The
/// password comes from `password` (the environment), else from the description's demo users.
pub async fn print_token(
    source: TokenSource<'_>,
    user: &str,
    password: Option<String>,
) -> anyhow::Result<()> {
    let (stack, where_) = match source {
        TokenSource::File(path) => (token::StackFile::load(path)?, path.display().to_string()),
        TokenSource::Stack(name) => {
            let aws = aws_config::load_from_env().await;
            (
                token::StackFile::from_stack(&aws, name).await?,
                format!("stack {name}"),
            )
        }
    };
    let password = match password {
        Some(p) => p,
        None => stack.password(user).map(str::to_owned).with_context(|| {
            format!(
                "no password for `{user}`: set GROUPGATE_PASSWORD, or name a user of `{where_}`"
            )
        })?,
    };
    let cognito = token::cognito_client(&stack).await?;
    let token = token::access_token(
        &cognito,
        &stack.user_pool_id,
        &stack.operator_client_id,
        user,
        &password,
    )
    .await?;
    println!("{token}");
    Ok(())
}

/// Writes the default pets into `table` if it is empty (the function never seeds: with group
/// roles assumed its own role cannot touch the table).
pub async fn seed_pets(table: &str) -> anyhow::Result<()> {
    let aws = aws_config::load_from_env().await;
    let client = aws_sdk_dynamodb::Client::new(&aws);
    let seeded = backend::pets::seed_defaults(&client, table)
        .await
        .map_err(|e| anyhow::anyhow!("seeding `{table}`: {}", e.message))?;
    if seeded {
        println!("seeded the default pets into `{table}`");
    } else {
        println!("`{table}` already has pets: left as it is");
    }
    Ok(())
}

/// Deletes the pets with these ids from the pets table of the stack description at
/// `stack_file`: the API has no DELETE, so this is how a smoke test removes what it wrote.
pub async fn remove_pets(stack_file: &Path, ids: &[u64]) -> anyhow::Result<()> {
    let stack = token::StackFile::load(stack_file)?;
    let table = stack
        .pets_table
        .as_deref()
        .with_context(|| format!("`{}` names no `pets_table`", stack_file.display()))?;
    let client = token::dynamodb_client(&stack).await?;
    for id in ids.iter().filter(|id| **id != 0) {
        client
            .delete_item()
            .table_name(table)
            .key(
                "id",
                aws_sdk_dynamodb::types::AttributeValue::N(id.to_string()),
            )
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "deleting pet {id} from `{table}`: {}",
                    aws_sdk_dynamodb::error::DisplayErrorContext(e)
                )
            })?;
        println!("removed pet {id} from `{table}`");
    }
    Ok(())
}

/// The bootstrap stack's parameters: the repository (`owner/name`) and GitHub environment allowed
/// to deploy, the account's existing GitHub OIDC provider if any, and the product stacks' prefix.
pub struct BootstrapParams {
    pub repository: String,
    pub environment: String,
    pub oidc_provider_arn: Option<String>,
    pub stack_name_prefix: String,
}

/// Creates or updates the bootstrap stack in the SDK environment's account and region.
pub async fn bootstrap(
    aws: &aws_config::SdkConfig,
    params: BootstrapParams,
    polling: cloudformation::Polling,
) -> anyhow::Result<()> {
    let repository_ok = params
        .repository
        .split_once('/')
        .is_some_and(|(owner, name)| !owner.is_empty() && !name.is_empty() && !name.contains('/'));
    if !repository_ok {
        anyhow::bail!("`--repository {}` is not `owner/name`", params.repository);
    }
    let template = serde_json::to_string(&stack::bootstrap::build().to_template()?)?;
    let region = aws.region().map(ToString::to_string).unwrap_or_default();
    println!("bootstrapping {} in {region}", stack::bootstrap::STACK_NAME);
    let mut parameters = vec![
        ("GitHubRepository".to_owned(), params.repository),
        ("GitHubEnvironment".to_owned(), params.environment),
        ("StackNamePrefix".to_owned(), params.stack_name_prefix),
    ];
    if let Some(arn) = params.oidc_provider_arn {
        parameters.push(("GitHubOidcProviderArn".to_owned(), arn));
    }
    let request = cloudformation::StackRequest {
        name: stack::bootstrap::STACK_NAME,
        template_body: &template,
        template_url: None,
        parameters,
        capabilities: vec![aws_sdk_cloudformation::types::Capability::CapabilityNamedIam],
        role_arn: None,
        protected: &["ArtifactBucket"],
        allow_destructive: false,
    };
    let cfn = aws_sdk_cloudformation::Client::new(aws);
    cloudformation::deploy_stack(&cfn, &request, polling).await?;
    println!(
        "{} is ready in {region}: deploy a product stack with `groupgate deploy`",
        stack::bootstrap::STACK_NAME
    );
    Ok(())
}
