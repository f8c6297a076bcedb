//! `groupgate bootstrap`: the bootstrap stack, or with `--synth-only` its template alone.

use std::path::PathBuf;

use crate::aws::{self, Target};
use crate::exit::Outcome;
use crate::operations::bootstrap::{self, BootstrapParams};
use crate::stack::bootstrap::Deployer;

#[derive(clap::Args)]
pub struct Args {
    /// Write `<out>/bootstrap.json` and deploy nothing.
    #[arg(long)]
    synth_only: bool,
    /// Folder to write the bootstrap template into (created if missing).
    #[arg(long, default_value = "cdk.out")]
    out: PathBuf,
    /// The GitHub repository allowed to deploy, as `owner/name`.
    #[arg(long, required_unless_present = "synth_only")]
    repository: Option<String>,
    /// The repository's numeric id (`gh api repos/OWNER/NAME --jq .id`): a renamed or
    /// re-created repository does not keep it.
    #[arg(long, required_unless_present = "synth_only")]
    repository_id: Option<String>,
    /// The numeric id of the repository's owner (`gh api repos/OWNER/NAME --jq .owner.id`).
    #[arg(long, required_unless_present = "synth_only")]
    owner_id: Option<String>,
    /// The GitHub environment the deploy job runs in.
    #[arg(long, default_value = "production")]
    environment: String,
    /// The only branch whose deploy workflow may deploy.
    #[arg(long, default_value = "main")]
    branch: String,
    /// The deploy workflow's file.
    #[arg(long, default_value = ".github/workflows/deploy.yml")]
    workflow: String,
    /// The account's GitHub OIDC provider; by default an existing one is found, or created.
    #[arg(long)]
    oidc_provider_arn: Option<String>,
    /// The product stacks' names start with this.
    #[arg(long, default_value = "groupgate")]
    stack_name_prefix: String,
}

pub async fn run(args: Args) -> anyhow::Result<Outcome> {
    if args.synth_only {
        bootstrap::synth(&args.out)?;
        return Ok(Outcome::Done);
    }
    let params = BootstrapParams {
        deployer: Deployer {
            repository: args.repository.unwrap_or_default(),
            repository_id: args.repository_id.unwrap_or_default(),
            owner_id: args.owner_id.unwrap_or_default(),
            environment: args.environment,
            branch: args.branch,
            workflow: args.workflow,
        },
        oidc_provider_arn: args.oidc_provider_arn,
        stack_name_prefix: args.stack_name_prefix,
    };
    let aws = aws::config(Target::Environment).await?;
    bootstrap::bootstrap(&aws, params, Default::default()).await?;
    Ok(Outcome::Done)
}
