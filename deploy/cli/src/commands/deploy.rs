//! `groupgate deploy`: a product stack, from the built zips to a seeded, flushed stack.

use std::path::PathBuf;
use std::time::Duration;

use super::SettingsArgs;
use crate::aws::{self, Target};
use crate::exit::Outcome;
use crate::operations::cloudformation::{self, Polling};
use crate::operations::deploy::{self, DeployRequest};
use crate::stack::{self, groups};

#[derive(clap::Args)]
pub struct Args {
    /// The stack's name (the bootstrap's deploy role may deploy only its name prefix).
    #[arg(long, env = "STACK_NAME", default_value = "groupgate")]
    stack_name: String,
    /// Where cargo-lambda wrote the zips (`<dir>/<function>/bootstrap.zip`).
    #[arg(long, default_value = "target/lambda")]
    assets: PathBuf,
    /// Folder of group definitions (`GROUPGATE_POLICIES` sets the default).
    #[arg(long, default_value_os_t = groups::default_dir())]
    policies: PathBuf,
    /// Where the template, assets and the stack's description (`stack.json`, as `describe`
    /// prints it) are written.
    #[arg(long, default_value = ".local/deploy")]
    out: PathBuf,
    /// A template parameter, as KEY=VALUE (repeatable): LogRetentionDays, HostedUiCallbackUrl,
    /// AlarmEmail. A parameter not given keeps the stack's value (its default on a first
    /// deploy; one without a default must be given then).
    #[arg(long = "parameter", value_name = "KEY=VALUE")]
    parameters: Vec<String>,
    /// Allow a change that replaces or deletes the user pool or a table (and their data).
    #[arg(long)]
    allow_destructive: bool,
    /// Seconds between the two authorizer cache flushes (default: the authorizer's own
    /// policy cache TTL, plus a margin).
    #[arg(long, value_name = "SECONDS")]
    flush_wait: Option<u64>,
    /// Minutes to wait in all for CloudFormation (the change set, the stack's update) before
    /// giving up with the stack's status and how to watch it; a CI job running the deploy
    /// needs a longer timeout.
    #[arg(long, value_name = "MINUTES", default_value_t = cloudformation::LONGEST_WAIT.as_secs() / 60,
          value_parser = clap::value_parser!(u64).range(1..))]
    max_wait: u64,
    /// For emulators whose change sets compute no outputs (moto): derive them from the
    /// stack's resources.
    #[arg(long, hide = true)]
    outputs_from_resources: bool,
    #[command(flatten)]
    settings: SettingsArgs,
}

pub async fn run(args: Args) -> anyhow::Result<Outcome> {
    let settings = args.settings.load()?;
    let flush_wait = args
        .flush_wait
        .unwrap_or(stack::POLICY_CACHE_TTL_SECONDS + 5);
    let request = DeployRequest {
        stack_name: &args.stack_name,
        policies: &args.policies,
        assets_dir: &args.assets,
        settings: &settings,
        parameters: &args.parameters,
        allow_destructive: args.allow_destructive,
        out: &args.out,
        flush_wait: Duration::from_secs(flush_wait),
        outputs_from_resources: args.outputs_from_resources,
        polling: Polling {
            limit: Duration::from_secs(args.max_wait * 60),
            ..Polling::default()
        },
    };
    let aws = aws::config(Target::Environment).await?;
    deploy::deploy(&aws, &request).await?;
    Ok(Outcome::Done)
}
